//! The v0 → v1 migration: records written in the v0 layout (with the
//! progress the training pallet now owns) come out as v1 records with every
//! other field unchanged, the storage version moves to 1, and a second run
//! changes nothing; the v2 → v3 migration turns every v2 record's seed and
//! hash into drawn initial weights.

use super::*;
use crate::migrations::{JobV0, JobV2, MigrateV0ToV1, MigrateV2ToV3};
use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};

fn v0_record(
    poster: u64,
    status: JobStatus,
    steps: u64,
    last_loss: Option<u64>,
) -> JobV0<u64, u64, u64> {
    let spec = spec(100);
    JobV0 {
        poster,
        initial_weights: [poster as u8; 32],
        spec,
        init_seed: [9; 32],
        price_per_step: 5,
        budget_left: 90,
        pending: 10,
        deposit: DEPOSIT,
        target_loss: Some(7),
        status,
        steps,
        last_loss,
        posted_at: 2,
        last_progress: 3,
        ended_at: None,
    }
}

#[test]
fn v0_records_lose_their_progress_and_keep_everything_else() {
    new_test_ext().execute_with(|| {
        // A chain built before v1: records in the old layout only, version 0.
        let _ = Jobs::<Test>::clear(u32::MAX, None);
        let old = [
            (10, v0_record(1, JobStatus::Open, 42, Some(300))),
            (11, v0_record(2, JobStatus::Settling, u64::MAX, None)),
            (12, v0_record(3, JobStatus::Cancelled, 0, Some(u64::MAX))),
        ];
        for (id, record) in &old {
            frame_support::storage::unhashed::put_raw(
                &Jobs::<Test>::hashed_key_for(id),
                &record.encode(),
            );
        }
        StorageVersion::new(0).put::<UpowJobs>();

        MigrateV0ToV1::<Test>::on_runtime_upgrade();
        assert_eq!(UpowJobs::on_chain_storage_version(), StorageVersion::new(1));
        for (id, record) in old.clone() {
            // The v1 layout (v3 changed `Job`): read raw.
            let stored = frame_support::storage::unhashed::get::<JobV2<u64, u64, u64>>(
                &Jobs::<Test>::hashed_key_for(id),
            );
            assert_eq!(stored, Some(record.into_v1()), "job {id}");
        }

        // Idempotent: version 1 skips it.
        let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
        MigrateV0ToV1::<Test>::on_runtime_upgrade();
        assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
    });
}

#[test]
fn a_chain_built_at_v1_does_not_migrate() {
    new_test_ext().execute_with(|| {
        // (A runtime's genesis writes the in-code version: tested in
        // runtime/tests/migrations.rs; this mock builds pallet storage only.)
        StorageVersion::new(1).put::<UpowJobs>();
        let id = post(1, 10, 5, 100);
        let before = Jobs::<Test>::get(id);
        let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
        MigrateV0ToV1::<Test>::on_runtime_upgrade();
        assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
        assert_eq!(Jobs::<Test>::get(id), before);
    });
}

#[test]
fn v2_records_hold_their_seed_and_hash_as_drawn_initial_weights() {
    new_test_ext().execute_with(|| {
        // A chain built at v2: records seeded at posting, version 2.
        let _ = Jobs::<Test>::clear(u32::MAX, None);
        let old = [
            (10, v0_record(1, JobStatus::Open, 42, Some(300)).into_v1()),
            (11, v0_record(2, JobStatus::Cancelled, 0, None).into_v1()),
        ];
        for (id, record) in &old {
            frame_support::storage::unhashed::put_raw(
                &Jobs::<Test>::hashed_key_for(id),
                &record.encode(),
            );
        }
        StorageVersion::new(2).put::<UpowJobs>();

        MigrateV2ToV3::<Test>::on_runtime_upgrade();
        assert_eq!(UpowJobs::on_chain_storage_version(), StorageVersion::new(3));
        for (id, record) in old.clone() {
            let (seed, weights) = (record.init_seed, record.initial_weights);
            let migrated = Jobs::<Test>::get(id).expect("decodes as v3");
            assert_eq!(
                migrated.initial,
                Some(crate::InitialWeights { seed, weights }),
                "job {id}"
            );
            assert_eq!(migrated, record.into_v3(), "job {id}");
        }
        assert!(AwaitingInitialWeights::<Test>::get().is_empty());

        // Idempotent: version 3 skips it.
        let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
        MigrateV2ToV3::<Test>::on_runtime_upgrade();
        assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
    });
}
