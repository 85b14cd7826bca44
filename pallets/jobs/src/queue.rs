//! Which job blocks train: posting a job ([`Pallet::do_post`]: validated,
//! escrowed, then active at once or queued by price, FIFO among equal
//! prices), the seed of its initial weights, activating the head of the
//! queue when the active job ends (or falling back to the house job), the
//! queries on the queue, and the [`JobSchedule`] the training pallet asks
//! for the job to train and reports progress to.

use crate::{
    Active, BalanceOf, Config, Error, Event, HouseJob, Job, JobOf, Jobs, NextJobId, Pallet, Queue,
    WeightInfo,
};
use alloc::vec::Vec;
use codec::Encode;
use frame_support::pallet_prelude::*;
use sp_runtime::traits::Zero;
use upow_primitives::{
    traits::{ActiveJob, JobSchedule},
    Hash, JobId, JobStatus,
};
use upow_puzzle::JobSpec;

/// Domain tag of [`Pallet::init_seed`].
pub const INIT_SEED_TAG: &[u8] = b"upow/job-init";

impl<T: Config> Pallet<T> {
    /// The job `job`, if it exists (the runtime maps it to
    /// [`JobInfo`](upow_primitives::JobInfo) with [`Job::info`], adding the
    /// weights hash from the training pallet).
    pub fn job_info(job: JobId) -> Option<JobOf<T>> {
        Jobs::<T>::get(job)
    }

    /// The active paid job, if any.
    pub fn active_job() -> Option<JobId> {
        Active::<T>::get()
    }

    /// The house job, if any.
    pub fn house_job() -> Option<JobId> {
        HouseJob::<T>::get()
    }

    /// The queued paid jobs, in the order they will run.
    pub fn queued() -> Vec<JobId> {
        Queue::<T>::get().into_inner()
    }

    /// Seed of the initial weights of job `job` posted by `poster` in a block
    /// on `parent`: `blake2_256("upow/job-init" ‖ u64le(job) ‖ SCALE(poster) ‖
    /// SCALE(parent))`.
    pub fn init_seed(job: JobId, poster: &T::AccountId, parent: &T::Hash) -> Hash {
        let mut data = Vec::with_capacity(INIT_SEED_TAG.len().saturating_add(8 + 32 + 32));
        data.extend_from_slice(INIT_SEED_TAG);
        job.encode_to(&mut data);
        poster.encode_to(&mut data);
        parent.encode_to(&mut data);
        sp_io::hashing::blake2_256(&data)
    }

    /// Validates, escrows and schedules a job (see [`Pallet::post_job`]).
    /// Changes nothing when it fails.
    pub fn do_post(
        who: &T::AccountId,
        spec: JobSpec,
        price_per_step: BalanceOf<T>,
        budget: BalanceOf<T>,
        target_loss: Option<u64>,
    ) -> Result<JobId, DispatchError> {
        ensure!(spec.dataset.samples > 0, Error::<T>::EmptyDataset);
        ensure!(
            spec.dataset.check_model(&spec.model).is_ok(),
            Error::<T>::DatasetMismatch
        );
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

        let id = NextJobId::<T>::get();
        let next = id.checked_add(1).ok_or(Error::<T>::JobIdsExhausted)?;
        let activate = Active::<T>::get().is_none();
        let mut queue = Queue::<T>::get();
        let position = if activate {
            None
        } else {
            ensure!(
                (queue.len() as u32) < T::MaxQueued::get(),
                Error::<T>::QueueFull
            );
            // Everything at this price or above goes first (ids only grow,
            // so equal prices stay in posting order).
            Some(queue.partition_point(|queued| {
                Jobs::<T>::get(queued).is_some_and(|j| j.price_per_step >= price_per_step)
            }))
        };

        Self::hold(who, budget)?;
        if let Some(position) = position {
            queue
                .try_insert(position, id)
                .map_err(|_| Error::<T>::QueueFull)?;
            Queue::<T>::put(queue);
        }

        let parent = frame_system::Pallet::<T>::parent_hash();
        Jobs::<T>::insert(
            id,
            Job {
                poster: who.clone(),
                init_seed: Self::init_seed(id, who, &parent),
                spec,
                price_per_step,
                budget_left: budget,
                target_loss,
                status: if activate {
                    JobStatus::Active
                } else {
                    JobStatus::Queued
                },
                steps: 0,
                last_loss: None,
                posted_at: frame_system::Pallet::<T>::block_number(),
            },
        );
        NextJobId::<T>::put(next);
        Self::deposit_event(Event::JobPosted {
            job: id,
            poster: who.clone(),
            price_per_step,
            budget,
        });
        if activate {
            Active::<T>::put(id);
            Self::set_house_status(JobStatus::Queued);
            Self::deposit_event(Event::JobActivated { job: id });
        }
        Ok(id)
    }

    /// Sets the house job's status (if there is one); called when the
    /// chain switches between paid jobs and the house job.
    pub(crate) fn set_house_status(status: JobStatus) {
        if let Some(house) = HouseJob::<T>::get() {
            Jobs::<T>::mutate(house, |job| {
                if let Some(job) = job {
                    job.status = status;
                }
            });
        }
    }

    /// Makes the head of the queue active, or falls back to the house job.
    /// Called when no paid job is active any more.
    pub(crate) fn activate_next() {
        let mut queue = Queue::<T>::get();
        while !queue.is_empty() {
            let next = queue.remove(0);
            let Some(mut job) = Jobs::<T>::get(next) else {
                frame_support::defensive!("queued job missing");
                continue;
            };
            if job.status != JobStatus::Queued {
                frame_support::defensive!("queued job not in the Queued state");
                continue;
            }
            job.status = JobStatus::Active;
            Jobs::<T>::insert(next, job);
            Queue::<T>::put(queue);
            Active::<T>::put(next);
            Self::deposit_event(Event::JobActivated { job: next });
            return;
        }
        Queue::<T>::kill();
        Active::<T>::kill();
        if let Some(house) = HouseJob::<T>::get() {
            Self::set_house_status(JobStatus::Active);
            Self::deposit_event(Event::JobActivated { job: house });
        }
    }
}

impl<T: Config> JobSchedule<T::AccountId> for Pallet<T> {
    fn active() -> Option<ActiveJob> {
        let lookup = |id: JobId| {
            Jobs::<T>::get(id).map(|job| ActiveJob {
                id,
                spec: job.spec,
                init_seed: job.init_seed,
            })
        };
        Active::<T>::get()
            .and_then(lookup)
            .or_else(|| HouseJob::<T>::get().and_then(lookup))
    }

    fn on_progress(
        job: JobId,
        author: &T::AccountId,
        steps: u32,
        total_steps: u64,
        mean_loss: u64,
    ) {
        Self::do_progress(job, author, steps, total_steps, mean_loss)
    }

    fn on_progress_weight() -> Weight {
        T::WeightInfo::on_progress()
    }
}
