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

use alloc::vec::Vec;
use codec::{Decode, Encode};
use frame_support::{
    pallet_prelude::MaxEncodedLen,
    traits::{
        fungible::{self, Inspect as _, MutateHold as _},
        tokens::{DepositConsequence, Fortitude, Precision, Preservation, Provenance, Restriction},
    },
};
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::{
    traits::{Saturating, UniqueSaturatedInto, Zero},
    DispatchError,
};
use upow_primitives::{
    traits::{ActiveJob, JobSchedule},
    Hash, JobId, JobInfo, JobStatus,
};
use upow_puzzle::{model::MAX_LAYERS, DatasetCommitment, Hyperparams, JobSpec, Model};

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
    <<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// A job as stored in [`Jobs`] for a runtime `T`.
pub type JobOf<T> = Job<
    <T as frame_system::Config>::AccountId,
    BalanceOf<T>,
    frame_system::pallet_prelude::BlockNumberFor<T>,
>;

/// Most bytes of a SCALE-encoded [`JobSpec`]: the model's dimension list (a
/// one-byte compact length and at most `MAX_LAYERS + 1` `u32`s), the
/// hyper-parameters (two bytes and a `u64`) and the dataset commitment (root,
/// `u64` samples, `u32` inputs). Specs outside the limits do not decode.
pub const MAX_SPEC_ENCODED_LEN: usize = 1 + 4 * (MAX_LAYERS + 1) + (1 + 1 + 8) + (32 + 8 + 4);

/// Domain tag of [`Pallet::init_seed`].
pub const INIT_SEED_TAG: &[u8] = b"upow/job-init";

/// A training job and its escrow.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct Job<AccountId, Balance, BlockNumber> {
    /// Who posted (and pays for) the job.
    pub poster: AccountId,
    /// Model, hyper-parameters and dataset.
    pub spec: JobSpec,
    /// Seed of the job's initial weights.
    pub init_seed: Hash,
    /// Paid to the block author per verified step (zero for the house job).
    pub price_per_step: Balance,
    /// Escrow left: exactly the amount still held for this job.
    pub budget_left: Balance,
    /// Optional mean loss per sample (sixteenths of a bit) at which it completes.
    pub target_loss: Option<u64>,
    /// Where it stands.
    pub status: JobStatus,
    /// Steps applied so far.
    pub steps: u64,
    /// Mean per-sample loss of the last proven batch (sixteenths of a bit).
    pub last_loss: Option<u64>,
    /// Block in which it was posted.
    pub posted_at: BlockNumber,
}

impl<AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen> MaxEncodedLen
    for Job<AccountId, Balance, BlockNumber>
{
    fn max_encoded_len() -> usize {
        AccountId::max_encoded_len()
            .saturating_add(MAX_SPEC_ENCODED_LEN)
            .saturating_add(Hash::max_encoded_len())
            .saturating_add(Balance::max_encoded_len().saturating_mul(2))
            .saturating_add(Option::<u64>::max_encoded_len())
            .saturating_add(JobStatus::max_encoded_len())
            .saturating_add(u64::max_encoded_len())
            .saturating_add(Option::<u64>::max_encoded_len())
            .saturating_add(BlockNumber::max_encoded_len())
    }
}

impl<AccountId, Balance, BlockNumber> Job<AccountId, Balance, BlockNumber> {
    /// The step count at which the job completes (its planned steps).
    pub fn target_steps(&self) -> u64 {
        self.spec.hyper.total_steps()
    }

    /// Whether the job is still waiting or being trained (its escrow is held).
    pub fn is_live(&self) -> bool {
        matches!(self.status, JobStatus::Queued | JobStatus::Active)
    }

    /// The job as the runtime API reports it; the runtime supplies the
    /// poster's key and the current weights hash (kept by the training pallet).
    pub fn info(&self, poster: upow_primitives::AuthorId, weights: Hash) -> JobInfo
    where
        Balance: UniqueSaturatedInto<u128> + Copy,
    {
        JobInfo {
            poster,
            spec: self.spec.clone(),
            init_seed: self.init_seed,
            price_per_step: self.price_per_step.unique_saturated_into(),
            budget_left: self.budget_left.unique_saturated_into(),
            target_steps: self.target_steps(),
            target_loss: self.target_loss,
            status: self.status,
            steps: self.steps,
            weights,
            last_loss: self.last_loss,
        }
    }
}

/// A [`JobSpec`] in a genesis config (readable JSON; hashes as `0x…` hex).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisJobSpec {
    /// Model dimensions `[inputs, hidden…, classes]`.
    pub dims: Vec<u32>,
    /// log2 of the batch size.
    pub batch_log2: u32,
    /// Base learning-rate shift.
    pub lr_shift: u32,
    /// Planned steps.
    pub total_steps: u64,
    /// Merkle root of the dataset.
    pub dataset_root: H256,
    /// Samples in the dataset.
    pub samples: u64,
    /// Input bytes per sample.
    pub inputs: u32,
}

impl GenesisJobSpec {
    /// The validated spec (the same checks as decoding and [`JobSpec::new`]).
    pub fn to_spec(&self) -> Result<JobSpec, upow_puzzle::Error> {
        let model = Model::new(&self.dims)?;
        let hyper = Hyperparams::new(self.batch_log2, self.lr_shift, self.total_steps)?;
        let dataset = DatasetCommitment {
            root: self.dataset_root.to_fixed_bytes(),
            samples: self.samples,
            inputs: self.inputs,
        };
        JobSpec::new(model, hyper, dataset)
    }
}

impl From<&JobSpec> for GenesisJobSpec {
    fn from(spec: &JobSpec) -> Self {
        Self {
            dims: spec.model.dims().to_vec(),
            batch_log2: spec.hyper.batch_log2(),
            lr_shift: spec.hyper.lr_shift(),
            total_steps: spec.hyper.total_steps(),
            dataset_root: H256(spec.dataset.root),
            samples: spec.dataset.samples,
            inputs: spec.dataset.inputs,
        }
    }
}

/// The house job of a genesis config.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisHouseJob<AccountId> {
    /// Its nominal poster (pays nothing, receives nothing).
    pub poster: AccountId,
    /// What it trains.
    pub spec: GenesisJobSpec,
    /// Seed of its initial weights.
    pub init_seed: H256,
}

/// A paid job of a genesis config, posted as by [`Pallet::post_job`].
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisPaidJob<AccountId, Balance> {
    /// Who posts it (needs the budget in free balance at genesis).
    pub poster: AccountId,
    /// What it trains.
    pub spec: GenesisJobSpec,
    /// Price per verified step.
    pub price_per_step: Balance,
    /// Budget escrowed.
    pub budget: Balance,
    /// Optional target loss.
    pub target_loss: Option<u64>,
}

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

        /// Weights of this pallet's calls and of [`JobSchedule::on_progress`].
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

    impl<T: Config> Pallet<T> {
        /// The job `job`, if it exists (the runtime maps it to [`JobInfo`]
        /// with [`Job::info`], adding the weights hash from the training pallet).
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

        fn reason() -> T::RuntimeHoldReason {
            HoldReason::JobEscrow.into()
        }

        /// Puts `amount` of `who`'s free, unfrozen funds on hold.
        fn hold(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
            ensure!(
                T::Currency::reducible_balance(who, Preservation::Protect, Fortitude::Polite)
                    >= amount,
                Error::<T>::InsufficientBalance
            );
            T::Currency::hold(&Self::reason(), who, amount)
        }

        /// A live paid job of `who` (what `cancel_job` and `top_up` act on).
        fn live_job_of(who: &T::AccountId, job: JobId) -> Result<JobOf<T>, DispatchError> {
            let info = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
            ensure!(HouseJob::<T>::get() != Some(job), Error::<T>::HouseJob);
            ensure!(&info.poster == who, Error::<T>::NotPoster);
            ensure!(info.is_live(), Error::<T>::JobNotLive);
            Ok(info)
        }

        /// Sets the house job's status (if there is one); called when the
        /// chain switches between paid jobs and the house job.
        fn set_house_status(status: JobStatus) {
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
        fn activate_next() {
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

        /// Releases what is left of `job`'s escrow to its poster; returns it.
        fn release_remainder(job: &mut JobOf<T>) -> BalanceOf<T> {
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
        /// ends it if it reached its target or its budget (see [`JobSchedule`]).
        fn do_progress(
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

        /// Checks the pallet's invariants: the queue holds distinct `Queued`
        /// paid jobs in price order, the active job is `Active`, nothing is
        /// queued while no paid job is active, exactly the live jobs hold
        /// escrow (at least one step's worth), every poster's `JobEscrow` hold
        /// is the sum of its live jobs' budgets, and the house job is `Active`
        /// exactly when no paid job is.
        #[cfg(any(feature = "try-runtime", test))]
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
}
