//! Test runtime: the training pallet with scripted jobs and admission.

use crate as pallet_upow_training;
use frame_support::{derive_impl, parameter_types, traits::ConstU64, weights::Weight};
use sp_runtime::BuildStorage;
use upow_primitives::{
    traits::{ActiveJob, AuthorAdmission, FraudPenalty, JobSchedule},
    AuthorId, JobId,
};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Timestamp: pallet_timestamp,
        Training: pallet_upow_training,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
}

impl pallet_timestamp::Config for Test {
    type Moment = u64;
    type OnTimestampSet = ();
    type MinimumPeriod = ConstU64<1>;
    type WeightInfo = ();
}

/// One call of `JobSchedule::on_progress`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub job: JobId,
    pub author: u64,
    pub steps: u32,
    pub total_steps: u64,
    pub loss: u64,
}

parameter_types! {
    /// The jobs `MockJobs` says blocks may train, in market order.
    pub static OpenJobs: Vec<ActiveJob> = Vec::new();
    /// Every `on_progress` call.
    pub static Progressed: Vec<Progress> = Vec::new();
    /// Admitted author keys and their accounts.
    pub static Admitted: Vec<(AuthorId, u64)> = Vec::new();
    /// Every `on_settled` call: (job, author, steps, payment).
    pub static Settled: Vec<(JobId, u64, u32, u128)> = Vec::new();
    /// Every `on_rolled_back` call: (job, steps recorded by then, released).
    pub static RolledBack: Vec<(JobId, u64, u128)> = Vec::new();
    /// Bonds of the mock penalty, by account.
    pub static Bonds: Vec<(u64, u128)> = Vec::new();
    /// Every slash of the mock penalty: (offender, payouts).
    pub static Slashes: Vec<(u64, Vec<(u64, u128)>)> = Vec::new();
    /// Every `draw_initial_weights` call: the sealing ticket.
    pub static SealingTickets: Vec<upow_puzzle::Ticket> = Vec::new();
}

/// Every reserved payment of the mock market: 10 per step.
pub const PRICE: u128 = 10;

/// Scripted job schedule.
pub struct MockJobs;
impl JobSchedule<u64> for MockJobs {
    fn trainable(job: JobId) -> Option<ActiveJob> {
        OpenJobs::get().into_iter().find(|j| j.id == job)
    }
    fn open() -> Vec<ActiveJob> {
        OpenJobs::get()
    }
    fn payment_for(job: JobId, steps: u32) -> u128 {
        if OpenJobs::get().iter().any(|j| j.id == job) {
            PRICE * u128::from(steps)
        } else {
            0
        }
    }
    fn on_progress(job: JobId, author: &u64, steps: u32) -> u128 {
        // The training pallet records the new progress before it reports
        // the block: read it as the jobs pallet does.
        let progress = crate::Jobs::<Test>::get(job);
        Progressed::mutate(|p| {
            p.push(Progress {
                job,
                author: *author,
                steps,
                total_steps: progress.as_ref().map_or(0, |p| p.steps),
                loss: progress.and_then(|p| p.last_loss).unwrap_or(u64::MAX),
            })
        });
        Self::payment_for(job, steps)
    }
    fn on_settled(job: JobId, author: &u64, steps: u32, payment: u128) {
        Settled::mutate(|s| s.push((job, *author, steps, payment)));
    }
    fn on_settled_weight() -> Weight {
        Weight::zero()
    }
    fn on_rolled_back(job: JobId, released: u128) {
        // The training pallet restores the progress before it reports the
        // rollback: read it as the jobs pallet does.
        let steps = crate::Jobs::<Test>::get(job).map_or(0, |p| p.steps);
        RolledBack::mutate(|r| r.push((job, steps, released)));
    }
    fn on_rolled_back_weight() -> Weight {
        Weight::zero()
    }
    fn record(job: JobId) -> Option<(upow_puzzle::JobSpec, Option<u64>)> {
        OpenJobs::get()
            .into_iter()
            .find(|j| j.id == job)
            .map(|j| (j.spec, Some(POSTER)))
    }
    fn on_progress_weight() -> Weight {
        Weight::zero()
    }
    fn trainable_weight() -> Weight {
        Weight::zero()
    }
    fn draw_initial_weights(sealing_ticket: &upow_puzzle::Ticket) -> Weight {
        SealingTickets::mutate(|t| t.push(*sealing_ticket));
        Weight::zero()
    }
}

/// A job of the mock market: `spec` with `init_seed`, listed at its
/// nominal cost and the degeneracy rule's own liveness threshold.
pub fn active_job(
    id: JobId,
    spec: upow_puzzle::JobSpec,
    init_seed: upow_primitives::Hash,
) -> ActiveJob {
    ActiveJob {
        id,
        initial_weights: upow_puzzle::Weights::initial(&spec.model, &init_seed).hash(),
        cost: spec.nominal_cost(),
        liveness: upow_puzzle::Liveness::MINIMUM,
        spec,
        init_seed,
        price_per_step: 0,
        budget_left: 0,
    }
}

/// The poster of every mock job.
pub const POSTER: u64 = 99;

/// Scripted penalty: records slashes, takes the whole scripted bond.
pub struct MockPenalty;
impl FraudPenalty<u64> for MockPenalty {
    fn bond_of(who: &u64) -> u128 {
        Bonds::get()
            .iter()
            .find(|(a, _)| a == who)
            .map_or(0, |(_, b)| *b)
    }
    fn slash_for_fraud(offender: &u64, payouts: &[(u64, u128)]) -> u128 {
        let bond = Self::bond_of(offender);
        Slashes::mutate(|s| s.push((*offender, payouts.to_vec())));
        Bonds::mutate(|b| b.retain(|(a, _)| a != offender));
        bond
    }
    fn slash_for_fraud_weight(_payouts: u32) -> Weight {
        Weight::zero()
    }
}

/// Scripted admission.
pub struct MockAdmission;
impl AuthorAdmission<u64> for MockAdmission {
    fn account_of(author: &AuthorId) -> Option<u64> {
        Admitted::get()
            .iter()
            .find(|(k, _)| k == author)
            .map(|(_, a)| *a)
    }
    fn account_of_weight() -> Weight {
        Weight::zero()
    }
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<u64> for MockAdmission {
    fn open_job(spec: upow_puzzle::JobSpec) -> JobId {
        OpenJobs::set(vec![active_job(1, spec, [7; 32])]);
        1
    }
    fn admit_author(author: AuthorId) -> u64 {
        Admitted::mutate(|a| a.push((author, 42)));
        42
    }
}

impl pallet_upow_training::Config for Test {
    type Time = Timestamp;
    type Jobs = MockJobs;
    type Admission = MockAdmission;
    type TargetBlockTime = ConstU64<4000>;
    type MinDifficulty = frame_support::traits::ConstU128<1>;
    type Penalty = MockPenalty;
    type Clawback = ();
    type MaxDisputeWindow = frame_support::traits::ConstU32<DISPUTE_WINDOW>;
    type FraudPayoutCap = FraudPayoutCap;
    type FraudReward = FraudReward;
    type WeightInfo = ();
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = MockAdmission;
}

/// Blocks a trajectory stays disputable in the mock.
pub const DISPUTE_WINDOW: u32 = 5;

parameter_types! {
    /// Half of the slash (after compensation) to the reporter.
    pub FraudReward: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(50);
    pub FraudPayoutCap: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(50);
}

/// Storage with difficulty 1 at genesis and no jobs or authors.
pub fn new_test_ext() -> sp_io::TestExternalities {
    OpenJobs::set(Vec::new());
    Progressed::set(Vec::new());
    Admitted::set(Vec::new());
    Settled::set(Vec::new());
    RolledBack::set(Vec::new());
    Bonds::set(Vec::new());
    Slashes::set(Vec::new());
    SealingTickets::set(Vec::new());
    let mut storage = frame_system::GenesisConfig::<Test>::default()
        .build_storage()
        .unwrap();
    pallet_upow_training::GenesisConfig::<Test> {
        difficulty: 1,
        dispute_window: None,
        _config: Default::default(),
    }
    .assimilate_storage(&mut storage)
    .unwrap();
    let mut ext: sp_io::TestExternalities = storage.into();
    ext.execute_with(|| System::set_block_number(1));
    ext
}
