//! Mining a trajectory: stepping until a ticket wins, keeping checkpoints,
//! and assembling the proof.
//!
//! Miners cannot keep every `W_i` (a block at difficulty 4 000 would hold
//! 4 000 weight sets), so they keep one every [`Checkpoints::interval`] steps
//! and recompute a challenged `W_i` from the checkpoint before it with the
//! reference step (bit-identical to every backend's).

use alloc::vec::Vec;

use crate::{
    dataset::Dataset,
    error::{Error, Result},
    hash::Hash,
    pow::{Seed, Ticket, TrajectoryContext},
    step::{batch_indices, Batch, TrainingStep},
    trajectory::{Trajectory, TrajectoryClaim, TrajectoryProof},
    verify::JobSpec,
    weights::Weights,
};

/// The batch a seed selects from a dataset held in memory.
pub fn select_batch(job: &JobSpec, dataset: &Dataset, seed: &Seed) -> Result<Batch> {
    let indices = batch_indices(seed, job.hyper.batch(), dataset.len() as u64);
    let samples = indices.iter().map(|&i| {
        dataset.sample(i as usize).ok_or(Error::LeafIndex {
            index: i,
            leaves: dataset.len() as u64,
        })
    });
    let samples = samples.collect::<Result<Vec<_>>>()?;
    Batch::from_encoded(samples, &job.model)
}

/// Weights saved every `interval` steps of a trajectory (always `W_0`).
#[derive(Clone, Debug)]
pub struct Checkpoints {
    interval: u32,
    saved: Vec<(u32, Weights)>,
}

impl Checkpoints {
    /// Starts with `W_0`; `interval` ≥ 1.
    pub fn new(start: Weights, interval: u32) -> Self {
        Self {
            interval: interval.max(1),
            saved: alloc::vec![(0, start)],
        }
    }

    /// Steps between checkpoints.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// Whether `W_index` should be saved.
    pub fn wants(&self, index: u32) -> bool {
        index.is_multiple_of(self.interval)
    }

    /// Saves `W_index` (call when [`Checkpoints::wants`] says so).
    pub fn save(&mut self, index: u32, weights: Weights) {
        self.saved.push((index, weights));
    }

    /// Recomputes `W_index` from the last checkpoint at or before it.
    pub fn weights_at(
        &self,
        index: u32,
        job: &JobSpec,
        ctx: &TrajectoryContext,
        first_step: u64,
        dataset: &Dataset,
    ) -> Result<Weights> {
        let (mut at, mut weights) = self
            .saved
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .cloned()
            .ok_or(Error::StepIndex { index, steps: 0 })?;
        let step = TrainingStep::new(&job.model, &job.hyper);
        while at < index {
            let seed = Seed::derive(ctx, at, &weights.hash());
            let batch = select_batch(job, dataset, &seed)?;
            weights = step
                .run(&weights, &batch, &seed, first_step + at as u64)?
                .weights;
            at += 1;
        }
        Ok(weights)
    }
}

/// A won trajectory, ready to go into a block.
#[derive(Clone, Debug)]
pub struct Mined {
    /// The claim for the pre-runtime digest.
    pub claim: TrajectoryClaim,
    /// The proof for the block body.
    pub proof: TrajectoryProof,
    /// `W_n`, the weights the chain adopts.
    pub final_weights: Weights,
    /// The winning ticket.
    pub ticket: Ticket,
}

/// Proves a won trajectory from its checkpoints.
pub fn prove(
    trajectory: &Trajectory,
    checkpoints: &Checkpoints,
    job: &JobSpec,
    dataset: &Dataset,
    first_step: u64,
    final_weights: Weights,
) -> Result<Mined> {
    let claim = trajectory
        .claim(final_weights.hash())
        .ok_or(Error::EmptyTrajectory)?;
    let ctx = *trajectory.context();
    let proof = trajectory.prove(&claim, job.hyper.batch(), dataset, |i| {
        checkpoints.weights_at(i, job, &ctx, first_step, dataset)
    })?;
    let ticket = claim.ticket(&ctx)?;
    Ok(Mined {
        claim,
        proof,
        final_weights,
        ticket,
    })
}

/// Mines with the reference step on the calling thread.
pub struct ReferenceMiner<'a> {
    job: &'a JobSpec,
    dataset: &'a Dataset,
    first_step: u64,
    trajectory: Trajectory,
    checkpoints: Checkpoints,
    current: Weights,
    current_hash: Hash,
}

impl<'a> ReferenceMiner<'a> {
    /// Starts mining `job` from `start` (`H(start)` must be the chain's
    /// weights hash) with the job at `first_step` steps.
    pub fn new(
        job: &'a JobSpec,
        dataset: &'a Dataset,
        ctx: TrajectoryContext,
        start: Weights,
        first_step: u64,
        checkpoint_interval: u32,
    ) -> Self {
        let current_hash = start.hash();
        Self {
            job,
            dataset,
            first_step,
            trajectory: Trajectory::start(ctx, current_hash),
            checkpoints: Checkpoints::new(start.clone(), checkpoint_interval),
            current: start,
            current_hash,
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.trajectory.steps()
    }

    /// Runs up to `max_steps` steps; returns the proof as soon as a ticket
    /// wins at `difficulty`, `None` if none did.
    pub fn run(&mut self, difficulty: u128, max_steps: u32) -> Result<Option<Mined>> {
        let step = TrainingStep::new(&self.job.model, &self.job.hyper);
        for _ in 0..max_steps {
            let index = self.trajectory.steps();
            let seed = self.trajectory.next_seed(&self.current_hash);
            let batch = select_batch(self.job, self.dataset, &seed)?;
            let outcome = step.run(&self.current, &batch, &seed, self.first_step + index as u64)?;
            self.current = outcome.weights;
            self.current_hash = self.current.hash();
            let ticket = self.trajectory.push(self.current_hash);
            if self.checkpoints.wants(index + 1) {
                self.checkpoints.save(index + 1, self.current.clone());
            }
            if ticket.meets(difficulty) {
                let mined = prove(
                    &self.trajectory,
                    &self.checkpoints,
                    self.job,
                    self.dataset,
                    self.first_step,
                    self.current.clone(),
                )?;
                return Ok(Some(mined));
            }
        }
        Ok(None)
    }
}
