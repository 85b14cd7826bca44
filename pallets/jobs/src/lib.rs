//! # Jobs pallet
//!
//! upow's job market. Anyone may post a training job (a [`JobSpec`]: model,
//! hyper-parameters, dataset) with a price per verified step and a budget; the
//! budget is escrowed from the poster, and every block that trains the job
//! pays its author `price × steps` out of that escrow. The training pallet
//! asks this pallet which job blocks must train and reports what it verified,
//! through [`upow_primitives::traits::JobSchedule`] (this pallet does not
//! depend on it).
//!
//! ## How the chain picks the job
//!
//! * **One active job at a time.** Blocks train [`Active`] (a paid job) until
//!   it completes, runs out of budget or is cancelled; a job that arrives later
//!   never pre-empts it, whatever its price.
//! * **Price order, FIFO ties.** Waiting paid jobs sit in [`Queue`], ordered by
//!   price per step, highest first, and by id (posting order) among equal
//!   prices. When the active job ends, the head of the queue becomes active
//!   ([`Event::JobActivated`]); a job posted while nothing paid is active
//!   becomes active at once. The queue is bounded ([`Config::MaxQueued`]);
//!   posting into a full queue fails ([`Error::QueueFull`]).
//! * **House-job fallback.** Blocks need a job to mine. The genesis config may
//!   name a *house job* ([`HouseJob`]): it has no price and no budget, is
//!   never paid and never completes, and is trained whenever no paid job is
//!   active, so the chain never stalls on an empty queue. Its status reads
//!   `Active` while it is the one trained, `Queued` while a paid job is.
//!
//! ## Escrow: holds, not reserves
//!
//! A job's budget is placed on hold from the poster's balance under
//! [`HoldReason::JobEscrow`] (the `fungible` hold API, not the deprecated
//! `ReservableCurrency`): a hold is tagged with its reason, so the escrow can
//! neither be released nor slashed by another pallet by mistake, the runtime
//! can see exactly how much is escrowed for jobs, and payment is a
//! `transfer_on_hold` — held funds go straight to the author, nothing is ever
//! minted or burnt, so total issuance never changes. Only free, unfrozen funds
//! can be escrowed, and payment is *polite* (it respects freezes), so the
//! escrow cannot be used to move frozen (e.g. vesting) funds.
//!
//! For every poster, the balance held under `JobEscrow` equals the sum of the
//! `budget_left` of its live (queued or active) jobs. Every way a job ends
//! returns what it did not spend, in full and at once:
//!
//! * **completed** (target step count or target loss reached): the remaining
//!   budget is released to the poster ([`Event::JobCompleted`]);
//! * **exhausted** (the budget left cannot pay one more step, or the escrow
//!   could not pay an author): the dust is released ([`Event::JobExhausted`]);
//! * **cancelled** by its poster, queued or active: the whole remaining hold is
//!   released ([`Event::JobCancelled`]).
//!
//! A live job can always be cancelled by its poster, so no funds are ever held
//! that their owner cannot get back.
//!
//! ## Payment
//!
//! For each block, [`JobSchedule::on_progress`] pays the author
//! `price_per_step × steps`, capped at the budget left, from the poster's hold
//! to the author's free balance. If the author's account cannot receive it
//! (a new account below the existential deposit), the author is not paid
//! for that block and the escrow stays with the job.
//!
//! ## Genesis
//!
//! [`GenesisConfig`] takes an optional house job and paid jobs (posted as by
//! `post_job`, so their posters need the funds; meant for tests). Specs are
//! written out ([`GenesisJobSpec`]) and validated when the chain is built. In a
//! chain spec (`"upowJobs"` being the pallet's name in the runtime):
//!
//! ```json
//! "upowJobs": {
//!   "houseJob": {
//!     "poster": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
//!     "spec": {
//!       "dims": [784, 128, 10], "batchLog2": 6, "lrShift": 2, "totalSteps": 1000000,
//!       "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
//!       "samples": 60000, "inputs": 784
//!     },
//!     "initSeed": "0x2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a"
//!   },
//!   "jobs": []
//! }
//! ```
//!
//! ## Calls
//!
//! * [`Pallet::post_job`]: post and fund a job.
//! * [`Pallet::cancel_job`]: cancel a queued or active job, refunding it.
//! * [`Pallet::top_up`]: add budget to a queued or active job.
//!
//! ## Code layout
//!
//! The `pallet` module (config, storage, genesis, events, errors, calls) is
//! here; its helpers are in one module per topic: `types` (the stored job
//! and the genesis types), `queue` (posting, the price-ordered queue, the
//! house-job fallback and [`JobSchedule`]), `escrow` (holds, payment and
//! refunds) and `try_state` (the invariants).
//!
//! [`JobSchedule`]: upow_primitives::traits::JobSchedule
//! [`JobSchedule::on_progress`]: upow_primitives::traits::JobSchedule::on_progress
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(test)]
mod mock;

#[cfg(test)]
mod tests;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;

pub mod weights;
pub use weights::WeightInfo;

mod escrow;
mod queue;
#[cfg(any(feature = "try-runtime", test))]
mod try_state;
mod types;

pub use queue::INIT_SEED_TAG;
pub use types::*;

use alloc::vec::Vec;
use frame_support::traits::{
    fungible::{self, MutateHold as _},
    tokens::Precision,
};
use sp_runtime::traits::{Saturating, Zero};
use upow_primitives::{JobId, JobStatus};
use upow_puzzle::JobSpec;

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_system::pallet_prelude::*;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the jobs pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The currency escrows are held in (balance holds).
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The runtime's hold reason, which includes this pallet's [`HoldReason`].
        type RuntimeHoldReason: From<HoldReason>;

        /// Most paid jobs waiting in the queue (the active job not counted).
        #[pallet::constant]
        type MaxQueued: Get<u32>;

        /// Lowest price per step a job may offer (a zero price is never accepted).
        #[pallet::constant]
        type MinPricePerStep: Get<BalanceOf<Self>>;

        /// Weights of this pallet's calls and of
        /// [`JobSchedule::on_progress`](upow_primitives::traits::JobSchedule::on_progress).
        type WeightInfo: WeightInfo;
    }

    /// Why this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// The unspent budget of a queued or active job.
        #[codec(index = 0)]
        JobEscrow,
    }

    /// The id the next job gets.
    #[pallet::storage]
    pub type NextJobId<T> = StorageValue<_, JobId, ValueQuery>;

    /// Every job ever posted (terminal jobs stay, for queries), and the house job.
    #[pallet::storage]
    pub type Jobs<T: Config> = StorageMap<_, Twox64Concat, JobId, JobOf<T>, OptionQuery>;

    /// Queued paid jobs: by price per step, highest first; ties by id, lowest first.
    #[pallet::storage]
    pub type Queue<T: Config> = StorageValue<_, BoundedVec<JobId, T::MaxQueued>, ValueQuery>;

    /// The paid job blocks train now (`None`: the house job, if any).
    #[pallet::storage]
    pub type Active<T> = StorageValue<_, JobId, OptionQuery>;

    /// The house job: trained whenever no paid job is active.
    #[pallet::storage]
    pub type HouseJob<T> = StorageValue<_, JobId, OptionQuery>;

    /// Genesis: an optional house job and paid jobs (posted in order).
    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// The house job, trained when no paid job is active.
        pub house_job: Option<GenesisHouseJob<T::AccountId>>,
        /// Paid jobs posted at genesis (their posters need the funds then).
        pub jobs: Vec<GenesisPaidJob<T::AccountId, BalanceOf<T>>>,
    }

    /// # Panics
    ///
    /// At genesis only: on an invalid spec, or a paid job that `post_job`
    /// would reject. A chain must not start with a broken job market.
    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            if let Some(house) = &self.house_job {
                let spec = match house.spec.to_spec() {
                    Ok(spec) => spec,
                    Err(e) => panic!("invalid house job spec in genesis: {e:?}"),
                };
                let id = NextJobId::<T>::get();
                let Some(next) = id.checked_add(1) else {
                    panic!("job ids exhausted at genesis")
                };
                NextJobId::<T>::put(next);
                Jobs::<T>::insert(
                    id,
                    Job {
                        poster: house.poster.clone(),
                        spec,
                        init_seed: house.init_seed.to_fixed_bytes(),
                        price_per_step: Zero::zero(),
                        budget_left: Zero::zero(),
                        target_loss: None,
                        status: if Active::<T>::get().is_some() {
                            JobStatus::Queued
                        } else {
                            JobStatus::Active
                        },
                        steps: 0,
                        last_loss: None,
                        posted_at: frame_system::Pallet::<T>::block_number(),
                    },
                );
                HouseJob::<T>::put(id);
            }
            for job in &self.jobs {
                let spec = match job.spec.to_spec() {
                    Ok(spec) => spec,
                    Err(e) => panic!("invalid job spec in genesis: {e:?}"),
                };
                if let Err(e) = Pallet::<T>::do_post(
                    &job.poster,
                    spec,
                    job.price_per_step,
                    job.budget,
                    job.target_loss,
                ) {
                    panic!("genesis job rejected: {e:?}");
                }
            }
        }
    }

    /// Events of the job market.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A job was posted and its budget put on hold.
        JobPosted {
            /// The new job.
            job: JobId,
            /// Its poster.
            poster: T::AccountId,
            /// Price per verified step.
            price_per_step: BalanceOf<T>,
            /// Budget escrowed.
            budget: BalanceOf<T>,
        },
        /// A job became the one blocks train (a paid job, or the house job
        /// when no paid job is left).
        JobActivated {
            /// The job.
            job: JobId,
        },
        /// A block author was paid for verified steps of a job (`amount` is
        /// zero when the author's account could not receive it).
        JobPaid {
            /// The job.
            job: JobId,
            /// The block's author.
            author: T::AccountId,
            /// Steps verified in the block.
            steps: u32,
            /// Amount moved from the escrow to the author.
            amount: BalanceOf<T>,
        },
        /// A job reached its target step count or loss; its unspent budget was refunded.
        JobCompleted {
            /// The job.
            job: JobId,
            /// Its final step count.
            steps: u64,
            /// Budget returned to the poster.
            refund: BalanceOf<T>,
        },
        /// A job's budget can no longer pay a step; the dust was refunded.
        JobExhausted {
            /// The job.
            job: JobId,
            /// Its final step count.
            steps: u64,
            /// Budget returned to the poster.
            refund: BalanceOf<T>,
        },
        /// A job was cancelled by its poster; its whole unspent budget was refunded.
        JobCancelled {
            /// The job.
            job: JobId,
            /// Budget returned to the poster.
            refund: BalanceOf<T>,
        },
        /// A job's budget was increased.
        ToppedUp {
            /// The job.
            job: JobId,
            /// Amount added (and held).
            amount: BalanceOf<T>,
            /// Budget left now.
            budget_left: BalanceOf<T>,
        },
    }

    /// Errors of the job market.
    #[pallet::error]
    pub enum Error<T> {
        /// No job has this id.
        UnknownJob,
        /// Only the job's poster may do this.
        NotPoster,
        /// The job is completed, exhausted or cancelled.
        JobNotLive,
        /// The house job has no escrow: it cannot be cancelled or topped up.
        HouseJob,
        /// The dataset's input width differs from the model's.
        DatasetMismatch,
        /// The dataset has no samples.
        EmptyDataset,
        /// The price per step is zero or below `MinPricePerStep`.
        PriceTooLow,
        /// The budget cannot pay one step (it is below the price per step).
        BudgetTooLow,
        /// `price_per_step × total_steps` overflows the balance type.
        CostOverflow,
        /// The budget would overflow the balance type.
        BudgetOverflow,
        /// A top-up of zero.
        ZeroAmount,
        /// The poster's free, unfrozen balance cannot cover the amount.
        InsufficientBalance,
        /// The queue is full.
        QueueFull,
        /// No job ids are left.
        JobIdsExhausted,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Posts a training job and escrows `budget` from the caller.
        ///
        /// The spec's model and hyper-parameters were checked when the call
        /// decoded; here the dataset must fit the model (same input width, at
        /// least one sample), `price_per_step` must be at least
        /// `MinPricePerStep`, `budget` at least `price_per_step`, and
        /// `price_per_step × total_steps` must not overflow. `budget` is put on
        /// hold (only free, unfrozen funds). The job completes at
        /// `spec.hyper.total_steps()` steps or, if `target_loss` is set, once a
        /// block's mean loss is at most `target_loss`. It becomes active at once
        /// if no paid job is; otherwise it is queued by price.
        ///
        /// Emits [`Event::JobPosted`] (and [`Event::JobActivated`]).
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::post_job())]
        pub fn post_job(
            origin: OriginFor<T>,
            spec: JobSpec,
            #[pallet::compact] price_per_step: BalanceOf<T>,
            #[pallet::compact] budget: BalanceOf<T>,
            target_loss: Option<u64>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::do_post(&who, spec, price_per_step, budget, target_loss)?;
            Ok(())
        }

        /// Cancels a queued or active job of the caller and releases its whole
        /// remaining escrow. If it was active, the next queued job (or the
        /// house job) becomes active.
        ///
        /// Emits [`Event::JobCancelled`] (and [`Event::JobActivated`]).
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::cancel_job())]
        pub fn cancel_job(origin: OriginFor<T>, job: JobId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut info = Self::live_job_of(&who, job)?;
            let refund =
                T::Currency::release(&Self::reason(), &who, info.budget_left, Precision::Exact)?;
            let was_active = info.status == JobStatus::Active;
            info.budget_left = info.budget_left.saturating_sub(refund);
            info.status = JobStatus::Cancelled;
            Jobs::<T>::insert(job, info);
            Self::deposit_event(Event::JobCancelled { job, refund });
            if was_active {
                Self::activate_next();
            } else {
                Queue::<T>::mutate(|queue| queue.retain(|&id| id != job));
            }
            Ok(())
        }

        /// Adds `amount` to the budget of the caller's queued or active job,
        /// putting it on hold. Does not change the job's place in the queue.
        ///
        /// Emits [`Event::ToppedUp`].
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::top_up())]
        pub fn top_up(
            origin: OriginFor<T>,
            job: JobId,
            #[pallet::compact] amount: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut info = Self::live_job_of(&who, job)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            let budget_left = info
                .budget_left
                .checked_add(&amount)
                .ok_or(Error::<T>::BudgetOverflow)?;
            Self::hold(&who, amount)?;
            info.budget_left = budget_left;
            Jobs::<T>::insert(job, info);
            Self::deposit_event(Event::ToppedUp {
                job,
                amount,
                budget_left,
            });
            Ok(())
        }
    }
}
