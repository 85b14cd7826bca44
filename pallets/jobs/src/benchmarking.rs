//! Benchmarks of the jobs pallet: every call (the catalogue's too), the expiry hook and
//! `JobSchedule::on_progress`, and the draw of a job's initial weights,
//! each in its worst case (a full market, an eviction, the largest model).

use super::*;
use crate::Pallet as Jobs;
use frame_benchmarking::v2::*;
use frame_support::{
    ensure,
    traits::{fungible::Inspect, fungible::Mutate, Get},
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;
use upow_primitives::traits::JobSchedule;
use upow_puzzle::{DatasetCommitment, Hyperparams, JobSpec, Liveness, Model, REFERENCE_LIVENESS};

/// Planned steps of the benchmark jobs: one block of this many steps completes one.
const STEPS: u64 = 4;
/// Inputs of the benchmark models (the widest a job may have).
const INPUTS: u32 = 1024;
/// Most hidden units of the benchmark model: `[1024, h, 10]` has
/// `1034 · h` parameters, up to about the largest batch-16 job the runtime
/// admits (`[1024, 493, 10]` over 60 000 samples: its proof fills a quarter
/// of the block, docs/protocol.md §4, `runtime/tests/liveness.rs`).
const MAX_HIDDEN: u32 = 490;

fn stop(reason: &'static str) -> impl FnOnce(upow_puzzle::Error) -> BenchmarkError {
    move |_| BenchmarkError::Stop(reason)
}

/// A spec of `hidden` hidden units: `[1024, hidden, 10]`, batch 16.
fn spec(hidden: u32) -> Result<JobSpec, BenchmarkError> {
    let model = Model::new(&[INPUTS, hidden.max(1), 10]).map_err(stop("model"))?;
    let hyper = Hyperparams::new(4, 2, STEPS).map_err(stop("hyper-parameters"))?;
    let dataset = DatasetCommitment {
        root: [7; 32],
        samples: 60_000,
        inputs: INPUTS,
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

/// The deposit of every benchmark job (they share one dataset shape).
fn deposit<T: Config>() -> Result<BalanceOf<T>, BenchmarkError> {
    Jobs::<T>::deposit_for(&spec(1)?)
        .map_err(|e| BenchmarkError::from(sp_runtime::DispatchError::from(e)))
}

/// The whitelisted caller, funded for `jobs` budgets at twice the base
/// price and their deposits.
fn poster<T: Config>(jobs: u32) -> Result<T::AccountId, BenchmarkError> {
    let who: T::AccountId = whitelisted_caller();
    let per_job =
        budget::<T>(price::<T>().saturating_mul(2u32.into())).saturating_add(deposit::<T>()?);
    let amount = per_job
        .saturating_mul(jobs.saturating_add(2).into())
        .saturating_add(T::Currency::minimum_balance().saturating_mul(100u32.into()));
    T::Currency::set_balance(&who, amount);
    Ok(who)
}

/// Lists `spec` at its nominal cost, unless it is listed.
fn list<T: Config>(spec: &JobSpec) -> Result<(), BenchmarkError> {
    if Jobs::<T>::listed_cost(spec).is_none() {
        Jobs::<T>::do_list(
            spec.clone(),
            spec.nominal_cost(),
            spec.model.largest_label(),
            Liveness::MINIMUM.nonzero_weights_per_1024(),
            Liveness::MINIMUM.live_units_per_1024(),
            Liveness::MINIMUM.active_per_1024(),
        )?;
    }
    Ok(())
}

/// Opens `count` jobs at the base price (small models), all awaiting the
/// draw of their initial weights: a job that leaves the market then also
/// leaves that list (the worst case of cancelling, evicting, expiring).
fn fill<T: Config>(who: &T::AccountId, count: u32) -> Result<Vec<JobId>, BenchmarkError> {
    frame_system::Pallet::<T>::set_block_number(1u32.into());
    list::<T>(&spec(1)?)?;
    let price = price::<T>();
    (0..count)
        .map(|_| {
            Jobs::<T>::do_post(who, spec(1)?, price, budget::<T>(price), None)
                .map_err(BenchmarkError::from)
        })
        .collect()
}

fn assert_last_event<T: Config>(event: Event<T>) {
    frame_system::Pallet::<T>::assert_last_event(<T as frame_system::Config>::RuntimeEvent::from(
        event,
    ));
}

#[benchmarks]
mod benchmarks {
    use super::*;

    /// Posting a model of about `p` parameters (`[1024, ⌊p / 1034⌋, 10]`)
    /// into a full market at a better price: the cheapest open job is
    /// evicted and refunded (taken off the list of jobs awaiting a draw),
    /// the new one inserted at the front and put on it.
    #[benchmark]
    fn post_job(p: Linear<1_034, { 1_034 * MAX_HIDDEN }>) -> Result<(), BenchmarkError> {
        let full = T::MaxOpen::get();
        let who = poster::<T>(full.saturating_add(1))?;
        fill::<T>(&who, full)?;
        let price = price::<T>().saturating_mul(2u32.into());
        let budget = budget::<T>(price);
        let id = NextJobId::<T>::get();
        let spec = spec(p / 1_034)?;
        list::<T>(&spec)?;

        #[extrinsic_call]
        _(
            RawOrigin::Signed(who.clone()),
            spec.into(),
            price,
            budget,
            Some(0),
        );

        assert_last_event::<T>(Event::JobPosted {
            job: id,
            poster: who,
            price_per_step: price,
            budget,
            deposit: deposit::<T>()?,
        });
        Ok(())
    }

    /// Cancelling the best-paying job of a full market.
    #[benchmark]
    fn cancel_job() -> Result<(), BenchmarkError> {
        let full = T::MaxOpen::get();
        let who = poster::<T>(full)?;
        let open = fill::<T>(&who, full)?;
        let job = *open.first().ok_or(BenchmarkError::Stop("no job"))?;

        #[extrinsic_call]
        _(RawOrigin::Signed(who), job);

        ensure!(
            !Open::<T>::get().contains(&job),
            BenchmarkError::Stop("job still open")
        );
        Ok(())
    }

    /// Topping up an open job.
    #[benchmark]
    fn top_up() -> Result<(), BenchmarkError> {
        let who = poster::<T>(2)?;
        let job = fill::<T>(&who, 1)?[0];
        let amount = price::<T>();

        #[extrinsic_call]
        _(RawOrigin::Signed(who), job, amount);

        let budget_left = budget::<T>(price::<T>()).saturating_add(amount);
        assert_last_event::<T>(Event::ToppedUp {
            job,
            amount,
            budget_left,
        });
        Ok(())
    }

    /// Reaping an ended job by someone else than its poster, after the
    /// retention period (the training state's removal is added by the
    /// runtime's `OnJobReaped` weight).
    #[benchmark]
    fn reap_job() -> Result<(), BenchmarkError> {
        let who = poster::<T>(2)?;
        let job = fill::<T>(&who, 1)?[0];
        Jobs::<T>::cancel_job(RawOrigin::Signed(who.clone()).into(), job)?;
        let later =
            frame_system::Pallet::<T>::block_number().saturating_add(T::RetentionPeriod::get());
        frame_system::Pallet::<T>::set_block_number(later);
        let reaper: T::AccountId = account("reaper", 0, 0);

        #[extrinsic_call]
        _(RawOrigin::Signed(reaper), job);

        ensure!(
            Jobs::<T>::job_info(job).is_none(),
            BenchmarkError::Stop("job not reaped")
        );
        Ok(())
    }

    /// The expiry hook over `o` open jobs, of which `e` expire.
    #[benchmark]
    fn expire_jobs(
        o: Linear<0, { T::MaxOpen::get() }>,
        e: Linear<0, { T::MaxOpen::get() }>,
    ) -> Result<(), BenchmarkError> {
        let e = e.min(o);
        let who = poster::<T>(o)?;
        let open = fill::<T>(&who, o)?;
        let expiry = Expiry::<T>::get();
        let now = frame_system::Pallet::<T>::block_number().saturating_add(expiry);
        // The jobs that do not expire were trained at `now`.
        for &job in open.iter().skip(e as usize) {
            crate::Jobs::<T>::mutate(job, |info| {
                if let Some(info) = info {
                    info.last_progress = now;
                }
            });
        }

        #[block]
        {
            Jobs::<T>::expire_jobs(now);
        }

        ensure!(
            Open::<T>::get().len() as u32 == o - e,
            BenchmarkError::Stop("wrong number of jobs expired")
        );
        Ok(())
    }

    /// A block completing the best-paying job of a full market and its
    /// settlement: reserving and paying a new account, refunding the rest
    /// (the weight of `on_progress` and of `on_settled`).
    #[benchmark]
    fn on_progress() -> Result<(), BenchmarkError> {
        let full = T::MaxOpen::get();
        let who = poster::<T>(full)?;
        let job = fill::<T>(&who, full)?[0];
        let author: T::AccountId = account("author", 0, 0);
        // The block's steps as the training pallet records them before it
        // reports the block: the planned steps, so the job completes.
        T::Progress::set_progress(
            job,
            upow_primitives::TrainingProgress {
                steps: STEPS,
                last_loss: Some(0),
                ..upow_primitives::TrainingProgress::untrained([0; 32])
            },
        );

        #[block]
        {
            let payment =
                <Jobs<T> as JobSchedule<T::AccountId>>::on_progress(job, &author, STEPS as u32);
            <Jobs<T> as JobSchedule<T::AccountId>>::on_settled(job, &author, STEPS as u32, payment);
        }

        let info = Jobs::<T>::job_info(job).ok_or(BenchmarkError::Stop("job missing"))?;
        ensure!(
            info.status == JobStatus::Completed,
            BenchmarkError::Stop("job not completed")
        );
        Ok(())
    }

    /// Listing a workload of about `p` parameters (its spec admitted as a
    /// posted job's) into a catalogue that already lists others.
    #[benchmark]
    fn list_workload(p: Linear<1_034, { 1_034 * MAX_HIDDEN }>) -> Result<(), BenchmarkError> {
        // Another workload, planned for one step more than the listed one.
        let mut other = spec(1)?;
        other.hyper = Hyperparams::new(4, 2, STEPS + 1).map_err(stop("hyper-parameters"))?;
        list::<T>(&other)?;
        let spec = spec(p / 1_034)?;
        let id = NextWorkloadId::<T>::get();
        let cost = spec.nominal_cost();
        let max_label = spec.model.largest_label();

        #[extrinsic_call]
        _(
            RawOrigin::Root,
            spec.into(),
            cost,
            max_label,
            REFERENCE_LIVENESS.nonzero_weights_per_1024(),
            REFERENCE_LIVENESS.live_units_per_1024(),
            REFERENCE_LIVENESS.active_per_1024(),
        );

        assert_last_event::<T>(Event::WorkloadListed { workload: id, cost });
        Ok(())
    }

    /// Drawing the initial weights of one job of `p` parameters (what the
    /// block after a post does first, per job posted).
    #[benchmark]
    fn draw_initial_weights(
        p: Linear<1_034, { 1_034 * MAX_HIDDEN }>,
    ) -> Result<(), BenchmarkError> {
        frame_system::Pallet::<T>::set_block_number(1u32.into());
        let who = poster::<T>(1)?;
        let spec = spec(p / 1_034)?;
        list::<T>(&spec)?;
        let price = price::<T>();
        let id = Jobs::<T>::do_post(&who, spec, price, budget::<T>(price), None)?;

        #[block]
        {
            Jobs::<T>::draw_initial_weights(&upow_puzzle::Ticket([0x5e; 32]));
        }

        ensure!(
            Jobs::<T>::job_info(id).is_some_and(|job| job.initial.is_some()),
            BenchmarkError::Stop("initial weights not drawn")
        );
        Ok(())
    }

    /// Delisting a listed workload.
    #[benchmark]
    fn delist_workload() -> Result<(), BenchmarkError> {
        let spec = spec(1)?;
        let workload = Jobs::<T>::do_list(
            spec.clone(),
            spec.nominal_cost(),
            spec.model.largest_label(),
            Liveness::MINIMUM.nonzero_weights_per_1024(),
            Liveness::MINIMUM.live_units_per_1024(),
            Liveness::MINIMUM.active_per_1024(),
        )?;

        #[extrinsic_call]
        _(RawOrigin::Root, workload);

        ensure!(
            Jobs::<T>::listed_cost(&spec).is_none(),
            BenchmarkError::Stop("workload still listed")
        );
        Ok(())
    }

    impl_benchmark_test_suite!(Jobs, crate::mock::new_test_ext(), crate::mock::Test);
}
