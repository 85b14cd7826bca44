//! # upow-chain-spec
//!
//! The chains `upow-node` knows: `dev` (Alice mines and validates alone),
//! `local` (Alice, Bob and Charlie mine and validate), and `testnet` (a
//! template to copy: replace the keys and accounts, see docs/operations.md).
//!
//! Every genesis holds the house job — the job blocks train whenever no paid
//! job is queued: an MLP 784-128-10 on Fashion-MNIST's 60 000 training
//! samples, committed to by [`FASHION_MNIST_TRAIN`].

use sc_service::ChainType;
use serde_json::{json, Value};
use sp_core::{crypto::Ss58Codec, H256};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use upow_puzzle::{hash::hash_parts, DatasetCommitment, Hyperparams, JobSpec, Model};
use upow_runtime::{AccountId, Balance, UNIT, WASM_BINARY};

/// A chain specification of the upow runtime.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Fashion-MNIST's training set (Debian `dataset-fashion-mnist`), as the
/// puzzle commits to it (`upow-puzzle`'s dataset tree; checked by a test
/// against the installed files).
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

/// Genesis of a chain where `miners` author blocks and `validators` finalize.
fn genesis(
    miners: &[Sr25519Keyring],
    validators: &[(Sr25519Keyring, Ed25519Keyring)],
    endowed: &[AccountId],
    root: &AccountId,
    difficulty: u128,
) -> Value {
    let spec = house_job_spec();
    let house_job = pallet_upow_jobs::GenesisHouseJob {
        poster: root.clone(),
        spec: pallet_upow_jobs::GenesisJobSpec::from(&spec),
        init_seed: H256(house_job_seed()),
    };
    let miners: Vec<Value> = miners
        .iter()
        .map(|k| json!([k.to_account_id().to_ss58check(), k.public().0, GENESIS_BOND]))
        .collect();
    let grandpa_authorities: Vec<Value> = validators
        .iter()
        .map(|(_, g)| json!([g.public().to_ss58check(), 1]))
        .collect();
    let validators: Vec<Value> = validators
        .iter()
        .map(|(account, grandpa)| {
            json!([
                account.to_account_id().to_ss58check(),
                grandpa.public().0,
                GENESIS_BOND
            ])
        })
        .collect();
    json!({
        "balances": {
            "balances": endowed.iter().map(|a| json!([a.to_ss58check(), ENDOWMENT])).collect::<Vec<_>>(),
        },
        "sudo": { "key": root.to_ss58check() },
        "grandpa": { "authorities": grandpa_authorities },
        "training": { "difficulty": difficulty },
        "jobs": { "houseJob": house_job, "jobs": [] },
        "staking": { "miners": miners, "validators": validators },
    })
}

fn properties() -> sc_chain_spec::Properties {
    let mut p = sc_chain_spec::Properties::new();
    p.insert("tokenSymbol".into(), "UPOW".into());
    p.insert("tokenDecimals".into(), 12.into());
    p.insert("ss58Format".into(), 42.into());
    p
}

fn wasm() -> Result<&'static [u8], String> {
    WASM_BINARY.ok_or_else(|| "the wasm runtime was not built (SKIP_WASM_BUILD?)".to_string())
}

fn endowed(keys: &[Sr25519Keyring]) -> Vec<AccountId> {
    keys.iter().map(|k| k.to_account_id()).collect()
}

/// `dev`: Alice mines and validates; low starting difficulty.
pub fn development_config() -> Result<ChainSpec, String> {
    use Sr25519Keyring::*;
    let patch = genesis(
        &[Alice],
        &[(Alice, Ed25519Keyring::Alice)],
        &endowed(&[Alice, Bob, Charlie, Dave, Eve, Ferdie]),
        &Alice.to_account_id(),
        500,
    );
    Ok(ChainSpec::builder(wasm()?, None)
        .with_name("upow development")
        .with_id("upow_dev")
        .with_protocol_id("upow-dev")
        .with_chain_type(ChainType::Development)
        .with_genesis_config_patch(patch)
        .with_properties(properties())
        .build())
}

/// `local`: Alice, Bob and Charlie mine and validate.
pub fn local_testnet_config() -> Result<ChainSpec, String> {
    use Sr25519Keyring::*;
    let patch = genesis(
        &[Alice, Bob, Charlie],
        &[
            (Alice, Ed25519Keyring::Alice),
            (Bob, Ed25519Keyring::Bob),
            (Charlie, Ed25519Keyring::Charlie),
        ],
        &endowed(&[Alice, Bob, Charlie, Dave, Eve, Ferdie]),
        &Alice.to_account_id(),
        500,
    );
    Ok(ChainSpec::builder(wasm()?, None)
        .with_name("upow local testnet")
        .with_id("upow_local")
        .with_protocol_id("upow-local")
        .with_chain_type(ChainType::Local)
        .with_genesis_config_patch(patch)
        .with_properties(properties())
        .build())
}

/// `testnet`: a template for a live network. The well-known dev keys in it
/// must be replaced before launch (`upow-node build-spec --chain testnet`,
/// edit, then `--raw`).
pub fn testnet_template() -> Result<ChainSpec, String> {
    use Sr25519Keyring::*;
    let patch = genesis(
        &[Alice, Bob],
        &[(Alice, Ed25519Keyring::Alice), (Bob, Ed25519Keyring::Bob)],
        &endowed(&[Alice, Bob]),
        &Alice.to_account_id(),
        5_000,
    );
    Ok(ChainSpec::builder(wasm()?, None)
        .with_name("upow testnet")
        .with_id("upow_testnet")
        .with_protocol_id("upow")
        .with_chain_type(ChainType::Live)
        .with_genesis_config_patch(patch)
        .with_properties(properties())
        .build())
}

/// The spec named by `--chain` (`dev`, `local`, `testnet`, or a JSON file).
pub fn load(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
    Ok(match id {
        "dev" | "" => Box::new(development_config()?),
        "local" => Box::new(local_testnet_config()?),
        "testnet" => Box::new(testnet_template()?),
        path => Box::new(ChainSpec::from_json_file(std::path::PathBuf::from(path))?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use upow_puzzle::idx;

    #[test]
    fn dataset_constants_match_the_installed_fashion_mnist() {
        let dir = std::path::Path::new(idx::FASHION_MNIST_DIR);
        if !dir.join("train-labels-idx1-ubyte.gz").exists() {
            eprintln!("skipped: Fashion-MNIST not installed (scripts/setup installs it)");
            return;
        }
        let train = idx::load_split(dir, idx::Split::Train).unwrap();
        assert_eq!(train.commitment(), FASHION_MNIST_TRAIN);
        let test = idx::load_split(dir, idx::Split::Test).unwrap();
        assert_eq!(test.commitment(), FASHION_MNIST_TEST);
    }

    #[test]
    fn every_builtin_spec_builds_its_genesis() {
        for id in ["dev", "local", "testnet"] {
            let spec = load(id).unwrap();
            spec.as_storage_builder()
                .build_storage()
                .unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn house_job_is_valid() {
        let spec = house_job_spec();
        assert_eq!(spec.model.dims(), &[784, 128, 10]);
        assert_eq!(spec.hyper.batch(), 64);
    }
}
