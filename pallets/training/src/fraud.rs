//! The fraud game (docs/protocol.md §8, P4): a fraud proof against a block
//! in its dispute window (`upow_puzzle::verify_fraud`, docs/puzzle.md §13)
//! discards the block and every later block of its job, rolls the job's
//! progress back to the block's start, takes back the block rewards of the
//! offender's discarded blocks, and slashes the author's bond:
//! [`split_slash`] says who gets what of it — never more than
//! [`crate::Config::FraudPayoutCap`] of it to anyone, less the rewards the
//! offender had already spent, so that no coalition of offender, poster,
//! reporter and later authors recovers the slash. The escrow pays nothing
//! for a discarded step: the authors of later discarded blocks are paid
//! from the slash only (A14 in docs/v3.md §9.1).

use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::Get, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{traits::Saturating, Perbill};
use upow_primitives::{
    traits::{FraudPenalty, JobSchedule, RewardClawback},
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
        let discard = Self::discard_from(block, job, &disputed.author);
        // The offender's rewards for its discarded blocks: burned from its
        // free balance; what it already spent comes off the slash's payout.
        let spent = discard
            .offender_blocks
            .iter()
            .map(|b| T::Clawback::claw_back(*b, &disputed.author).shortfall)
            .fold(0u128, u128::saturating_add);
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
            spent,
            discard.owed,
            reporter != disputed.author,
        );
        // Everything reserved for the discarded steps goes back to the job.
        T::Jobs::on_rolled_back(job, discard.released);
        let mut payouts = split.from_slash;
        if split.reporter_reward > 0 {
            payouts.push((reporter.clone(), split.reporter_reward));
        }
        let slashed = T::Penalty::slash_for_fraud(&disputed.author, &payouts);
        log::warn!(
            target: LOG_TARGET,
            "fraud proven against block {block:?} (job {job}, segment {}): {} blocks discarded, {slashed} slashed",
            verdict.segment,
            discard.blocks
        );
        Self::deposit_event(Event::FraudProven {
            block,
            job,
            offender: disputed.author,
            reporter,
            segment: verdict.segment,
            slashed,
            discarded: discard.blocks,
            steps: disputed.start.steps,
        });
        Ok(())
    }

    /// Removes the disputable records of `job` from block `from` to the
    /// current one.
    fn discard_from(
        from: BlockNumberFor<T>,
        job: JobId,
        offender: &T::AccountId,
    ) -> Discarded<T::AccountId, BlockNumberFor<T>> {
        let now = frame_system::Pallet::<T>::block_number();
        let mut discarded = Discarded {
            blocks: 0,
            released: 0,
            owed: Vec::new(),
            offender_blocks: Vec::new(),
        };
        let mut block = from;
        while block <= now {
            if let Some(record) = Disputable::<T>::get(block).filter(|r| r.job == job) {
                Disputable::<T>::remove(block);
                discarded.blocks = discarded.blocks.saturating_add(1);
                discarded.released = discarded.released.saturating_add(record.payment);
                if &record.author == offender {
                    discarded.offender_blocks.push(block);
                } else if record.payment > 0 {
                    discarded.owed.push((record.author, record.payment));
                }
            }
            block = block.saturating_add(1u32.into());
        }
        discarded
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
            .saturating_add(T::Clawback::claw_back_weight().saturating_mul(window))
            .saturating_add(T::Penalty::slash_for_fraud_weight(
                T::MaxDisputeWindow::get().saturating_add(3),
            ))
    }
}

/// The disputable blocks a fraud proof discarded ([`Pallet::discard_from`]).
struct Discarded<AccountId, BlockNumber> {
    /// How many.
    blocks: u32,
    /// The sum of their reserved payments (all back to the job).
    released: u128,
    /// What the authors other than the offender were owed for them.
    owed: Vec<(AccountId, u128)>,
    /// Those the offender authored (their rewards are clawed back).
    offender_blocks: Vec<BlockNumber>,
}

/// Who gets what of a fraud slash (docs/protocol.md §8, P4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlashSplit<AccountId> {
    /// Paid from the slash to the authors of the discarded later blocks
    /// (as far as the payable part goes; the rest of what they were owed
    /// is not paid).
    pub from_slash: Vec<(AccountId, u128)>,
    /// Paid from the slash to the reporter.
    pub reporter_reward: u128,
}

/// **The slash split**, the one rule of who gets what of an offender's
/// slashed `bond`. Payable at all: `payout_cap` of it, less `spent` (the
/// block rewards of the offender's discarded blocks that it had spent
/// before they could be clawed back: the whole bond is slashed anyway, so
/// they come off what the slash pays out). Of that,
/// first the authors of the discarded later blocks what they were owed
/// (`owed`, in order, as far as it goes — never from the escrow: a later
/// block built on a fraud is paid only from the fraud's slash), then
/// `reward` of what is left to the reporter (nothing when the offender
/// reports itself). Everything else goes to the treasury. The job's poster
/// gets nothing from the slash: the escrow returns all it had reserved for
/// the discarded steps, its own money.
///
/// So a coalition of the offender with its job's poster, the reporter and
/// the later authors (one owner playing every role), which also keeps the
/// `spent` rewards, ends with at most `max(spent, payout_cap · bond) −
/// bond` against where it started, whatever price its later blocks were
/// owed at: at least `(1 − payout_cap) · bond` down while `spent ≤
/// payout_cap · bond` (docs/protocol.md §8's table and its residuals; the
/// tests below play every combination).
pub fn split_slash<AccountId: Clone>(
    bond: u128,
    payout_cap: Perbill,
    reward: Perbill,
    spent: u128,
    owed: Vec<(AccountId, u128)>,
    reward_reporter: bool,
) -> SlashSplit<AccountId> {
    let payable = payout_cap.mul_floor(bond).saturating_sub(spent);
    let mut left = payable;
    let mut from_slash = Vec::new();
    for (author, due) in owed {
        let covered = due.min(left);
        left = left.saturating_sub(covered);
        if covered > 0 {
            from_slash.push((author, covered));
        }
    }
    let reporter_reward = if reward_reporter {
        reward.mul_floor(left)
    } else {
        0
    };
    SlashSplit {
        from_slash,
        reporter_reward,
    }
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
    fn later_authors_are_paid_from_the_slash_in_order_as_far_as_it_goes() {
        let owed = alloc::vec![(1u64, 30u128), (2, 50), (3, 20)];
        let half = Perbill::from_percent(50);
        let tenth = Perbill::from_percent(10);
        // Payable 60 of 120: 30 to the first, 30 of 50 to the second, none
        // to the third, nothing left for the reporter.
        let split = split_slash(120, half, tenth, 0, owed.clone(), true);
        assert_eq!(split.from_slash, alloc::vec![(1, 30), (2, 30)]);
        assert_eq!(split.reporter_reward, 0);
        // Spent rewards come off the payable part first.
        let split = split_slash(120, half, tenth, 50, owed.clone(), true);
        assert_eq!(split.from_slash, alloc::vec![(1, 10)]);
        let split = split_slash(120, half, tenth, 1_000, owed.clone(), true);
        assert_eq!(split.from_slash, alloc::vec![]);
        // A bond that covers everyone: the reporter gets a tenth of the rest.
        let split = split_slash(1_000, half, tenth, 0, owed.clone(), true);
        assert_eq!(split.from_slash, owed);
        assert_eq!(split.reporter_reward, 40);
        let split = split_slash(1_000, half, tenth, 0, owed.clone(), false);
        assert_eq!(split.reporter_reward, 0);
    }

    /// The offender's account.
    const OFFENDER: u8 = 0;
    /// Another account of the offender's owner (its poster, reporter or
    /// later author when it plays those roles).
    const ACCOMPLICE: u8 = 1;
    /// Accounts of others.
    const OUTSIDER: u8 = 2;

    /// What the offender's owner ends with, against where it started, when
    /// a fraud of its is proven: it loses the whole `bond`, keeps the
    /// `spent` rewards of its discarded blocks (moved to another account of
    /// its before the proof; the rest of those rewards is clawed back),
    /// and gets what the slash pays its accounts. Nothing else moves: the
    /// escrow pays no discarded step (whoever the poster is, its
    /// reservations come back to it whole).
    fn coalition_net(
        bond: u128,
        spent: u128,
        owed: &[(u8, u128)],
        reporter: u8,
    ) -> (i128, SlashSplit<u8>) {
        let split = split_slash(
            bond,
            Perbill::from_percent(50),
            Perbill::from_percent(10),
            spent,
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
        (back as i128 + spent as i128 - bond as i128, split)
    }

    #[test]
    fn every_coalition_of_offender_poster_reporter_and_later_author_loses_half_the_bond() {
        let bond = 100_000u128;
        // The poster never appears: it gets nothing from the slash and the
        // escrow pays nobody, whoever it is. The later authors: none, ours,
        // others', or both, owed little or ten times the bond (A14: blocks
        // of ours after the fraud, owed at a victim's high price). The
        // offender's rewards for its discarded blocks: none spent, some,
        // the whole payable half.
        for later in [
            alloc::vec![],
            alloc::vec![(ACCOMPLICE, 10_000)],
            alloc::vec![(ACCOMPLICE, 10 * bond)],
            alloc::vec![(OUTSIDER, 10_000)],
            alloc::vec![(OUTSIDER, 30_000), (ACCOMPLICE, 10 * bond)],
            alloc::vec![(ACCOMPLICE, 10 * bond), (OUTSIDER, 30_000)],
        ] {
            for reporter in [OFFENDER, ACCOMPLICE, OUTSIDER] {
                for spent in [0, bond / 10, bond / 2] {
                    let (net, split) = coalition_net(bond, spent, &later, reporter);
                    assert!(
                        net <= -(bond as i128) / 2,
                        "{later:?}, reporter {reporter}, spent {spent}: {net}"
                    );
                    // Nobody is paid more than owed.
                    for (who, due) in &later {
                        let paid: u128 = split
                            .from_slash
                            .iter()
                            .filter(|(w, _)| w == who)
                            .map(|(_, d)| d)
                            .sum();
                        assert!(paid <= *due);
                    }
                }
            }
        }
        // An honest reporter of an offender with no later blocks: 10% of
        // the payable half.
        let (_, split) = coalition_net(bond, 0, &[], OUTSIDER);
        assert_eq!(split.reporter_reward, bond / 20);
        // Rewards spent beyond the payable half (minted for tickets really
        // mined): nothing of the slash comes back to anyone.
        let (net, split) = coalition_net(bond, bond, &[(ACCOMPLICE, 10 * bond)], ACCOMPLICE);
        assert_eq!(
            (net, split.from_slash, split.reporter_reward),
            (0, alloc::vec![], 0)
        );
    }

    proptest! {
        /// Random slashes, spent rewards, debts and roles: nothing is paid
        /// beyond the payable half less the spent rewards, nobody beyond
        /// what it was owed, and the offender's owner ends at least half
        /// its bond down — or, when it had spent more than half its bond
        /// of its discarded blocks' rewards (minted for real tickets, which
        /// mining honestly would have earned too), with nothing back.
        #[test]
        fn no_coalition_recovers_more_than_the_payout_cap(
            bond in 0u128..1u128 << 100,
            spent in 0u128..1u128 << 100,
            owed in proptest::collection::vec((0u8..3, 0u128..1u128 << 101), 0..12),
            reporter in 0u8..3,
        ) {
            let owed: alloc::vec::Vec<(u8, u128)> =
                owed.into_iter().map(|(who, due)| (who.max(ACCOMPLICE), due)).collect();
            let (net, split) = coalition_net(bond, spent, &owed, reporter);
            let worst = (spent.max(bond / 2) as i128) - bond as i128;
            prop_assert!(net <= worst);
            let paid: u128 = split.from_slash.iter().map(|(_, d)| d).sum::<u128>()
                + split.reporter_reward;
            prop_assert!(paid <= (bond / 2).saturating_sub(spent));
            for ((who, paid), (owed_to, due)) in split.from_slash.iter().zip(&owed) {
                prop_assert_eq!(who, owed_to);
                prop_assert!(paid <= due);
            }
        }
    }
}
