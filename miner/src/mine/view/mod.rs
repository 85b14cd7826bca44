//! What the miner shows: a live terminal view (indicatif) or, with
//! `--json`, one JSON object per event on stdout. Every part of the miner
//! reports through `super::events`; the view turns the events into bars,
//! log lines or JSON, and adds the speeds it measures from the devices'
//! counters.
//!
//! * `mode`: [`ViewMode`], terminal or JSON;
//! * `log_writer`: [`LogWriter`], log lines printed above the bars;
//! * `state`: what the view keeps (the current work, job terms, [`Totals`],
//!   earnings) and the header and footer lines made from it;
//! * `log_lines`: the log line of each event worth one;
//! * `bars`: the progress bars;
//! * `json`: JSON event lines;
//! * `task`: [`run_view`], the task that drives all of it.

mod bars;
mod json;
mod log_lines;
mod log_writer;
mod mode;
mod state;
mod task;

pub use log_writer::{LogLine, LogWriter};
pub use mode::ViewMode;
pub use state::{format_amount, Totals};
pub use task::run_view;
