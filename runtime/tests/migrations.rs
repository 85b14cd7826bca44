//! The runtime's storage migrations through the real `Executive`: a chain
//! built by this runtime starts at the jobs pallet's storage version 1 (its
//! records already without the progress the training pallet owns), and a
//! chain at version 0 is migrated on upgrade, its records kept field by
//! field.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codec::Encode;
use common::*;
use frame_support::traits::{GetStorageVersion, StorageVersion};
use pallet_upow_jobs::migrations::JobV0;
use upow_primitives::JobStatus;
use upow_runtime::{Executive, Runtime};

type Jobs = pallet_upow_jobs::Pallet<Runtime>;

#[test]
fn a_new_chain_starts_at_version_1_and_an_upgrade_changes_nothing() {
    ext().execute_with(|| {
        assert_eq!(Jobs::on_chain_storage_version(), StorageVersion::new(1));
        let house = pallet_upow_jobs::Jobs::<Runtime>::get(0).expect("the house job");
        Executive::execute_on_runtime_upgrade();
        assert_eq!(pallet_upow_jobs::Jobs::<Runtime>::get(0), Some(house));
    });
}

#[test]
fn a_chain_at_version_0_is_migrated_on_upgrade() {
    ext().execute_with(|| {
        let house = pallet_upow_jobs::Jobs::<Runtime>::get(0).expect("the house job");
        // The same record as a version-0 chain stored it, with progress.
        let old = JobV0 {
            poster: house.poster.clone(),
            spec: house.spec.clone(),
            init_seed: house.init_seed,
            initial_weights: house.initial_weights,
            price_per_step: house.price_per_step,
            budget_left: house.budget_left,
            pending: house.pending,
            deposit: house.deposit,
            target_loss: house.target_loss,
            status: JobStatus::Open,
            steps: 1234,
            last_loss: Some(56),
            posted_at: house.posted_at,
            last_progress: house.last_progress,
            ended_at: house.ended_at,
        };
        frame_support::storage::unhashed::put_raw(
            &pallet_upow_jobs::Jobs::<Runtime>::hashed_key_for(0),
            &old.encode(),
        );
        StorageVersion::new(0).put::<Jobs>();
        Executive::execute_on_runtime_upgrade();
        assert_eq!(Jobs::on_chain_storage_version(), StorageVersion::new(1));
        assert_eq!(pallet_upow_jobs::Jobs::<Runtime>::get(0), Some(house));
    });
}
