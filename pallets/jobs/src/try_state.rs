//! The pallet's invariants, checked by `try_state` (and after every step of
//! the property tests): the queue is the `Queued` paid jobs in price order,
//! exactly the live jobs hold escrow, every poster's hold is the sum of its
//! live jobs' budgets, and the house job's status follows the active job.

use crate::{Active, BalanceOf, Config, HouseJob, Jobs, NextJobId, Pallet, Queue};
use frame_support::pallet_prelude::*;
use sp_runtime::traits::{Saturating, Zero};
use upow_primitives::{JobId, JobStatus};

impl<T: Config> Pallet<T> {
    /// Checks the pallet's invariants: the queue holds distinct `Queued`
    /// paid jobs in price order, the active job is `Active`, nothing is
    /// queued while no paid job is active, exactly the live jobs hold
    /// escrow (at least one step's worth), every poster's `JobEscrow` hold
    /// is the sum of its live jobs' budgets, and the house job is `Active`
    /// exactly when no paid job is.
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        use frame_support::traits::fungible::InspectHold;
        let queue = Queue::<T>::get();
        let active = Active::<T>::get();
        let house = HouseJob::<T>::get();
        ensure!(
            active.is_some() || queue.is_empty(),
            "jobs queued while none is active"
        );
        let mut previous: Option<(BalanceOf<T>, JobId)> = None;
        for &id in queue.iter() {
            let job = Jobs::<T>::get(id).ok_or("queued job missing")?;
            ensure!(job.status == JobStatus::Queued, "queued job not Queued");
            ensure!(
                Some(id) != active && Some(id) != house,
                "queued job active or house"
            );
            if let Some((price, prev)) = previous {
                ensure!(
                    price > job.price_per_step || (price == job.price_per_step && prev < id),
                    "queue out of order"
                );
            }
            previous = Some((job.price_per_step, id));
        }
        if let Some(id) = active {
            let job = Jobs::<T>::get(id).ok_or("active job missing")?;
            ensure!(job.status == JobStatus::Active, "active job not Active");
            ensure!(Some(id) != house, "house job in Active");
        }
        let mut live = 0usize;
        let mut escrow = alloc::collections::BTreeMap::<T::AccountId, BalanceOf<T>>::new();
        for (id, job) in Jobs::<T>::iter() {
            ensure!(id < NextJobId::<T>::get(), "job id not below NextJobId");
            if Some(id) == house {
                let expected = if active.is_some() {
                    JobStatus::Queued
                } else {
                    JobStatus::Active
                };
                ensure!(job.status == expected, "house job status");
                ensure!(job.budget_left.is_zero(), "house job holds escrow");
                continue;
            }
            let held = escrow.entry(job.poster.clone()).or_default();
            if job.is_live() {
                *held = held.saturating_add(job.budget_left);
                live = live.saturating_add(1);
                ensure!(
                    job.budget_left >= job.price_per_step,
                    "live job cannot pay a step"
                );
                if job.status == JobStatus::Active {
                    ensure!(active == Some(id), "an Active job not in Active");
                }
            } else {
                ensure!(job.budget_left.is_zero(), "ended job holds escrow");
            }
        }
        ensure!(
            live == queue.len().saturating_add(active.map_or(0, |_| 1)),
            "a live job is neither queued nor active"
        );
        for (poster, expected) in escrow {
            ensure!(
                T::Currency::balance_on_hold(&Self::reason(), &poster) == expected,
                "a poster's escrow hold differs from the budgets of its live jobs"
            );
        }
        Ok(())
    }
}
