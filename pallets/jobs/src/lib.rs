//! # Jobs pallet
//!
//! upow's job market. Anyone may post a training job (a [`JobSpec`](upow_puzzle::JobSpec): model,
//! hyper-parameters, dataset) with a price per verified step and a budget; the
//! budget is escrowed from the poster, and every block that trains the job
//! pays its author `price × steps` out of that escrow. The training pallet
//! asks this pallet which jobs blocks may train and reports what it
//! verified, through [`upow_primitives::traits::JobSchedule`] (this pallet
//! does not depend on it).
//!
//! ## Which jobs blocks train: an open market
//!
//! * **Every live job is open.** A block may train any open job: its author
//!   names the job in its pre-runtime digest, and miners choose by price
//!   among the jobs whose data they can get. Open paid jobs sit in [`Open`],
//!   best-paying first (ties: oldest first).
//! * **The house job is always open.** The genesis config may name a *house
//!   job* ([`HouseJob`]): no price, no budget, never paid, never ends. Blocks
//!   can always train it, so no job — one whose dataset nobody has, one
//!   whose weights went dead, one too slow to mine — can ever stop the
//!   chain.
//! * **Bounded, and better prices win.** At most [`Config::MaxOpen`] paid
//!   jobs are open. A job posted into a full market evicts the cheapest open
//!   job if it pays more per step (that job's budget is refunded at once,
//!   [`Event::JobEvicted`]); otherwise it is refused ([`Error::MarketFull`]).
//!   A flood of cheap jobs cannot keep a better one out.
//! * **Expiry.** An open job that no block trains for [`Expiry`] blocks
//!   expires and is refunded ([`Event::JobExpired`]), so a job nobody can
//!   mine does not hold its place (or its poster's funds) for ever. Expiry
//!   runs at the end of a block, so a job open at a block's parent is
//!   still open while the block's trajectory of it is verified.
//! * **Admission by cost.** A job is admitted only if one block of it fits
//!   the chain's per-block budgets ([`Config::Limits`]: verification weight
//!   and proof length, from the benchmarked weights and the block limits),
//!   so that transactions always have room beside it; and its batch is at
//!   least 16 (`JobSpec::validate`, docs/puzzle.md §1).
//!
//! ## Escrow: holds, not reserves
//!
//! A job's budget is placed on hold from the poster's balance under
//! [`HoldReason::JobEscrow`] (the `fungible` hold API): a hold is tagged with
//! its reason, so the escrow can neither be released nor slashed by another
//! pallet by mistake, and payment is a `transfer_on_hold` — held funds go
//! straight to the author, nothing is minted or burnt. Only free, unfrozen
//! funds can be escrowed, and payment is *polite* (it respects freezes).
//!
//! For every poster, the balance held under `JobEscrow` equals the sum of the
//! `budget_left` of its open jobs. Every way a job ends returns what it did
//! not spend, in full and at once: completed (target steps or loss),
//! exhausted (the budget cannot pay one more step, or the escrow could not
//! pay an author), cancelled by its poster, expired, or evicted.
//!
//! ## Storage deposit and reaping
//!
//! Posting also holds a deposit under [`HoldReason::JobDeposit`]:
//! [`Config::JobDeposit`] for the job's records (here and in the training
//! pallet: its weights hash and loss curve, which nodes keep serving — an
//! ended job's final weights are never pruned while its record exists),
//! plus [`Config::DatasetDepositPerByte`] per byte of its dataset, which
//! every node is asked to store ([`Pallet::deposit_for`]). After a job ends its poster
//! may reap it at once ([`Pallet::reap_job`]), anyone after
//! [`Config::RetentionPeriod`] blocks: the records are removed, the deposit
//! returns to the poster ([`Event::JobReaped`]).
//!
//! ## Payment
//!
//! For each block, [`JobSchedule::on_progress`] pays the author
//! `price_per_step × steps`, capped at the budget left, from the poster's hold
//! to the author's free balance (`steps` is at most 4 × the job's
//! difficulty: docs/puzzle.md §6). If the author's account cannot receive it
//! (a new account below the existential deposit), the author is not paid
//! for that block and the escrow stays with the job. A cancel in the same
//! block refunds what is left *after* that block's payment.
//!
//! ## Genesis
//!
//! [`GenesisConfig`] takes an optional house job, paid jobs (posted as by
//! `post_job`, so their posters need the funds; meant for tests) and the
//! expiry period. Specs are written out ([`GenesisJobSpec`]) and validated
//! when the chain is built. In a chain spec (`"upowJobs"` being the
//! pallet's name in the runtime):
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
//!   "workloads": [{
//!     "spec": {
//!       "dims": [784, 128, 10], "batchLog2": 7, "lrShift": 2, "totalSteps": 18750,
//!       "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
//!       "samples": 60000, "inputs": 784
//!     },
//!     "cost": 131072,
//!     "maxLabel": 9,
//!     "minNonzeroPer1024": 960,
//!     "minLivePer1024": 820,
//!     "minActivePer1024": 128
//!   }],
//!   "jobs": [],
//!   "expiry": 150
//! }
//! ```
//!
//! ## Calls
//!
//! * [`Pallet::post_job`]: post and fund a job.
//! * [`Pallet::cancel_job`]: cancel an open job, refunding it.
//! * [`Pallet::top_up`]: add budget to an open job.
//! * [`Pallet::reap_job`]: remove an ended job's records, returning its deposit.
//!
//! ## Code layout
//!
//! The `pallet` module (config, storage, genesis, events, errors, hooks,
//! calls) is here; its helpers are in one module per topic: `types` (the
//! stored job and the genesis types), `market` (posting, the open set,
//! eviction, expiry, reaping and [`JobSchedule`]), `escrow` (holds,
//! payment and refunds) and `try_state` (the invariants).
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

mod catalogue;
mod escrow;
mod market;
pub mod migrations;
#[cfg(any(feature = "try-runtime", test))]
mod try_state;
mod types;

pub use types::*;

use alloc::vec::Vec;
use frame_support::traits::fungible;
use sp_runtime::traits::Zero;
use upow_primitives::{
    traits::{JobLimits, OnJobReaped, ProgressOf},
    Hash, JobId, JobStatus,
};
use upow_puzzle::UncheckedJobSpec;

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_system::pallet_prelude::*;

    /// The in-code storage version: 1 since [`Job`] stopped holding the
    /// training progress (`migrations::MigrateV0ToV1`), 2 since the
    /// catalogue of workloads (`migrations::MigrateV1ToV2`), 3 since a
    /// job's initial weights are drawn by a later block
    /// (`migrations::MigrateV2ToV3`).
    const STORAGE_VERSION: StorageVersion = StorageVersion::new(3);

    #[pallet::pallet]
    #[pallet::storage_version(STORAGE_VERSION)]
    pub struct Pallet<T>(_);

    /// Configuration of the jobs pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The currency escrows and deposits are held in (balance holds).
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The runtime's hold reason, which includes this pallet's [`HoldReason`].
        type RuntimeHoldReason: From<HoldReason>;

        /// Most paid jobs open at once (the house job not counted).
        #[pallet::constant]
        type MaxOpen: Get<u32>;

        /// Lowest price per step a job may offer (a zero price is never accepted).
        #[pallet::constant]
        type MinPricePerStep: Get<BalanceOf<Self>>;

        /// Storage deposit of a job's record, held until it is reaped.
        #[pallet::constant]
        type JobDeposit: Get<BalanceOf<Self>>;

        /// The most weight one block spends drawing initial weights
        /// ([`Pallet::draw_initial_weights`], in `on_initialize`); the first
        /// awaiting job is drawn whatever its weight, so every job is drawn.
        #[pallet::constant]
        type MaxDrawWeight: Get<Weight>;

        /// Deposit per byte of a job's dataset (`samples · (1 + inputs)`),
        /// held with [`Config::JobDeposit`]: every node is asked to store
        /// the dataset while the job lives and is retained
        /// (`upow_primitives::job_deposit`, docs/datasets.md §5).
        #[pallet::constant]
        type DatasetDepositPerByte: Get<BalanceOf<Self>>;

        /// Blocks after a job ends before anyone (not only its poster) may
        /// reap its record.
        #[pallet::constant]
        type RetentionPeriod: Get<BlockNumberFor<Self>>;

        /// The expiry period when the genesis config names none.
        #[pallet::constant]
        type DefaultExpiry: Get<BlockNumberFor<Self>>;

        /// Whether one block of a job fits the chain's per-block budgets.
        type Limits: JobLimits;

        /// Drops a reaped job's training state (the training pallet).
        type OnReaped: OnJobReaped;

        /// How far each job has been trained: the training pallet's record,
        /// the one owner of a job's steps, loss and weights. Read to decide
        /// completion ([`Job::target_reached`]) and to report steps.
        type Progress: ProgressOf;

        /// Weights of this pallet's calls, hooks and of
        /// [`JobSchedule::on_progress`](upow_primitives::traits::JobSchedule::on_progress).
        type WeightInfo: WeightInfo;
    }

    /// Why this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// The unspent budget of an open job.
        #[codec(index = 0)]
        JobEscrow,
        /// The storage deposit of a job's records.
        #[codec(index = 1)]
        JobDeposit,
    }

    /// The id the next job gets.
    #[pallet::storage]
    pub type NextJobId<T> = StorageValue<_, JobId, ValueQuery>;

    /// Every job not yet reaped, and the house job.
    #[pallet::storage]
    pub type Jobs<T: Config> = StorageMap<_, Twox64Concat, JobId, JobOf<T>, OptionQuery>;

    /// Open paid jobs: by price per step, highest first; ties by id, lowest first.
    #[pallet::storage]
    pub type Open<T: Config> = StorageValue<_, BoundedVec<JobId, T::MaxOpen>, ValueQuery>;

    /// Open jobs whose initial weights a later block's sealing ticket
    /// draws ([`Pallet::draw_initial_weights`]), in posting order: at most
    /// the open jobs (a job that leaves the market leaves this list).
    #[pallet::storage]
    pub type AwaitingInitialWeights<T: Config> =
        StorageValue<_, BoundedVec<JobId, T::MaxOpen>, ValueQuery>;

    /// The house job: always open, never paid.
    #[pallet::storage]
    pub type HouseJob<T> = StorageValue<_, JobId, OptionQuery>;

    /// Blocks without a verified step after which an open job expires.
    #[pallet::storage]
    pub type Expiry<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery, T::DefaultExpiry>;

    /// The id the next listed workload gets.
    #[pallet::storage]
    pub type NextWorkloadId<T> = StorageValue<_, WorkloadId, ValueQuery>;

    /// The catalogue: every workload ever listed, delisted ones included
    /// (ids are never reused).
    #[pallet::storage]
    pub type Workloads<T: Config> =
        StorageMap<_, Twox64Concat, WorkloadId, Workload<BlockNumberFor<T>>, OptionQuery>;

    /// The listed workload of each listed spec, by `blake2_256(SCALE(spec))`
    /// (a delisted workload's spec is removed).
    #[pallet::storage]
    pub type ListedSpecs<T> = StorageMap<_, Identity, Hash, WorkloadId, OptionQuery>;

    /// Genesis: an optional house job (its spec listed at the reference
    /// cost), listed workloads, paid jobs (posted in order; their specs must
    /// be listed) and the expiry period.
    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// The house job, always open.
        pub house_job: Option<GenesisHouseJob<T::AccountId>>,
        /// Workloads listed at genesis (after the house job's).
        pub workloads: Vec<GenesisWorkload>,
        /// Paid jobs posted at genesis (their posters need the funds then).
        pub jobs: Vec<GenesisPaidJob<T::AccountId, BalanceOf<T>>>,
        /// Blocks without a verified step after which an open job expires
        /// (`None`: [`Config::DefaultExpiry`]).
        pub expiry: Option<BlockNumberFor<T>>,
    }

    /// # Panics
    ///
    /// At genesis only: on an invalid spec, or a paid job that `post_job`
    /// would reject. A chain must not start with a broken job market.
    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            if let Some(expiry) = self.expiry {
                assert!(!expiry.is_zero(), "a zero expiry period in genesis");
                Expiry::<T>::put(expiry);
            }
            if let Some(house) = &self.house_job {
                let spec = match house.spec.to_spec() {
                    Ok(spec) => spec,
                    Err(e) => panic!("invalid house job spec in genesis: {e:?}"),
                };
                if let Err(e) = Pallet::<T>::insert_house_job(
                    &house.poster,
                    spec,
                    house.init_seed.to_fixed_bytes(),
                ) {
                    panic!("house job rejected at genesis: {e:?}");
                }
            }
            for workload in &self.workloads {
                let spec = match workload.spec.to_spec() {
                    Ok(spec) => spec,
                    Err(e) => panic!("invalid workload spec in genesis: {e:?}"),
                };
                if let Err(e) = Pallet::<T>::do_list(
                    spec,
                    workload.cost,
                    workload.max_label,
                    workload.min_nonzero_per_1024,
                    workload.min_live_per_1024,
                    workload.min_active_per_1024,
                ) {
                    panic!("genesis workload rejected: {e:?}");
                }
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
        /// A job was posted, opened for mining, and its budget and deposit
        /// put on hold.
        JobPosted {
            /// The new job.
            job: JobId,
            /// Its poster.
            poster: T::AccountId,
            /// Price per verified step.
            price_per_step: BalanceOf<T>,
            /// Budget escrowed.
            budget: BalanceOf<T>,
            /// Storage deposit held.
            deposit: BalanceOf<T>,
        },
        /// A block author was paid for verified steps of a job, once the
        /// block passed its dispute window (`amount` is zero when the
        /// author's account could not receive it; the poster keeps it).
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
        /// A job was cancelled by its poster; its whole unspent budget — what
        /// is left after any payment for a block earlier in the same block —
        /// was refunded.
        JobCancelled {
            /// The job.
            job: JobId,
            /// Budget returned to the poster.
            refund: BalanceOf<T>,
        },
        /// An open job can no longer be trained — no block trained it for
        /// the expiry period, or its workload was delisted; its budget was
        /// refunded.
        JobExpired {
            /// The job.
            job: JobId,
            /// Its step count.
            steps: u64,
            /// Budget returned to the poster.
            refund: BalanceOf<T>,
        },
        /// A job was displaced from the full market by a better-paying job;
        /// its budget was refunded.
        JobEvicted {
            /// The job.
            job: JobId,
            /// The job that took its place.
            by: JobId,
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
        /// A fraud proof rolled a job back: the discarded blocks' reserved
        /// payments went back to its budget (or to its poster if it had ended).
        JobRolledBack {
            /// The job.
            job: JobId,
            /// Its step count now.
            steps: u64,
            /// Reserved payments released.
            released: BalanceOf<T>,
        },
        /// An ended job's records were removed; its deposit returned to its poster.
        JobReaped {
            /// The job.
            job: JobId,
            /// Deposit returned.
            deposit: BalanceOf<T>,
        },
        /// Governance listed a workload: jobs of its spec may be posted and
        /// trained, at a ticket difficulty scaled by its cost.
        WorkloadListed {
            /// The new workload.
            workload: WorkloadId,
            /// The cost of one step in cost units (2^16 per reference step).
            cost: u32,
        },
        /// Governance delisted a workload: jobs of its spec are no longer
        /// trainable (what they trained stays).
        WorkloadDelisted {
            /// The workload.
            workload: WorkloadId,
        },
        /// A job's initial weights were drawn from the sealing ticket of
        /// the block that drew them (normally the one after its posting):
        /// it can be trained from now on.
        InitialWeightsDrawn {
            /// The job.
            job: JobId,
            /// The seed of its initial weights.
            seed: Hash,
            /// `H(W_0)`.
            weights: Hash,
        },
    }

    /// Errors of the job market.
    #[pallet::error]
    pub enum Error<T> {
        /// No job has this id.
        UnknownJob,
        /// Only the job's poster may do this.
        NotPoster,
        /// The job has ended (completed, exhausted, cancelled, expired or evicted).
        JobNotLive,
        /// The house job has no escrow: it cannot be cancelled, topped up or reaped.
        HouseJob,
        /// `spec.dataset.inputs` differs from the model's input width (`spec.model.dims[0]`).
        DatasetMismatch,
        /// `spec.dataset.samples` is 0.
        EmptyDataset,
        /// `spec.hyper.batch_log2` is below 4: a job's batch is at least 16.
        BatchTooSmall,
        /// `spec.hyper.batch_log2` is above 10: a batch is at most 1024.
        BatchTooLarge,
        /// `spec.model.dims` has fewer than 2 or more than 5 entries (1 to 4 layers).
        ModelLayers,
        /// `spec.model.dims` has a dimension of 0 or above 1024.
        ModelWidth,
        /// The last of `spec.model.dims` (the classes) is below 2.
        ModelClasses,
        /// `spec.model.dims` has more than 2^20 parameters (Σ d_l · d_{l+1}).
        ModelTooLarge,
        /// `spec.hyper.lr_shift` is above 16.
        LrShiftTooLarge,
        /// `spec.hyper.total_steps` is 0.
        ZeroSteps,
        /// The spec is outside the puzzle's limits in a way no other error names.
        InvalidSpec,
        /// The price per step is zero or below `MinPricePerStep`.
        PriceTooLow,
        /// The budget cannot pay one step (it is below the price per step).
        BudgetTooLow,
        /// `price_per_step × total_steps`, or the job's deposit, overflows
        /// the balance type.
        CostOverflow,
        /// The budget would overflow the balance type.
        BudgetOverflow,
        /// A top-up of zero.
        ZeroAmount,
        /// The poster's free, unfrozen balance cannot cover the budget and deposit.
        InsufficientBalance,
        /// The market is full and the job pays no more than the cheapest open job.
        MarketFull,
        /// Verifying one block of the job would take more than its share of a block.
        VerificationTooHeavy,
        /// One block's proof of the job would take more than its share of a block.
        ProofTooLarge,
        /// The job is still open: only ended jobs are reaped.
        JobNotEnded,
        /// Only the poster may reap a job before the retention period is over.
        RetentionNotOver,
        /// No job ids are left.
        JobIdsExhausted,
        /// The job still has payments in their dispute window: it is reaped
        /// once they settle.
        PaymentsPending,
        /// The spec is not a listed workload's: model, batch, learning rate,
        /// planned steps and dataset must all equal one of the catalogue's
        /// (`Jobs::Workloads`; governance lists workloads with
        /// `list_workload`).
        NotListed,
        /// A listed workload already has this spec.
        AlreadyListed,
        /// No workload has this id.
        UnknownWorkload,
        /// The workload is already delisted.
        AlreadyDelisted,
        /// The house job's workload cannot be delisted: blocks must always
        /// have a job to train.
        HouseWorkload,
        /// A workload's cost is zero: the cost of a step is at least one unit.
        ZeroCost,
        /// A workload's dataset has labels that are not classes of its model
        /// (`max_label` must be below the class count).
        LabelsOutsideClasses,
        /// A workload's liveness thresholds are out of range (of 1024 parts
        /// of each hidden layer): live units outside 32 ..= 1024 (below the
        /// degeneracy rule's own, or more than the whole layer), or active
        /// activations above 1024.
        LivenessOutOfRange,
        /// No workload ids are left.
        WorkloadIdsExhausted,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        /// Reserves the weight of the expiry at the end of the block.
        fn on_initialize(_now: BlockNumberFor<T>) -> Weight {
            let open = Open::<T>::decode_len().unwrap_or(0) as u32;
            // Each expired job's steps are read from the training pallet.
            T::WeightInfo::expire_jobs(open, open)
                .saturating_add(T::Progress::progress_weight().saturating_mul(open.into()))
        }

        /// Expires the open jobs no block trained for the expiry period —
        /// at the end of the block, after its trajectory was verified, so a
        /// block that trains a job always finds it open.
        fn on_finalize(now: BlockNumberFor<T>) {
            Self::expire_jobs(now);
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Posts a training job, escrows `budget` and holds the storage
        /// deposit from the caller, and opens it for mining.
        ///
        /// `spec` is `{ model: { dims }, hyper: { batch_log2, lr_shift,
        /// total_steps }, dataset: { root, samples, inputs } }`; any such value
        /// decodes, and the call refuses one outside the puzzle's limits with
        /// the error that names the field (`ModelLayers`, `ModelWidth`,
        /// `ModelClasses`, `ModelTooLarge`, `BatchTooSmall`, `BatchTooLarge`,
        /// `LrShiftTooLarge`, `ZeroSteps`, `DatasetMismatch`,
        /// `EmptyDataset`). The dataset must fit the model (same input width,
        /// at least one sample), the batch must be 16 to 1024, one block of the
        /// job must fit the chain's per-block budgets, `price_per_step` must
        /// be at least `MinPricePerStep`, `budget` at least `price_per_step`,
        /// and `price_per_step × total_steps` must not overflow. The job
        /// completes at `spec.hyper.total_steps()` steps or, if `target_loss`
        /// is set, once a block's mean loss is at most `target_loss`. If the
        /// market is full, the cheapest open job is evicted when this one
        /// pays more per step; otherwise the call fails. The job's initial
        /// weights are drawn by the sealing ticket of a later block (the
        /// next, unless [`Config::MaxDrawWeight`] defers it; nobody chooses
        /// them, docs/v3.md §2.1): blocks train it from then on. Its weight
        /// includes that draw.
        ///
        /// Emits [`Event::JobPosted`] (and [`Event::JobEvicted`]); the next
        /// block emits [`Event::InitialWeightsDrawn`].
        #[pallet::call_index(0)]
        #[pallet::weight(
            T::WeightInfo::post_job(spec.model.params_bound() as u32)
                .saturating_add(T::WeightInfo::draw_initial_weights(spec.model.params_bound() as u32))
        )]
        pub fn post_job(
            origin: OriginFor<T>,
            spec: UncheckedJobSpec,
            #[pallet::compact] price_per_step: BalanceOf<T>,
            #[pallet::compact] budget: BalanceOf<T>,
            target_loss: Option<u64>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let spec = Self::check_spec(spec)?;
            Self::do_post(&who, spec, price_per_step, budget, target_loss)?;
            Ok(())
        }

        /// Cancels an open (or settling) job of the caller and releases its
        /// whole remaining budget — what is left after the payments reserved
        /// for blocks, including a block earlier in the same block; those
        /// stay held until their blocks settle (paid) or are discarded by a
        /// fraud proof (returned). The deposit stays until the job is reaped.
        ///
        /// Emits [`Event::JobCancelled`].
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::cancel_job())]
        pub fn cancel_job(origin: OriginFor<T>, job: JobId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut info = Self::live_job_of(&who, job)?;
            let refund = Self::end(job, &mut info, JobStatus::Cancelled);
            Jobs::<T>::insert(job, info);
            Self::deposit_event(Event::JobCancelled { job, refund });
            Ok(())
        }

        /// Adds `amount` to the budget of the caller's open job, putting it
        /// on hold. Does not change the job's place in the market.
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
            ensure!(info.is_live(), Error::<T>::JobNotLive);
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            let budget_left = info
                .budget_left
                .checked_add(&amount)
                .ok_or(Error::<T>::BudgetOverflow)?;
            Self::hold(HoldReason::JobEscrow, &who, amount)?;
            info.budget_left = budget_left;
            Jobs::<T>::insert(job, info);
            Self::deposit_event(Event::ToppedUp {
                job,
                amount,
                budget_left,
            });
            Ok(())
        }

        /// Removes an ended job's records (here and its training state) and
        /// returns its deposit to its poster. The poster may reap at once;
        /// anyone else after the retention period. Nodes may then prune the
        /// job's final weights.
        ///
        /// Emits [`Event::JobReaped`].
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::reap_job().saturating_add(T::OnReaped::on_reaped_weight()))]
        pub fn reap_job(origin: OriginFor<T>, job: JobId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::do_reap(&who, job)
        }

        /// Lists a workload (root only): from now on jobs whose spec is
        /// exactly `spec` may be posted and trained, at a ticket difficulty
        /// scaled by `cost`, the cost of one step in cost units (2^16 per
        /// step of the reference workload, 784-128-10 at batch 64 on
        /// Fashion-MNIST), measured on the platform that runs it fastest
        /// (docs/v3.md §2.2). The spec must pass a posted job's admission,
        /// and `max_label`, the largest label of its dataset as governance
        /// publishes it, must be a class of its model (docs/v3.md §8.5).
        /// `min_nonzero_per_1024`, `min_live_per_1024` and
        /// `min_active_per_1024` are its liveness thresholds (docs/v3.md
        /// §2.3), set from its shortcut table: every proven step of its jobs
        /// must have at least `min_nonzero_per_1024` 1024ths of each layer's
        /// compute weights non-zero (512, the degeneracy rule alone, to
        /// 1024), at least `min_live_per_1024` 1024ths of each hidden
        /// layer's units live (32, the rule alone, to 1024) and at least
        /// `min_active_per_1024` 1024ths of each hidden layer's activations
        /// over the batch non-zero (0 to 1024).
        ///
        /// Emits [`Event::WorkloadListed`].
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::list_workload(spec.model.params_bound() as u32))]
        pub fn list_workload(
            origin: OriginFor<T>,
            spec: UncheckedJobSpec,
            cost: u32,
            max_label: u8,
            min_nonzero_per_1024: u16,
            min_live_per_1024: u16,
            min_active_per_1024: u16,
        ) -> DispatchResult {
            ensure_root(origin)?;
            let spec = Self::check_spec(spec)?;
            Self::do_list(
                spec,
                cost,
                max_label,
                min_nonzero_per_1024,
                min_live_per_1024,
                min_active_per_1024,
            )?;
            Ok(())
        }

        /// Delists a workload (root only): from the next block on its jobs
        /// are no longer trainable, and its open ones expire at once and are
        /// refunded ([`Event::JobExpired`]); what they trained stays. The
        /// house job's workload cannot be delisted.
        ///
        /// Emits [`Event::WorkloadDelisted`].
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::delist_workload().saturating_add(
            // Ending its open jobs: what expiring the whole market costs
            // (as `on_initialize` reserves it: each job's steps are read).
            T::WeightInfo::expire_jobs(T::MaxOpen::get(), T::MaxOpen::get()).saturating_add(
                T::Progress::progress_weight().saturating_mul(T::MaxOpen::get().into()),
            )
        ))]
        pub fn delist_workload(origin: OriginFor<T>, workload: WorkloadId) -> DispatchResult {
            ensure_root(origin)?;
            Self::do_delist(workload)
        }
    }
}
