//! The interface every step backend implements, and what a step reports.

use upow_puzzle::{Batch, Hash, Seed, Weights};

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
