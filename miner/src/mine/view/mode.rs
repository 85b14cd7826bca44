//! How the miner reports: live bars on a terminal, or JSON lines.

use indicatif::{MultiProgress, ProgressDrawTarget};

use super::log_writer::LogWriter;

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
        LogWriter::new(match self {
            Self::Terminal(multi) => Some(multi.clone()),
            Self::Json => None,
        })
    }
}
