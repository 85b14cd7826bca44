//! The fraud game (docs/protocol.md §8, P4): a fraud proof against a block
//! in its dispute window (`upow_puzzle::verify_fraud`, docs/puzzle.md §13)
//! discards the block and every later block of its job, rolls the job's
//! progress back to the block's start, and slashes the author's bond —
//! paying first the authors of the discarded later blocks, then the
//! reporter's reward, then the poster.

use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::Get, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Saturating;
use upow_primitives::{
    traits::{FraudPenalty, JobSchedule},
    JobId, TrainingProgress,
};
use upow_puzzle::{Error as PuzzleError, FraudProof};

use crate::{
    verification::kilo, Config, Disputable, Error, Event, Jobs, Pallet, WeightInfo, LOG_TARGET,
};

impl<T: Config> Pallet<T> {
    /// [`Pallet::report_fraud`] by `reporter`: checks `proof` against the
    /// disputable record of `block` and, if it holds, plays the fraud
    /// game's consequences.
    pub(crate) fn do_report_fraud(
        reporter: T::AccountId,
        block: BlockNumberFor<T>,
        proof: FraudProof,
    ) -> DispatchResult {
        let disputed = Disputable::<T>::get(block).ok_or(Error::<T>::NotDisputable)?;
        let (spec, poster) = T::Jobs::record(disputed.job).ok_or(Error::<T>::UnknownJob)?;
        let verdict = upow_puzzle::verify_fraud(
            &spec,
            &disputed.context(),
            &disputed.start.tip(),
            &disputed.trajectory_claim(),
            &proof,
        )
        .map_err(|e| {
            log::info!(target: LOG_TARGET, "rejected fraud proof against block {block:?}: {e}");
            fraud_error::<T>(e)
        })?;

        let job = disputed.job;
        let (discarded, released, compensation) = Self::discard_from(block, job, &disputed.author);
        // Back to the bad block's start; what has settled stays settled.
        Jobs::<T>::mutate(job, |progress| {
            let settled = progress
                .as_ref()
                .map(|p| (p.settled_weights, p.settled_steps));
            let (settled_weights, settled_steps) =
                settled.unwrap_or((disputed.start.settled_weights, disputed.start.settled_steps));
            *progress = Some(TrainingProgress {
                settled_weights,
                settled_steps,
                ..disputed.start.clone()
            });
        });
        // The authors of the discarded later blocks did real work: the
        // slash pays them first; what it cannot cover (a small or already
        // slashed bond) their reserved payments still pay.
        let bond = T::Penalty::bond_of(&disputed.author);
        let (from_slash, from_escrow) = split_compensation(bond, compensation);
        T::Jobs::on_rolled_back(job, released, &from_escrow);
        let owed = from_slash
            .iter()
            .fold(0u128, |sum, (_, due)| sum.saturating_add(*due));
        let rest = bond.saturating_sub(owed);
        // The offender reporting itself earns nothing; the poster's share of
        // its own job's fraud goes to the treasury.
        let reward = if reporter == disputed.author {
            0
        } else {
            T::FraudReward::get().mul_floor(rest)
        };
        let mut payouts = from_slash;
        payouts.push((reporter.clone(), reward));
        if let Some(poster) = poster.filter(|p| p != &disputed.author) {
            payouts.push((poster, rest.saturating_sub(reward)));
        }
        let slashed = T::Penalty::slash_for_fraud(&disputed.author, &payouts);
        log::warn!(
            target: LOG_TARGET,
            "fraud proven against block {block:?} (job {job}, segment {}): {discarded} blocks discarded, {slashed} slashed",
            verdict.segment
        );
        Self::deposit_event(Event::FraudProven {
            block,
            job,
            offender: disputed.author,
            reporter,
            segment: verdict.segment,
            slashed,
            discarded,
            steps: disputed.start.steps,
        });
        Ok(())
    }

    /// Removes the disputable records of `job` from block `from` to the
    /// current one. Returns how many, the sum of their reserved payments,
    /// and what the authors other than `offender` were owed.
    fn discard_from(
        from: BlockNumberFor<T>,
        job: JobId,
        offender: &T::AccountId,
    ) -> (u32, u128, Vec<(T::AccountId, u128)>) {
        let now = frame_system::Pallet::<T>::block_number();
        let mut discarded = 0u32;
        let mut released = 0u128;
        let mut owed = Vec::new();
        let mut block = from;
        while block <= now {
            if let Some(record) = Disputable::<T>::get(block).filter(|r| r.job == job) {
                Disputable::<T>::remove(block);
                discarded = discarded.saturating_add(1);
                released = released.saturating_add(record.payment);
                if &record.author != offender && record.payment > 0 {
                    owed.push((record.author, record.payment));
                }
            }
            block = block.saturating_add(1u32.into());
        }
        (discarded, released, owed)
    }

    /// The weight of [`Pallet::report_fraud`] with `proof`: the benchmarked
    /// call for its replay's multiply-accumulates
    /// (`upow_puzzle::cost::replay_macs` per replayed step; one block's
    /// record, rollback and slash included), plus a scan of the whole
    /// dispute window, the rollback and a slash with a payout per discarded
    /// block (upper bounds).
    pub fn fraud_weight(proof: &FraudProof) -> Weight {
        let params = proof.weights.len() as u64 / 2;
        let macs = proof
            .batches
            .iter()
            .map(|batch| upow_puzzle::cost::replay_macs(batch.len() as u64, params))
            .fold(0u64, u64::saturating_add);
        let window = u64::from(T::MaxDisputeWindow::get()).saturating_add(1);
        T::WeightInfo::report_fraud(kilo(macs))
            .saturating_add(T::DbWeight::get().reads_writes(window, window))
            .saturating_add(T::Jobs::on_rolled_back_weight())
            .saturating_add(T::Penalty::slash_for_fraud_weight(
                T::MaxDisputeWindow::get().saturating_add(3),
            ))
    }
}

/// Splits what the authors of discarded blocks are owed between the slash
/// (`bond`, in order, as far as it goes) and their reserved payments (the
/// rest).
#[allow(clippy::type_complexity)]
fn split_compensation<AccountId: Clone>(
    bond: u128,
    owed: Vec<(AccountId, u128)>,
) -> (Vec<(AccountId, u128)>, Vec<(AccountId, u128)>) {
    let mut left = bond;
    let mut from_slash = Vec::new();
    let mut from_escrow = Vec::new();
    for (author, due) in owed {
        let covered = due.min(left);
        left = left.saturating_sub(covered);
        if covered > 0 {
            from_slash.push((author.clone(), covered));
        }
        if due > covered {
            from_escrow.push((author, due.saturating_sub(covered)));
        }
    }
    (from_slash, from_escrow)
}

/// The training pallet's error for a rejected fraud proof.
fn fraud_error<T>(e: PuzzleError) -> Error<T> {
    match e {
        PuzzleError::NoFraud(_) => Error::NoFraud,
        PuzzleError::SegmentCount { .. } | PuzzleError::SegmentsMismatch => Error::BadSegments,
        PuzzleError::SegmentIndex { .. } | PuzzleError::NothingToReplay(_) => {
            Error::BadFraudSegment
        }
        PuzzleError::ProofMismatch {
            what: "dataset", ..
        }
        | PuzzleError::SampleLength { .. }
        | PuzzleError::Label { .. }
        | PuzzleError::SampleIndex { .. }
        | PuzzleError::BatchSize { .. }
        | PuzzleError::BatchCount { .. } => Error::BadFraudBatches,
        _ => Error::BadFraudStart,
    }
}

#[cfg(test)]
#[test]
fn compensation_comes_from_the_slash_first_then_from_the_reservations() {
    let owed = alloc::vec![(1u64, 30u128), (2, 50), (3, 20)];
    let (slash, escrow) = split_compensation(60, owed.clone());
    assert_eq!(slash, alloc::vec![(1, 30), (2, 30)]);
    assert_eq!(escrow, alloc::vec![(2, 20), (3, 20)]);
    let (slash, escrow) = split_compensation(0, owed.clone());
    assert!(slash.is_empty());
    assert_eq!(escrow, owed);
    let (slash, escrow) = split_compensation(1000, owed.clone());
    assert_eq!(slash, owed);
    assert!(escrow.is_empty());
}
