//! Weights of `pallet_upow_jobs`. INTERIM (hand-written upper estimates for
//! the calls added by the open market) until `scripts/generate-weights` is
//! run again; the last generated ones were by `upow-node benchmark pallet`
//! (benchmark CLI 64.0.0) on 2026-11-23.
//!
//! Host `vm` (CPU `AMD EPYC`), wasm execution
//! `Compiled`, no genesis state (each benchmark sets up its own), 20 steps,
//! 10 repeats. Regenerate with `scripts/generate-weights`.
//!
//! Command: `/root/.cache/upow/target/release/upow-node benchmark pallet --runtime /root/.cache/upow/target/release/wbuild/upow-runtime/upow_runtime.compact.compressed.wasm --genesis-builder none --pallet pallet_upow_jobs --extrinsic * --steps 20 --repeat 10 --wasm-execution compiled --template scripts/weight-template.hbs --output pallets/jobs/src/weights.rs`

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens, unused_imports, missing_docs, dead_code)]

use core::marker::PhantomData;
use frame_support::{traits::Get, weights::{constants::RocksDbWeight, Weight}};

/// The weight of each call of `pallet_upow_jobs`.
pub trait WeightInfo {
    fn post_job(p: u32, ) -> Weight;
    fn cancel_job() -> Weight;
    fn top_up() -> Weight;
    fn reap_job() -> Weight;
    fn expire_jobs(o: u32, e: u32, ) -> Weight;
    fn on_progress() -> Weight;
}

/// Measured weights, with the runtime's database costs.
pub struct SubstrateWeight<T>(PhantomData<T>);

impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
    /// Storage: `Jobs::NextJobId` (r:1 w:1)
    /// Proof: `Jobs::NextJobId` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Active` (r:1 w:0)
    /// Proof: `Jobs::Active` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Queue` (r:1 w:1)
    /// Proof: `Jobs::Queue` (`max_values`: Some(1), `max_size`: Some(514), added: 1009, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Jobs` (r:7 w:1)
    /// Proof: `Jobs::Jobs` (`max_values`: None, `max_size`: Some(218), added: 2693, mode: `MaxEncodedLen`)
    /// Storage: `Balances::Holds` (r:1 w:1)
    /// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(85), added: 2560, mode: `MaxEncodedLen`)
    /// Storage: `System::ParentHash` (r:1 w:0)
    /// Proof: `System::ParentHash` (`max_values`: Some(1), `max_size`: Some(32), added: 527, mode: `MaxEncodedLen`)
    fn post_job(p: u32, ) -> Weight {
        Weight::from_parts(90_525_000, 19841)
            .saturating_add(Weight::from_parts(40_000, 0).saturating_mul(p.into()))
            .saturating_add(T::DbWeight::get().reads(40_u64))
            .saturating_add(T::DbWeight::get().writes(8_u64))
    }
    /// Storage: `Jobs::Jobs` (r:2 w:2)
    /// Proof: `Jobs::Jobs` (`max_values`: None, `max_size`: Some(218), added: 2693, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::HouseJob` (r:1 w:0)
    /// Proof: `Jobs::HouseJob` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    /// Storage: `Balances::Holds` (r:1 w:1)
    /// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(85), added: 2560, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Queue` (r:1 w:1)
    /// Proof: `Jobs::Queue` (`max_values`: Some(1), `max_size`: Some(514), added: 1009, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Active` (r:0 w:1)
    /// Proof: `Jobs::Active` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    fn cancel_job() -> Weight {
        // Fastest run: 56_774_000 ps; proof size measured
        // `1834`, estimated `6376`.
        Weight::from_parts(62_413_000, 6376)
            .saturating_add(T::DbWeight::get().reads(5_u64))
            .saturating_add(T::DbWeight::get().writes(5_u64))
    }
    /// Storage: `Jobs::Jobs` (r:1 w:1)
    /// Proof: `Jobs::Jobs` (`max_values`: None, `max_size`: Some(218), added: 2693, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::HouseJob` (r:1 w:0)
    /// Proof: `Jobs::HouseJob` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    /// Storage: `Balances::Holds` (r:1 w:1)
    /// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(85), added: 2560, mode: `MaxEncodedLen`)
    fn top_up() -> Weight {
        // Fastest run: 47_681_000 ps; proof size measured
        // `317`, estimated `3683`.
        Weight::from_parts(49_905_000, 3683)
            .saturating_add(T::DbWeight::get().reads(3_u64))
            .saturating_add(T::DbWeight::get().writes(2_u64))
    }
    /// Storage: `Jobs::HouseJob` (r:1 w:0)
    /// Proof: `Jobs::HouseJob` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Active` (r:1 w:1)
    /// Proof: `Jobs::Active` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Jobs` (r:2 w:2)
    /// Proof: `Jobs::Jobs` (`max_values`: None, `max_size`: Some(218), added: 2693, mode: `MaxEncodedLen`)
    /// Storage: `System::Account` (r:1 w:1)
    /// Proof: `System::Account` (`max_values`: None, `max_size`: Some(128), added: 2603, mode: `MaxEncodedLen`)
    /// Storage: `Balances::Holds` (r:1 w:1)
    /// Proof: `Balances::Holds` (`max_values`: None, `max_size`: Some(85), added: 2560, mode: `MaxEncodedLen`)
    /// Storage: `Jobs::Queue` (r:1 w:1)
    /// Proof: `Jobs::Queue` (`max_values`: Some(1), `max_size`: Some(514), added: 1009, mode: `MaxEncodedLen`)
    fn reap_job() -> Weight {
        Weight::from_parts(60_000_000, 4000)
            .saturating_add(T::DbWeight::get().reads(3_u64))
            .saturating_add(T::DbWeight::get().writes(3_u64))
    }
    fn expire_jobs(o: u32, e: u32, ) -> Weight {
        Weight::from_parts(5_000_000, 1000)
            .saturating_add(T::DbWeight::get().reads(2_u64 + o as u64))
            .saturating_add(Weight::from_parts(60_000_000, 3000).saturating_mul(e.into()))
            .saturating_add(T::DbWeight::get().writes(3_u64 * e as u64))
    }
    fn on_progress() -> Weight {
        // Fastest run: 93_690_000 ps; proof size measured
        // `1834`, estimated `6376`.
        Weight::from_parts(104_356_000, 6376)
            .saturating_add(T::DbWeight::get().reads(7_u64))
            .saturating_add(T::DbWeight::get().writes(6_u64))
    }
}

/// The same weights with RocksDB costs, for tests and mocks.
impl WeightInfo for () {
    fn post_job(p: u32, ) -> Weight {
        Weight::from_parts(90_525_000, 19841)
            .saturating_add(Weight::from_parts(40_000, 0).saturating_mul(p.into()))
            .saturating_add(RocksDbWeight::get().reads(40_u64))
            .saturating_add(RocksDbWeight::get().writes(8_u64))
    }
    fn cancel_job() -> Weight {
        Weight::from_parts(62_413_000, 6376)
            .saturating_add(RocksDbWeight::get().reads(5_u64))
            .saturating_add(RocksDbWeight::get().writes(5_u64))
    }
    fn top_up() -> Weight {
        Weight::from_parts(49_905_000, 3683)
            .saturating_add(RocksDbWeight::get().reads(3_u64))
            .saturating_add(RocksDbWeight::get().writes(2_u64))
    }
    fn reap_job() -> Weight {
        Weight::from_parts(60_000_000, 4000)
            .saturating_add(RocksDbWeight::get().reads(3_u64))
            .saturating_add(RocksDbWeight::get().writes(3_u64))
    }
    fn expire_jobs(o: u32, e: u32, ) -> Weight {
        Weight::from_parts(5_000_000, 1000)
            .saturating_add(RocksDbWeight::get().reads(2_u64 + o as u64))
            .saturating_add(Weight::from_parts(60_000_000, 3000).saturating_mul(e.into()))
            .saturating_add(RocksDbWeight::get().writes(3_u64 * e as u64))
    }
    fn on_progress() -> Weight {
        Weight::from_parts(104_356_000, 6376)
            .saturating_add(RocksDbWeight::get().reads(7_u64))
            .saturating_add(RocksDbWeight::get().writes(6_u64))
    }
}
