//! A block's trajectory: reading its claim from the pre-runtime digest,
//! verifying it against the job's progress at the parent
//! (`upow_puzzle::verify_trajectory`, docs/puzzle.md §8), recording the
//! job's new progress and loss point, reserving the author's payment and
//! opening the block's dispute window; and the weight of all that.

use frame_support::{pallet_prelude::*, weights::Weight};
use upow_primitives::{
    traits::{ActiveJob, AuthorAdmission, JobSchedule},
    Difficulty as TicketDifficulty, DisputableBlock, LossPoint, PreDigest, TrainingProgress,
};
use upow_puzzle::{JobSpec, TrajectoryProof};

use crate::{
    Config, Difficulty, Disputable, Error, Event, Jobs, LossCurve, LossPoints, Pallet, WeightInfo,
    LOG_TARGET, LOSS_CURVE_POINTS,
};

impl<T: Config> Pallet<T> {
    /// The block's trajectory rule: the digest names an open job and an
    /// admitted author, and `proof` proves the digest's claim at the job's
    /// difficulty from the job's progress at the parent. On success the
    /// job's progress, loss curve, payment reservation and the block's
    /// dispute record are updated.
    pub(crate) fn do_submit_trajectory(proof: TrajectoryProof) -> DispatchResult {
        let digest =
            PreDigest::find(&frame_system::Pallet::<T>::digest()).map_err(|e| match e {
                upow_primitives::DigestError::Malformed => Error::<T>::MalformedDigest,
                _ => Error::<T>::MissingDigest,
            })?;
        let job = T::Jobs::trainable(digest.job()).ok_or(Error::<T>::JobNotOpen)?;
        let author =
            T::Admission::account_of(digest.author()).ok_or(Error::<T>::AuthorNotAdmitted)?;
        let start = Self::progress_of(&job);
        let parent = frame_system::Pallet::<T>::parent_hash();
        let claim = digest.claim();
        let verified = upow_puzzle::verify_trajectory(
            &job.spec,
            job.liveness,
            &digest.context(parent.0),
            &start.tip(),
            Self::difficulty_of(&job),
            claim,
            &proof,
        )
        .map_err(|e| {
            log::warn!(target: LOG_TARGET, "rejected trajectory of job {}: {e}", job.id);
            Error::<T>::from(e)
        })?;

        let batch = job.spec.hyper.batch() as u64;
        let loss = verified.final_loss() / batch.max(1);
        let total_steps = start.steps.saturating_add(verified.steps as u64);
        Jobs::<T>::insert(
            job.id,
            TrainingProgress {
                weights: verified.final_weights,
                steps: total_steps,
                last_loss: Some(loss),
                ..start.clone()
            },
        );
        Self::record_loss(job.id, total_steps, loss);

        let payment = T::Jobs::on_progress(job.id, &author, verified.steps);
        Disputable::<T>::insert(
            frame_system::Pallet::<T>::block_number(),
            DisputableBlock {
                job: job.id,
                author: author.clone(),
                author_key: *digest.author(),
                parent: parent.0,
                salt: digest.salt(),
                steps: claim.steps,
                root: claim.root,
                final_weights: claim.final_weights,
                start,
                payment,
            },
        );
        Self::deposit_event(Event::TrajectoryVerified {
            job: job.id,
            author,
            steps: verified.steps,
            total_steps,
            weights: verified.final_weights,
            loss,
            payment,
        });
        Ok(())
    }

    /// Hands this block's sealing ticket to the job market, which draws
    /// from it the initial weights of jobs posted earlier
    /// (docs/v3.md §2.1). A block whose digest has no readable claim has no
    /// sealing ticket, and is invalid anyway: its trajectory inherent fails.
    pub(crate) fn draw_initial_weights() -> Weight {
        let parent = frame_system::Pallet::<T>::parent_hash();
        let ticket = PreDigest::find(&frame_system::Pallet::<T>::digest())
            .ok()
            .and_then(|digest| digest.sealing_ticket(parent.0).ok());
        let drawn = match ticket {
            Some(ticket) => T::Jobs::draw_initial_weights(&ticket),
            None => {
                log::warn!(
                    target: LOG_TARGET,
                    "block without a readable claim: no initial weights drawn (it is invalid)"
                );
                Weight::zero()
            }
        };
        // The digest and the parent hash.
        T::DbWeight::get().reads(2).saturating_add(drawn)
    }

    /// Appends a point to `job`'s loss curve (a ring of
    /// [`LOSS_CURVE_POINTS`]).
    fn record_loss(job: upow_primitives::JobId, steps: u64, loss: u64) {
        let index = LossPoints::<T>::get(job);
        let block: u32 = sp_runtime::traits::UniqueSaturatedInto::unique_saturated_into(
            frame_system::Pallet::<T>::block_number(),
        );
        LossCurve::<T>::insert(
            job,
            index % LOSS_CURVE_POINTS,
            LossPoint { block, steps, loss },
        );
        LossPoints::<T>::insert(job, index.saturating_add(1));
    }

    /// The progress of a job blocks may train (its initial weights if no
    /// block trained it yet).
    pub fn progress_of(job: &ActiveJob) -> TrainingProgress {
        Jobs::<T>::get(job.id).unwrap_or_else(|| TrainingProgress::untrained(job.initial_weights))
    }

    /// The ticket difficulty of the next block of `job`: the
    /// chain's difficulty scaled by the cost its listed workload states
    /// (`upow_puzzle::job_difficulty`, docs/v3.md §2), never by the spec's
    /// own count of products.
    pub fn difficulty_of(job: &ActiveJob) -> TicketDifficulty {
        upow_puzzle::job_difficulty(Difficulty::<T>::get(), job.cost)
    }

    /// The weight of verifying a block's trajectory of `kilo_macs`
    /// thousand multiply-accumulates (see [`proof_kilo_macs`]), with the
    /// lookups and the payment that go with it.
    pub fn trajectory_weight(kilo_macs: u32) -> Weight {
        T::WeightInfo::submit_trajectory(kilo_macs)
            .saturating_add(T::Jobs::on_progress_weight())
            .saturating_add(T::Jobs::trainable_weight())
            .saturating_add(T::Admission::account_of_weight())
    }
}

/// Thousands of multiply-accumulates the proof asks the runtime to
/// re-execute — `upow_puzzle::cost::replay_macs` of every proven step, read
/// from the proof's sizes — the driver of the call's weight. Job admission
/// uses the same count for the largest proof of a job ([`block_kilo_macs`]).
pub fn proof_kilo_macs(proof: &TrajectoryProof) -> u32 {
    let macs = proof
        .steps
        .iter()
        .map(|s| upow_puzzle::cost::replay_macs(s.samples.len() as u64, s.weights.len() as u64 / 2))
        .fold(0u64, u64::saturating_add);
    kilo(macs)
}

/// [`proof_kilo_macs`] of a block of `spec`: `CHALLENGES + 1` proven steps
/// of `upow_puzzle::cost::replay_macs(B, P)` each.
pub fn block_kilo_macs(spec: &JobSpec) -> u32 {
    let steps = u64::from(upow_puzzle::trajectory::CHALLENGES) + 1;
    let per_step =
        upow_puzzle::cost::replay_macs(spec.hyper.batch() as u64, spec.model.params() as u64);
    kilo(steps.saturating_mul(per_step))
}

/// `macs / 1000` as the benchmarks' component (saturating at `u32::MAX`).
pub(crate) fn kilo(macs: u64) -> u32 {
    u32::try_from(macs / 1000).unwrap_or(u32::MAX)
}
