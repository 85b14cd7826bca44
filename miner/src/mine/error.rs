//! [`MineError`]: everything that can stop the miner or one of its devices.

use super::{client::RpcError, keys::KeyError, metrics::MetricsError, store::StoreError};
use crate::error::BackendError;

/// Everything that can stop the miner or a device.
#[derive(Debug, thiserror::Error)]
pub enum MineError {
    /// An RPC call failed.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The local cache failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The metrics registry failed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// A puzzle rule failed (bad weights, dataset, proof).
    #[error(transparent)]
    Puzzle(#[from] upow_puzzle::Error),
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The node's work is unusable (undecodable spec, mismatched data).
    #[error("invalid work: {0}")]
    InvalidWork(String),
    /// A device's proof failed the miner's own verification: the device
    /// (or its backend) computes wrong steps; nothing was submitted.
    #[error("{device}: self-check failed: {reason}")]
    SelfCheck {
        /// The device.
        device: String,
        /// What failed.
        reason: String,
    },
    /// A bad setting.
    #[error("{0}")]
    Config(String),
    /// An I/O failure (binding the metrics port, starting a thread).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A background task failed.
    #[error("background task: {0}")]
    Task(String),
    /// The auditor's fraud report could not be built.
    #[cfg(feature = "audit")]
    #[error(transparent)]
    Report(#[from] crate::audit::ReportError),
}
