//! The view's task: receives the events, keeps the state, measures the
//! devices' speeds, and draws bars, logs lines or prints JSON.

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::{
    bars::Bars,
    json::print_json,
    log_lines::log_line,
    mode::ViewMode,
    state::{Totals, ViewState},
};
use crate::mine::{
    events::{DeviceSpeed, DeviceStats, Event},
    metrics::Metrics,
};

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
