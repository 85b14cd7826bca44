//! The miner library's error type.

/// Everything that can go wrong in the miner's library code.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// A puzzle rule rejected an input (bad spec, weights, samples, proof).
    #[error(transparent)]
    Puzzle(#[from] upow_puzzle::Error),
    /// The tensor backend failed (wrapped: backend errors never leak raw).
    #[error("{backend} backend: {message}")]
    Backend {
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
    /// A backend produced other weights than the reference (a bug or a
    /// faulty device): its work would be rejected by every node.
    #[error("{backend} backend diverged from the reference at step {step}")]
    Diverged {
        /// Backend name.
        backend: &'static str,
        /// Step index.
        step: u64,
    },
    /// Bad command-line or file input.
    #[error("{0}")]
    Input(String),
}

/// Result alias of the miner library.
pub type Result<T, E = MinerError> = std::result::Result<T, E>;

/// Wraps a candle error with the backend that raised it.
pub(crate) fn candle_error(backend: &'static str) -> impl Fn(candle_core::Error) -> MinerError {
    move |e| MinerError::Backend {
        backend,
        message: describe_candle_error(&e),
    }
}

/// A candle error in words (CUDA conditions such as out-of-memory named
/// plainly when the CUDA backend is built in).
fn describe_candle_error(e: &candle_core::Error) -> String {
    #[cfg(feature = "cuda")]
    {
        crate::backend::candle::describe_cuda_error(e)
    }
    #[cfg(not(feature = "cuda"))]
    {
        e.to_string()
    }
}
