//! Step backends: the same training step on different hardware.
//!
//! Every backend must produce **bit-identical** weights to the normative
//! reference, `upow_puzzle::TrainingStep` (tested over many random seeds in
//! `tests/bit_exact.rs`); a miner whose backend diverges produces blocks every
//! node rejects.

pub mod candle;
pub mod reference;

use upow_puzzle::{Batch, Hash, Hyperparams, Model, Seed, Weights};

use crate::error::Result;

/// What one step reports back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// Hash of the weights after the step.
    pub weights_hash: Hash,
    /// Batch loss before the update (sixteenths of a bit, summed over rows).
    pub loss: u64,
}

/// One device's implementation of the training step. It keeps the current
/// weights (on its device) between steps.
pub trait StepBackend: Send {
    /// Short name for logs and metrics ("reference", "cpu", "cuda:0").
    fn name(&self) -> String;
    /// Replaces the current weights.
    fn load(&mut self, weights: &Weights) -> Result<()>;
    /// Runs one step on `batch` from the current weights, in place.
    fn step(&mut self, batch: &Batch, seed: &Seed, global_step: u64) -> Result<StepReport>;
    /// The current weights (copied to the host).
    fn weights(&self) -> Result<Weights>;
}

/// Which backend to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The normative integer reference (plain Rust, one core).
    Reference,
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
) -> Result<Box<dyn StepBackend>> {
    match kind {
        BackendKind::Reference => Ok(Box::new(reference::ReferenceBackend::new(
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
) -> Result<Box<dyn StepBackend>> {
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
) -> Result<Box<dyn StepBackend>> {
    Err(crate::error::MinerError::NotBuilt {
        backend: "cuda",
        feature: "cuda",
    })
}
