//! Escrow and payment: holding a job's budget under
//! [`HoldReason::JobEscrow`], finding the live job a poster may cancel or
//! top up, paying block authors per verified step out of the hold
//! ([`Pallet::do_progress`], behind [`JobSchedule::on_progress`]), and
//! releasing what a job did not spend when it ends.
//!
//! [`JobSchedule::on_progress`]: upow_primitives::traits::JobSchedule::on_progress

use crate::{Active, BalanceOf, Config, Error, Event, HoldReason, HouseJob, JobOf, Jobs, Pallet};
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
    pub(crate) fn reason() -> T::RuntimeHoldReason {
        HoldReason::JobEscrow.into()
    }

    /// Puts `amount` of `who`'s free, unfrozen funds on hold.
    pub(crate) fn hold(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
        ensure!(
            T::Currency::reducible_balance(who, Preservation::Protect, Fortitude::Polite) >= amount,
            Error::<T>::InsufficientBalance
        );
        T::Currency::hold(&Self::reason(), who, amount)
    }

    /// A live paid job of `who` (what `cancel_job` and `top_up` act on).
    pub(crate) fn live_job_of(who: &T::AccountId, job: JobId) -> Result<JobOf<T>, DispatchError> {
        let info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
        ensure!(HouseJob::<T>::get() != Some(job), Error::<T>::HouseJob);
        ensure!(&info.poster == who, Error::<T>::NotPoster);
        ensure!(info.is_live(), Error::<T>::JobNotLive);
        Ok(info)
    }

    /// Releases what is left of `job`'s escrow to its poster; returns it.
    pub(crate) fn release_remainder(job: &mut JobOf<T>) -> BalanceOf<T> {
        if job.budget_left.is_zero() {
            return Zero::zero();
        }
        match T::Currency::release(
            &Self::reason(),
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

    /// Pays `author` for `steps` steps of the active paid job `job` and
    /// ends it if it reached its target or its budget (see
    /// [`JobSchedule`](upow_primitives::traits::JobSchedule)).
    pub(crate) fn do_progress(
        job: JobId,
        author: &T::AccountId,
        steps: u32,
        total_steps: u64,
        mean_loss: u64,
    ) {
        if HouseJob::<T>::get() == Some(job) {
            Jobs::<T>::mutate(job, |info| {
                if let Some(info) = info {
                    info.steps = total_steps;
                    info.last_loss = Some(mean_loss);
                }
            });
            return;
        }
        if Active::<T>::get() != Some(job) {
            return;
        }
        let Some(mut info) = Jobs::<T>::get(job) else {
            frame_support::defensive!("active job missing");
            return;
        };
        info.steps = total_steps;
        info.last_loss = Some(mean_loss);

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
                    &Self::reason(),
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
        if reached || exhausted {
            let refund = Self::release_remainder(&mut info);
            let event = if reached {
                info.status = JobStatus::Completed;
                Event::JobCompleted {
                    job,
                    steps: total_steps,
                    refund,
                }
            } else {
                info.status = JobStatus::Exhausted;
                Event::JobExhausted {
                    job,
                    steps: total_steps,
                    refund,
                }
            };
            Jobs::<T>::insert(job, info);
            Self::deposit_event(event);
            Self::activate_next();
        } else {
            Jobs::<T>::insert(job, info);
        }
    }
}
