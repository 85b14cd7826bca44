//! Weights for `pallet_upow_jobs`.
//!
//! HAND-WRITTEN, CONSERVATIVE PLACEHOLDERS: not measured yet. Regenerate with
//! `upow-node benchmark pallet --pallet pallet_upow_jobs --extrinsic '*'
//! --steps 50 --repeat 20 --output pallets/jobs/src/weights.rs` on reference
//! hardware (the benchmarks are in `benchmarking.rs`).
//!
//! The estimates count the storage accesses of each worst case (queue of
//! `MaxQueued = 256`, job entries ≤ 250 bytes, a poster with a few holds) and
//! round the proof sizes up.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_upow_jobs`.
pub trait WeightInfo {
	/// [`crate::Pallet::post_job`], worst case: inserting into a queue one short of full.
	fn post_job() -> Weight;
	/// [`crate::Pallet::cancel_job`], worst case: the active job, activating the next of a full queue.
	fn cancel_job() -> Weight;
	/// [`crate::Pallet::top_up`].
	fn top_up() -> Weight;
	/// `JobSchedule::on_progress`, worst case: paying a new account, completing the
	/// job, and activating the next of a full queue.
	fn on_progress() -> Weight;
}

/// Weights for `pallet_upow_jobs` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Jobs::NextJobId` (r:1 w:1), `Jobs::Active` (r:1 w:0), `Jobs::Queue` (r:1 w:1)
	/// Storage: `Jobs::Jobs` (r:9 w:1) (binary search of the queue, then the new job)
	/// Storage: `Balances::Holds` (r:1 w:1), `System::Account` (r:1 w:1)
	fn post_job() -> Weight {
		Weight::from_parts(80_000_000, 12_000)
			.saturating_add(T::DbWeight::get().reads(14_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	/// Storage: `Jobs::Jobs` (r:2 w:2), `Jobs::HouseJob` (r:1 w:0), `Jobs::Queue` (r:1 w:1)
	/// Storage: `Jobs::Active` (r:0 w:1), `Balances::Holds` (r:1 w:1), `System::Account` (r:1 w:1)
	fn cancel_job() -> Weight {
		Weight::from_parts(70_000_000, 8_000)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
	/// Storage: `Jobs::Jobs` (r:1 w:1), `Jobs::HouseJob` (r:1 w:0)
	/// Storage: `Balances::Holds` (r:1 w:1), `System::Account` (r:1 w:1)
	fn top_up() -> Weight {
		Weight::from_parts(50_000_000, 5_000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `Jobs::HouseJob` (r:1 w:0), `Jobs::Active` (r:1 w:1), `Jobs::Jobs` (r:2 w:2)
	/// Storage: `Jobs::Queue` (r:1 w:1), `Balances::Holds` (r:1 w:1), `System::Account` (r:2 w:2)
	fn on_progress() -> Weight {
		Weight::from_parts(110_000_000, 10_000)
			.saturating_add(T::DbWeight::get().reads(9_u64))
			.saturating_add(T::DbWeight::get().writes(8_u64))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	fn post_job() -> Weight {
		Weight::from_parts(80_000_000, 12_000)
			.saturating_add(RocksDbWeight::get().reads(14_u64))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
	}
	fn cancel_job() -> Weight {
		Weight::from_parts(70_000_000, 8_000)
			.saturating_add(RocksDbWeight::get().reads(6_u64))
			.saturating_add(RocksDbWeight::get().writes(6_u64))
	}
	fn top_up() -> Weight {
		Weight::from_parts(50_000_000, 5_000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn on_progress() -> Weight {
		Weight::from_parts(110_000_000, 10_000)
			.saturating_add(RocksDbWeight::get().reads(9_u64))
			.saturating_add(RocksDbWeight::get().writes(8_u64))
	}
}
