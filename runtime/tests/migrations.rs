//! The runtime's storage migrations through the real `Executive`: a chain
//! built by this runtime starts at the jobs pallet's storage version 3 (its
//! records without the progress the training pallet owns, its catalogue
//! listing the house job's spec, its records' initial weights drawn); a
//! chain at version 0, 1 or 2 is migrated on upgrade, its records kept
//! field by field and the house job's spec listed at the reference cost —
//! and nothing else.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codec::Encode;
use common::*;
use frame_support::traits::{GetStorageVersion, StorageVersion};
use pallet_upow_jobs::migrations::{JobV0, JobV2};
use upow_primitives::{traits::JobSchedule, JobStatus};
use upow_runtime::{Executive, Runtime, UNIT};

type Jobs = pallet_upow_jobs::Pallet<Runtime>;

/// Rewrites job `id`'s record in the layout of versions 1 and 2 (its
/// initial weights' seed and hash in place of `initial`).
fn store_as_v2(id: u64) {
    let job = pallet_upow_jobs::Jobs::<Runtime>::get(id).expect("a record");
    let initial = job.initial.expect("drawn");
    let old = JobV2 {
        poster: job.poster,
        spec: job.spec,
        init_seed: initial.seed,
        initial_weights: initial.weights,
        price_per_step: job.price_per_step,
        budget_left: job.budget_left,
        pending: job.pending,
        deposit: job.deposit,
        target_loss: job.target_loss,
        status: job.status,
        posted_at: job.posted_at,
        last_progress: job.last_progress,
        ended_at: job.ended_at,
    };
    frame_support::storage::unhashed::put_raw(
        &pallet_upow_jobs::Jobs::<Runtime>::hashed_key_for(id),
        &old.encode(),
    );
}

/// Empties the catalogue, as a chain before version 2 had none.
fn forget_the_catalogue() {
    let _ = pallet_upow_jobs::Workloads::<Runtime>::clear(u32::MAX, None);
    let _ = pallet_upow_jobs::ListedSpecs::<Runtime>::clear(u32::MAX, None);
    pallet_upow_jobs::NextWorkloadId::<Runtime>::kill();
}

#[test]
fn a_new_chain_starts_at_version_3_and_an_upgrade_changes_nothing() {
    ext().execute_with(|| {
        assert_eq!(Jobs::on_chain_storage_version(), StorageVersion::new(3));
        let house = pallet_upow_jobs::Jobs::<Runtime>::get(0).expect("the house job");
        let workloads = pallet_upow_jobs::NextWorkloadId::<Runtime>::get();
        Executive::execute_on_runtime_upgrade();
        assert_eq!(pallet_upow_jobs::Jobs::<Runtime>::get(0), Some(house));
        assert_eq!(
            pallet_upow_jobs::NextWorkloadId::<Runtime>::get(),
            workloads
        );
    });
}

#[test]
fn a_chain_at_version_1_lists_only_the_house_jobs_spec_on_upgrade() {
    ext().execute_with(|| {
        frame_system::Pallet::<Runtime>::set_block_number(1);
        // An open paid job of another spec, posted while that spec was listed.
        let other = upow_puzzle::JobSpec::new(
            spec().model,
            upow_puzzle::Hyperparams::new(4, 2, 77).unwrap(),
            spec().dataset,
        )
        .unwrap();
        list(&other);
        let paid = Jobs::do_post(&account(&bob()), other.clone(), UNIT, 100 * UNIT, None).unwrap();
        draw_initial_weights();
        assert!(<Jobs as JobSchedule<_>>::trainable(paid).is_some());
        let (house_before, paid_before) = (
            pallet_upow_jobs::Jobs::<Runtime>::get(0).unwrap(),
            pallet_upow_jobs::Jobs::<Runtime>::get(paid).unwrap(),
        );
        // A version-1 chain: no catalogue, records in the old layout.
        forget_the_catalogue();
        store_as_v2(0);
        store_as_v2(paid);
        StorageVersion::new(1).put::<Jobs>();
        // Before the migration runs — the state the node checks the
        // upgrade's first block against — the house job still trains, at
        // the reference cost; the paid job does not.
        let house = <Jobs as JobSchedule<_>>::trainable(0).expect("the house job trains unlisted");
        assert_eq!(house.cost, upow_puzzle::REFERENCE_COST);
        assert!(<Jobs as JobSchedule<_>>::trainable(paid).is_none());

        Executive::execute_on_runtime_upgrade();

        assert_eq!(Jobs::on_chain_storage_version(), StorageVersion::new(3));
        assert_eq!(
            pallet_upow_jobs::Jobs::<Runtime>::get(0),
            Some(house_before)
        );
        assert_eq!(
            pallet_upow_jobs::Jobs::<Runtime>::get(paid),
            Some(paid_before)
        );
        let house = <Jobs as JobSchedule<_>>::trainable(0).expect("the house job trains");
        assert_eq!(house.cost, upow_puzzle::REFERENCE_COST);
        assert_eq!(Jobs::listed_cost(&other), None);
        assert!(<Jobs as JobSchedule<_>>::trainable(paid).is_none());
        assert_eq!(pallet_upow_jobs::NextWorkloadId::<Runtime>::get(), 1);
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
            init_seed: house.initial.expect("drawn at genesis").seed,
            initial_weights: house.initial.expect("drawn at genesis").weights,
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
        forget_the_catalogue();
        StorageVersion::new(0).put::<Jobs>();
        // Before the migrations run, the house job trains from its v0 record.
        let before = <Jobs as JobSchedule<_>>::trainable(0).expect("the house job trains");
        assert_eq!(before.initial_weights, house.initial.unwrap().weights);
        Executive::execute_on_runtime_upgrade();
        assert_eq!(Jobs::on_chain_storage_version(), StorageVersion::new(3));
        assert_eq!(
            pallet_upow_jobs::Jobs::<Runtime>::get(0),
            Some(house.clone())
        );
        assert_eq!(
            Jobs::listed_workload(&house.spec).map(|(_, w)| (w.cost, w.liveness)),
            Some((upow_puzzle::REFERENCE_COST, upow_puzzle::REFERENCE_LIVENESS))
        );
    });
}
