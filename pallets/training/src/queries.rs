//! What the runtime API reads from this pallet: the work of the next block
//! of each job, job difficulties, the weights nodes must keep, and loss
//! curves.

use alloc::vec::Vec;
use upow_primitives::{
    traits::{ActiveJob, JobSchedule},
    Difficulty as TicketDifficulty, Hash, JobId, LossPoint, Work,
};

use crate::{Config, Disputable, Jobs, LossCurve, LossPoints, Pallet, LOSS_CURVE_POINTS};

impl<T: Config> Pallet<T> {
    /// `H(W)` at the start of every block in its dispute window: where a
    /// fraud proof may roll a job back to, so nodes keep these weights.
    pub fn disputable_weights() -> Vec<(JobId, Hash)> {
        Disputable::<T>::iter_values()
            .map(|record| (record.job, record.start.weights))
            .collect()
    }

    fn work_of(job: ActiveJob) -> Work {
        let tip = Self::progress_of(&job).tip();
        Work {
            job: job.id,
            difficulty: Self::difficulty_of(&job),
            liveness: job.liveness,
            spec: job.spec,
            init_seed: job.init_seed,
            weights: tip.weights,
            steps: tip.steps,
            price_per_step: job.price_per_step,
            budget_left: job.budget_left,
        }
    }

    /// The work of the next block of `job`, if blocks may train it.
    pub fn work(job: JobId) -> Option<Work> {
        T::Jobs::trainable(job).map(Self::work_of)
    }

    /// The work of every job blocks may train, best-paying first.
    pub fn open_work() -> Vec<Work> {
        T::Jobs::open().into_iter().map(Self::work_of).collect()
    }

    /// The ticket difficulty of the next block of `job`, if blocks may
    /// train it.
    pub fn job_difficulty(job: JobId) -> Option<TicketDifficulty> {
        T::Jobs::trainable(job).map(|job| Self::difficulty_of(&job))
    }

    /// The weights hash of every job this pallet has trained (reaped jobs
    /// are dropped): what nodes keep serving.
    pub fn trained_weights() -> Vec<(JobId, Hash)> {
        Jobs::<T>::iter()
            .map(|(id, progress)| (id, progress.weights))
            .collect()
    }

    /// `count` points of a job's loss curve from index `from`, of those
    /// still kept (the newest [`LOSS_CURVE_POINTS`]).
    pub fn loss_curve(job: JobId, from: u32, count: u32) -> Vec<LossPoint> {
        let total = LossPoints::<T>::get(job);
        let first_kept = total.saturating_sub(LOSS_CURVE_POINTS);
        let start = from.max(first_kept);
        let end = from.saturating_add(count.min(1024)).min(total);
        (start..end)
            .filter_map(|i| LossCurve::<T>::get(job, i % LOSS_CURVE_POINTS))
            .collect()
    }
}
