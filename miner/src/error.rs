//! The error type of the miner library's backends and training runs: what
//! can go wrong creating or stepping a backend, training locally (the
//! integer step or the float32 baseline), or benchmarking.
//!
//! Mining (`upow-miner mine`) wraps it in its own `mine::MineError`.

/// Everything that can go wrong in a backend or a training run.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A puzzle rule rejected an input (bad spec, weights, samples, proof).
    #[error(transparent)]
    Puzzle(#[from] upow_puzzle::Error),
    /// The tensor library failed on a backend (wrapped: candle errors never
    /// leak raw; see `backend::candle::candle_error`).
    #[error("{backend} backend: {message}")]
    Failed {
        /// Backend name.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A backend is not compiled into this binary.
    #[error("the {backend} backend is not built in: rebuild with `--features {feature}`")]
    NotBuilt {
        /// Backend name.
        backend: &'static str,
        /// Cargo feature that enables it.
        feature: &'static str,
    },
    /// No usable GPU (no driver, no device, device index out of range).
    #[error("no usable CUDA device: {0}")]
    NoGpu(String),
    /// Bad command-line or file input.
    #[error("{0}")]
    Input(String),
}

/// Result alias of the miner library's backends and training runs.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;
