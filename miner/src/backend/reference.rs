//! The reference backend: `upow_puzzle::TrainingStep` itself.

use upow_puzzle::{Batch, Hyperparams, Model, Seed, TrainingStep, Weights};

use super::step::{StepBackend, StepReport};
use crate::error::Result;

/// Runs the normative integer step on the host.
pub struct ReferenceBackend {
    model: Model,
    hyper: Hyperparams,
    weights: Weights,
}

impl ReferenceBackend {
    /// A backend starting from `weights`.
    pub fn new(model: Model, hyper: Hyperparams, weights: Weights) -> Self {
        Self {
            model,
            hyper,
            weights,
        }
    }
}

impl StepBackend for ReferenceBackend {
    fn name(&self) -> String {
        "reference".into()
    }

    fn load(&mut self, weights: &Weights) -> Result<()> {
        self.weights = weights.clone();
        Ok(())
    }

    fn step(&mut self, batch: &Batch, seed: &Seed, global_step: u64) -> Result<StepReport> {
        let outcome = TrainingStep::new(&self.model, &self.hyper).run(
            &self.weights,
            batch,
            seed,
            global_step,
        )?;
        self.weights = outcome.weights;
        Ok(StepReport {
            weights_hash: self.weights.hash(),
            loss: outcome.loss,
        })
    }

    fn weights(&self) -> Result<Weights> {
        Ok(self.weights.clone())
    }
}
