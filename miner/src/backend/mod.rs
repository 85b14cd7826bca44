//! Step backends: the same training step on different hardware.
//!
//! Every backend must produce **bit-identical** weights to the normative
//! reference, `upow_puzzle::TrainingStep` (tested over many random seeds in
//! `tests/bit_exact.rs`); a miner whose backend diverges produces blocks every
//! node rejects.
//!
//! * [`step`]: the [`StepBackend`] interface and its [`StepReport`];
//! * [`reference`]: the normative integer reference (plain Rust), or the
//!   sparse kernel that gives its bits faster (`upow_puzzle::SparseStep`);
//! * [`candle`]: candle on the CPU or (feature `cuda`) an NVIDIA GPU.

pub mod candle;
pub mod reference;
pub mod step;

use upow_puzzle::{Hyperparams, Model, Weights};

pub use step::{DynBackend, StepBackend, StepReport};

use crate::error::Result;

/// Which backend to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The normative integer reference (plain Rust, one core).
    Reference,
    /// The reference's bits by the sparse kernel (plain Rust, one core):
    /// zero errors, zero gradients and dead units' back-propagation skipped.
    Sparse,
    /// candle on the CPU: f32 GEMM on integer values + custom ops.
    Cpu,
    /// candle on an NVIDIA GPU (feature `cuda`).
    Cuda,
}

impl BackendKind {
    /// Name as typed on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Sparse => "sparse",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }
}

/// Creates a backend for a job's model and hyper-parameters, starting from
/// `weights`. `device` selects the GPU for [`BackendKind::Cuda`].
pub fn create(
    kind: BackendKind,
    device: usize,
    model: &Model,
    hyper: &Hyperparams,
    weights: &Weights,
) -> Result<DynBackend> {
    match kind {
        BackendKind::Reference => Ok(Box::new(reference::ReferenceBackend::new(
            model.clone(),
            *hyper,
            weights.clone(),
        ))),
        BackendKind::Sparse => Ok(Box::new(reference::ReferenceBackend::with_kernel(
            upow_puzzle::mining::HostKernel::Sparse,
            model.clone(),
            *hyper,
            weights.clone(),
        ))),
        BackendKind::Cpu => Ok(Box::new(candle::CandleBackend::new(
            candle_core::Device::Cpu,
            model.clone(),
            *hyper,
            weights,
        )?)),
        BackendKind::Cuda => cuda_backend(device, model, hyper, weights),
    }
}

#[cfg(feature = "cuda")]
fn cuda_backend(
    device: usize,
    model: &Model,
    hyper: &Hyperparams,
    weights: &Weights,
) -> Result<DynBackend> {
    let device = candle::cuda_device(device)?;
    Ok(Box::new(candle::CandleBackend::new(
        device,
        model.clone(),
        *hyper,
        weights,
    )?))
}

#[cfg(not(feature = "cuda"))]
fn cuda_backend(
    _device: usize,
    _model: &Model,
    _hyper: &Hyperparams,
    _weights: &Weights,
) -> Result<DynBackend> {
    Err(crate::error::BackendError::NotBuilt {
        backend: "cuda",
        feature: "cuda",
    })
}
