//! A test runtime: frame-system, pallet-balances (existential deposit
//! [`ED`]) and this pallet (at most [`MAX_OPEN`] open jobs, minimum price
//! [`MIN_PRICE`], deposit [`DEPOSIT`], retention [`RETENTION`] blocks,
//! default expiry [`EXPIRY`] blocks; job limits by [`MaxParams`] and
//! [`MaxBatch`]; reaped jobs recorded in [`REAPED`]).

use crate as pallet_upow_jobs;
use crate::{GenesisHouseJob, GenesisJobSpec, GenesisPaidJob, GenesisWorkload};
use frame_support::{
    derive_impl, parameter_types,
    traits::{ConstU32, ConstU64},
};
use sp_runtime::BuildStorage;
use std::cell::RefCell;
use upow_primitives::{
    traits::{JobLimitError, JobLimits, OnJobReaped, ProgressOf},
    JobId, TrainingProgress,
};
use upow_puzzle::{DatasetCommitment, Hyperparams, JobSpec, Model};

type Block = frame_system::mocking::MockBlock<Test>;

/// Existential deposit of the test runtime.
pub const ED: u64 = 10;
/// Most open paid jobs of the test runtime.
pub const MAX_OPEN: u32 = 4;
/// Storage deposit of a job.
pub const DEPOSIT: u64 = 5;
/// Blocks after a job ends before anyone may reap it.
pub const RETENTION: u64 = 10;
/// Default expiry period.
pub const EXPIRY: u64 = 20;
/// Minimum price per step of the test runtime.
pub const MIN_PRICE: u64 = 2;
/// Free balance of the endowed accounts `1..=ENDOWED`.
pub const ENDOWMENT: u64 = 1_000_000;
/// Accounts `1..=ENDOWED` are endowed.
pub const ENDOWED: u64 = 9;
/// Nominal poster of the house job (no funds).
pub const HOUSE_POSTER: u64 = 100;
/// The liveness threshold the mock's workloads are listed at: the
/// degeneracy rule's own (`upow_puzzle::Liveness::MINIMUM`, 32/1024).
pub const MIN_LIVE: u16 = 32;
/// The test workload's non-zero-weights threshold: the degeneracy rule's own.
pub const MIN_NONZERO: u16 = 512;
/// The mock workloads' activation-density threshold: none, the degeneracy
/// rule's own (`upow_puzzle::Liveness::MINIMUM`).
pub const MIN_ACTIVE: u16 = 0;

#[frame_support::runtime]
mod runtime {
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeSlashReason,
        RuntimeLockId,
        RuntimeTask,
        RuntimeViewFunction
    )]
    pub struct Test;

    #[runtime::pallet_index(0)]
    pub type System = frame_system::Pallet<Test>;

    #[runtime::pallet_index(1)]
    pub type Balances = pallet_balances::Pallet<Test>;

    #[runtime::pallet_index(2)]
    pub type UpowJobs = pallet_upow_jobs::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type AccountStore = System;
    type ExistentialDeposit = ConstU64<ED>;
}

parameter_types! {
    /// Most parameters a job may have (stands in for the verification budget).
    pub static MaxParams: usize = 1 << 20;
    /// Largest batch a job may have (stands in for the proof-size budget).
    pub static MaxBatch: usize = 256;
    /// What a block may spend drawing initial weights (unbounded but where
    /// a test bounds it).
    pub static DrawBudget: frame_support::weights::Weight = frame_support::weights::Weight::MAX;
    /// Deposit per dataset byte (0 but where a test prices the bytes).
    pub static DepositPerByte: u64 = 0;
}

/// Job limits of the test runtime: parameters for the verification
/// budget, batch size for the proof budget.
pub struct TestLimits;

impl JobLimits for TestLimits {
    fn check(spec: &JobSpec) -> Result<(), JobLimitError> {
        if spec.model.params() > MaxParams::get() {
            return Err(JobLimitError::VerificationTooHeavy);
        }
        if spec.hyper.batch() > MaxBatch::get() {
            return Err(JobLimitError::ProofTooLarge);
        }
        Ok(())
    }
}

thread_local! {
    /// Jobs whose training state was dropped, in order.
    pub static REAPED: RefCell<Vec<JobId>> = const { RefCell::new(Vec::new()) };
    /// The training progress of each job, as the training pallet would
    /// record it before it reports a block ([`set_progress`]).
    pub static PROGRESS: RefCell<std::collections::BTreeMap<JobId, TrainingProgress>> =
        const { RefCell::new(std::collections::BTreeMap::new()) };
}

/// Records `job`'s progress as the training pallet does before it reports
/// a verified block or a rollback: `steps` steps, last loss `last_loss`.
pub fn set_progress(job: JobId, steps: u64, last_loss: Option<u64>) {
    PROGRESS.with(|p| {
        let mut p = p.borrow_mut();
        let entry = p
            .entry(job)
            .or_insert_with(|| TrainingProgress::untrained([0; 32]));
        entry.steps = steps;
        entry.last_loss = last_loss;
    });
}

/// `job`'s steps as recorded (0: never trained).
pub fn steps_of(job: JobId) -> u64 {
    MockProgress::progress(job).map_or(0, |p| p.steps)
}

/// `job`'s last loss as recorded.
pub fn last_loss_of(job: JobId) -> Option<u64> {
    MockProgress::progress(job).and_then(|p| p.last_loss)
}

/// The training pallet's record of progress, as [`set_progress`] sets it.
pub struct MockProgress;

impl ProgressOf for MockProgress {
    fn progress(job: JobId) -> Option<TrainingProgress> {
        PROGRESS.with(|p| p.borrow().get(&job).cloned())
    }
    fn progress_weight() -> frame_support::weights::Weight {
        frame_support::weights::Weight::zero()
    }
    #[cfg(feature = "runtime-benchmarks")]
    fn set_progress(job: JobId, progress: TrainingProgress) {
        PROGRESS.with(|p| p.borrow_mut().insert(job, progress));
    }
}

/// Records reaped jobs in [`REAPED`].
pub struct RecordReaped;

impl OnJobReaped for RecordReaped {
    fn on_reaped(job: JobId) {
        REAPED.with(|r| r.borrow_mut().push(job));
    }
    fn on_reaped_weight() -> frame_support::weights::Weight {
        frame_support::weights::Weight::zero()
    }
}

impl pallet_upow_jobs::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type MaxOpen = ConstU32<MAX_OPEN>;
    type MinPricePerStep = ConstU64<MIN_PRICE>;
    type JobDeposit = ConstU64<DEPOSIT>;
    type MaxDrawWeight = DrawBudget;
    type DatasetDepositPerByte = DepositPerByte;
    type RetentionPeriod = ConstU64<RETENTION>;
    type DefaultExpiry = ConstU64<EXPIRY>;
    type Limits = TestLimits;
    type OnReaped = RecordReaped;
    type Progress = MockProgress;
    type WeightInfo = ();
}

/// A small valid spec (4 → 8 → 3, batch 16) planned for `total_steps` steps.
pub fn spec(total_steps: u64) -> JobSpec {
    JobSpec::new(
        Model::new(&[4, 8, 3]).expect("valid model"),
        Hyperparams::new(4, 2, total_steps).expect("valid hyper-parameters"),
        DatasetCommitment {
            root: [7; 32],
            samples: 16,
            inputs: 4,
        },
    )
    .expect("dataset fits the model")
}

/// The house job's spec (listed with the house job, at the reference cost).
pub fn house_spec() -> JobSpec {
    spec(1_000)
}

/// The planned steps of the [`spec`]s every mock chain lists at genesis,
/// at their nominal cost (the house job's `1 000` is listed with it).
pub const LISTED_STEPS: [u64; 4] = [1, 3, 10, 100];

/// Builds test externalities.
pub struct ExtBuilder {
    house: bool,
    jobs: Vec<GenesisPaidJob<u64, u64>>,
    expiry: Option<u64>,
}

impl Default for ExtBuilder {
    fn default() -> Self {
        Self {
            house: true,
            jobs: Vec::new(),
            expiry: None,
        }
    }
}

impl ExtBuilder {
    /// Without a house job.
    pub fn no_house(mut self) -> Self {
        self.house = false;
        self
    }

    /// With a genesis expiry period.
    pub fn expiry(mut self, blocks: u64) -> Self {
        self.expiry = Some(blocks);
        self
    }

    /// With a paid genesis job.
    pub fn job(mut self, poster: u64, total_steps: u64, price: u64, budget: u64) -> Self {
        self.jobs.push(GenesisPaidJob {
            poster,
            spec: GenesisJobSpec::from(&spec(total_steps)),
            price_per_step: price,
            budget,
            target_loss: None,
        });
        self
    }

    /// The externalities, at block 1 (so events are recorded).
    pub fn build(self) -> sp_io::TestExternalities {
        let mut storage = frame_system::GenesisConfig::<Test>::default()
            .build_storage()
            .expect("system");
        pallet_balances::GenesisConfig::<Test> {
            balances: (1..=ENDOWED).map(|who| (who, ENDOWMENT)).collect(),
            ..Default::default()
        }
        .assimilate_storage(&mut storage)
        .expect("balances");
        pallet_upow_jobs::GenesisConfig::<Test> {
            house_job: self.house.then(|| GenesisHouseJob {
                poster: HOUSE_POSTER,
                spec: GenesisJobSpec::from(&house_spec()),
                init_seed: sp_core::H256([42; 32]),
            }),
            workloads: LISTED_STEPS
                .iter()
                .map(|&steps| GenesisWorkload {
                    spec: GenesisJobSpec::from(&spec(steps)),
                    cost: spec(steps).nominal_cost(),
                    max_label: spec(steps).model.largest_label(),
                    min_nonzero_per_1024: MIN_NONZERO,
                    min_live_per_1024: MIN_LIVE,
                    min_active_per_1024: MIN_ACTIVE,
                })
                .collect(),
            jobs: self.jobs,
            expiry: self.expiry,
        }
        .assimilate_storage(&mut storage)
        .expect("jobs");
        REAPED.with(|r| r.borrow_mut().clear());
        PROGRESS.with(|p| p.borrow_mut().clear());
        let mut ext = sp_io::TestExternalities::new(storage);
        ext.execute_with(|| {
            System::set_block_number(1);
            // What a runtime's genesis writes: the in-code storage version
            // (records are read in its layout).
            use frame_support::traits::GetStorageVersion;
            UpowJobs::in_code_storage_version().put::<UpowJobs>();
        });
        ext
    }
}

/// The default externalities: endowed accounts and a house job (id 0).
pub fn new_test_ext() -> sp_io::TestExternalities {
    ExtBuilder::default().build()
}
