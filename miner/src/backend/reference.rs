//! The host backends: `upow_puzzle::TrainingStep` itself, or the puzzle's
//! sparse kernel `upow_puzzle::SparseStep` that gives its bits (both through
//! [`upow_puzzle::mining::ReferenceBackend`]), with this crate's error type.

use upow_puzzle::{
    mining::{self, HostKernel},
    Batch, Hyperparams, Model, Seed, Weights,
};

use super::step::{StepBackend, StepReport};
use crate::error::Result;

/// Runs an integer step on the host (the normative one, or the sparse kernel
/// with its bits); it reports every step's statistics, so the mining loop
/// drops a degenerate trajectory at once.
pub struct ReferenceBackend(mining::ReferenceBackend);

impl ReferenceBackend {
    /// A backend of the normative step starting from `weights`.
    pub fn new(model: Model, hyper: Hyperparams, weights: Weights) -> Self {
        Self::with_kernel(HostKernel::Reference, model, hyper, weights)
    }

    /// A backend of `kernel` starting from `weights`.
    pub fn with_kernel(
        kernel: HostKernel,
        model: Model,
        hyper: Hyperparams,
        weights: Weights,
    ) -> Self {
        Self(mining::ReferenceBackend::with_kernel(
            kernel, model, hyper, weights,
        ))
    }
}

impl StepBackend for ReferenceBackend {
    type Error = crate::error::BackendError;

    fn name(&self) -> String {
        self.0.name()
    }

    fn load(&mut self, weights: &Weights) -> Result<()> {
        Ok(self.0.load(weights)?)
    }

    fn step(&mut self, batch: &Batch, seed: &Seed, global_step: u64) -> Result<StepReport> {
        Ok(self.0.step(batch, seed, global_step)?)
    }

    fn weights(&self) -> Result<Weights> {
        Ok(self.0.weights()?)
    }
}
