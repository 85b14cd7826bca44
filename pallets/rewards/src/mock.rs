//! Test runtime: frame-system, pallet-balances and this pallet; the author
//! is read from a test pre-runtime digest, validators from a setting.
#![allow(clippy::unwrap_used)]

use crate as pallet_upow_rewards;
use codec::{Decode, Encode};
use frame_support::{
    derive_impl, parameter_types,
    traits::{FindAuthor, Hooks},
};
use sp_runtime::{
    traits::IdentityLookup, BuildStorage, ConsensusEngineId, Digest, DigestItem, Perbill,
};

/// Account ids.
pub type AccountId = u64;
/// Balances.
pub type Balance = u64;
type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Rewards: pallet_upow_rewards,
    }
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
    type Block = Block;
    type AccountId = AccountId;
    type Lookup = IdentityLookup<AccountId>;
    type AccountData = pallet_balances::AccountData<Balance>;
}

/// Existential deposit.
pub const ED: Balance = 10;
/// What accounts 1..=40 start with.
pub const ENDOWMENT: Balance = 1_000_000;
/// Engine id of the test author digest.
pub const TEST_ENGINE: ConsensusEngineId = *b"test";

parameter_types! {
    pub const ExistentialDeposit: Balance = ED;
    pub static Validators: Vec<AccountId> = Vec::new();
    pub static MaxValidators: u32 = 16;
    pub static InitialReward: Balance = 1_000;
    pub static BlocksPerEra: u64 = 10;
    pub static DecayPerEra: Perbill = Perbill::from_percent(10);
    pub static ValidatorShare: Perbill = Perbill::from_percent(30);
    pub static RewardHistory: u64 = 5;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type Balance = Balance;
    type ExistentialDeposit = ExistentialDeposit;
    type AccountStore = System;
}

/// Reads the author from a `TEST_ENGINE` pre-runtime digest (a SCALE u64).
pub struct AuthorFromDigest;
impl FindAuthor<AccountId> for AuthorFromDigest {
    fn find_author<'a, I>(digests: I) -> Option<AccountId>
    where
        I: 'a + IntoIterator<Item = (ConsensusEngineId, &'a [u8])>,
    {
        digests
            .into_iter()
            .find(|(id, _)| *id == TEST_ENGINE)
            .and_then(|(_, mut data)| AccountId::decode(&mut data).ok())
    }
}

/// Benchmark support of the mock.
#[cfg(feature = "runtime-benchmarks")]
pub struct MockBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId> for MockBenchmarkHelper {
    fn setup_block(validators: u32) -> Option<AccountId> {
        Validators::set((1..=validators as u64).collect());
        frame_system::Pallet::<Test>::deposit_log(DigestItem::PreRuntime(
            TEST_ENGINE,
            1000u64.encode(),
        ));
        Some(1000)
    }
}

impl pallet_upow_rewards::Config for Test {
    type Currency = Balances;
    type FindAuthor = AuthorFromDigest;
    type Validators = Validators;
    type MaxValidators = MaxValidators;
    type InitialReward = InitialReward;
    type BlocksPerEra = BlocksPerEra;
    type DecayPerEra = DecayPerEra;
    type ValidatorShare = ValidatorShare;
    type RewardHistory = RewardHistory;
    type WeightInfo = ();
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = MockBenchmarkHelper;
}

/// Externalities: accounts 1..=40 and 1000 endowed, at block 0 (the
/// benchmark and `run_block` move on from there).
pub fn new_test_ext() -> sp_io::TestExternalities {
    let mut storage = frame_system::GenesisConfig::<Test>::default()
        .build_storage()
        .unwrap();
    let mut balances: Vec<(AccountId, Balance)> = (1..=40).map(|i| (i, ENDOWMENT)).collect();
    balances.push((1000, ENDOWMENT));
    pallet_balances::GenesisConfig::<Test> {
        balances,
        ..Default::default()
    }
    .assimilate_storage(&mut storage)
    .unwrap();
    sp_io::TestExternalities::new(storage)
}

/// Runs block `n` (initialize, hooks, finalize) authored by `author`.
pub fn run_block(n: u64, author: Option<AccountId>) {
    let logs = author
        .map(|a| vec![DigestItem::PreRuntime(TEST_ENGINE, a.encode())])
        .unwrap_or_default();
    System::reset_events();
    System::initialize(&n, &Default::default(), &Digest { logs });
    Rewards::on_initialize(n);
    Rewards::on_finalize(n);
}

/// The events of this pallet in the current block.
pub fn reward_events() -> Vec<crate::Event<Test>> {
    System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Rewards(e) => Some(e),
            _ => None,
        })
        .collect()
}
