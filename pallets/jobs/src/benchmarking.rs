//! Benchmarks of the jobs pallet: every call and `JobSchedule::on_progress`,
//! each in its worst case (a queue as full as the case allows, the active job
//! ending and the next one activated).

use super::*;
use crate::Pallet as Jobs;
use frame_benchmarking::v2::*;
use frame_support::{
    ensure,
    traits::{fungible::Inspect, fungible::Mutate, Get},
};
use frame_system::RawOrigin;
use upow_primitives::traits::JobSchedule;
use upow_puzzle::{DatasetCommitment, Hyperparams, Model};

/// Planned steps of the benchmark jobs: one block of this many steps completes one.
const STEPS: u64 = 4;

fn stop(reason: &'static str) -> impl FnOnce(upow_puzzle::Error) -> BenchmarkError {
    move |_| BenchmarkError::Stop(reason)
}

/// A realistic spec (the Fashion-MNIST shape, 784 → 128 → 10).
fn spec() -> Result<JobSpec, BenchmarkError> {
    let model = Model::new(&[784, 128, 10]).map_err(stop("model"))?;
    let hyper = Hyperparams::new(6, 2, STEPS).map_err(stop("hyper-parameters"))?;
    let dataset = DatasetCommitment {
        root: [7; 32],
        samples: 60_000,
        inputs: 784,
    };
    JobSpec::new(model, hyper, dataset).map_err(stop("spec"))
}

/// A price that is valid and pays a fresh account at least the existential deposit.
fn price<T: Config>() -> BalanceOf<T> {
    T::MinPricePerStep::get()
        .max(T::Currency::minimum_balance())
        .max(1u32.into())
}

/// A budget that pays the whole job and leaves a refund.
fn budget<T: Config>(price: BalanceOf<T>) -> BalanceOf<T> {
    price.saturating_mul(BalanceOf::<T>::from(STEPS as u32).saturating_mul(2u32.into()))
}

/// The whitelisted caller, funded for `jobs` budgets at twice the base price.
fn poster<T: Config>(jobs: u32) -> T::AccountId {
    let who: T::AccountId = whitelisted_caller();
    let per_job = budget::<T>(price::<T>().saturating_mul(2u32.into()));
    let amount = per_job
        .saturating_mul(jobs.saturating_add(2).into())
        .saturating_add(T::Currency::minimum_balance().saturating_mul(100u32.into()));
    T::Currency::set_balance(&who, amount);
    who
}

/// Posts an active job and `queued` queued jobs, all at the base price.
fn setup<T: Config>(who: &T::AccountId, queued: u32) -> Result<JobId, BenchmarkError> {
    frame_system::Pallet::<T>::set_block_number(1u32.into());
    ensure!(
        Active::<T>::get().is_none(),
        BenchmarkError::Stop("a paid job is already active")
    );
    let price = price::<T>();
    let active = Jobs::<T>::do_post(who, spec()?, price, budget::<T>(price), None)?;
    for _ in 0..queued {
        Jobs::<T>::do_post(who, spec()?, price, budget::<T>(price), None)?;
    }
    ensure!(
        Active::<T>::get() == Some(active),
        BenchmarkError::Stop("setup job not active")
    );
    Ok(active)
}

fn assert_last_event<T: Config>(event: Event<T>) {
    frame_system::Pallet::<T>::assert_last_event(<T as frame_system::Config>::RuntimeEvent::from(
        event,
    ));
}

#[benchmarks]
mod benchmarks {
    use super::*;

    /// Posting into a queue one short of full, at a price above every queued
    /// job (binary search over the whole queue, inserted at the front).
    #[benchmark]
    fn post_job() -> Result<(), BenchmarkError> {
        let queued = T::MaxQueued::get().saturating_sub(1);
        let who = poster::<T>(queued.saturating_add(1));
        setup::<T>(&who, queued)?;
        let price = price::<T>().saturating_mul(2u32.into());
        let budget = budget::<T>(price);
        let id = NextJobId::<T>::get();

        #[extrinsic_call]
        _(
            RawOrigin::Signed(who.clone()),
            spec()?,
            price,
            budget,
            Some(0),
        );

        assert_last_event::<T>(Event::JobPosted {
            job: id,
            poster: who,
            price_per_step: price,
            budget,
        });
        Ok(())
    }

    /// Cancelling the active job of a full queue: refund and activation.
    #[benchmark]
    fn cancel_job() -> Result<(), BenchmarkError> {
        let queued = T::MaxQueued::get();
        let who = poster::<T>(queued);
        let active = setup::<T>(&who, queued)?;
        let next = Queue::<T>::get().first().copied();

        #[extrinsic_call]
        _(RawOrigin::Signed(who), active);

        ensure!(
            Active::<T>::get() == next,
            BenchmarkError::Stop("next job not activated")
        );
        Ok(())
    }

    /// Topping up the active job.
    #[benchmark]
    fn top_up() -> Result<(), BenchmarkError> {
        let who = poster::<T>(2);
        let active = setup::<T>(&who, 0)?;
        let amount = price::<T>();

        #[extrinsic_call]
        _(RawOrigin::Signed(who), active, amount);

        let budget_left = budget::<T>(price::<T>()).saturating_add(amount);
        assert_last_event::<T>(Event::ToppedUp {
            job: active,
            amount,
            budget_left,
        });
        Ok(())
    }

    /// A block completing the active job of a full queue: paying a new
    /// account, refunding the rest, activating the next job.
    #[benchmark]
    fn on_progress() -> Result<(), BenchmarkError> {
        let queued = T::MaxQueued::get();
        let who = poster::<T>(queued);
        let active = setup::<T>(&who, queued)?;
        let next = Queue::<T>::get().first().copied();
        let author: T::AccountId = account("author", 0, 0);

        #[block]
        {
            <Jobs<T> as JobSchedule<T::AccountId>>::on_progress(
                active,
                &author,
                STEPS as u32,
                STEPS,
                0,
            );
        }

        let job = Jobs::<T>::job_info(active).ok_or(BenchmarkError::Stop("job missing"))?;
        ensure!(
            job.status == JobStatus::Completed,
            BenchmarkError::Stop("job not completed")
        );
        ensure!(
            Active::<T>::get() == next,
            BenchmarkError::Stop("next job not activated")
        );
        Ok(())
    }

    impl_benchmark_test_suite!(Jobs, crate::mock::new_test_ext(), crate::mock::Test);
}
