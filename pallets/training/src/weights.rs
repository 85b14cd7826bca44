//! Weights for `pallet_upow_training`.
//!
//! Measured with `upow-node benchmark pallet --pallet pallet_upow_training
//! --extrinsic '*' --steps 10 --repeat 5 --wasm-execution compiled` on the
//! 2-core build machine; see docs/benchmarks.md. Regenerate after changing
//! the step or the pallet.

#![allow(unused_parens, unused_imports, missing_docs)]

use core::marker::PhantomData;
use frame_support::{
    traits::Get,
    weights::{constants::RocksDbWeight, Weight},
};

/// Weight functions needed for `pallet_upow_training`.
pub trait WeightInfo {
    /// `submit_trajectory` re-executing `k` thousand multiply-accumulates.
    fn submit_trajectory(k: u32) -> Weight;
}

/// Weights for `pallet_upow_training` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
    /// Storage: `Training::Proven` (r:1 w:1), `Training::Difficulty` (r:1),
    /// `Training::Jobs` (r:1 w:1), `Training::LossPoints` (r:1 w:1),
    /// `Training::LossCurve` (w:1), `System::Digest` (r:1).
    /// The range of component `k` is `[1, 10000000]`.
    fn submit_trajectory(k: u32) -> Weight {
        // ~1.5 ns per multiply-accumulate in compiled wasm, plus hashing and
        // Merkle proofs (measured base).
        Weight::from_parts(60_000_000, 400_000)
            .saturating_add(Weight::from_parts(1_500_000, 0).saturating_mul(k.into()))
            .saturating_add(T::DbWeight::get().reads(5_u64))
            .saturating_add(T::DbWeight::get().writes(4_u64))
    }
}

// For backwards compatibility and tests.
impl WeightInfo for () {
    fn submit_trajectory(k: u32) -> Weight {
        Weight::from_parts(60_000_000, 400_000)
            .saturating_add(Weight::from_parts(1_500_000, 0).saturating_mul(k.into()))
            .saturating_add(RocksDbWeight::get().reads(5_u64))
            .saturating_add(RocksDbWeight::get().writes(4_u64))
    }
}
