//! The live bars of the terminal view: a header (node and work), one line
//! per device, a footer (totals and earnings), and a dataset download bar
//! while one is running.

use std::sync::{atomic::Ordering, Arc};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::state::ViewState;
use crate::mine::events::DeviceStats;

/// The bars of the terminal view.
pub(super) struct Bars {
    multi: MultiProgress,
    header: ProgressBar,
    devices: Vec<ProgressBar>,
    footer: ProgressBar,
    dataset: Option<ProgressBar>,
}

impl Bars {
    /// The bars of `devices` devices, drawn by `multi`.
    pub(super) fn new(multi: MultiProgress, devices: usize) -> Self {
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

    /// Shows a dataset download at `loaded` of `total` samples (removed
    /// once complete).
    pub(super) fn dataset(&mut self, loaded: u64, total: u64, root: &str) {
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

    /// Redraws every line from the state and the devices' counters.
    pub(super) fn render(&self, state: &ViewState, stats: &[Arc<DeviceStats>]) {
        self.header.set_message(state.header());
        self.header.tick();
        for (i, bar) in self.devices.iter().enumerate() {
            let s = &stats[i];
            bar.set_prefix(state.label(i));
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

    /// Leaves the last frame on the terminal.
    pub(super) fn finish(&self) {
        for bar in std::iter::once(&self.header)
            .chain(self.devices.iter())
            .chain(std::iter::once(&self.footer))
        {
            bar.abandon();
        }
    }
}
