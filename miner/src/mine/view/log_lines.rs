//! The human log line of each event worth one (the terminal view logs them
//! through `tracing`).

use tracing::Level;

use super::state::ViewState;
use crate::mine::events::Event;

/// A human line for the log, for the events worth one.
pub(super) fn log_line(event: &Event, state: &ViewState) -> Option<(Level, String)> {
    let label = |d: &usize| state.label(*d);
    Some(match event {
        Event::Started {
            node,
            backend,
            devices,
            data_dir,
            metrics,
        } => {
            let devices = devices
                .iter()
                .map(|d| format!("{} as {}", d.label, d.author))
                .collect::<Vec<_>>()
                .join(", ");
            let metrics = metrics
                .as_ref()
                .map(|m| format!(", metrics on http://{m}/metrics"))
                .unwrap_or_default();
            (
                Level::INFO,
                format!(
                    "⛏  mining on {node} with {}: {devices}; cache {data_dir}{metrics}",
                    backend.as_str()
                ),
            )
        }
        Event::Connected { node } => (Level::INFO, format!("connected to {node}")),
        Event::Disconnected {
            reason,
            retry_in_ms,
        } => (
            Level::WARN,
            format!("node unreachable ({reason}); retrying in {:.1} s", *retry_in_ms as f64 / 1000.0),
        ),
        Event::Dataset {
            root,
            loaded,
            total,
            from,
        } if loaded == total => (
            Level::INFO,
            format!(
                "dataset {root}: {total} samples from the {}, verified",
                from.as_str()
            ),
        ),
        Event::Work {
            block,
            job,
            difficulty,
            job_steps,
            ..
        } => (
            Level::INFO,
            format!("new work: block #{block} · job {job} at step {job_steps} · difficulty {difficulty}"),
        ),
        Event::NoWork { reason } => (Level::WARN, format!("no work: {reason}")),
        Event::Job {
            job,
            price_per_step,
            status,
            ..
        } => (
            Level::INFO,
            format!(
                "job {job} ({status:?}) pays {} per step",
                state.amount(*price_per_step)
            ),
        ),
        Event::Reward {
            author_reward: None,
        } => (
            Level::INFO,
            "block payments are not readable over RPC (upow_blockPayment): earnings show known ones only"
                .into(),
        ),
        Event::Admission {
            device,
            author,
            admitted: false,
        } => (
            Level::ERROR,
            format!(
                "{}: key {author} is not admitted on this chain (bond it as a miner); the device idles",
                label(device)
            ),
        ),
        Event::Admission {
            device,
            author,
            admitted: true,
        } => (Level::INFO, format!("{}: key {author} admitted", label(device))),
        Event::DeviceReady { device, backend } => {
            (Level::INFO, format!("{}: backend {backend} ready", label(device)))
        }
        Event::Found {
            device,
            block,
            steps,
            ..
        } => (
            Level::INFO,
            format!("🎫 {}: winning ticket for block #{block} after {steps} steps", label(device)),
        ),
        Event::Accepted {
            device,
            block,
            hash,
            steps,
            ..
        } => (
            Level::INFO,
            format!("✅ {}: block #{block} {hash} accepted ({steps} steps)", label(device)),
        ),
        Event::Rejected {
            device,
            block,
            code,
            message,
        } => (
            Level::WARN,
            format!(
                "❌ {}: block #{block} rejected: {}{message}",
                label(device),
                code.map(|c| format!("error {c}: ")).unwrap_or_default()
            ),
        ),
        Event::Stale { device, block } => (
            Level::INFO,
            format!("{}: win for block #{block} dropped: a new best block came first", label(device)),
        ),
        Event::DeviceFailed {
            device,
            error,
            retry_in_ms,
        } => (
            Level::ERROR,
            format!(
                "{} failed: {error}; retrying in {} s (the other devices go on)",
                label(device),
                retry_in_ms / 1000
            ),
        ),
        Event::CacheCorrupt { what, hash } => (
            Level::WARN,
            format!(
                "cached {} {hash} failed its hash check: discarded, fetching again",
                what.as_str()
            ),
        ),
        Event::Stopped {
            found,
            accepted,
            rejected,
        } => (
            Level::INFO,
            format!("stopped: {found} found, {accepted} accepted, {rejected} rejected"),
        ),
        _ => return None,
    })
}
