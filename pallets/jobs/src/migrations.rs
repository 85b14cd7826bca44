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

use crate::{BalanceOf, Config, HouseJob, Job, Jobs, Pallet};
use codec::{Decode, Encode};
use frame_support::{
    migrations::VersionedMigration, pallet_prelude::*, traits::UncheckedOnRuntimeUpgrade,
};
use frame_system::pallet_prelude::BlockNumberFor;
use upow_primitives::{Hash, JobStatus};
use upow_puzzle::JobSpec;

/// The v0 record: [`Job`] with the progress fields, in their place.
#[derive(Clone, PartialEq, Eq, Encode, Decode, Debug)]
pub struct JobV0<AccountId, Balance, BlockNumber> {
    /// As in [`Job`].
    pub poster: AccountId,
    /// As in [`Job`].
    pub spec: JobSpec,
    /// As in [`Job`].
    pub init_seed: Hash,
    /// As in [`Job`].
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
    /// Dropped in v1 (the training pallet's record).
    pub steps: u64,
    /// Dropped in v1 (the training pallet's record).
    pub last_loss: Option<u64>,
    /// As in [`Job`].
    pub posted_at: BlockNumber,
    /// As in [`Job`].
    pub last_progress: BlockNumber,
    /// As in [`Job`].
    pub ended_at: Option<BlockNumber>,
}

/// A v0 record of runtime `T`.
pub type JobV0Of<T> =
    JobV0<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;

impl<AccountId, Balance, BlockNumber> JobV0<AccountId, Balance, BlockNumber> {
    /// The v1 record: every field but the progress.
    pub fn into_v1(self) -> Job<AccountId, Balance, BlockNumber> {
        Job {
            poster: self.poster,
            spec: self.spec,
            initial: Some(crate::InitialWeights {
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
        Jobs::<T>::translate::<JobV0Of<T>, _>(|_, old| {
            records = records.saturating_add(1);
            Some(old.into_v1())
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
        // Every record decodes as v1 and none was dropped.
        let after = Jobs::<T>::iter_values().count() as u64;
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
        let Some(house) = HouseJob::<T>::get().and_then(Jobs::<T>::get) else {
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
        if let Some(house) = HouseJob::<T>::get().and_then(Jobs::<T>::get) {
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
