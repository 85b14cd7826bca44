//! The pallet's invariants, checked by `try_state` (and after every step of
//! the property tests): the market is the open (and settling) paid jobs in
//! price order, exactly those hold budgets, every poster's escrow hold is
//! the sum of its market jobs' budgets and of every job's pending payments,
//! its deposit hold the sum of its unreaped jobs' deposits, ended jobs
//! carry their end block, and the house job is open and holds nothing; the
//! catalogue indexes exactly its listed workloads by spec, and the house
//! job's spec is listed at the reference cost; the jobs awaiting a draw of
//! their initial weights are open and undrawn, and an open job without
//! initial weights awaits one.

use crate::{
    AwaitingInitialWeights, BalanceOf, Config, HoldReason, HouseJob, Jobs, ListedSpecs, NextJobId,
    NextWorkloadId, Open, Pallet, Workloads,
};
use alloc::collections::BTreeMap;
use frame_support::{pallet_prelude::*, traits::fungible::InspectHold};
use sp_runtime::traits::{Saturating, Zero};
use upow_primitives::{JobId, JobStatus};

impl<T: Config> Pallet<T> {
    /// Checks the pallet's invariants (see the module docs).
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        let open = Open::<T>::get();
        let house = HouseJob::<T>::get();
        let mut previous: Option<(BalanceOf<T>, JobId)> = None;
        for &id in open.iter() {
            let job = Jobs::<T>::get(id).ok_or("open job missing")?;
            ensure!(
                job.in_market(),
                "a job in the market is not open or settling"
            );
            ensure!(Some(id) != house, "the house job in the market");
            if let Some((price, prev)) = previous {
                ensure!(
                    price > job.price_per_step || (price == job.price_per_step && prev < id),
                    "market out of order"
                );
            }
            previous = Some((job.price_per_step, id));
        }
        let mut live = 0usize;
        let mut escrow = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
        let mut deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
        let awaiting = AwaitingInitialWeights::<T>::get();
        for (id, job) in Jobs::<T>::iter() {
            ensure!(id < NextJobId::<T>::get(), "job id not below NextJobId");
            ensure!(
                job.initial.is_some() || awaiting.contains(&id) || !job.in_market(),
                "a job in the market lacks initial weights but awaits no draw"
            );
            if Some(id) == house {
                ensure!(job.status == JobStatus::Open, "the house job is not open");
                ensure!(
                    job.budget_left.is_zero() && job.deposit.is_zero(),
                    "the house job holds funds"
                );
                continue;
            }
            let held = escrow.entry(job.poster.clone()).or_default();
            let deposit = deposits.entry(job.poster.clone()).or_default();
            *deposit = deposit.saturating_add(job.deposit);
            *held = held.saturating_add(job.pending);
            if job.in_market() {
                *held = held.saturating_add(job.budget_left);
                live = live.saturating_add(1);
                ensure!(
                    !job.is_live() || job.budget_left >= job.price_per_step,
                    "an open job cannot pay a step"
                );
                ensure!(job.ended_at.is_none(), "an open job has an end");
            } else {
                ensure!(job.budget_left.is_zero(), "an ended job holds escrow");
                ensure!(job.ended_at.is_some(), "an ended job has no end block");
            }
        }
        ensure!(live == open.len(), "an open job is not in the market");
        for id in awaiting.iter() {
            let job = Jobs::<T>::get(id).ok_or("a job awaiting its draw has no record")?;
            ensure!(
                job.is_live() && job.initial.is_none(),
                "a job awaits a draw but is not open or was drawn"
            );
        }
        for (poster, expected) in escrow {
            ensure!(
                T::Currency::balance_on_hold(&HoldReason::JobEscrow.into(), &poster) == expected,
                "a poster's escrow hold differs from the budgets of its open jobs"
            );
        }
        for (poster, expected) in deposits {
            ensure!(
                T::Currency::balance_on_hold(&HoldReason::JobDeposit.into(), &poster) == expected,
                "a poster's deposit hold differs from the deposits of its jobs"
            );
        }
        Self::catalogue_try_state()
    }

    /// The catalogue's invariants.
    fn catalogue_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        let mut listed = 0usize;
        for (id, workload) in Workloads::<T>::iter() {
            ensure!(
                id < NextWorkloadId::<T>::get(),
                "workload id not below NextWorkloadId"
            );
            ensure!(workload.cost > 0, "a workload of zero cost");
            ensure!(
                upow_puzzle::dataset::check_label(
                    workload.max_label,
                    workload.spec.model.classes()
                )
                .is_ok(),
                "a workload whose labels are not classes of its model"
            );
            if workload.is_listed() {
                listed = listed.saturating_add(1);
                ensure!(
                    ListedSpecs::<T>::get(workload.spec.listing_key()) == Some(id),
                    "a listed workload is not indexed by its spec"
                );
            }
        }
        ensure!(
            ListedSpecs::<T>::iter().count() == listed,
            "the spec index holds a workload that is not listed"
        );
        if let Some(house) = HouseJob::<T>::get().and_then(Jobs::<T>::get) {
            let listed = Self::listed_workload(&house.spec).map(|(_, w)| (w.cost, w.liveness));
            ensure!(
                listed == Some((upow_puzzle::REFERENCE_COST, upow_puzzle::REFERENCE_LIVENESS)),
                "the house job's spec is not listed at the reference cost and liveness"
            );
        }
        Ok(())
    }
}
