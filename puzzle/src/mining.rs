//! Mining a trajectory: stepping until a ticket wins, keeping snapshots of
//! the weights, and assembling the proof.
//!
//! Miners cannot keep every `W_i` (a block at difficulty 4 000 would hold
//! 4 000 weight sets), so they keep a *snapshot* every
//! [`Snapshots::interval`] steps and recompute a challenged `W_i` from the
//! snapshot before it with the reference step (bit-identical to every
//! backend's). (The node's store of adopted weights is another thing: its
//! weights store.)
//!
//! A trajectory may not grow past [`max_steps`] at the block's difficulty;
//! one that gets there without a winning ticket is abandoned and a new one
//! starts from `W_0` with the next salt ([`ReferenceMiner`] does this).

use alloc::vec::Vec;

use crate::{
    dataset::Dataset,
    degeneracy::validate_step,
    error::{Error, Result},
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
pub struct Snapshots {
    interval: u32,
    saved: Vec<(u32, Weights)>,
}

impl Snapshots {
    /// Starts with `W_0`; `interval` ≥ 1.
    pub fn new(start: Weights, interval: u32) -> Self {
        Self {
            interval: interval.max(1),
            saved: alloc::vec![(0, start)],
        }
    }

    /// Steps between snapshots.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// Whether `W_index` should be saved.
    pub fn wants(&self, index: u32) -> bool {
        index.is_multiple_of(self.interval)
    }

    /// Saves `W_index` (call when [`Snapshots::wants`] says so).
    pub fn save(&mut self, index: u32, weights: Weights) {
        self.saved.push((index, weights));
    }

    /// The last snapshot at or before `index`: `(its index, its weights)`.
    pub fn before(&self, index: u32) -> Result<(u32, &Weights)> {
        self.saved
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .map(|(i, w)| (*i, w))
            .ok_or(Error::StepIndex { index, steps: 0 })
    }

    /// Recomputes `W_index` of `trajectory` from the last snapshot at or
    /// before it, with the reference step.
    pub fn weights_at(
        &self,
        index: u32,
        job: &JobSpec,
        trajectory: &Trajectory,
        first_step: u64,
        dataset: &Dataset,
    ) -> Result<Weights> {
        let (at, weights) = self.before(index)?;
        let mut weights = weights.clone();
        let step = TrainingStep::new(&job.model, &job.hyper);
        for (offset, seed) in trajectory.seeds(at, index)?.iter().enumerate() {
            let batch = select_batch(job, dataset, seed)?;
            let global = first_step + u64::from(at) + offset as u64;
            weights = step.run(&weights, &batch, seed, global)?.weights;
        }
        Ok(weights)
    }
}

/// A won trajectory, ready to go into a block.
#[derive(Clone, Debug)]
pub struct Mined {
    /// The context the claim is bound to (its salt goes into the digest).
    pub context: TrajectoryContext,
    /// The claim for the pre-runtime digest.
    pub claim: TrajectoryClaim,
    /// The proof for the block body.
    pub proof: TrajectoryProof,
    /// `W_n`, the weights the chain adopts.
    pub final_weights: Weights,
    /// The winning ticket.
    pub ticket: Ticket,
}

/// Proves a won trajectory from its snapshots.
pub fn prove(
    trajectory: &Trajectory,
    snapshots: &Snapshots,
    job: &JobSpec,
    dataset: &Dataset,
    first_step: u64,
    final_weights: Weights,
) -> Result<Mined> {
    let claim = trajectory
        .claim(final_weights.hash())
        .ok_or(Error::EmptyTrajectory)?;
    let proof = trajectory.prove(&claim, job, dataset, |i| {
        snapshots.weights_at(i, job, trajectory, first_step, dataset)
    })?;
    let ticket = claim.ticket(trajectory.context())?;
    Ok(Mined {
        context: *trajectory.context(),
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
    start: Weights,
    interval: u32,
    trajectory: Trajectory,
    snapshots: Snapshots,
    current: Weights,
    degenerate_steps: u32,
}

impl<'a> ReferenceMiner<'a> {
    /// Starts mining `job` from `start` (`H(start)` must be the chain's
    /// weights hash) with the job at `first_step` steps; `ctx.salt` is the
    /// first salt tried.
    pub fn new(
        job: &'a JobSpec,
        dataset: &'a Dataset,
        ctx: TrajectoryContext,
        start: Weights,
        first_step: u64,
        snapshot_interval: u32,
    ) -> Self {
        Self {
            job,
            dataset,
            first_step,
            trajectory: Trajectory::start(ctx, start.hash()),
            snapshots: Snapshots::new(start.clone(), snapshot_interval),
            current: start.clone(),
            start,
            degenerate_steps: 0,
            interval: snapshot_interval,
        }
    }

    /// Steps of the current trajectory.
    pub fn steps(&self) -> u32 {
        self.trajectory.steps()
    }

    /// The salt of the current trajectory.
    pub fn salt(&self) -> u32 {
        self.trajectory.context().salt
    }

    /// Abandons the current trajectory and starts an independent one from
    /// `W_0` with the next salt.
    fn restart(&mut self) {
        let mut ctx = *self.trajectory.context();
        ctx.salt = ctx.salt.wrapping_add(1);
        self.trajectory = Trajectory::start(ctx, self.start.hash());
        self.snapshots = Snapshots::new(self.start.clone(), self.interval);
        self.current = self.start.clone();
    }

    /// Degenerate steps this miner took, each of which restarted the
    /// trajectory (docs/puzzle.md §9). On a healthy job this stays 0 (never
    /// seen at batch ≥ 16: docs/benchmarks.md §Degeneracy). A job where
    /// degenerate steps are common (dead weights, a learning rate too small
    /// to change enough weights) cannot make a block, since a winning
    /// trajectory needs about its difficulty in clean steps in a row; a
    /// miner should move to another job.
    pub fn degenerate_steps(&self) -> u32 {
        self.degenerate_steps
    }

    /// Runs up to `max_steps` steps; returns the proof as soon as a ticket
    /// wins at `difficulty`, `None` if none did. A trajectory that reaches
    /// the step bound of `difficulty`, or takes a degenerate step (which
    /// would make the block invalid if challenged), restarts with the next
    /// salt.
    pub fn run(&mut self, difficulty: u128, max_steps: u32) -> Result<Option<Mined>> {
        let step = TrainingStep::new(&self.job.model, &self.job.hyper);
        let bound = crate::pow::max_steps(difficulty);
        for _ in 0..max_steps {
            if self.trajectory.steps() >= bound {
                self.restart();
            }
            let index = self.trajectory.steps();
            let seed = self.trajectory.next_seed();
            let batch = select_batch(self.job, self.dataset, &seed)?;
            let outcome = step.run(&self.current, &batch, &seed, self.first_step + index as u64)?;
            if validate_step(&self.job.model, &outcome.stats).is_err() {
                self.degenerate_steps = self.degenerate_steps.saturating_add(1);
                self.restart();
                continue;
            }
            self.current = outcome.weights;
            let ticket = self.trajectory.push(self.current.hash());
            if self.snapshots.wants(index + 1) {
                self.snapshots.save(index + 1, self.current.clone());
            }
            if ticket.meets(difficulty) {
                let mined = prove(
                    &self.trajectory,
                    &self.snapshots,
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
