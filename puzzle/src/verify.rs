//! Verification of a trajectory claim from its proof: what the runtime runs
//! for every block (docs/puzzle.md §8), the segment roots' commitment rule
//! included ([`validate_segments`], §13).

use alloc::vec::Vec;

use crate::{
    batch::{batch_indices, Batch},
    degeneracy::{validate_step, Liveness},
    error::{Error, Result},
    hash::Hash,
    job::{JobProgress, JobSpec},
    merkle::{leaf_hash, Frontier},
    pow::{max_steps, Seed, TrajectoryContext},
    segment::segment_count,
    step::TrainingStep,
    trajectory::{challenged_steps, StepProof, TrajectoryClaim, TrajectoryProof},
    weights::{hash_encoded, Weights},
};

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

/// Verifies a claim: the ticket meets `difficulty`, the claim is within the
/// step bound, the body's segment roots fold to the claim's root
/// ([`validate_segments`]), the trajectory starts at `progress.weights`, the proven steps
/// are exactly the challenged ones, and each re-executes — as a
/// non-degenerate step at the workload's `liveness` — to the committed next
/// weights; the final one to the claimed final weights.
pub fn verify_trajectory(
    job: &JobSpec,
    liveness: Liveness,
    ctx: &TrajectoryContext,
    progress: &JobProgress,
    difficulty: u128,
    claim: &TrajectoryClaim,
    proof: &TrajectoryProof,
) -> Result<VerifiedTrajectory> {
    validate_claim_bounds(difficulty, claim)?;
    let ticket = claim.ticket(ctx)?;
    if !ticket.meets(difficulty) {
        return Err(Error::TicketAboveTarget { difficulty });
    }
    validate_segments(job, claim, &proof.segments)?;
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
        proven.push(verify_step(
            job,
            liveness,
            ctx,
            claim,
            progress.steps,
            step,
        )?);
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

/// The claim's size rule: at least one step, a difficulty of at least 1, and
/// at most [`max_steps`]`(difficulty)` steps. Checked before anything is
/// hashed, so an oversized claim costs the verifier nothing.
pub fn validate_claim_bounds(difficulty: u128, claim: &TrajectoryClaim) -> Result<()> {
    if difficulty == 0 {
        return Err(Error::ZeroDifficulty);
    }
    if claim.steps == 0 {
        return Err(Error::EmptyTrajectory);
    }
    let max = max_steps(difficulty);
    if claim.steps > max {
        return Err(Error::TooManySteps {
            steps: claim.steps,
            max,
        });
    }
    Ok(())
}

/// The commitment rule: a block carries exactly [`segment_count`] segment
/// roots and they fold to the claim's root. Costs at most `MAX_SEGMENTS`
/// hashes; checked with every block, so the roots an auditor reads are the
/// author's.
pub fn validate_segments(spec: &JobSpec, claim: &TrajectoryClaim, segments: &[Hash]) -> Result<()> {
    let leaves = claim.leaves();
    let expected = segment_count(spec, leaves);
    if segments.len() as u64 != expected {
        return Err(Error::SegmentCount {
            got: segments.len(),
            expected,
            leaves,
        });
    }
    let mut frontier = Frontier::new();
    let root = segments.iter().map(|s| frontier.push(*s)).last();
    if root != Some(claim.root) {
        return Err(Error::SegmentsMismatch);
    }
    Ok(())
}

/// Verifies one opened step of a claimed trajectory: `W_i` is leaf `i`, the
/// batch is the one its seed (from the running root `R_i`) selects, the
/// step is not degenerate at `liveness`, and re-executing it gives leaf
/// `i + 1`.
pub fn verify_step(
    job: &JobSpec,
    liveness: Liveness,
    ctx: &TrajectoryContext,
    claim: &TrajectoryClaim,
    first_step: u64,
    step: &StepProof,
) -> Result<VerifiedStep> {
    let (verified, _) = execute_step(job, liveness, ctx, claim, first_step, step)?;
    let index = step.index as u64 + 1;
    match step
        .after
        .root_from(leaf_hash(&verified.after), index, claim.leaves())
    {
        Ok(root) if root == claim.root => Ok(verified),
        Ok(_) => Err(Error::StepMismatch {
            index: step.index,
            computed: verified.after,
        }),
        Err(e) => Err(e),
    }
}

/// Re-executes an opened step: checks that `W_i` is leaf `i` of the claim's
/// tree and takes the running root `R_i` from that same proof
/// ([`crate::merkle::MerkleProof::roots_from`]), checks the batch against
/// the dataset, runs the step and applies the degeneracy rule at the
/// workload's `liveness`. Returns the
/// step's result and `W_{i+1}`. The one home of step re-execution:
/// verification and the nodes' replay both call it.
pub fn execute_step(
    job: &JobSpec,
    liveness: Liveness,
    ctx: &TrajectoryContext,
    claim: &TrajectoryClaim,
    first_step: u64,
    step: &StepProof,
) -> Result<(VerifiedStep, Weights)> {
    if step.index >= claim.steps {
        return Err(Error::StepIndex {
            index: step.index,
            steps: claim.steps,
        });
    }
    let weights = Weights::decode(&job.model, &step.weights)?;
    let before = hash_encoded(&step.weights);
    let roots = step
        .before
        .roots_from(leaf_hash(&before), step.index as u64, claim.leaves())?;
    if roots.root != claim.root {
        return Err(Error::ProofMismatch {
            what: "trajectory",
            index: step.index as u64,
        });
    }
    let seed = Seed::derive(ctx, step.index, &roots.prefix);
    let indices = batch_indices(&seed, job.hyper.batch(), job.dataset.samples);
    let batch = Batch::from_openings(&job.model, &job.dataset, &indices, &step.samples)?;
    let outcome = TrainingStep::new(&job.model, &job.hyper).run(
        &weights,
        &batch,
        &seed,
        first_step + step.index as u64,
    )?;
    validate_step(&job.model, liveness, &outcome.stats)?;
    let verified = VerifiedStep {
        index: step.index,
        after: outcome.weights.hash(),
        loss: outcome.loss,
    };
    Ok((verified, outcome.weights))
}

/// Re-executes the final step of a claimed trajectory from its proof and
/// returns `W_n` itself (the runtime keeps only its hash). Nodes call this
/// after importing a block to keep the weights in their weights store.
pub fn replay_final_step(
    job: &JobSpec,
    liveness: Liveness,
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
    let (verified, weights) = execute_step(job, liveness, ctx, claim, first_step, step)?;
    if verified.after != claim.final_weights {
        return Err(Error::FinalMismatch);
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        merkle::MerkleTree,
        segment::{segment_roots, MAX_SEGMENTS},
        test_support::{leaves, spec},
    };

    #[test]
    fn segment_roots_fold_to_the_tree_root_at_every_length() {
        let spec = spec(&[784, 128, 10], 6);
        for n in [1usize, 2, 3, 7, 1023, 1024, 1025, 2048, 2049, 5000] {
            let all = leaves(n);
            let root = MerkleTree::from_leaf_hashes(all.clone()).unwrap().root();
            let segments = segment_roots(&spec, &all).unwrap();
            assert_eq!(segments.len() as u64, segment_count(&spec, n as u64));
            assert!(segments.len() as u64 <= MAX_SEGMENTS);
            let claim = TrajectoryClaim {
                steps: n as u32 - 1,
                root,
                final_weights: [0; 32],
            };
            if n > 1 {
                validate_segments(&spec, &claim, &segments).unwrap();
                let mut wrong = segments.clone();
                wrong[segments.len() / 2][0] ^= 1;
                assert_eq!(
                    validate_segments(&spec, &claim, &wrong),
                    Err(Error::SegmentsMismatch)
                );
                assert!(matches!(
                    validate_segments(&spec, &claim, &segments[1..]),
                    Err(Error::SegmentCount { .. })
                ));
            }
        }
    }
}
