//! Escrow and payment: holding a job's budget under
//! [`HoldReason::JobEscrow`] and its deposit under
//! [`HoldReason::JobDeposit`], finding the open job a poster may cancel or
//! top up, paying block authors per verified step out of the hold
//! ([`Pallet::do_progress`], behind [`JobSchedule::on_progress`]), and
//! refunding what a job did not spend when it ends.
//!
//! [`JobSchedule::on_progress`]: upow_primitives::traits::JobSchedule::on_progress

use crate::{BalanceOf, Config, Error, Event, HoldReason, HouseJob, JobOf, Jobs, Pallet};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::{Inspect as _, MutateHold as _},
        tokens::{DepositConsequence, Fortitude, Precision, Preservation, Provenance, Restriction},
    },
};
use sp_runtime::traits::{Saturating, Zero};
use upow_primitives::traits::ProgressOf;
use upow_primitives::{JobId, JobStatus};

impl<T: Config> Pallet<T> {
    /// What `who` can put on hold: its free, unfrozen balance above the
    /// existential deposit.
    pub(crate) fn spendable(who: &T::AccountId) -> BalanceOf<T> {
        T::Currency::reducible_balance(who, Preservation::Protect, Fortitude::Polite)
    }

    /// Puts `amount` of `who`'s free, unfrozen funds on hold for `reason`.
    pub(crate) fn hold(
        reason: HoldReason,
        who: &T::AccountId,
        amount: BalanceOf<T>,
    ) -> DispatchResult {
        if amount.is_zero() {
            return Ok(());
        }
        ensure!(
            Self::spendable(who) >= amount,
            Error::<T>::InsufficientBalance
        );
        T::Currency::hold(&reason.into(), who, amount)
    }

    /// A paid job of `who` in the market, open or settling (what
    /// `cancel_job` and `top_up` act on; `top_up` needs it open).
    pub(crate) fn live_job_of(who: &T::AccountId, job: JobId) -> Result<JobOf<T>, DispatchError> {
        let info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
        ensure!(HouseJob::<T>::get() != Some(job), Error::<T>::HouseJob);
        ensure!(&info.poster == who, Error::<T>::NotPoster);
        ensure!(info.in_market(), Error::<T>::JobNotLive);
        Ok(info)
    }

    /// Releases what is left of `job`'s escrow to its poster; returns it.
    pub(crate) fn refund(job: &mut JobOf<T>) -> BalanceOf<T> {
        if job.budget_left.is_zero() {
            return Zero::zero();
        }
        match T::Currency::release(
            &HoldReason::JobEscrow.into(),
            &job.poster,
            job.budget_left,
            Precision::BestEffort,
        ) {
            Ok(refund) => {
                job.budget_left = job.budget_left.saturating_sub(refund);
                refund
            }
            Err(_) => {
                frame_support::defensive!("releasing a job's escrow failed");
                Zero::zero()
            }
        }
    }

    /// Reserves the author's payment for `steps` steps of the open job
    /// `job` ([`Job::payment_for`](crate::Job::payment_for); paid when the
    /// block settles, [`Pallet::do_settle`]) and stops its training if it
    /// reached its target ([`Job::target_reached`](crate::Job::target_reached),
    /// on the progress the training pallet has just recorded) or its
    /// budget. Returns the reserved amount. The house job only records
    /// when it was trained.
    pub(crate) fn do_progress(job: JobId, steps: u32) -> BalanceOf<T> {
        // The training pallet only reports jobs that were trainable at the
        // start of the block; anything else is ignored.
        let Some(mut info) = Jobs::<T>::get(job) else {
            return Zero::zero();
        };
        let house = HouseJob::<T>::get() == Some(job);
        if !house && !info.is_live() {
            return Zero::zero();
        }
        info.last_progress = frame_system::Pallet::<T>::block_number();
        if house {
            Jobs::<T>::insert(job, info);
            return Zero::zero();
        }
        let due = info.payment_for(steps);
        info.budget_left = info.budget_left.saturating_sub(due);
        info.pending = info.pending.saturating_add(due);
        let reached = info.target_reached(T::Progress::progress(job).as_ref());
        if reached || info.budget_left < info.price_per_step {
            info.status = JobStatus::Settling;
        }
        Jobs::<T>::insert(job, info);
        due
    }

    /// Pays `author` the `payment` reserved for a block of `job` that
    /// passed its dispute window, and ends a settling job whose last
    /// pending payment this was: completed if it reached its target,
    /// exhausted if its budget ran out (the rest is refunded).
    pub(crate) fn do_settle(job: JobId, author: &T::AccountId, steps: u32, payment: BalanceOf<T>) {
        let Some(mut info) = Jobs::<T>::get(job) else {
            return;
        };
        if HouseJob::<T>::get() == Some(job) {
            return;
        }
        let due = payment.min(info.pending);
        let (receivable, paid) = Self::pay_from_escrow(&info, author, due);
        info.pending = info.pending.saturating_sub(due);
        // What was not paid stays in the escrow: back into the budget of a
        // job in the market, released to the poster of an ended one.
        let unpaid = due.saturating_sub(paid);
        if info.in_market() {
            info.budget_left = info.budget_left.saturating_add(unpaid);
        } else {
            Self::release_to_poster(&info, unpaid);
        }
        // The escrow could not pay in full (e.g. the poster's funds were
        // frozen since): the job ends, the rest is refunded.
        let escrow_failed = receivable && paid < due && info.in_market();
        Self::deposit_event(Event::JobPaid {
            job,
            author: author.clone(),
            steps,
            amount: paid,
        });
        if escrow_failed || (info.status == JobStatus::Settling && info.pending.is_zero()) {
            let progress = T::Progress::progress(job);
            let steps = progress.as_ref().map_or(0, |p| p.steps);
            if info.target_reached(progress.as_ref()) {
                let refund = Self::end(job, &mut info, JobStatus::Completed);
                Self::deposit_event(Event::JobCompleted { job, steps, refund });
            } else {
                let refund = Self::end(job, &mut info, JobStatus::Exhausted);
                Self::deposit_event(Event::JobExhausted { job, steps, refund });
            }
        }
        Jobs::<T>::insert(job, info);
    }

    /// Moves `amount` of `job`'s escrow hold to `author`, if its account can
    /// take it. Returns whether it could, and what was moved.
    fn pay_from_escrow(
        job: &JobOf<T>,
        author: &T::AccountId,
        amount: BalanceOf<T>,
    ) -> (bool, BalanceOf<T>) {
        let receivable = !amount.is_zero()
            && T::Currency::can_deposit(author, amount, Provenance::Extant)
                == DepositConsequence::Success;
        if !receivable {
            // The author's account cannot take it: unpaid, the escrow stays.
            return (false, Zero::zero());
        }
        let paid = frame_support::storage::with_storage_layer(|| {
            T::Currency::transfer_on_hold(
                &HoldReason::JobEscrow.into(),
                &job.poster,
                author,
                amount,
                Precision::BestEffort,
                Restriction::Free,
                Fortitude::Polite,
            )
        })
        .unwrap_or_default();
        (true, paid)
    }

    /// Settles the books of `job` after a fraud proof rolled its progress
    /// back (the training pallet has restored it). The payments `released`
    /// (reserved for the discarded blocks) go back to the budget of a job in
    /// the market — which opens again if it was settling and its workload
    /// is still listed, and expires, refunded, if it is not — or to the
    /// poster of an ended job: the escrow pays nothing for a discarded step.
    pub(crate) fn do_roll_back(job: JobId, released: BalanceOf<T>) {
        let Some(mut info) = Jobs::<T>::get(job) else {
            return;
        };
        let steps = T::Progress::progress(job).map_or(0, |p| p.steps);
        let released = released.min(info.pending);
        info.pending = info.pending.saturating_sub(released);
        Self::deposit_event(Event::JobRolledBack {
            job,
            steps,
            released,
        });
        if !info.in_market() {
            Self::release_to_poster(&info, released);
        } else {
            info.budget_left = info.budget_left.saturating_add(released);
            info.last_progress = frame_system::Pallet::<T>::block_number();
            let house = HouseJob::<T>::get() == Some(job);
            if !house && Self::listed_cost(&info.spec).is_none() {
                // Its workload was delisted: it can never train again.
                Self::expire(job, info);
                return;
            }
            if info.budget_left >= info.price_per_step || house {
                info.status = JobStatus::Open;
            } else if info.pending.is_zero() {
                // Nothing left to settle and no step to pay for: it ends
                // now rather than wait for a settlement that will not come.
                let refund = Self::end(job, &mut info, JobStatus::Exhausted);
                Self::deposit_event(Event::JobExhausted { job, steps, refund });
            }
        }
        Jobs::<T>::insert(job, info);
    }

    /// Releases `amount` of `job`'s escrow hold to its poster.
    fn release_to_poster(job: &JobOf<T>, amount: BalanceOf<T>) {
        if amount.is_zero() {
            return;
        }
        if T::Currency::release(
            &HoldReason::JobEscrow.into(),
            &job.poster,
            amount,
            Precision::BestEffort,
        )
        .is_err()
        {
            frame_support::defensive!("releasing a job's escrow failed");
        }
    }
}
