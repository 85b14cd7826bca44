//! Verification of a trajectory claim from its proof: what the runtime runs
//! for every block.

use alloc::vec::Vec;

use crate::{
    dataset::DatasetCommitment,
    degeneracy::validate_step,
    error::{Error, Result},
    fraud::validate_segments,
    hash::Hash,
    merkle::leaf_hash,
    model::{Hyperparams, Model, MIN_JOB_BATCH_LOG2},
    pow::{max_steps, Seed, TrajectoryContext},
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
    /// A job spec that passes [`JobSpec::validate`].
    pub fn new(model: Model, hyper: Hyperparams, dataset: DatasetCommitment) -> Result<Self> {
        let spec = Self {
            model,
            hyper,
            dataset,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Multiply-accumulates of one step: `B · (2 · P + Σ_{l ≥ 1} d_l · d_{l+1})`
    /// — the forward products and the weight gradients over every layer, the
    /// error propagation into every layer but the first (docs/puzzle.md
    /// §11). The unit in which a job's difficulty is scaled
    /// ([`crate::pow::job_difficulty`]).
    pub fn step_macs(&self) -> u64 {
        let params = self.model.params() as u64;
        let first = {
            let (k, n) = self.model.shape(0);
            (k * n) as u64
        };
        (self.hyper.batch() as u64).saturating_mul(3 * params - first)
    }

    /// The puzzle's admission rule for jobs (the model and hyper-parameters
    /// are within the step's limits by construction): the dataset fits the
    /// model and is not empty, and the batch has at least
    /// 2^[`MIN_JOB_BATCH_LOG2`] samples, so that the degeneracy rule is
    /// meaningful and the products, not the per-step hashing, dominate a
    /// step's cost.
    pub fn validate(&self) -> Result<()> {
        self.dataset.check_model(&self.model)?;
        if self.hyper.batch_log2() < MIN_JOB_BATCH_LOG2 {
            return Err(Error::Batch {
                log2: self.hyper.batch_log2(),
                max: 1 << crate::model::MAX_BATCH_LOG2,
            });
        }
        Ok(())
    }
}

/// A [`JobSpec`] as a client writes it, before the puzzle's limits are
/// checked: the same fields and the same SCALE encoding (`dims ‖ batch_log2
/// ‖ lr_shift ‖ total_steps ‖ dataset`), so that any bytes decode and a spec
/// outside the limits is refused by [`JobSpec::try_from`] with the error
/// that names the field, not by the decoder. Calls take this form.
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
pub struct UncheckedJobSpec {
    /// Model family and sizes.
    pub model: UncheckedModel,
    /// Batch, learning rate, planned steps.
    pub hyper: UncheckedHyperparams,
    /// The training set.
    pub dataset: DatasetCommitment,
}

/// A [`Model`] before its limits are checked.
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
pub struct UncheckedModel {
    /// `[inputs, hidden…, classes]`.
    pub dims: Vec<u32>,
}

/// [`Hyperparams`] before their limits are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct UncheckedHyperparams {
    /// log2 of the batch size.
    pub batch_log2: u8,
    /// Base learning-rate shift (the rate is `2^-lr_shift`).
    pub lr_shift: u8,
    /// Planned steps (they set the learning-rate schedule).
    pub total_steps: u64,
}

impl UncheckedModel {
    /// The parameter count the dimensions would have, at most
    /// [`crate::model::MAX_PARAMS`] + 1 (for a call's upfront weight, before
    /// the limits are checked).
    pub fn params_bound(&self) -> u64 {
        let params = self
            .dims
            .windows(2)
            .map(|w| (w[0] as u64).saturating_mul(w[1] as u64))
            .fold(0u64, u64::saturating_add);
        params.min(crate::model::MAX_PARAMS + 1)
    }
}

impl TryFrom<UncheckedJobSpec> for JobSpec {
    type Error = Error;

    /// The puzzle's limits on the model ([`Model::new`]), the
    /// hyper-parameters ([`Hyperparams::new`]) and the job
    /// ([`JobSpec::validate`]), in that order.
    fn try_from(spec: UncheckedJobSpec) -> Result<Self> {
        let model = Model::new(&spec.model.dims)?;
        let hyper = Hyperparams::new(
            spec.hyper.batch_log2.into(),
            spec.hyper.lr_shift.into(),
            spec.hyper.total_steps,
        )?;
        JobSpec::new(model, hyper, spec.dataset)
    }
}

impl From<JobSpec> for UncheckedJobSpec {
    fn from(spec: JobSpec) -> Self {
        Self {
            model: UncheckedModel {
                dims: spec.model.dims().to_vec(),
            },
            hyper: UncheckedHyperparams {
                // Within u8 by the limits (≤ 10 and ≤ 16).
                batch_log2: spec.hyper.batch_log2() as u8,
                lr_shift: spec.hyper.lr_shift() as u8,
                total_steps: spec.hyper.total_steps(),
            },
            dataset: spec.dataset,
        }
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

/// Verifies a claim: the ticket meets `difficulty`, the claim is within the
/// step bound, the body's segment roots fold to the claim's root
/// ([`validate_segments`]), the trajectory starts at `progress.weights`, the proven steps
/// are exactly the challenged ones, and each re-executes — as a
/// non-degenerate step — to the committed next weights; the final one to
/// the claimed final weights.
pub fn verify_trajectory(
    job: &JobSpec,
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

/// Verifies one opened step of a claimed trajectory: `W_i` is leaf `i`, the
/// batch is the one its seed (from the running root `R_i`) selects, the
/// step is not degenerate, and re-executing it gives leaf `i + 1`.
pub fn verify_step(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    claim: &TrajectoryClaim,
    first_step: u64,
    step: &StepProof,
) -> Result<VerifiedStep> {
    let (verified, _) = execute_step(job, ctx, claim, first_step, step)?;
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
/// the dataset, runs the step and applies the degeneracy rule. Returns the
/// step's result and `W_{i+1}`. The one home of step re-execution:
/// verification and the nodes' replay both call it.
pub fn execute_step(
    job: &JobSpec,
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
    validate_step(&job.model, &outcome.stats)?;
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
    let (verified, weights) = execute_step(job, ctx, claim, first_step, step)?;
    if verified.after != claim.final_weights {
        return Err(Error::FinalMismatch);
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unchecked(dims: &[u32], batch_log2: u8, lr_shift: u8, total_steps: u64) -> UncheckedJobSpec {
        UncheckedJobSpec {
            model: UncheckedModel {
                dims: dims.to_vec(),
            },
            hyper: UncheckedHyperparams {
                batch_log2,
                lr_shift,
                total_steps,
            },
            dataset: DatasetCommitment {
                root: [3; 32],
                samples: 100,
                inputs: dims.first().copied().unwrap_or(0),
            },
        }
    }

    #[test]
    fn an_unchecked_spec_is_checked_field_by_field() {
        let good = unchecked(&[784, 128, 10], 6, 2, 1_000);
        let spec = JobSpec::try_from(good.clone()).unwrap();
        assert_eq!(UncheckedJobSpec::from(spec), good);
        let err = |s: UncheckedJobSpec| JobSpec::try_from(s).unwrap_err();
        assert!(matches!(
            err(unchecked(&[784], 6, 2, 1)),
            Error::LayerCount { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 2000, 10], 6, 2, 1)),
            Error::Width { index: 1, .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 1], 6, 2, 1)),
            Error::Classes(1)
        ));
        assert!(matches!(
            err(unchecked(&[1024, 1024, 10], 6, 2, 1)),
            Error::Params { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 11, 2, 1)),
            Error::Batch { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 3, 2, 1)),
            Error::Batch { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 6, 17, 1)),
            Error::LrShift { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 6, 2, 0)),
            Error::ZeroSteps
        ));
        let mut shape = unchecked(&[784, 10], 6, 2, 1);
        shape.dataset.inputs = 785;
        assert!(matches!(err(shape), Error::DatasetShape { .. }));
        assert_eq!(
            unchecked(&[u32::MAX; 5], 6, 2, 1).model.params_bound(),
            (1 << 20) + 1
        );
        assert_eq!(good.model.params_bound(), 784 * 128 + 1280);
    }

    #[cfg(feature = "scale")]
    #[test]
    fn an_unchecked_spec_encodes_as_the_spec() {
        use codec::{Decode, Encode};
        let good = unchecked(&[784, 128, 10], 6, 2, 1_000);
        let spec = JobSpec::try_from(good.clone()).unwrap();
        assert_eq!(good.encode(), spec.encode());
        assert_eq!(JobSpec::decode(&mut &good.encode()[..]).unwrap(), spec);
        // Bytes the checked spec refuses to decode still decode unchecked.
        let wide = unchecked(&[784, 2000, 10], 6, 2, 1);
        assert!(JobSpec::decode(&mut &wide.encode()[..]).is_err());
        assert_eq!(
            UncheckedJobSpec::decode(&mut &wide.encode()[..]).unwrap(),
            wide
        );
    }

    #[test]
    fn the_reference_job_costs_the_reference_macs() {
        let dataset = DatasetCommitment {
            root: [0; 32],
            samples: 60_000,
            inputs: 784,
        };
        let spec = |dims: &[u32], batch_log2| {
            JobSpec::new(
                Model::new(dims).unwrap(),
                Hyperparams::new(batch_log2, 2, 100).unwrap(),
                DatasetCommitment {
                    inputs: dims[0],
                    ..dataset
                },
            )
            .unwrap()
        };
        assert_eq!(
            spec(&[784, 128, 10], 6).step_macs(),
            crate::pow::REFERENCE_STEP_MACS
        );
        // 1 layer: forward and gradient only.
        assert_eq!(spec(&[784, 10], 4).step_macs(), 16 * 2 * 7840);
        assert_eq!(
            spec(&[784, 256, 128, 10], 6).step_macs(),
            64 * (3 * (784 * 256 + 256 * 128 + 1280) - 784 * 256)
        );
    }
}
