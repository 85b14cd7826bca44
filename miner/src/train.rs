//! Local training runs (no chain): a trajectory of the puzzle's steps from a
//! seed, evaluated on a held-out set.
//!
//! A local run is exactly what a miner does for a block, minus tickets and
//! the step bound: step `i`'s seed comes from the running root of the run's
//! trajectory (docs/puzzle.md §6) with a context derived from the run's
//! seed, so a run is reproducible bit for bit on any backend.

use std::time::Instant;

use upow_puzzle::{
    evaluate, hash::hash_parts, Batch, Dataset, Evaluation, Hyperparams, Model, Trajectory,
    TrajectoryContext, Weights,
};

use crate::{
    backend::{self, BackendKind},
    error::Result,
};

/// What to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// The model.
    pub model: Model,
    /// Batch, learning rate, planned steps (`total_steps` is the run length).
    pub hyper: Hyperparams,
    /// Seed of the run: initial weights and every step's seed derive from it.
    pub seed: u64,
    /// Which backend runs the steps.
    pub backend: BackendKind,
    /// GPU index for the CUDA backend.
    pub device: usize,
}

impl TrainConfig {
    /// The trajectory context of the run (its "parent" is a hash of the seed).
    pub fn context(&self) -> TrajectoryContext {
        TrajectoryContext {
            parent: self.run_hash(),
            author: [0; 32],
            job: 0,
            salt: 0,
        }
    }

    fn run_hash(&self) -> [u8; 32] {
        hash_parts(b"upow/local-run/v1", &[&self.seed.to_le_bytes()])
    }

    /// The run's initial weights.
    pub fn initial_weights(&self) -> Weights {
        Weights::initial(&self.model, &self.run_hash())
    }
}

/// Progress of a run, reported every `report_every` steps.
#[derive(Clone, Copy, Debug)]
pub struct TrainProgress {
    /// Steps done.
    pub step: u64,
    /// Mean training loss (nats) over the steps since the last report.
    pub train_loss: f64,
    /// Test evaluation, when one was run at this point.
    pub test: Option<Evaluation>,
}

/// Result of a run.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// Steps run.
    pub steps: u64,
    /// Wall-clock seconds of the steps (evaluation excluded).
    pub seconds: f64,
    /// Final weights.
    pub weights: Weights,
    /// Evaluation of the final weights on the test set.
    pub test: Evaluation,
}

/// Builds the batch of a step from the training set.
pub fn batch_for(model: &Model, train: &Dataset, indices: &[u64]) -> Result<Batch> {
    let samples = indices
        .iter()
        .map(|&i| train.sample(i as usize).unwrap_or_default());
    Ok(Batch::from_encoded(samples, model)?)
}

/// All samples of a dataset as one batch (for evaluation).
pub fn whole(model: &Model, set: &Dataset) -> Result<Batch> {
    Ok(Batch::from_encoded(
        set.encoded().chunks_exact(set.sample_len()),
        model,
    )?)
}

/// Trains `config.hyper.total_steps()` steps; every `eval_every` steps (and
/// at the end) evaluates on `test`. Evaluation runs in chunks of the batch
/// size, as the spec fixes (docs/puzzle.md §Evaluation).
pub fn train(
    config: &TrainConfig,
    train_set: &Dataset,
    test_set: &Dataset,
    eval_every: u64,
    mut on_progress: impl FnMut(TrainProgress),
) -> Result<TrainReport> {
    let model = &config.model;
    let hyper = &config.hyper;
    let ctx = config.context();
    let initial = config.initial_weights();
    let mut backend = backend::create(config.backend, config.device, model, hyper, &initial)?;
    let test_batch = whole(model, test_set)?;
    let mut trajectory = Trajectory::start(ctx, initial.hash());
    let (mut loss_sum, mut loss_steps) = (0u64, 0u64);
    let mut seconds = 0.0;
    for step in 0..hyper.total_steps() {
        let seed = trajectory.next_seed();
        let indices = upow_puzzle::batch_indices(&seed, hyper.batch(), train_set.len() as u64);
        let batch = batch_for(model, train_set, &indices)?;
        let started = Instant::now();
        let report = backend.step(&batch, &seed, step)?;
        seconds += started.elapsed().as_secs_f64();
        trajectory.push(report.weights_hash);
        loss_sum += report.loss;
        loss_steps += 1;
        let done = step + 1;
        let evaluate_now = eval_every > 0 && done % eval_every == 0;
        if evaluate_now || done % 50 == 0 || done == hyper.total_steps() {
            let test = if evaluate_now {
                Some(evaluate(
                    model,
                    &backend.weights()?,
                    &test_batch,
                    hyper.batch(),
                ))
            } else {
                None
            };
            let rows = (loss_steps * hyper.batch() as u64).max(1);
            let train_loss = loss_sum as f64 / 16.0 / rows as f64 * std::f64::consts::LN_2;
            on_progress(TrainProgress {
                step: done,
                train_loss,
                test,
            });
            (loss_sum, loss_steps) = (0, 0);
        }
    }
    let weights = backend.weights()?;
    let test = evaluate(model, &weights, &test_batch, hyper.batch());
    Ok(TrainReport {
        steps: hyper.total_steps(),
        seconds,
        weights,
        test,
    })
}
