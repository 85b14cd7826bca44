//! What the miner shows: a live terminal view (indicatif) or, with
//! `--json`, one JSON object per event on stdout. Every part of the miner
//! reports through [`Event`]s; the view turns them into bars, log lines or
//! JSON, and adds the speeds it measures from the devices' counters.

use std::{
    io::Write,
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tokio::sync::mpsc;

use super::metrics::Metrics;

/// How the miner reports.
#[derive(Clone, Debug)]
pub enum ViewMode {
    /// Live bars on stderr (hidden when stderr is not a terminal; the
    /// events are logged through `tracing` either way).
    Terminal(MultiProgress),
    /// One JSON object per line on stdout.
    Json,
}

impl ViewMode {
    /// The terminal view, drawing on stderr.
    pub fn terminal() -> Self {
        Self::Terminal(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
    }

    /// A `tracing` writer that prints log lines above the bars (they would
    /// otherwise be drawn over).
    pub fn log_writer(&self) -> LogWriter {
        LogWriter {
            multi: match self {
                Self::Terminal(multi) => Some(multi.clone()),
                Self::Json => None,
            },
        }
    }
}

/// A `tracing_subscriber` writer for stderr that suspends the bars while
/// writing a line.
#[derive(Clone, Debug)]
pub struct LogWriter {
    multi: Option<MultiProgress>,
}

/// One log line being written (flushed on drop).
pub struct LogLine {
    multi: Option<MultiProgress>,
    buf: Vec<u8>,
}

impl Write for LogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let write = move || {
            let _ = std::io::stderr().write_all(&buf);
        };
        match &self.multi {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            multi: self.multi.clone(),
            buf: Vec::new(),
        }
    }
}

/// What a device is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum DeviceState {
    /// Creating its backend.
    Starting = 0,
    /// Waiting for work.
    Waiting = 1,
    /// Stepping a trajectory.
    Mining = 2,
    /// Assembling and self-checking a proof.
    Proving = 3,
    /// Waiting for the node's verdict on a submission.
    Submitting = 4,
    /// Its key is not admitted on the chain: idle.
    NotAdmitted = 5,
    /// Failed; retrying after a pause.
    Failed = 6,
    /// Stopped.
    Stopped = 7,
}

impl DeviceState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Starting,
            1 => Self::Waiting,
            2 => Self::Mining,
            3 => Self::Proving,
            4 => Self::Submitting,
            5 => Self::NotAdmitted,
            6 => Self::Failed,
            _ => Self::Stopped,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Waiting => "waiting for work",
            Self::Mining => "mining",
            Self::Proving => "proving",
            Self::Submitting => "submitting",
            Self::NotAdmitted => "key not admitted: idle",
            Self::Failed => "FAILED, retrying",
            Self::Stopped => "stopped",
        }
    }
}

/// Live counters of one device, written by its thread, read by the view.
#[derive(Debug, Default)]
pub struct DeviceStats {
    /// Steps run since start.
    pub steps: AtomicU64,
    /// Steps in the current trajectory.
    pub trajectory: AtomicU64,
    state: AtomicU8,
}

impl DeviceStats {
    /// Sets the state.
    pub fn set_state(&self, state: DeviceState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// The state.
    pub fn state(&self) -> DeviceState {
        DeviceState::from_u8(self.state.load(Ordering::Relaxed))
    }
}

/// A device as shown at start.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceInfo {
    /// Position in `--devices`.
    pub device: usize,
    /// Label ("cpu#0", "cuda:1").
    pub label: String,
    /// Its author key (SS58).
    pub author: String,
}

/// Speed of one device (in `stats` events).
#[derive(Clone, Debug, Serialize)]
pub struct DeviceSpeed {
    /// Position in `--devices`.
    pub device: usize,
    /// Steps since start.
    pub steps: u64,
    /// Recent steps per second.
    pub steps_per_second: f64,
    /// What it is doing.
    pub state: DeviceState,
}

/// Everything the miner reports. Amounts are decimal strings of the
/// chain's smallest unit; hashes `0x` hex.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The miner started.
    Started {
        /// `--node`.
        node: String,
        /// Backend.
        backend: String,
        /// Devices and their keys.
        devices: Vec<DeviceInfo>,
        /// The cache directory.
        data_dir: String,
        /// The metrics address, if any.
        metrics: Option<String>,
    },
    /// Connected (or reconnected) to the node.
    Connected {
        /// The node URL.
        node: String,
    },
    /// The connection failed or dropped; retrying.
    Disconnected {
        /// What happened.
        reason: String,
        /// Delay before the next attempt.
        retry_in_ms: u64,
    },
    /// The chain's token.
    Chain {
        /// Symbol.
        token: String,
        /// Decimals.
        decimals: u32,
    },
    /// A dataset is being loaded.
    Dataset {
        /// Its Merkle root.
        root: String,
        /// Samples loaded so far.
        loaded: u64,
        /// Samples in all.
        total: u64,
        /// "cache" or "node".
        from: String,
    },
    /// New work: mining on a new parent.
    Work {
        /// Number of the block being mined (the parent's plus one).
        block: u32,
        /// The parent's hash.
        parent: String,
        /// Job id.
        job: u64,
        /// Model dimensions.
        model: Vec<u32>,
        /// Batch size.
        batch: u32,
        /// Steps the job has.
        job_steps: u64,
        /// Difficulty.
        difficulty: String,
    },
    /// The node has no work (no job scheduled, syncing).
    NoWork {
        /// The node's reason.
        reason: String,
    },
    /// The job being trained (on each job change).
    Job {
        /// Job id.
        job: u64,
        /// Price per verified step.
        price_per_step: String,
        /// Escrow left.
        budget_left: String,
        /// Planned steps.
        target_steps: u64,
        /// Status.
        status: String,
    },
    /// The block reward of the current era (gross, before the validators'
    /// share); `None`: not readable over RPC.
    Reward {
        /// Reward per block.
        block_reward: Option<String>,
    },
    /// Whether a device's key is admitted (on change).
    Admission {
        /// Device position.
        device: usize,
        /// Its key (SS58).
        author: String,
        /// Admitted?
        admitted: bool,
    },
    /// A device's backend is ready.
    DeviceReady {
        /// Device position.
        device: usize,
        /// The backend's own name.
        backend: String,
    },
    /// A winning ticket: a trajectory proven, about to be submitted.
    Found {
        /// Device position.
        device: usize,
        /// Number of the block it makes.
        block: u32,
        /// Steps in the trajectory.
        steps: u32,
        /// The ticket.
        ticket: String,
    },
    /// The node imported the block.
    Accepted {
        /// Device position.
        device: usize,
        /// Block number.
        block: u32,
        /// Block hash.
        hash: String,
        /// Steps it adds to the job.
        steps: u32,
        /// What the job pays for them (price × steps, capped by the budget).
        job_payment: String,
        /// The era's block reward (gross), if known.
        block_reward: Option<String>,
    },
    /// The node rejected a submission.
    Rejected {
        /// Device position.
        device: usize,
        /// Number of the block it would have made.
        block: u32,
        /// The node's JSON-RPC error code (`None`: connection lost).
        code: Option<i32>,
        /// The node's message.
        message: String,
    },
    /// A win dropped unsubmitted: a new best block arrived first.
    Stale {
        /// Device position.
        device: usize,
        /// Number of the block it would have made.
        block: u32,
    },
    /// A device failed; it is retried after a pause, the others go on.
    DeviceFailed {
        /// Device position.
        device: usize,
        /// The error.
        error: String,
        /// Delay before the retry.
        retry_in_ms: u64,
    },
    /// A cache entry failed its hash check and was discarded.
    CacheCorrupt {
        /// "weights" or "dataset".
        what: String,
        /// Its hash.
        hash: String,
    },
    /// Periodic summary (JSON mode: every 10 s).
    Stats {
        /// Per device.
        devices: Vec<DeviceSpeed>,
        /// Winning tickets.
        found: u64,
        /// Accepted blocks.
        accepted: u64,
        /// Rejected submissions.
        rejected: u64,
    },
    /// The miner stopped.
    Stopped {
        /// Winning tickets.
        found: u64,
        /// Accepted blocks.
        accepted: u64,
        /// Rejected submissions.
        rejected: u64,
    },
}

/// Where events go (cheap to clone; never blocks).
#[derive(Clone, Debug)]
pub struct EventSink(mpsc::UnboundedSender<Event>);

impl EventSink {
    /// Reports an event (dropped if the view is gone).
    pub fn emit(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// A sink and the receiving end for [`run_view`].
pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (EventSink(tx), rx)
}

/// Formats an amount of the smallest unit with `decimals` (4 shown).
pub fn format_amount(amount: u128, decimals: u32) -> String {
    let unit = 10u128.checked_pow(decimals).unwrap_or(1);
    let whole = amount / unit;
    let frac = amount % unit;
    if decimals == 0 {
        return whole.to_string();
    }
    let shown = decimals.min(4);
    let frac = frac / 10u128.pow(decimals - shown);
    format!("{whole}.{frac:0width$}", width = shown as usize)
}

/// Totals the view keeps.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Winning tickets.
    pub found: u64,
    /// Accepted blocks.
    pub accepted: u64,
    /// Rejected submissions.
    pub rejected: u64,
    /// Stale wins dropped.
    pub stale: u64,
}

#[derive(Default)]
struct ViewState {
    node: String,
    connected: bool,
    disconnect_reason: Option<String>,
    block: Option<u32>,
    job: Option<u64>,
    model: String,
    difficulty: u128,
    price_per_step: Option<u128>,
    block_reward: Option<Option<u128>>,
    token: Option<(String, u32)>,
    totals: Totals,
    last_rejection: Option<String>,
    earned_jobs: u128,
    earned_rewards: u128,
    reward_unknown: bool,
    no_work: Option<String>,
    speeds: Vec<f64>,
    authors: Vec<String>,
    labels: Vec<String>,
}

impl ViewState {
    fn token(&self) -> (&str, u32) {
        self.token
            .as_ref()
            .map(|(s, d)| (s.as_str(), *d))
            .unwrap_or(("UNIT", 12))
    }

    fn amount(&self, v: u128) -> String {
        let (symbol, decimals) = self.token();
        format!("{} {symbol}", format_amount(v, decimals))
    }

    fn header(&self) -> String {
        let link = if self.connected {
            self.node.clone()
        } else {
            format!(
                "{} (DISCONNECTED: {})",
                self.node,
                self.disconnect_reason.as_deref().unwrap_or("connecting")
            )
        };
        let work = match (&self.no_work, self.block, self.job) {
            (Some(reason), _, _) => format!("no work: {reason}"),
            (None, Some(block), Some(job)) => format!(
                "block #{block} · job {job} ({}) · difficulty {}",
                self.model, self.difficulty
            ),
            _ => "waiting for work".into(),
        };
        format!("{link} · {work}")
    }

    fn footer(&self) -> String {
        let t = &self.totals;
        let mut line = format!(
            "found {} · accepted {} · rejected {}",
            t.found, t.accepted, t.rejected
        );
        if t.stale > 0 {
            line += &format!(" · stale {}", t.stale);
        }
        if let Some(last) = &self.last_rejection {
            line += &format!(" (last: {last})");
        }
        line += &format!(
            " · earned {} (jobs {}",
            self.amount(self.earned_jobs + self.earned_rewards),
            self.amount(self.earned_jobs)
        );
        if self.reward_unknown {
            line += ", block reward not readable over RPC: job earnings only)";
        } else {
            line += &format!(" + rewards {} gross)", self.amount(self.earned_rewards));
        }
        if let Some(estimate) = self.estimate_per_hour() {
            line += &format!(" · est. {}/h solo", self.amount(estimate));
        }
        line
    }

    /// Expected earnings per hour at the current speed if every win became
    /// a block: wins/h = 3600 · speed / difficulty, each worth about
    /// `difficulty` steps of the job plus the block reward.
    fn estimate_per_hour(&self) -> Option<u128> {
        let speed: f64 = self.speeds.iter().sum();
        if self.difficulty == 0 || speed <= 0.0 {
            return None;
        }
        let wins_per_hour = 3600.0 * speed / self.difficulty as f64;
        let per_block = self.price_per_step.unwrap_or(0) as f64 * self.difficulty as f64
            + self.block_reward.flatten().unwrap_or(0) as f64;
        Some((wins_per_hour * per_block) as u128)
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::Started { node, devices, .. } => {
                self.node = node.clone();
                self.authors = devices.iter().map(|d| d.author.clone()).collect();
                self.labels = devices.iter().map(|d| d.label.clone()).collect();
                self.speeds = vec![0.0; devices.len()];
            }
            Event::Connected { .. } => {
                self.connected = true;
                self.disconnect_reason = None;
            }
            Event::Disconnected { reason, .. } => {
                self.connected = false;
                self.disconnect_reason = Some(reason.clone());
            }
            Event::Chain { token, decimals } => self.token = Some((token.clone(), *decimals)),
            Event::Work {
                block,
                job,
                model,
                batch,
                difficulty,
                ..
            } => {
                self.no_work = None;
                self.block = Some(*block);
                self.job = Some(*job);
                self.model = format!(
                    "{}, batch {batch}",
                    model
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("-")
                );
                self.difficulty = difficulty.parse().unwrap_or(0);
            }
            Event::NoWork { reason } => self.no_work = Some(reason.clone()),
            Event::Job { price_per_step, .. } => {
                self.price_per_step = price_per_step.parse().ok();
            }
            Event::Reward { block_reward } => {
                let reward = block_reward.as_ref().and_then(|r| r.parse().ok());
                self.reward_unknown = reward.is_none();
                self.block_reward = Some(reward);
            }
            Event::Found { .. } => self.totals.found += 1,
            Event::Accepted {
                job_payment,
                block_reward,
                ..
            } => {
                self.totals.accepted += 1;
                self.earned_jobs += job_payment.parse::<u128>().unwrap_or(0);
                match block_reward.as_ref().and_then(|r| r.parse::<u128>().ok()) {
                    Some(r) => self.earned_rewards += r,
                    None => self.reward_unknown = true,
                }
            }
            Event::Rejected { code, message, .. } => {
                self.totals.rejected += 1;
                self.last_rejection = Some(match code {
                    Some(code) => format!("{code}: {message}"),
                    None => message.clone(),
                });
            }
            Event::Stale { .. } => self.totals.stale += 1,
            _ => {}
        }
    }
}

/// A human line for the log, for the events worth one.
fn log_line(event: &Event, state: &ViewState) -> Option<(tracing::Level, String)> {
    use tracing::Level;
    let label = |d: &usize| state.labels.get(*d).cloned().unwrap_or_default();
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
                format!("⛏  mining on {node} with {backend}: {devices}; cache {data_dir}{metrics}"),
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
            format!("dataset {root}: {total} samples from the {from}, verified"),
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
                "job {job} ({status}) pays {} per step",
                state.amount(price_per_step.parse().unwrap_or(0))
            ),
        ),
        Event::Reward { block_reward: None } => (
            Level::INFO,
            "the block reward is not readable over RPC: earnings show job payments only".into(),
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
            format!("cached {what} {hash} failed its hash check: discarded, fetching again"),
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

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn print_json(event: &Event) {
    let mut value = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("ts_ms".into(), serde_json::Value::from(now_ms() as u64));
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

struct Bars {
    multi: MultiProgress,
    header: ProgressBar,
    devices: Vec<ProgressBar>,
    footer: ProgressBar,
    dataset: Option<ProgressBar>,
}

impl Bars {
    fn new(multi: MultiProgress, devices: usize) -> Self {
        let line = ProgressStyle::with_template("{spinner:.green} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let add = |style: &ProgressStyle| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar
        };
        let header = add(&line);
        let device_style = ProgressStyle::with_template("  {prefix:>10} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let devices = (0..devices).map(|_| add(&device_style)).collect();
        let footer = add(&ProgressStyle::with_template("  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()));
        Self {
            multi,
            header,
            devices,
            footer,
            dataset: None,
        }
    }

    fn dataset(&mut self, loaded: u64, total: u64, root: &str) {
        if loaded >= total {
            if let Some(bar) = self.dataset.take() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
            return;
        }
        let bar = self.dataset.get_or_insert_with(|| {
            let bar = self.multi.insert(1, ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "  dataset {msg} [{bar:30}] {pos}/{len} samples ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(root.chars().take(10).collect::<String>() + "…");
            bar
        });
        bar.set_length(total);
        bar.set_position(loaded);
    }

    fn render(&self, state: &ViewState, stats: &[Arc<DeviceStats>]) {
        self.header.set_message(state.header());
        self.header.tick();
        for (i, bar) in self.devices.iter().enumerate() {
            let s = &stats[i];
            bar.set_prefix(state.labels.get(i).cloned().unwrap_or_default());
            let author = state
                .authors
                .get(i)
                .map(|a| a.chars().take(8).collect::<String>() + "…")
                .unwrap_or_default();
            bar.set_message(format!(
                "{:>8.1} steps/s · {} steps · trajectory {} · as {author} · {}",
                state.speeds.get(i).copied().unwrap_or(0.0),
                s.steps.load(Ordering::Relaxed),
                s.trajectory.load(Ordering::Relaxed),
                s.state().label()
            ));
        }
        self.footer.set_message(state.footer());
    }

    fn finish(&self) {
        for bar in std::iter::once(&self.header)
            .chain(self.devices.iter())
            .chain(std::iter::once(&self.footer))
        {
            bar.abandon();
        }
    }
}

/// Runs the view until the `Stopped` event (or every sender is gone);
/// returns the totals.
pub async fn run_view(
    mode: ViewMode,
    mut events: mpsc::UnboundedReceiver<Event>,
    stats: Vec<Arc<DeviceStats>>,
    metrics: Arc<Metrics>,
) -> Totals {
    let mut state = ViewState::default();
    let json = matches!(mode, ViewMode::Json);
    let mut bars = match mode {
        ViewMode::Terminal(multi) => Some(Bars::new(multi, stats.len())),
        ViewMode::Json => None,
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_steps: Vec<u64> = vec![0; stats.len()];
    let mut last_tick = Instant::now();
    let mut last_stats = Instant::now();
    state.speeds = vec![0.0; stats.len()];
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(mut event) = event else { break };
                let stopped = matches!(event, Event::Stopped { .. });
                if stopped {
                    event = Event::Stopped {
                        found: state.totals.found,
                        accepted: state.totals.accepted,
                        rejected: state.totals.rejected,
                    };
                }
                state.apply(&event);
                if json {
                    print_json(&event);
                } else if let Some((level, line)) = log_line(&event, &state) {
                    match level {
                        tracing::Level::ERROR => tracing::error!("{line}"),
                        tracing::Level::WARN => tracing::warn!("{line}"),
                        _ => tracing::info!("{line}"),
                    }
                }
                if let (Some(bars), Event::Dataset { loaded, total, root, .. }) = (bars.as_mut(), &event) {
                    bars.dataset(*loaded, *total, root);
                }
                if stopped {
                    break;
                }
            }
            _ = tick.tick() => {
                let elapsed = last_tick.elapsed().as_secs_f64().max(1e-3);
                last_tick = Instant::now();
                for (i, s) in stats.iter().enumerate() {
                    let steps = s.steps.load(Ordering::Relaxed);
                    let rate = (steps - last_steps[i]) as f64 / elapsed;
                    last_steps[i] = steps;
                    // Smoothed over about 5 s.
                    state.speeds[i] = 0.9 * state.speeds[i] + 0.1 * rate;
                    if state.speeds[i] < 0.01 { state.speeds[i] = rate; }
                    metrics.set_speed(i, state.speeds[i]);
                }
                if json && last_stats.elapsed() >= Duration::from_secs(10) {
                    last_stats = Instant::now();
                    print_json(&Event::Stats {
                        devices: stats.iter().enumerate().map(|(i, s)| DeviceSpeed {
                            device: i,
                            steps: s.steps.load(Ordering::Relaxed),
                            steps_per_second: (state.speeds[i] * 10.0).round() / 10.0,
                            state: s.state(),
                        }).collect(),
                        found: state.totals.found,
                        accepted: state.totals.accepted,
                        rejected: state.totals.rejected,
                    });
                }
            }
        }
        if let Some(bars) = &bars {
            bars.render(&state, &stats);
        }
    }
    if let Some(bars) = bars.take() {
        bars.render(&state, &stats);
        bars.finish();
    }
    state.totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_formatted_with_the_token_decimals() {
        assert_eq!(format_amount(10_000_000_000_000, 12), "10.0000");
        assert_eq!(format_amount(1_234_567_890_123, 12), "1.2345");
        assert_eq!(format_amount(5, 0), "5");
        assert_eq!(format_amount(5, 2), "0.05");
    }

    #[test]
    fn events_are_json_objects_with_a_tag() {
        let v = serde_json::to_value(Event::Rejected {
            device: 1,
            block: 7,
            code: Some(1003),
            message: "author not admitted".into(),
        })
        .unwrap();
        assert_eq!(v["event"], "rejected");
        assert_eq!(v["code"], 1003);
        assert_eq!(v["device"], 1);
    }

    #[test]
    fn the_view_sums_earnings_and_keeps_the_last_rejection() {
        let mut s = ViewState::default();
        s.apply(&Event::Reward {
            block_reward: Some("10000000000000".into()),
        });
        s.apply(&Event::Accepted {
            device: 0,
            block: 1,
            hash: "0x".into(),
            steps: 3,
            job_payment: "3000".into(),
            block_reward: Some("10000000000000".into()),
        });
        s.apply(&Event::Rejected {
            device: 0,
            block: 2,
            code: Some(1002),
            message: "stale".into(),
        });
        assert_eq!(s.totals.accepted, 1);
        assert_eq!(s.earned_jobs, 3000);
        assert_eq!(s.earned_rewards, 10_000_000_000_000);
        let footer = s.footer();
        assert!(footer.contains("last: 1002: stale"), "{footer}");
        assert!(footer.contains("rewards 10.0000 UNIT gross"), "{footer}");
        s.apply(&Event::Reward { block_reward: None });
        assert!(s.footer().contains("job earnings only"));
    }
}
