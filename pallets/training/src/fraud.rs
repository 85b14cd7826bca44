//! The fraud game (docs/protocol.md §8, P4): a fraud proof against a block
//! in its dispute window (`upow_puzzle::verify_fraud`, docs/puzzle.md §13)
//! discards the block and every later block of its job, rolls the job's
//! progress back to the block's start, and slashes the author's bond:
//! [`split_slash`] says who gets what of it — never more than
//! [`crate::Config::FraudPayoutCap`] of it to anyone, so that no coalition
//! of offender, poster, reporter and later authors recovers the slash.

use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::Get, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{traits::Saturating, Perbill};
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
        let (spec, _poster) = T::Jobs::record(disputed.job).ok_or(Error::<T>::UnknownJob)?;
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
        let split = split_slash(
            T::Penalty::bond_of(&disputed.author),
            T::FraudPayoutCap::get(),
            T::FraudReward::get(),
            compensation,
            reporter != disputed.author,
        );
        // What the slash cannot pay the discarded later blocks' authors,
        // their reservations pay; the poster gets back the rest of what it
        // had reserved for the discarded steps.
        T::Jobs::on_rolled_back(job, released, &split.from_escrow);
        let mut payouts = split.from_slash;
        if split.reporter_reward > 0 {
            payouts.push((reporter.clone(), split.reporter_reward));
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

/// Who gets what of a fraud slash (docs/protocol.md §8, P4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlashSplit<AccountId> {
    /// Paid from the slash to the authors of the discarded later blocks.
    pub from_slash: Vec<(AccountId, u128)>,
    /// The rest of what they are owed, paid from their reservations.
    pub from_escrow: Vec<(AccountId, u128)>,
    /// Paid from the slash to the reporter.
    pub reporter_reward: u128,
}

/// **The slash split**, the one rule of who gets what of an offender's
/// slashed `bond`. At most `payout_cap` of it is paid out at all: first to
/// the authors of the discarded later blocks what they were owed (`owed`,
/// in order, as far as it goes; their reservations pay the rest, so an
/// honest author is never left unpaid), then `reward` of what is left of
/// that part to the reporter (nothing when the offender reports itself).
/// Everything else goes to the treasury. The job's poster gets nothing from
/// the slash: the escrow returns what it had reserved for the discarded
/// steps, its own money.
///
/// So a coalition of the offender with its job's poster, the reporter and
/// the later authors (one owner playing every role) gets back at most
/// `payout_cap · bond` and ends at least `(1 − payout_cap) · bond` below
/// where it started (docs/protocol.md §8's table; the tests below play
/// every combination).
pub fn split_slash<AccountId: Clone>(
    bond: u128,
    payout_cap: Perbill,
    reward: Perbill,
    owed: Vec<(AccountId, u128)>,
    reward_reporter: bool,
) -> SlashSplit<AccountId> {
    let payable = payout_cap.mul_floor(bond);
    let (from_slash, from_escrow) = split_compensation(payable, owed);
    let paid = from_slash
        .iter()
        .fold(0u128, |sum, (_, due)| sum.saturating_add(*due));
    let reporter_reward = if reward_reporter {
        reward.mul_floor(payable.saturating_sub(paid))
    } else {
        0
    };
    SlashSplit {
        from_slash,
        from_escrow,
        reporter_reward,
    }
}

/// Splits what the authors of discarded blocks are owed between the slash
/// (`payable`, in order, as far as it goes) and their reserved payments
/// (the rest).
#[allow(clippy::type_complexity)]
fn split_compensation<AccountId: Clone>(
    payable: u128,
    owed: Vec<(AccountId, u128)>,
) -> (Vec<(AccountId, u128)>, Vec<(AccountId, u128)>) {
    let mut left = payable;
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
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    /// The offender's account.
    const OFFENDER: u8 = 0;
    /// Another account of the offender's owner (its poster, reporter or
    /// later author when it plays those roles).
    const ACCOMPLICE: u8 = 1;
    /// Accounts of others.
    const OUTSIDER: u8 = 2;

    /// What the owner of the offender gets back of a slash of `bond`, and
    /// what it pays: the whole bond, and nothing else (a poster's
    /// reservations come back from the escrow: its own money).
    fn coalition_net(bond: u128, owed: &[(u8, u128)], reporter: u8) -> (i128, SlashSplit<u8>) {
        let split = split_slash(
            bond,
            Perbill::from_percent(50),
            Perbill::from_percent(10),
            owed.to_vec(),
            reporter != OFFENDER,
        );
        let ours = |who: &u8| *who != OUTSIDER;
        let mut back: u128 = split
            .from_slash
            .iter()
            .filter(|(who, _)| ours(who))
            .map(|(_, due)| due)
            .sum();
        if ours(&reporter) {
            back += split.reporter_reward;
        }
        (back as i128 - bond as i128, split)
    }

    #[test]
    fn every_coalition_of_offender_poster_reporter_and_later_author_loses_half_the_bond() {
        let bond = 100_000u128;
        // The poster never appears: it gets nothing from the slash, whoever
        // it is. The later authors: none, ours, others', or both, owed
        // little or more than the whole bond (a poster of ours can set any
        // price).
        for later in [
            alloc::vec![],
            alloc::vec![(ACCOMPLICE, 10_000)],
            alloc::vec![(ACCOMPLICE, 10 * bond)],
            alloc::vec![(OUTSIDER, 10_000)],
            alloc::vec![(OUTSIDER, 30_000), (ACCOMPLICE, 10 * bond)],
            alloc::vec![(ACCOMPLICE, 10 * bond), (OUTSIDER, 30_000)],
        ] {
            for reporter in [OFFENDER, ACCOMPLICE, OUTSIDER] {
                let (net, split) = coalition_net(bond, &later, reporter);
                assert!(
                    net <= -(bond as i128) / 2,
                    "{later:?}, reporter {reporter}: {net}"
                );
                // Everyone owed is paid in full, from the slash or the escrow.
                for (who, due) in &later {
                    let paid: u128 = split
                        .from_slash
                        .iter()
                        .chain(&split.from_escrow)
                        .filter(|(w, _)| w == who)
                        .map(|(_, d)| d)
                        .sum();
                    assert_eq!(paid, *due);
                }
            }
        }
        // An honest reporter of an offender with no later blocks: 10% of
        // the payable half.
        let (_, split) = coalition_net(bond, &[], OUTSIDER);
        assert_eq!(split.reporter_reward, bond / 20);
    }

    proptest! {
        /// Random slashes, debts and roles: the offender's owner never gets
        /// back more than the payable half, nothing is paid beyond the
        /// bond, and every debt is paid in full.
        #[test]
        fn no_coalition_recovers_more_than_the_payout_cap(
            bond in 0u128..1u128 << 100,
            owed in proptest::collection::vec((0u8..3, 0u128..1u128 << 101), 0..12),
            reporter in 0u8..3,
        ) {
            let owed: alloc::vec::Vec<(u8, u128)> =
                owed.into_iter().map(|(who, due)| (who.max(ACCOMPLICE), due)).collect();
            let (net, split) = coalition_net(bond, &owed, reporter);
            prop_assert!(net <= -((bond / 2) as i128));
            let paid: u128 = split.from_slash.iter().map(|(_, d)| d).sum::<u128>()
                + split.reporter_reward;
            prop_assert!(paid <= bond / 2);
            let owed_total: u128 = owed.iter().map(|(_, d)| d).sum();
            let settled: u128 = split
                .from_slash
                .iter()
                .chain(&split.from_escrow)
                .map(|(_, d)| d)
                .sum();
            prop_assert_eq!(settled, owed_total);
        }
    }
}
