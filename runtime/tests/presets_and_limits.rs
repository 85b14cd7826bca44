//! The runtime's configuration as a whole: the validator-set bounds of
//! GRANDPA, staking and rewards are one constant, and every genesis preset
//! builds a genesis state.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use frame_support::traits::Get;
use serde_json::Value;
use sp_runtime::BuildStorage;
use upow_runtime::{configs::MaxValidators, genesis_config_presets, Runtime, RuntimeGenesisConfig};

/// `Get::get` of a bound, whatever type configures it (a `parameter_types!`
/// constant or a `ConstU32`).
fn bound<B: Get<u32>>() -> u32 {
    B::get()
}

#[test]
fn validator_bounds_are_one_constant() {
    let max = bound::<MaxValidators>();
    assert_eq!(
        bound::<<Runtime as pallet_grandpa::Config>::MaxAuthorities>(),
        max
    );
    assert_eq!(
        bound::<<Runtime as pallet_upow_staking::Config>::MaxValidators>(),
        max
    );
    assert_eq!(
        bound::<<Runtime as pallet_upow_rewards::Config>::MaxValidators>(),
        max
    );
}

/// RFC 7386 merge of `patch` into `base` (how a preset patch completes the
/// default config).
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    base.remove(&k);
                } else {
                    merge(base.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (base, patch) => *base = patch,
    }
}

#[test]
fn every_preset_builds_its_genesis() {
    let names = genesis_config_presets::preset_names();
    assert_eq!(
        names,
        ["development", "local_testnet", "testnet_template"].map(String::from)
    );
    for name in names {
        let patch: Value =
            serde_json::from_slice(&genesis_config_presets::get_preset(&name).unwrap()).unwrap();
        let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
        merge(&mut config, patch);
        let config: RuntimeGenesisConfig =
            serde_json::from_value(config).unwrap_or_else(|e| panic!("{name}: {e}"));
        config
            .build_storage()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let house = &config.jobs.house_job.as_ref().unwrap().spec;
        assert_eq!(house.dims, [784, 128, 10], "{name}");
    }
    assert!(genesis_config_presets::get_preset(&"no_such_preset".into()).is_none());
}
