//! # upow-chain-spec
//!
//! The chains `upow-node` knows: `dev` (Alice mines and validates alone),
//! `local` (Alice, Bob and Charlie mine and validate), and `testnet` (a
//! template to copy: replace the keys and accounts, see docs/operations.md).
//!
//! Their genesis states are the runtime's presets
//! ([`upow_runtime::genesis_config_presets`]), built on the runtime's typed
//! `RuntimeGenesisConfig`; this crate names each chain and picks its preset.
//!
//! Every genesis holds the house job — the job blocks train whenever no paid
//! job is queued: an MLP 784-128-10 on Fashion-MNIST's 60 000 training
//! samples, committed to by [`FASHION_MNIST_TRAIN`].

use sc_service::ChainType;
use upow_runtime::{
    genesis_config_presets::{
        DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET, TESTNET_TEMPLATE_PRESET,
    },
    WASM_BINARY,
};

pub use upow_runtime::genesis_config_presets::{
    house_job_seed, house_job_spec, FASHION_MNIST_TEST, FASHION_MNIST_TRAIN,
};

/// A chain specification of the upow runtime.
pub type ChainSpec = sc_service::GenericChainSpec;

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

/// The spec named `name` (id `id`, protocol id `protocol_id`) whose genesis
/// is the runtime's preset `preset`.
fn from_preset(
    name: &str,
    id: &str,
    protocol_id: &str,
    chain_type: ChainType,
    preset: &str,
) -> Result<ChainSpec, String> {
    Ok(ChainSpec::builder(wasm()?, None)
        .with_name(name)
        .with_id(id)
        .with_protocol_id(protocol_id)
        .with_chain_type(chain_type)
        .with_genesis_config_preset_name(preset)
        .with_properties(properties())
        .build())
}

/// `dev`: Alice mines and validates; low starting difficulty.
pub fn development_config() -> Result<ChainSpec, String> {
    from_preset(
        "upow development",
        "upow_dev",
        "upow-dev",
        ChainType::Development,
        DEV_RUNTIME_PRESET,
    )
}

/// `local`: Alice, Bob and Charlie mine and validate.
pub fn local_testnet_config() -> Result<ChainSpec, String> {
    from_preset(
        "upow local testnet",
        "upow_local",
        "upow-local",
        ChainType::Local,
        LOCAL_TESTNET_RUNTIME_PRESET,
    )
}

/// `testnet`: a template for a live network. The well-known dev keys in it
/// must be replaced before launch (`upow-node build-spec --chain testnet`,
/// edit, then `--raw`).
pub fn testnet_template() -> Result<ChainSpec, String> {
    from_preset(
        "upow testnet",
        "upow_testnet",
        "upow",
        ChainType::Live,
        TESTNET_TEMPLATE_PRESET,
    )
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
