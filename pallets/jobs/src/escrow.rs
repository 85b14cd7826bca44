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

    /// An open paid job of `who` (what `cancel_job` and `top_up` act on).
    pub(crate) fn live_job_of(who: &T::AccountId, job: JobId) -> Result<JobOf<T>, DispatchError> {
        let info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
        ensure!(HouseJob::<T>::get() != Some(job), Error::<T>::HouseJob);
        ensure!(&info.poster == who, Error::<T>::NotPoster);
        ensure!(info.is_live(), Error::<T>::JobNotLive);
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

    /// Pays `author` for `steps` steps of the open job `job` and ends it if
    /// it reached its target or its budget (see
    /// [`JobSchedule`](upow_primitives::traits::JobSchedule)). The house job
    /// only records its progress.
    pub(crate) fn do_progress(
        job: JobId,
        author: &T::AccountId,
        steps: u32,
        total_steps: u64,
        mean_loss: u64,
    ) {
        // The training pallet only reports jobs that were trainable at the
        // start of the block; anything else is ignored.
        let Some(mut info) = Jobs::<T>::get(job) else {
            return;
        };
        let house = HouseJob::<T>::get() == Some(job);
        if !house && !info.is_live() {
            return;
        }
        info.steps = total_steps;
        info.last_loss = Some(mean_loss);
        info.last_progress = frame_system::Pallet::<T>::block_number();
        if house {
            Jobs::<T>::insert(job, info);
            return;
        }

        let due = info
            .price_per_step
            .saturating_mul(steps.into())
            .min(info.budget_left);
        let mut escrow_failed = false;
        let paid = if due.is_zero()
            || T::Currency::can_deposit(author, due, Provenance::Extant)
                != DepositConsequence::Success
        {
            // The author's account cannot take it: unpaid, the escrow stays.
            Zero::zero()
        } else {
            let transfer = frame_support::storage::with_storage_layer(|| {
                T::Currency::transfer_on_hold(
                    &HoldReason::JobEscrow.into(),
                    &info.poster,
                    author,
                    due,
                    Precision::BestEffort,
                    Restriction::Free,
                    Fortitude::Polite,
                )
            });
            let paid = transfer.unwrap_or_default();
            // The escrow could not pay in full (e.g. the poster's funds
            // were frozen since): the job ends, the rest is refunded.
            escrow_failed = paid < due;
            paid
        };
        info.budget_left = info.budget_left.saturating_sub(paid);
        Self::deposit_event(Event::JobPaid {
            job,
            author: author.clone(),
            steps,
            amount: paid,
        });

        let reached = total_steps >= info.target_steps()
            || info.target_loss.is_some_and(|target| mean_loss <= target);
        let exhausted = info.budget_left < info.price_per_step || escrow_failed;
        if reached {
            let refund = Self::end(job, &mut info, JobStatus::Completed);
            Jobs::<T>::insert(job, info);
            Self::deposit_event(Event::JobCompleted {
                job,
                steps: total_steps,
                refund,
            });
        } else if exhausted {
            let refund = Self::end(job, &mut info, JobStatus::Exhausted);
            Jobs::<T>::insert(job, info);
            Self::deposit_event(Event::JobExhausted {
                job,
                steps: total_steps,
                refund,
            });
        } else {
            Jobs::<T>::insert(job, info);
        }
    }
}
