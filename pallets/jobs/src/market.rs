//! The market: posting a job ([`Pallet::do_post`]: validated, admitted by
//! cost, escrowed, opened — evicting the cheapest open job from a full
//! market if it pays more), the house job, the seed and hash of a job's
//! initial weights, expiry of jobs no block trains ([`Pallet::expire_jobs`]),
//! reaping ended jobs ([`Pallet::do_reap`]), ending a job ([`Pallet::end`]),
//! and the [`JobSchedule`] the training pallet asks which jobs blocks may
//! train and reports progress to.

use crate::{
    AwaitingInitialWeights, BalanceOf, Config, Error, Event, Expiry, HoldReason, HouseJob,
    InitialWeights, Job, JobOf, Jobs, NextJobId, Open, Pallet, WeightInfo,
};
use alloc::vec::Vec;
use frame_support::{
    pallet_prelude::*, traits::fungible::MutateHold as _, traits::tokens::Precision,
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, UniqueSaturatedInto, Zero};
use upow_primitives::{
    traits::{ActiveJob, JobLimitError, JobLimits, JobSchedule, OnJobReaped, ProgressOf},
    Hash, JobId, JobStatus,
};
use upow_puzzle::{
    lane::run_seed, model::MIN_JOB_BATCH_LOG2, Error as PuzzleError, JobSpec, Liveness, Ticket,
    UncheckedJobSpec, REFERENCE_COST, REFERENCE_LIVENESS,
};

impl<T: Config> Pallet<T> {
    /// The job `job`, if its record exists (the runtime maps it to
    /// [`JobInfo`](upow_primitives::JobInfo) with [`Job::info`], adding the
    /// training pallet's record of its progress).
    pub fn job_info(job: JobId) -> Option<JobOf<T>> {
        Jobs::<T>::get(job)
    }

    /// The house job, if any.
    pub fn house_job() -> Option<JobId> {
        HouseJob::<T>::get()
    }

    /// The open paid jobs, best-paying first.
    pub fn open_jobs() -> Vec<JobId> {
        Open::<T>::get().into_inner()
    }

    /// Every job with a record (open or ended, not yet reaped).
    pub fn recorded_jobs() -> Vec<JobId> {
        Jobs::<T>::iter_keys().collect()
    }

    /// Draws, from `sealing_ticket` (the ticket that seals this block), the
    /// initial weights of the jobs posted earlier that still await theirs,
    /// in posting order: job `r`'s seed is
    /// `upow_puzzle::lane::run_seed(r, sealing_ticket)` (docs/v3.md §2.1).
    /// Nobody knew the ticket when the job was posted, so nobody chooses a
    /// job's initial weights; a job cannot be trained before its draw.
    /// Draws at most [`Config::MaxDrawWeight`] a block, and always the
    /// first job (so every job is drawn); the rest wait for the next block.
    /// Emits [`Event::InitialWeightsDrawn`] for each; returns the weight
    /// used.
    pub fn draw_initial_weights(sealing_ticket: &Ticket) -> Weight {
        let awaiting = AwaitingInitialWeights::<T>::get().into_inner();
        let budget = T::MaxDrawWeight::get();
        let mut used = T::DbWeight::get().reads_writes(1, 1);
        let now = frame_system::Pallet::<T>::block_number();
        // `done`: entries processed; `drawn`: jobs drawn (the first is drawn
        // whatever the budget).
        let (mut done, mut drawn) = (0usize, 0usize);
        for &job in &awaiting {
            // Only live jobs await a draw (one that leaves the market first
            // leaves this list too), so the record is there.
            let Some(mut record) = Jobs::<T>::get(job).filter(|r| r.initial.is_none()) else {
                done = done.saturating_add(1);
                continue;
            };
            let params = u32::try_from(record.spec.model.params()).unwrap_or(u32::MAX);
            let weight = T::WeightInfo::draw_initial_weights(params)
                .saturating_add(T::DbWeight::get().reads_writes(1, 1));
            if drawn > 0 && used.saturating_add(weight).any_gt(budget) {
                break;
            }
            let initial = InitialWeights::draw(&record.spec.model, run_seed(job, sealing_ticket));
            record.initial = Some(initial);
            // Its expiry counts from its draw: time spent waiting for it
            // (behind other jobs' draws) is not a time nobody trained it.
            record.last_progress = now;
            Jobs::<T>::insert(job, record);
            Self::deposit_event(Event::InitialWeightsDrawn {
                job,
                seed: initial.seed,
                weights: initial.weights,
            });
            used = used.saturating_add(weight);
            done = done.saturating_add(1);
            drawn = drawn.saturating_add(1);
        }
        let rest = awaiting.get(done..).unwrap_or_default().to_vec();
        AwaitingInitialWeights::<T>::put(BoundedVec::truncate_from(rest));
        used
    }

    /// Takes `job` off the list of jobs awaiting their initial weights if
    /// it is on it (`info` is its record: it leaves the market before its
    /// draw). A drawn job costs no storage access here.
    fn forget_draw(job: JobId, info: &JobOf<T>) {
        if info.initial.is_none() {
            AwaitingInitialWeights::<T>::mutate(|awaiting| awaiting.retain(|&j| j != job));
        }
    }

    /// The deposit a job of `spec` holds until it is reaped:
    /// [`Config::JobDeposit`] plus [`Config::DatasetDepositPerByte`] per
    /// byte of its dataset (`upow_primitives::job_deposit`). `CostOverflow`
    /// if it does not fit a balance.
    pub fn deposit_for(spec: &JobSpec) -> Result<BalanceOf<T>, Error<T>> {
        upow_primitives::job_deposit(
            T::JobDeposit::get().unique_saturated_into(),
            T::DatasetDepositPerByte::get().unique_saturated_into(),
            &spec.dataset,
        )
        .and_then(|deposit| BalanceOf::<T>::try_from(deposit).ok())
        .ok_or(Error::<T>::CostOverflow)
    }

    /// The puzzle's limits on a spec as a call carries it, each refusal
    /// the error that names its field (`spec.model.dims`,
    /// `spec.hyper.batch_log2`, `spec.hyper.lr_shift`,
    /// `spec.hyper.total_steps`, `spec.dataset`).
    pub fn check_spec(spec: UncheckedJobSpec) -> Result<JobSpec, Error<T>> {
        JobSpec::try_from(spec).map_err(Self::spec_error)
    }

    /// The pallet's error for a spec the puzzle refuses, naming the field.
    fn spec_error(e: PuzzleError) -> Error<T> {
        match e {
            PuzzleError::LayerCount { .. } => Error::<T>::ModelLayers,
            PuzzleError::Width { .. } => Error::<T>::ModelWidth,
            PuzzleError::Classes(_) => Error::<T>::ModelClasses,
            PuzzleError::Params { .. } => Error::<T>::ModelTooLarge,
            PuzzleError::Batch { log2, .. } if log2 < MIN_JOB_BATCH_LOG2 => {
                Error::<T>::BatchTooSmall
            }
            PuzzleError::Batch { .. } => Error::<T>::BatchTooLarge,
            PuzzleError::LrShift { .. } => Error::<T>::LrShiftTooLarge,
            PuzzleError::ZeroSteps => Error::<T>::ZeroSteps,
            PuzzleError::DatasetShape { .. } => Error::<T>::DatasetMismatch,
            PuzzleError::LeafIndex { .. } => Error::<T>::EmptyDataset,
            // No other refusal exists in `JobSpec::try_from` today.
            _ => Error::<T>::InvalidSpec,
        }
    }

    /// Checks a spec against the admission rules that do not depend on
    /// prices: the puzzle's job rule (`JobSpec::validate`, again, for a
    /// spec built field by field) and the chain's per-block budgets
    /// ([`Config::Limits`]).
    pub(crate) fn admit(spec: &JobSpec) -> DispatchResult {
        spec.validate().map_err(Self::spec_error)?;
        T::Limits::check(spec).map_err(|e| match e {
            JobLimitError::VerificationTooHeavy => Error::<T>::VerificationTooHeavy,
            JobLimitError::ProofTooLarge => Error::<T>::ProofTooLarge,
        })?;
        Ok(())
    }

    /// A new job record, open from now on, its initial weights `initial`
    /// (`None`: drawn by a later block).
    fn new_job(
        poster: &T::AccountId,
        spec: JobSpec,
        initial: Option<InitialWeights>,
        price_per_step: BalanceOf<T>,
        budget: BalanceOf<T>,
        deposit: BalanceOf<T>,
        target_loss: Option<u64>,
    ) -> JobOf<T> {
        let now = frame_system::Pallet::<T>::block_number();
        Job {
            poster: poster.clone(),
            spec,
            initial,
            price_per_step,
            budget_left: budget,
            pending: Zero::zero(),
            deposit,
            target_loss,
            status: JobStatus::Open,
            posted_at: now,
            last_progress: now,
            ended_at: None,
        }
    }

    fn next_id() -> Result<JobId, DispatchError> {
        let id = NextJobId::<T>::get();
        let next = id.checked_add(1).ok_or(Error::<T>::JobIdsExhausted)?;
        NextJobId::<T>::put(next);
        Ok(id)
    }

    /// Records the house job (genesis): always open, never paid. Its spec
    /// is listed at [`REFERENCE_COST`] and [`REFERENCE_LIVENESS`]: the house
    /// workload defines the cost unit (docs/v3.md §2.1).
    pub(crate) fn insert_house_job(
        poster: &T::AccountId,
        spec: JobSpec,
        init_seed: Hash,
    ) -> DispatchResult {
        Self::admit(&spec)?;
        Self::insert_house_workload(spec.clone())?;
        let id = Self::next_id()?;
        let zero = Zero::zero();
        let initial = InitialWeights::draw(&spec.model, init_seed);
        let job = Self::new_job(poster, spec, Some(initial), zero, zero, zero, None);
        Jobs::<T>::insert(id, job);
        HouseJob::<T>::put(id);
        Ok(())
    }

    /// Validates, admits, escrows and opens a job (see [`Pallet::post_job`]).
    /// Changes nothing when it fails.
    pub fn do_post(
        who: &T::AccountId,
        spec: JobSpec,
        price_per_step: BalanceOf<T>,
        budget: BalanceOf<T>,
        target_loss: Option<u64>,
    ) -> Result<JobId, DispatchError> {
        Self::admit(&spec)?;
        Self::ensure_listed(&spec)?;
        ensure!(
            !price_per_step.is_zero() && price_per_step >= T::MinPricePerStep::get(),
            Error::<T>::PriceTooLow
        );
        ensure!(budget >= price_per_step, Error::<T>::BudgetTooLow);
        let total_steps = BalanceOf::<T>::try_from(spec.hyper.total_steps())
            .map_err(|_| Error::<T>::CostOverflow)?;
        ensure!(
            price_per_step.checked_mul(&total_steps).is_some(),
            Error::<T>::CostOverflow
        );
        let deposit = Self::deposit_for(&spec)?;
        ensure!(
            Self::spendable(who) >= budget.saturating_add(deposit),
            Error::<T>::InsufficientBalance
        );

        // Where it goes: after every open job paying at least as much (ids
        // only grow, so equal prices stay in posting order).
        let mut open = Open::<T>::get();
        let price_of = |id: &JobId| Jobs::<T>::get(id).map(|j| j.price_per_step);
        let evict = if (open.len() as u32) < T::MaxOpen::get() {
            None
        } else {
            // The cheapest job still training: a settling job keeps its
            // place until its last block settles (or a rollback reopens it).
            let cheapest = open
                .iter()
                .rev()
                .copied()
                .find(|j| Jobs::<T>::get(j).is_some_and(|job| job.is_live()))
                .ok_or(Error::<T>::MarketFull)?;
            ensure!(
                price_of(&cheapest).is_some_and(|p| p < price_per_step),
                Error::<T>::MarketFull
            );
            Some(cheapest)
        };

        let id = Self::next_id()?;
        Self::hold(HoldReason::JobEscrow, who, budget)?;
        Self::hold(HoldReason::JobDeposit, who, deposit)?;
        if let Some(evicted) = evict {
            open.retain(|&j| j != evicted);
            if let Some(mut job) = Jobs::<T>::get(evicted) {
                Self::forget_draw(evicted, &job);
                let refund = Self::refund(&mut job);
                job.status = JobStatus::Evicted;
                job.ended_at = Some(frame_system::Pallet::<T>::block_number());
                Jobs::<T>::insert(evicted, job);
                Self::deposit_event(Event::JobEvicted {
                    job: evicted,
                    by: id,
                    refund,
                });
            }
        }
        let position = open.partition_point(|j| price_of(j).is_some_and(|p| p >= price_per_step));
        open.try_insert(position, id)
            .map_err(|_| Error::<T>::MarketFull)?;
        Open::<T>::put(open);

        // The jobs awaiting a draw are open jobs, so there is room for one
        // more whenever the market took it.
        AwaitingInitialWeights::<T>::try_append(id).map_err(|_| Error::<T>::MarketFull)?;
        let job = Self::new_job(
            who,
            spec,
            None,
            price_per_step,
            budget,
            deposit,
            target_loss,
        );
        Jobs::<T>::insert(id, job);
        Self::deposit_event(Event::JobPosted {
            job: id,
            poster: who.clone(),
            price_per_step,
            budget,
            deposit,
        });
        Ok(id)
    }

    /// Ends an open job with `status` at the current block: refunds its
    /// budget and takes it out of the market. Returns the refund. The
    /// caller stores the record and emits the event.
    pub(crate) fn end(job: JobId, info: &mut JobOf<T>, status: JobStatus) -> BalanceOf<T> {
        let refund = Self::refund(info);
        info.status = status;
        info.ended_at = Some(frame_system::Pallet::<T>::block_number());
        Open::<T>::mutate(|open| open.retain(|&j| j != job));
        Self::forget_draw(job, info);
        refund
    }

    /// Expires every open job that no block trained for [`Expiry`] blocks
    /// (at `now`); returns the weight used.
    pub fn expire_jobs(now: BlockNumberFor<T>) -> Weight {
        let expiry = Expiry::<T>::get();
        let open = Open::<T>::get();
        let mut expired = 0u32;
        for &job in open.iter() {
            let Some(info) = Jobs::<T>::get(job) else {
                continue;
            };
            if !info.is_live() || now.saturating_sub(info.last_progress) < expiry {
                continue;
            }
            Self::expire(job, info);
            expired = expired.saturating_add(1);
        }
        T::WeightInfo::expire_jobs(open.len() as u32, expired)
    }

    /// Ends open job `job` as expired: refunds its budget, takes it out of
    /// the market, stores it and emits [`Event::JobExpired`]. A job expires
    /// when no block may train it any more: no block trained it for the
    /// expiry period, or its workload was delisted.
    pub(crate) fn expire(job: JobId, mut info: JobOf<T>) {
        let refund = Self::end(job, &mut info, JobStatus::Expired);
        let steps = T::Progress::progress(job).map_or(0, |p| p.steps);
        Jobs::<T>::insert(job, info);
        Self::deposit_event(Event::JobExpired { job, steps, refund });
    }

    /// Reaps an ended job for `who` (see [`Pallet::reap_job`]).
    pub(crate) fn do_reap(who: &T::AccountId, job: JobId) -> DispatchResult {
        ensure!(HouseJob::<T>::get() != Some(job), Error::<T>::HouseJob);
        let info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
        let ended_at = info.ended_at.ok_or(Error::<T>::JobNotEnded)?;
        ensure!(info.pending.is_zero(), Error::<T>::PaymentsPending);
        if &info.poster != who {
            let now = frame_system::Pallet::<T>::block_number();
            ensure!(
                now.saturating_sub(ended_at) >= T::RetentionPeriod::get(),
                Error::<T>::RetentionNotOver
            );
        }
        let deposit = T::Currency::release(
            &HoldReason::JobDeposit.into(),
            &info.poster,
            info.deposit,
            Precision::BestEffort,
        )?;
        Jobs::<T>::remove(job);
        T::OnReaped::on_reaped(job);
        Self::deposit_event(Event::JobReaped { job, deposit });
        Ok(())
    }

    /// Job `id`'s record, read in the layout of the chain's storage
    /// version: the first block after an upgrade is sealed (and its work
    /// read) against the state before its migrations run, so the house job
    /// must stay trainable on a chain at any earlier version
    /// (`crate::migrations`). At version 0 the bytes are this runtime's
    /// record where they decode whole as one (state without a written
    /// version, such as a benchmark's), else a v0 record.
    fn record_for_sealing(id: JobId) -> Option<JobOf<T>> {
        use crate::migrations::{JobV0Of, JobV2Of};
        use codec::DecodeAll;
        use frame_support::{storage::unhashed, traits::GetStorageVersion};
        let key = Jobs::<T>::hashed_key_for(id);
        match Pallet::<T>::on_chain_storage_version() {
            v if v >= 3 => Jobs::<T>::get(id),
            v if v >= 1 => unhashed::get::<JobV2Of<T>>(&key).map(|job| job.into_v3()),
            _ => {
                let raw = unhashed::get_raw(&key)?;
                JobOf::<T>::decode_all(&mut &raw[..]).ok().or_else(|| {
                    JobV0Of::<T>::decode_all(&mut &raw[..])
                        .ok()
                        .map(|job| job.into_v1().into_v3())
                })
            }
        }
    }

    /// The job as [`JobSchedule`] reports it, its steps costing `cost`.
    fn active(
        id: JobId,
        job: JobOf<T>,
        initial: InitialWeights,
        cost: u32,
        liveness: Liveness,
    ) -> ActiveJob {
        ActiveJob {
            id,
            spec: job.spec,
            init_seed: initial.seed,
            initial_weights: initial.weights,
            cost,
            liveness,
            price_per_step: job.price_per_step.unique_saturated_into(),
            budget_left: job.budget_left.unique_saturated_into(),
        }
    }
}

impl<T: Config> JobSchedule<T::AccountId> for Pallet<T> {
    fn trainable(id: JobId) -> Option<ActiveJob> {
        let job = Self::record_for_sealing(id)?;
        let house = HouseJob::<T>::get() == Some(id);
        if !(house || job.is_live()) {
            return None;
        }
        // The house workload is the unit: priced without a lookup, so house
        // blocks seal even before a catalogue exists (a runtime upgrade's
        // first block is sealed against the state before its migration).
        let (cost, liveness) = if house {
            (REFERENCE_COST, REFERENCE_LIVENESS)
        } else {
            let (_, workload) = Self::listed_workload(&job.spec)?;
            (workload.cost, workload.liveness)
        };
        // Not before its initial weights are drawn (a later block).
        let initial = job.initial?;
        Some(Self::active(id, job, initial, cost, liveness))
    }

    fn open() -> Vec<ActiveJob> {
        Open::<T>::get()
            .into_iter()
            .chain(HouseJob::<T>::get())
            .filter_map(Self::trainable)
            .collect()
    }

    fn payment_for(job: JobId, steps: u32) -> u128 {
        let house = HouseJob::<T>::get() == Some(job);
        match Jobs::<T>::get(job) {
            Some(info) if !house && info.is_live() && Self::listed_cost(&info.spec).is_some() => {
                info.payment_for(steps).unique_saturated_into()
            }
            _ => 0,
        }
    }

    fn on_progress(job: JobId, _author: &T::AccountId, steps: u32) -> u128 {
        Self::do_progress(job, steps).unique_saturated_into()
    }

    fn on_progress_weight() -> Weight {
        T::WeightInfo::on_progress().saturating_add(T::Progress::progress_weight())
    }

    fn on_settled(job: JobId, author: &T::AccountId, steps: u32, payment: u128) {
        Self::do_settle(job, author, steps, payment.unique_saturated_into())
    }

    fn on_settled_weight() -> Weight {
        // A payment and the end of a settling job: what `on_progress` paid
        // and ended before settlement existed.
        T::WeightInfo::on_progress().saturating_add(T::Progress::progress_weight())
    }

    fn on_rolled_back(job: JobId, released: u128) {
        Self::do_roll_back(job, released.unique_saturated_into())
    }

    fn on_rolled_back_weight() -> Weight {
        // The record and its budget; the house job, the spec's listing and
        // its workload; the market (an expiry).
        T::DbWeight::get()
            .reads_writes(6, 3)
            .saturating_add(T::Progress::progress_weight().saturating_mul(2))
    }

    fn record(job: JobId) -> Option<(JobSpec, Option<T::AccountId>)> {
        let info = Jobs::<T>::get(job)?;
        let house = HouseJob::<T>::get() == Some(job);
        Some((info.spec, (!house).then_some(info.poster)))
    }

    fn draw_initial_weights(sealing_ticket: &Ticket) -> Weight {
        Pallet::<T>::draw_initial_weights(sealing_ticket)
    }

    fn trainable_weight() -> Weight {
        // The storage version, the job, the house job, the spec's listing
        // and its workload.
        T::DbWeight::get().reads(5)
    }
}
