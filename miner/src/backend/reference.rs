//! The reference backend: `upow_puzzle::TrainingStep` itself (the puzzle's
//! [`upow_puzzle::mining::ReferenceBackend`]), with this crate's error type.

use upow_puzzle::{mining, Batch, Hyperparams, Model, Seed, Weights};

use super::step::{StepBackend, StepReport};
use crate::error::Result;

/// Runs the normative integer step on the host; it reports every step's
/// statistics, so the mining loop drops a degenerate trajectory at once.
pub struct ReferenceBackend(mining::ReferenceBackend);

impl ReferenceBackend {
    /// A backend starting from `weights`.
    pub fn new(model: Model, hyper: Hyperparams, weights: Weights) -> Self {
        Self(mining::ReferenceBackend::new(model, hyper, weights))
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
