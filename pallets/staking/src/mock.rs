//! Test runtime: frame-system, pallet-balances and this pallet.
#![allow(clippy::unwrap_used)]

use crate as pallet_upow_staking;
use crate::{GrandpaKey, OnValidatorSetChange};
use codec::Encode;
use core::cell::RefCell;
use frame_support::{derive_impl, parameter_types, traits::ConstU32};
use sp_core::{sr25519, Pair};
use sp_keystore::{testing::MemoryKeystore, KeystoreExt};
use sp_runtime::{
    traits::{Header as _, IdentityLookup},
    BuildStorage, Digest, DigestItem, Perbill,
};
use std::sync::Arc;
use upow_primitives::{AuthorId, PowSeal, PreDigest, TrajectoryClaim, ENGINE_ID};

/// Account ids.
pub type AccountId = u64;
/// Balances.
pub type Balance = u64;
type Block = frame_system::mocking::MockBlock<Test>;
/// The header type of the test runtime.
pub type Header = frame_system::pallet_prelude::HeaderFor<Test>;

frame_support::construct_runtime!(
    pub enum Test {
        System: frame_system,
        Balances: pallet_balances,
        Staking: pallet_upow_staking,
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
/// Minimum bond.
pub const MIN_BOND: Balance = 1_000;
/// Unbonding delay (blocks).
pub const DELAY: u64 = 10;
/// Max unbonding chunks.
pub const MAX_CHUNKS: u32 = 4;
/// Max validators.
pub const MAX_VALIDATORS: u32 = 8;
/// The treasury account.
pub const TREASURY: AccountId = 999;
/// What every test account starts with.
pub const ENDOWMENT: Balance = 1_000_000;

parameter_types! {
    pub const ExistentialDeposit: Balance = ED;
    pub const MinBond: Balance = MIN_BOND;
    pub const UnbondingDelay: u64 = DELAY;
    pub const SlashFraction: Perbill = Perbill::from_percent(10);
    pub const Treasury: AccountId = TREASURY;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
    type Balance = Balance;
    type ExistentialDeposit = ExistentialDeposit;
    type AccountStore = System;
}

thread_local! {
    static VALIDATOR_SETS: RefCell<Vec<Vec<GrandpaKey>>> = const { RefCell::new(Vec::new()) };
    static GRANDPA_BUSY: RefCell<bool> = const { RefCell::new(false) };
}

/// Makes the mock GRANDPA refuse (`busy`) or accept new sets.
pub fn set_grandpa_busy(busy: bool) {
    GRANDPA_BUSY.with(|b| *b.borrow_mut() = busy);
}

/// Records the sets the pallet announces (refusing them while busy).
pub struct RecordSets;
impl OnValidatorSetChange for RecordSets {
    fn new_set(keys: Vec<GrandpaKey>) -> bool {
        if GRANDPA_BUSY.with(|b| *b.borrow()) {
            return false;
        }
        VALIDATOR_SETS.with(|s| s.borrow_mut().push(keys));
        true
    }
}

/// Every set announced so far (and forgets them).
pub fn take_announced_sets() -> Vec<Vec<GrandpaKey>> {
    VALIDATOR_SETS.with(|s| core::mem::take(&mut *s.borrow_mut()))
}

impl pallet_upow_staking::Config for Test {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type AdmitOrigin = frame_system::EnsureRoot<AccountId>;
    type MinBond = MinBond;
    type UnbondingDelay = UnbondingDelay;
    type MaxUnbondingChunks = ConstU32<MAX_CHUNKS>;
    type MaxValidators = ConstU32<MAX_VALIDATORS>;
    type SlashFraction = SlashFraction;
    type Treasury = Treasury;
    type OnValidatorSetChange = RecordSets;
    type WeightInfo = ();
}

/// Builds test externalities: accounts 1..=20 and the treasury endowed,
/// genesis miners/validators as given, a memory keystore.
pub struct ExtBuilder {
    miners: Vec<(AccountId, AuthorId, Balance)>,
    validators: Vec<(AccountId, GrandpaKey, Balance)>,
    treasury: Balance,
}

impl Default for ExtBuilder {
    fn default() -> Self {
        Self {
            miners: Vec::new(),
            validators: Vec::new(),
            treasury: ED,
        }
    }
}

impl ExtBuilder {
    /// A genesis miner.
    pub fn miner(mut self, who: AccountId, author: AuthorId, bond: Balance) -> Self {
        self.miners.push((who, author, bond));
        self
    }

    /// A genesis validator.
    pub fn validator(mut self, who: AccountId, grandpa: GrandpaKey, bond: Balance) -> Self {
        self.validators.push((who, grandpa, bond));
        self
    }

    /// The treasury's genesis balance (0: it does not exist).
    pub fn treasury(mut self, balance: Balance) -> Self {
        self.treasury = balance;
        self
    }

    /// The externalities.
    pub fn build(self) -> sp_io::TestExternalities {
        let mut storage = frame_system::GenesisConfig::<Test>::default()
            .build_storage()
            .unwrap();
        let mut balances: Vec<(AccountId, Balance)> = (1..=20).map(|i| (i, ENDOWMENT)).collect();
        if self.treasury > 0 {
            balances.push((TREASURY, self.treasury));
        }
        pallet_balances::GenesisConfig::<Test> {
            balances,
            ..Default::default()
        }
        .assimilate_storage(&mut storage)
        .unwrap();
        pallet_upow_staking::GenesisConfig::<Test> {
            miners: self.miners,
            validators: self.validators,
        }
        .assimilate_storage(&mut storage)
        .unwrap();
        let mut ext = sp_io::TestExternalities::new(storage);
        ext.register_extension(KeystoreExt(Arc::new(MemoryKeystore::new())));
        ext.execute_with(|| {
            System::set_block_number(1);
            take_announced_sets();
        });
        ext
    }

    /// Runs `test` and then checks the pallet's invariants.
    pub fn build_and_execute(self, test: impl FnOnce()) {
        self.build().execute_with(|| {
            test();
            crate::Pallet::<Test>::do_try_state().unwrap();
        });
    }
}

/// Default externalities (no genesis candidates).
pub fn new_test_ext() -> sp_io::TestExternalities {
    ExtBuilder::default().build()
}

/// The sr25519 pair of test author `i`.
pub fn author_pair(i: u8) -> sr25519::Pair {
    sr25519::Pair::from_seed(&[i; 32])
}

/// The public author key of test author `i`.
pub fn author_key(i: u8) -> AuthorId {
    author_pair(i).public().0
}

/// A test GRANDPA key.
pub fn grandpa_key(i: u8) -> GrandpaKey {
    [0x80 | i; 32]
}

/// An unsealed header at `number` on `parent` by `author`, with `extra` to
/// tell headers apart.
pub fn unsealed_header(number: u64, parent: [u8; 32], author: AuthorId, extra: u8) -> Header {
    let pre = PreDigest::new(
        author,
        1,
        0,
        TrajectoryClaim {
            steps: 1,
            root: [extra; 32],
            final_weights: [extra; 32],
        },
    );
    Header::new(
        number,
        Default::default(),
        Default::default(),
        parent.into(),
        Digest {
            logs: vec![pre.to_digest_item()],
        },
    )
}

/// Seals `header` with `pair` the upow way.
/// The genesis hash the runtime reads (frame-system's block hash 0).
pub fn genesis() -> [u8; 32] {
    System::block_hash(0).0
}

/// Seals `header` as `pair` on the chain of genesis `genesis`.
pub fn seal_on(mut header: Header, pair: &sr25519::Pair, genesis: [u8; 32]) -> Header {
    let pre_hash = header.hash();
    let signature = pair.sign(&PowSeal::message(&genesis, &pre_hash.0));
    let seal = PowSeal::V2 {
        signature: signature.0,
    };
    header
        .digest_mut()
        .push(DigestItem::Seal(ENGINE_ID, seal.encode()));
    header
}

/// Seals `header` as `pair` on this chain.
pub fn seal(header: Header, pair: &sr25519::Pair) -> Header {
    seal_on(header, pair, genesis())
}

/// A sealed header by test author `i`.
pub fn sealed_header(number: u64, parent: [u8; 32], i: u8, extra: u8) -> Header {
    seal(
        unsealed_header(number, parent, author_key(i), extra),
        &author_pair(i),
    )
}

/// Moves to block `n`.
pub fn run_to(n: u64) {
    System::set_block_number(n);
}

/// The events of this pallet so far (and clears them).
pub fn staking_events() -> Vec<crate::Event<Test>> {
    let events = System::events()
        .into_iter()
        .filter_map(|r| match r.event {
            RuntimeEvent::Staking(e) => Some(e),
            _ => None,
        })
        .collect();
    System::reset_events();
    events
}
