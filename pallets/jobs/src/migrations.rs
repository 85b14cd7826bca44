//! Storage migrations of the jobs pallet.
//!
//! * **v0 → v1** ([`MigrateV0ToV1`]): a [`Job`] record no longer keeps
//!   `steps` and `last_loss`. They duplicated the training pallet's record
//!   of the job's progress (kept in step by callbacks, and overwritten by
//!   it in the runtime API); the training pallet is now their one owner and
//!   this pallet reads them through [`Config::Progress`]. Every record is
//!   re-encoded without the two fields; nothing else changes.
//! * **v1 → v2** ([`MigrateV1ToV2`]): the catalogue of workloads
//!   (docs/v3.md §2). Only listed specs are trainable, so the house job's
//!   spec is listed at `upow_puzzle::REFERENCE_COST` (it defines the unit).
//!   Nothing else is listed: an open paid job whose spec governance does
//!   not list stops being trainable and expires with its whole unspent
//!   budget refunded — listing every open spec would keep a cheap-data job
//!   sealing blocks until someone noticed.
//! * **v2 → v3** ([`MigrateV2ToV3`]): a job's initial weights are drawn by
//!   a block after its posting (docs/v3.md §2.1), so a [`Job`] holds them
//!   as `initial: Option<InitialWeights>` instead of `init_seed` and
//!   `initial_weights`. Every record of a v2 chain was seeded at posting:
//!   it is re-encoded with `Some` of its seed and hash, nothing awaits a
//!   draw.
//!
//! Records of versions 1 and 2 have one layout, [`JobV2`]; [`JobV0`]
//! migrates into it, and [`JobV2`] into [`Job`].

use crate::{BalanceOf, Config, HouseJob, InitialWeights, Job, Jobs, Pallet};
use codec::{Decode, Encode};
use frame_support::{
    migrations::VersionedMigration, pallet_prelude::*, traits::UncheckedOnRuntimeUpgrade,
};
use frame_system::pallet_prelude::BlockNumberFor;
use upow_primitives::{Hash, JobStatus};
use upow_puzzle::JobSpec;

/// The v0 record: [`JobV2`] with the progress fields, in their place.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Debug)]
pub struct JobV0<AccountId, Balance, BlockNumber> {
    /// As in [`JobV2`].
    pub poster: AccountId,
    /// As in [`JobV2`].
    pub spec: JobSpec,
    /// As in [`JobV2`].
    pub init_seed: Hash,
    /// As in [`JobV2`].
    pub initial_weights: Hash,
    /// As in [`JobV2`].
    pub price_per_step: Balance,
    /// As in [`JobV2`].
    pub budget_left: Balance,
    /// As in [`JobV2`].
    pub pending: Balance,
    /// As in [`JobV2`].
    pub deposit: Balance,
    /// As in [`JobV2`].
    pub target_loss: Option<u64>,
    /// As in [`JobV2`].
    pub status: JobStatus,
    /// Dropped in v1 (the training pallet's record).
    pub steps: u64,
    /// Dropped in v1 (the training pallet's record).
    pub last_loss: Option<u64>,
    /// As in [`JobV2`].
    pub posted_at: BlockNumber,
    /// As in [`JobV2`].
    pub last_progress: BlockNumber,
    /// As in [`JobV2`].
    pub ended_at: Option<BlockNumber>,
}

/// A v0 record of runtime `T`.
pub type JobV0Of<T> =
    JobV0<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

impl<AccountId, Balance, BlockNumber> JobV0<AccountId, Balance, BlockNumber> {
    /// The v1 record: every field but the progress.
    pub fn into_v1(self) -> JobV2<AccountId, Balance, BlockNumber> {
        JobV2 {
            poster: self.poster,
            spec: self.spec,
            init_seed: self.init_seed,
            initial_weights: self.initial_weights,
            price_per_step: self.price_per_step,
            budget_left: self.budget_left,
            pending: self.pending,
            deposit: self.deposit,
            target_loss: self.target_loss,
            status: self.status,
            posted_at: self.posted_at,
            last_progress: self.last_progress,
            ended_at: self.ended_at,
        }
    }
}

/// The v1 and v2 record: [`Job`] with its initial weights' seed and hash,
/// set at posting, in the place of `initial`.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Debug)]
pub struct JobV2<AccountId, Balance, BlockNumber> {
    /// As in [`Job`].
    pub poster: AccountId,
    /// As in [`Job`].
    pub spec: JobSpec,
    /// Seed of the job's initial weights (v3: `initial.seed`).
    pub init_seed: Hash,
    /// Their hash (v3: `initial.weights`).
    pub initial_weights: Hash,
    /// As in [`Job`].
    pub price_per_step: Balance,
    /// As in [`Job`].
    pub budget_left: Balance,
    /// As in [`Job`].
    pub pending: Balance,
    /// As in [`Job`].
    pub deposit: Balance,
    /// As in [`Job`].
    pub target_loss: Option<u64>,
    /// As in [`Job`].
    pub status: JobStatus,
    /// As in [`Job`].
    pub posted_at: BlockNumber,
    /// As in [`Job`].
    pub last_progress: BlockNumber,
    /// As in [`Job`].
    pub ended_at: Option<BlockNumber>,
}

/// A v1 or v2 record of runtime `T`.
pub type JobV2Of<T> =
    JobV2<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

impl<AccountId, Balance, BlockNumber> JobV2<AccountId, Balance, BlockNumber> {
    /// The v3 record: its seed and hash as drawn initial weights.
    pub fn into_v3(self) -> Job<AccountId, Balance, BlockNumber> {
        Job {
            poster: self.poster,
            spec: self.spec,
            initial: Some(InitialWeights {
                seed: self.init_seed,
                weights: self.initial_weights,
            }),
            price_per_step: self.price_per_step,
            budget_left: self.budget_left,
            pending: self.pending,
            deposit: self.deposit,
            target_loss: self.target_loss,
            status: self.status,
            posted_at: self.posted_at,
            last_progress: self.last_progress,
            ended_at: self.ended_at,
        }
    }
}

/// Re-encodes every [`Jobs`] record without `steps` and `last_loss`
/// (unversioned: run it through [`MigrateV0ToV1`]).
pub struct UncheckedMigrateV0ToV1<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for UncheckedMigrateV0ToV1<T> {
    fn on_runtime_upgrade() -> Weight {
        let mut records = 0u64;
        // Raw: the v1 layout is not this runtime's `Job` (v3 changed it).
        let ids: alloc::vec::Vec<_> = Jobs::<T>::iter_keys().collect();
        for id in ids {
            let key = Jobs::<T>::hashed_key_for(id);
            records = records.saturating_add(1);
            match frame_support::storage::unhashed::get::<JobV0Of<T>>(&key) {
                Some(old) => frame_support::storage::unhashed::put(&key, &old.into_v1()),
                None => log::error!(
                    target: "runtime::upow-jobs",
                    "v1 migration: job {id:?} is not a v0 record; left as it is"
                ),
            }
        }
        T::DbWeight::get().reads_writes(records, records)
    }

    #[cfg(feature = "try-runtime")]
    fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
        Ok((Jobs::<T>::iter_keys().count() as u64).encode())
    }

    #[cfg(feature = "try-runtime")]
    fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
        let before = u64::decode(&mut &state[..])
            .map_err(|_| sp_runtime::TryRuntimeError::Other("pre_upgrade state"))?;
        // Every record decodes whole as v1 and none was dropped.
        let after = Jobs::<T>::iter_keys()
            .filter(|&id| {
                frame_support::storage::unhashed::get_raw(&Jobs::<T>::hashed_key_for(id))
                    .is_some_and(|raw| {
                        <JobV2Of<T> as codec::DecodeAll>::decode_all(&mut &raw[..]).is_ok()
                    })
            })
            .count() as u64;
        frame_support::ensure!(before == after, "job records lost in the v1 migration");
        Ok(())
    }
}

/// The v0 → v1 migration, run only while the on-chain storage version is 0
/// (it then sets 1).
pub type MigrateV0ToV1<T> = VersionedMigration<
    0,
    1,
    UncheckedMigrateV0ToV1<T>,
    Pallet<T>,
    <T as frame_system::Config>::DbWeight,
>;

/// Lists the house job's spec at the reference cost (unversioned: run it
/// through [`MigrateV1ToV2`]).
pub struct UncheckedMigrateV1ToV2<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for UncheckedMigrateV1ToV2<T> {
    fn on_runtime_upgrade() -> Weight {
        let reads_writes = T::DbWeight::get().reads_writes(4, 4);
        // A version-1 record (read raw: this runtime's `Job` is v3's).
        let Some(house) = HouseJob::<T>::get().and_then(|id| {
            frame_support::storage::unhashed::get::<JobV2Of<T>>(&Jobs::<T>::hashed_key_for(id))
        }) else {
            return T::DbWeight::get().reads(1);
        };
        // Without the admission rule: the house job was admitted when the
        // chain was built, whatever this runtime's limits. (The house job
        // trains at the reference cost even unlisted; listing it keeps the
        // catalogue whole.)
        if let Err(e) = Pallet::<T>::insert_house_workload(house.spec) {
            // Only an already listed spec refuses it on a chain at version 1.
            log::error!(
                target: "runtime::upow-jobs",
                "v2 migration could not list the house job's spec: {e:?}"
            );
        }
        reads_writes
    }

    #[cfg(feature = "try-runtime")]
    fn post_upgrade(_state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
        if let Some(house) = HouseJob::<T>::get().and_then(|id| {
            frame_support::storage::unhashed::get::<JobV2Of<T>>(&Jobs::<T>::hashed_key_for(id))
        }) {
            let listed =
                Pallet::<T>::listed_workload(&house.spec).map(|(_, w)| (w.cost, w.liveness));
            frame_support::ensure!(
                listed == Some((upow_puzzle::REFERENCE_COST, upow_puzzle::REFERENCE_LIVENESS)),
                "the house job's spec is not listed at the reference cost and liveness after \
                 the v2 migration"
            );
        }
        frame_support::ensure!(
            crate::Workloads::<T>::iter_keys().count() <= 1,
            "the v2 migration listed more than the house workload"
        );
        Ok(())
    }
}

/// The v1 → v2 migration, run only while the on-chain storage version is 1
/// (it then sets 2).
pub type MigrateV1ToV2<T> = VersionedMigration<
    1,
    2,
    UncheckedMigrateV1ToV2<T>,
    Pallet<T>,
    <T as frame_system::Config>::DbWeight,
>;

/// Re-encodes every [`Jobs`] record with its seed and hash as drawn
/// initial weights (unversioned: run it through [`MigrateV2ToV3`]).
pub struct UncheckedMigrateV2ToV3<T>(core::marker::PhantomData<T>);

impl<T: Config> UncheckedOnRuntimeUpgrade for UncheckedMigrateV2ToV3<T> {
    fn on_runtime_upgrade() -> Weight {
        let mut records = 0u64;
        Jobs::<T>::translate::<JobV2Of<T>, _>(|_, old| {
            records = records.saturating_add(1);
            Some(old.into_v3())
        });
        T::DbWeight::get().reads_writes(records, records)
    }

    #[cfg(feature = "try-runtime")]
    fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
        Ok((Jobs::<T>::iter_keys().count() as u64).encode())
    }

    #[cfg(feature = "try-runtime")]
    fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
        let before = u64::decode(&mut &state[..])
            .map_err(|_| sp_runtime::TryRuntimeError::Other("pre_upgrade state"))?;
        let drawn = Jobs::<T>::iter_values()
            .filter(|job| job.initial.is_some())
            .count() as u64;
        frame_support::ensure!(
            before == drawn,
            "job records lost or left without initial weights in the v3 migration"
        );
        Ok(())
    }
}

/// The v2 → v3 migration, run only while the on-chain storage version is 2
/// (it then sets 3).
pub type MigrateV2ToV3<T> = VersionedMigration<
    2,
    3,
    UncheckedMigrateV2ToV3<T>,
    Pallet<T>,
    <T as frame_system::Config>::DbWeight,
>;
