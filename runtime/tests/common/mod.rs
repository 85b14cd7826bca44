//! The fixture of the runtime's integration tests: a genesis with Alice
//! admitted as a miner and a small house job, mining with the reference
//! miner, and blocks started on a fixed parent.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::{BuildStorage, Digest};
use upow_primitives::PreDigest;
use upow_puzzle::{
    mining::{Mined, ReferenceMiner},
    Dataset, Hyperparams, JobSpec, Model, TrajectoryClaim, TrajectoryContext, Weights,
};
use upow_runtime::{
    AccountId, RuntimeCall, RuntimeGenesisConfig, System, UncheckedExtrinsic, UNIT,
};

/// Seed of the house job's initial weights.
pub const INIT_SEED: [u8; 32] = [4; 32];
/// The parent every test block is built on.
pub const PARENT: H256 = H256([7; 32]);
/// The dispute window of the test chain (blocks).
pub const DISPUTE_WINDOW: u32 = 8;
/// The genesis difficulty (of the chain, in reference steps).
pub const DIFFICULTY: u128 = 12;

/// The house job's training set: 48 samples of 784 inputs, 10 classes.
pub fn dataset() -> Dataset {
    let labels: Vec<u8> = (0..48).map(|i| (i % 10) as u8).collect();
    Dataset::new(784, &labels, &pixels()).unwrap()
}

/// The inputs of [`dataset`]'s 48 samples, sparse like images: a dark
/// background (the 7 left and 7 right columns of each 28-column row), a
/// band of rarely lit pixels ([`RARE_PIXELS`], one sample in ten, bright)
/// and the rest of the centre lit one pixel in four at a pseudo-random
/// level. Samples differ, so every hidden unit fires for some row of a
/// batch as on real images (dense inputs that are shifts of one pattern
/// leave about half the units dead for a whole batch, below the house
/// workload's liveness threshold).
pub fn pixels() -> Vec<u8> {
    (0..48 * 784u64)
        .map(|i| {
            let pixel = i % 784;
            let h = (i ^ 0x5eed).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
            if !(7..21).contains(&(pixel % 28)) {
                0
            } else if RARE_PIXELS.contains(&pixel) {
                if h % 10 == 0 {
                    200 | (h >> 8) as u8
                } else {
                    0
                }
            } else if h % 4 == 0 {
                (h >> 8) as u8 | 1
            } else {
                0
            }
        })
        .collect()
}

/// The rarely lit pixels of [`pixels`]: the centre of its first 3 rows.
pub const RARE_PIXELS: core::ops::Range<u64> = 0..84;

/// The house job: 784-128-10 at batch 16, listed at the reference cost.
pub fn spec() -> JobSpec {
    JobSpec::new(
        Model::new(&[784, 128, 10]).unwrap(),
        Hyperparams::new(4, 2, 1000).unwrap(),
        dataset().commitment(),
    )
    .unwrap()
}

/// The house job's difficulty at the genesis difficulty (docs/puzzle.md §6):
/// the house workload defines the cost unit, so it is the chain's.
pub fn job_difficulty() -> u128 {
    upow_puzzle::job_difficulty(DIFFICULTY, upow_puzzle::REFERENCE_COST)
}

/// Lists `spec` (root, at its nominal cost), unless it is listed: a job is
/// posted and trained only while its spec is a listed workload's.
pub fn list(spec: &JobSpec) {
    if upow_runtime::Jobs::listed_cost(spec).is_none() {
        let call = RuntimeCall::Jobs(pallet_upow_jobs::Call::list_workload {
            spec: spec.clone().into(),
            cost: spec.nominal_cost(),
            max_label: spec.model.largest_label(),
            min_nonzero_per_1024: upow_puzzle::Liveness::MINIMUM.nonzero_weights_per_1024(),
            min_live_per_1024: upow_puzzle::Liveness::MINIMUM.live_units_per_1024(),
            min_active_per_1024: upow_puzzle::Liveness::MINIMUM.active_per_1024(),
        });
        use sp_runtime::traits::Dispatchable;
        call.dispatch(upow_runtime::RuntimeOrigin::root()).unwrap();
    }
}

/// The house job's initial weights (`W_0` of the first block).
pub fn start_weights() -> Weights {
    Weights::initial(&spec().model, &INIT_SEED)
}

/// Alice: endowed, admitted and bonded as a miner at genesis.
pub fn alice() -> sr25519::Pair {
    sr25519::Pair::from_string("//Alice", None).unwrap()
}

/// Bob: endowed, not admitted.
pub fn bob() -> sr25519::Pair {
    sr25519::Pair::from_string("//Bob", None).unwrap()
}

/// Charlie: not endowed, not admitted.
pub fn charlie() -> sr25519::Pair {
    sr25519::Pair::from_string("//Charlie", None).unwrap()
}

/// A signed extrinsic of `call` by `pair` with `nonce`.
pub fn signed(pair: &sr25519::Pair, call: RuntimeCall, nonce: u32) -> UncheckedExtrinsic {
    use codec::Encode;
    let extension = upow_runtime::immortal_tx_extension(nonce);
    let payload = upow_runtime::SignedPayload::new(call.clone(), extension.clone()).unwrap();
    let signature = payload.using_encoded(|bytes| pair.sign(bytes));
    UncheckedExtrinsic::new_signed(
        call,
        account(pair).into(),
        sp_runtime::MultiSignature::Sr25519(signature),
        extension,
    )
}

/// The account of a key.
pub fn account(pair: &sr25519::Pair) -> AccountId {
    AccountId::from(pair.public().0)
}

/// Genesis: Alice endowed, admitted and bonded as a miner, and the sudo
/// key; Bob endowed; the house job is 784-128-10 at batch 16; difficulty
/// [`DIFFICULTY`].
pub fn ext() -> sp_io::TestExternalities {
    let alice = alice();
    let bond = upow_runtime::configs::MinBond::get();
    let genesis = RuntimeGenesisConfig {
        balances: pallet_balances::GenesisConfig {
            balances: vec![
                (account(&alice), 1_000_000 * UNIT),
                (account(&bob()), 1_000_000 * UNIT),
            ],
            ..Default::default()
        },
        staking: pallet_upow_staking::GenesisConfig {
            miners: vec![(account(&alice), alice.public().0, bond)],
            validators: vec![],
        },
        jobs: pallet_upow_jobs::GenesisConfig {
            house_job: Some(pallet_upow_jobs::GenesisHouseJob {
                poster: account(&alice),
                spec: pallet_upow_jobs::GenesisJobSpec::from(&spec()),
                init_seed: H256(INIT_SEED),
            }),
            workloads: vec![],
            jobs: vec![],
            expiry: None,
        },
        training: pallet_upow_training::GenesisConfig {
            difficulty: DIFFICULTY,
            dispute_window: Some(DISPUTE_WINDOW),
            _config: Default::default(),
        },
        sudo: pallet_sudo::GenesisConfig {
            key: Some(account(&alice)),
        },
        ..Default::default()
    };
    genesis.build_storage().unwrap().into()
}

/// The context of `author`'s trajectories of the house job on [`PARENT`].
pub fn context(author: &sr25519::Pair) -> TrajectoryContext {
    TrajectoryContext {
        parent: PARENT.0,
        author: author.public().0,
        job: 0,
        salt: 0,
    }
}

/// Mines the house job's first block on [`PARENT`] as `author`.
pub fn mine(author: &sr25519::Pair) -> Mined {
    mine_from(author, start_weights(), upow_puzzle::REFERENCE_LIVENESS)
}

/// Mines a block of the house job on [`PARENT`] as `author` from `start`
/// (the job at step 0), its steps checked at `liveness`.
pub fn mine_from(author: &sr25519::Pair, start: Weights, liveness: upow_puzzle::Liveness) -> Mined {
    ReferenceMiner::new(&spec(), liveness, &dataset(), context(author), start, 0, 8)
        .run(job_difficulty(), 1_000_000)
        .unwrap()
        .unwrap()
}

/// Starts block 1 on [`PARENT`] with `author`'s digest of `claim` (salt `salt`).
pub fn start_block(author: &sr25519::Pair, salt: u32, claim: TrajectoryClaim) {
    let pre = PreDigest::new(author.public().0, 0, salt, claim);
    // (Re)starts block 1: the tests try several blocks on the same parent.
    System::set_block_number(0);
    System::initialize(
        &1,
        &PARENT,
        &Digest {
            logs: vec![pre.to_digest_item()],
        },
    );
}

/// Starts block 1 with `author`'s digest of a mined trajectory.
pub fn start_mined_block(author: &sr25519::Pair, mined: &Mined) {
    start_block(author, mined.context.salt, mined.claim);
}

/// What the block after a post does first: draws the initial weights of
/// the jobs awaiting them, here from a fixed stand-in sealing ticket (the
/// tests dispatch calls outside blocks; `pallet_upow_training` hands the
/// real ticket over in `on_initialize`).
pub fn draw_initial_weights() {
    upow_runtime::Jobs::draw_initial_weights(&upow_puzzle::Ticket([0x5e; 32]));
}

/// The trajectory inherent as a block extrinsic.
pub fn inherent(proof: upow_puzzle::TrajectoryProof) -> UncheckedExtrinsic {
    UncheckedExtrinsic::new_bare(RuntimeCall::Training(
        pallet_upow_training::Call::submit_trajectory { proof },
    ))
}

/// The timestamp inherent as a block extrinsic.
pub fn timestamp(now: u64) -> UncheckedExtrinsic {
    UncheckedExtrinsic::new_bare(RuntimeCall::Timestamp(pallet_timestamp::Call::set { now }))
}
