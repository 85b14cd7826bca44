//! Verification of a trajectory claim from its proof: what the runtime runs
//! for every block.

use alloc::vec::Vec;

use crate::{
    dataset::DatasetCommitment,
    error::{Error, Result},
    hash::Hash,
    merkle::leaf_hash,
    model::{Hyperparams, Model},
    pow::{Seed, TrajectoryContext},
    step::{batch_indices, Batch, TrainingStep},
    trajectory::{challenged_steps, StepProof, TrajectoryClaim, TrajectoryProof},
    weights::{hash_encoded, Weights},
};

/// What the puzzle needs to know of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct JobSpec {
    /// Model family and sizes.
    pub model: Model,
    /// Batch, learning rate, planned steps.
    pub hyper: Hyperparams,
    /// The training set.
    pub dataset: DatasetCommitment,
}

impl JobSpec {
    /// A job spec whose dataset fits its model.
    pub fn new(model: Model, hyper: Hyperparams, dataset: DatasetCommitment) -> Result<Self> {
        dataset.check_model(&model)?;
        Ok(Self {
            model,
            hyper,
            dataset,
        })
    }
}

/// Where the chain stands on a job when a block extends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobProgress {
    /// `H(W_tip)`: the trajectory must start here.
    pub weights: Hash,
    /// Steps already applied to the job (the first step's global number).
    pub steps: u64,
}

/// One re-executed step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedStep {
    /// Step index in the trajectory.
    pub index: u32,
    /// Hash of the weights after the step.
    pub after: Hash,
    /// Batch loss before the update (sixteenths of a bit, summed over rows).
    pub loss: u64,
}

/// A verified trajectory claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTrajectory {
    /// The steps that were re-executed, ascending (the last is the final step).
    pub proven: Vec<VerifiedStep>,
    /// The weights the chain adopts.
    pub final_weights: Hash,
    /// Steps the trajectory adds to the job.
    pub steps: u32,
}

impl VerifiedTrajectory {
    /// Loss of the final step's batch (sixteenths of a bit, summed over rows).
    pub fn final_loss(&self) -> u64 {
        self.proven.last().map(|s| s.loss).unwrap_or(0)
    }
}

/// Verifies a claim: the ticket meets `difficulty`, the trajectory starts at
/// `progress.weights`, the proven steps are exactly the challenged ones, and
/// each re-executes to the committed next weights; the final one to the
/// claimed final weights.
pub fn verify_trajectory(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    progress: &JobProgress,
    difficulty: u128,
    claim: &TrajectoryClaim,
    proof: &TrajectoryProof,
) -> Result<VerifiedTrajectory> {
    if difficulty == 0 {
        return Err(Error::ZeroDifficulty);
    }
    let ticket = claim.ticket(ctx)?;
    if !ticket.meets(difficulty) {
        return Err(Error::TicketAboveTarget { difficulty });
    }
    let expected = challenged_steps(&ticket, claim.steps);
    let got: Vec<u32> = proof.steps.iter().map(|s| s.index).collect();
    if got != expected {
        return Err(Error::ChallengeSet { got, expected });
    }
    let first = proof
        .start
        .root_from(leaf_hash(&progress.weights), 0, claim.leaves())?;
    if first != claim.root {
        return Err(Error::StartMismatch {
            got: first,
            expected: progress.weights,
        });
    }
    let mut proven = Vec::with_capacity(proof.steps.len());
    for step in &proof.steps {
        proven.push(verify_step(job, ctx, claim, progress.steps, step)?);
    }
    let last = proven.last().ok_or(Error::EmptyTrajectory)?;
    if last.after != claim.final_weights {
        return Err(Error::FinalMismatch);
    }
    Ok(VerifiedTrajectory {
        proven,
        final_weights: claim.final_weights,
        steps: claim.steps,
    })
}

/// Verifies one opened step of a claimed trajectory: `W_i` is leaf `i`, the
/// batch is the one its seed selects, and re-executing the step gives leaf
/// `i + 1`.
pub fn verify_step(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    claim: &TrajectoryClaim,
    first_step: u64,
    step: &StepProof,
) -> Result<VerifiedStep> {
    if step.index >= claim.steps {
        return Err(Error::StepIndex {
            index: step.index,
            steps: claim.steps,
        });
    }
    let weights = Weights::decode(&job.model, &step.weights)?;
    let before = hash_encoded(&step.weights);
    step.before.verify(
        "trajectory",
        &claim.root,
        leaf_hash(&before),
        step.index as u64,
        claim.leaves(),
    )?;

    let seed = Seed::derive(ctx, step.index, &before);
    let indices = batch_indices(&seed, job.hyper.batch(), job.dataset.samples);
    let batch = Batch::from_openings(&job.model, &job.dataset, &indices, &step.samples)?;
    let outcome = TrainingStep::new(&job.model, &job.hyper).run(
        &weights,
        &batch,
        &seed,
        first_step + step.index as u64,
    )?;
    let after = outcome.weights.hash();
    let index = step.index as u64 + 1;
    match step
        .after
        .root_from(leaf_hash(&after), index, claim.leaves())
    {
        Ok(root) if root == claim.root => {}
        Ok(_) => {
            return Err(Error::StepMismatch {
                index: step.index,
                computed: after,
            })
        }
        Err(e) => return Err(e),
    }
    Ok(VerifiedStep {
        index: step.index,
        after,
        loss: outcome.loss,
    })
}

/// Re-executes the final step of a claimed trajectory from its proof and
/// returns `W_n` itself (the runtime keeps only its hash). Nodes call this
/// after importing a block to keep the weights in their checkpoint store.
pub fn replay_final_step(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    first_step: u64,
    claim: &TrajectoryClaim,
    proof: &TrajectoryProof,
) -> Result<Weights> {
    let last = claim.steps.checked_sub(1).ok_or(Error::EmptyTrajectory)?;
    let step = proof
        .steps
        .iter()
        .find(|s| s.index == last)
        .ok_or(Error::ChallengeSet {
            got: proof.steps.iter().map(|s| s.index).collect(),
            expected: alloc::vec![last],
        })?;
    let weights = Weights::decode(&job.model, &step.weights)?;
    let seed = Seed::derive(ctx, step.index, &hash_encoded(&step.weights));
    let indices = batch_indices(&seed, job.hyper.batch(), job.dataset.samples);
    let batch = Batch::from_openings(&job.model, &job.dataset, &indices, &step.samples)?;
    let outcome = TrainingStep::new(&job.model, &job.hyper).run(
        &weights,
        &batch,
        &seed,
        first_step + step.index as u64,
    )?;
    if outcome.weights.hash() != claim.final_weights {
        return Err(Error::FinalMismatch);
    }
    Ok(outcome.weights)
}
