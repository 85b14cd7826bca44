//! The runtime's genesis presets, served by its `GenesisBuilder` API:
//!
//! | preset | chain spec | miners and validators | well-known nodes | endowed | difficulty | job expiry | dispute window |
//! |---|---|---|---|---|---|---|---|
//! | [`DEV_RUNTIME_PRESET`] (`development`) | `dev` | Alice | none (open network) | Alice … Ferdie | 500 | 20 blocks | 10 blocks |
//! | [`LOCAL_TESTNET_RUNTIME_PRESET`] (`local_testnet`) | `local` | Alice, Bob, Charlie | dev nodes 1–4 | Alice … Ferdie | 500 | 10 min | 20 min |
//! | [`TESTNET_TEMPLATE_PRESET`] (`testnet_template`) | `testnet` | Alice, Bob | dev nodes 1–2 | Alice, Bob | 5 000 | 10 min | 20 min |
//!
//! Dev node `i` runs with the ed25519 node key `0x00…0i` (`--node-key`,
//! [`DEV_NODE_PUBLIC_KEYS`]), owned by the `i`-th dev account; only
//! well-known nodes connect to each other (`NetworkAccessApi`).
//! Alice is the sudo key of each. Every preset holds the house job — always
//! open for mining, whatever paid jobs there are: an MLP 784-128-10 on
//! Fashion-MNIST's 60 000 training samples, committed to by
//! [`FASHION_MNIST_TRAIN`].

use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_core::{OpaquePeerId, H256};
use sp_genesis_builder::PresetId;
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use upow_puzzle::{hash::hash_parts, DatasetCommitment, Hyperparams, JobSpec, Model};

pub use sp_genesis_builder::{DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};

use crate::{
    AccountId, Balance, BalancesConfig, GrandpaConfig, JobsConfig, NodeAuthorizationConfig,
    RuntimeGenesisConfig, StakingConfig, SudoConfig, TrainingConfig, UNIT,
};

/// The preset of the `testnet` chain spec: a template for a live network,
/// whose well-known dev keys must be replaced before launch.
pub const TESTNET_TEMPLATE_PRESET: &str = "testnet_template";

/// The ed25519 public keys of the dev node keys `0x00…01` … `0x00…04`
/// (`upow-node key inspect-node-key`: 12D3KooWEyop…, 12D3KooWHdiA…,
/// 12D3KooWSCuf…, 12D3KooWSsCh…; checked by a test of the node).
pub const DEV_NODE_PUBLIC_KEYS: [[u8; 32]; 4] = [
    hex32("4cb5abf6ad79fbf5abbccafcc269d85cd2651ed4b885b5869f241aedf0a5ba29"),
    hex32("7422b9887598068e32c4448a949adb290d0f4e35b9e01b0ee5f1a1e600fe2674"),
    hex32("f381626e41e7027ea431bfe3009e94bdd25a746beec468948d6c3c7c5dc9a54b"),
    hex32("fd50b8e3b144ea244fbf7737f550bc8dd0c2650bbc1aada833ca17ff8dbf329b"),
];

/// The libp2p peer id of an ed25519 node key, as the chain stores it: the
/// identity multihash (`0x00`, length 36) of the protobuf-encoded key
/// (`0x08 0x01`: ed25519, `0x12 0x20`: 32 bytes).
pub fn ed25519_peer_id(public: &[u8; 32]) -> OpaquePeerId {
    let mut bytes = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    bytes.extend_from_slice(public);
    OpaquePeerId(bytes)
}

/// The well-known nodes of a preset: dev node `i` owned by `owners[i]`.
fn dev_nodes(owners: &[Sr25519Keyring]) -> Vec<(OpaquePeerId, AccountId)> {
    owners
        .iter()
        .zip(DEV_NODE_PUBLIC_KEYS.iter())
        .map(|(owner, key)| (ed25519_peer_id(key), owner.to_account_id()))
        .collect()
}

/// Fashion-MNIST's training set (Debian `dataset-fashion-mnist`), as the
/// puzzle commits to it (`upow-puzzle`'s dataset tree; checked by a test of
/// `upow-chain-spec` against the installed files).
pub const FASHION_MNIST_TRAIN: DatasetCommitment = DatasetCommitment {
    root: hex32("bd4c52fc9e7fbde9dd347cefef9440a2c2c6c478d84f977ca5b1c46fcbd88f46"),
    samples: 60_000,
    inputs: 784,
};

/// Fashion-MNIST's test set: the held-out samples the loss is measured on.
pub const FASHION_MNIST_TEST: DatasetCommitment = DatasetCommitment {
    root: hex32("34fd2f654ddc558babef251a8dbe1a992c6310a2b3ad1e0a580da3da0ef6b85e"),
    samples: 10_000,
    inputs: 784,
};

const fn hex32(s: &str) -> [u8; 32] {
    let bytes = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(bytes[2 * i]) << 4 | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

/// The house job: 784-128-10, batch 64, learning rate 2^-2, its schedule
/// planned over 40 epochs (37 500 steps).
pub fn house_job_spec() -> JobSpec {
    let model = Model::new(&[784, 128, 10]).expect("784-128-10 is within the puzzle's limits");
    let hyper = Hyperparams::new(6, 2, 37_500).expect("within the puzzle's limits");
    JobSpec::new(model, hyper, FASHION_MNIST_TRAIN).expect("the dataset fits the model")
}

/// Seed of the house job's initial weights.
pub fn house_job_seed() -> [u8; 32] {
    hash_parts(b"upow/house-job/v1", &[b"fashion-mnist 784-128-10"])
}

/// Bond of each genesis miner and validator.
const GENESIS_BOND: Balance = 1_000 * UNIT;
/// Balance of each endowed genesis account.
const ENDOWMENT: Balance = 1_000_000 * UNIT;

/// Genesis of a chain where `miners` author blocks and `validators`
/// finalize; `endowed` hold [`ENDOWMENT`] each, `root` is the sudo key
/// and the house job's nominal poster, and `nodes` are the well-known
/// nodes (none: an open network).
#[allow(clippy::too_many_arguments)]
fn upow_genesis(
    miners: &[Sr25519Keyring],
    validators: &[(Sr25519Keyring, Ed25519Keyring)],
    nodes: Vec<(OpaquePeerId, AccountId)>,
    endowed: &[Sr25519Keyring],
    root: Sr25519Keyring,
    initial_difficulty: u128,
    job_expiry: Option<crate::BlockNumber>,
    dispute_window: Option<crate::BlockNumber>,
) -> Value {
    let root: AccountId = root.to_account_id();
    let house_job = pallet_upow_jobs::GenesisHouseJob {
        poster: root.clone(),
        spec: pallet_upow_jobs::GenesisJobSpec::from(&house_job_spec()),
        init_seed: H256(house_job_seed()),
    };
    build_struct_json_patch!(RuntimeGenesisConfig {
        balances: BalancesConfig {
            balances: endowed
                .iter()
                .map(|k| (k.to_account_id(), ENDOWMENT))
                .collect::<Vec<_>>(),
        },
        sudo: SudoConfig { key: Some(root) },
        node_authorization: NodeAuthorizationConfig { nodes },
        grandpa: GrandpaConfig {
            authorities: validators
                .iter()
                .map(|(_, grandpa)| (grandpa.public().into(), 1))
                .collect::<Vec<_>>(),
        },
        training: TrainingConfig {
            difficulty: initial_difficulty,
            dispute_window,
        },
        jobs: JobsConfig {
            house_job: Some(house_job),
            workloads: Vec::new(),
            jobs: Vec::new(),
            expiry: job_expiry,
        },
        staking: StakingConfig {
            miners: miners
                .iter()
                .map(|k| (k.to_account_id(), k.public().0, GENESIS_BOND))
                .collect::<Vec<_>>(),
            validators: validators
                .iter()
                .map(|(account, grandpa)| {
                    (account.to_account_id(), grandpa.public().0, GENESIS_BOND)
                })
                .collect::<Vec<_>>(),
        },
    })
}

/// The well-known dev accounts Alice … Ferdie.
const DEV_ACCOUNTS: [Sr25519Keyring; 6] = [
    Sr25519Keyring::Alice,
    Sr25519Keyring::Bob,
    Sr25519Keyring::Charlie,
    Sr25519Keyring::Dave,
    Sr25519Keyring::Eve,
    Sr25519Keyring::Ferdie,
];

/// Job expiry of the dev chain: 20 blocks without a verified step (the
/// runtime's default, 10 minutes, elsewhere), so that a job nobody can mine
/// is seen to expire in a test.
pub const DEV_JOB_EXPIRY: crate::BlockNumber = 20;

/// Dispute window of the dev chain: 10 blocks (the runtime's default, 20
/// minutes, elsewhere), so that payments settle and jobs complete within a
/// test, and a test's auditor still has time to prove a fraud.
pub const DEV_DISPUTE_WINDOW: crate::BlockNumber = 10;

/// `development`: Alice mines and validates; low starting difficulty.
pub fn development_config_genesis() -> Value {
    upow_genesis(
        &[Sr25519Keyring::Alice],
        &[(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
        Vec::new(),
        &DEV_ACCOUNTS,
        Sr25519Keyring::Alice,
        500,
        Some(DEV_JOB_EXPIRY),
        Some(DEV_DISPUTE_WINDOW),
    )
}

/// `local_testnet`: Alice, Bob and Charlie mine and validate; dev nodes
/// 1–4 (Alice's … Dave's) form the permissioned network.
pub fn local_testnet_genesis() -> Value {
    upow_genesis(
        &[
            Sr25519Keyring::Alice,
            Sr25519Keyring::Bob,
            Sr25519Keyring::Charlie,
        ],
        &[
            (Sr25519Keyring::Alice, Ed25519Keyring::Alice),
            (Sr25519Keyring::Bob, Ed25519Keyring::Bob),
            (Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
        ],
        dev_nodes(&DEV_ACCOUNTS[..4]),
        &DEV_ACCOUNTS,
        Sr25519Keyring::Alice,
        500,
        None,
        None,
    )
}

/// `testnet_template`: Alice and Bob mine and validate; the starting
/// difficulty of a live network; dev nodes 1–2 are its well-known nodes.
/// Its dev keys (accounts and node keys) are placeholders.
pub fn testnet_template_genesis() -> Value {
    upow_genesis(
        &[Sr25519Keyring::Alice, Sr25519Keyring::Bob],
        &[
            (Sr25519Keyring::Alice, Ed25519Keyring::Alice),
            (Sr25519Keyring::Bob, Ed25519Keyring::Bob),
        ],
        dev_nodes(&DEV_ACCOUNTS[..2]),
        &[Sr25519Keyring::Alice, Sr25519Keyring::Bob],
        Sr25519Keyring::Alice,
        5_000,
        None,
        None,
    )
}

/// The JSON patch of the preset `id`, or `None` if there is no such preset.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
    let patch = match id.as_str() {
        DEV_RUNTIME_PRESET => development_config_genesis(),
        LOCAL_TESTNET_RUNTIME_PRESET => local_testnet_genesis(),
        TESTNET_TEMPLATE_PRESET => testnet_template_genesis(),
        _ => return None,
    };
    Some(
        serde_json::to_string(&patch)
            .expect("serialization to json is expected to work. qed.")
            .into_bytes(),
    )
}

/// The names of the presets [`get_preset`] serves.
pub fn preset_names() -> Vec<PresetId> {
    vec![
        PresetId::from(DEV_RUNTIME_PRESET),
        PresetId::from(LOCAL_TESTNET_RUNTIME_PRESET),
        PresetId::from(TESTNET_TEMPLATE_PRESET),
    ]
}
