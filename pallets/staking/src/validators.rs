//! The active GRANDPA validator set: keeping [`ActiveValidatorSet`] up to
//! date when a validator's admission, bond or suspension changes
//! ([`Pallet::refresh_validator`]), announcing it through
//! [`OnValidatorSetChange`], and the active validators' accounts for the
//! rewards pallet ([`ActiveValidatorAccounts`]).

use crate::{
    ActiveValidatorSet, Candidates, Config, Event, GrandpaKey, Pallet, UnappliedValidatorSet,
    LOG_TARGET,
};
use alloc::vec::Vec;
use frame_support::pallet_prelude::*;

/// Told the new GRANDPA authority set whenever the active validator set
/// changes (the runtime schedules a GRANDPA authority change).
pub trait OnValidatorSetChange {
    /// The new, non-empty set of active validators' GRANDPA keys, sorted.
    /// Returns `false` when it cannot be applied now (GRANDPA still has a
    /// change pending); the pallet then retries at the end of every block.
    fn new_set(keys: Vec<GrandpaKey>) -> bool;
}

impl OnValidatorSetChange for () {
    fn new_set(_keys: Vec<GrandpaKey>) -> bool {
        true
    }
}

impl<T: Config> Pallet<T> {
    /// The active validators (account, GRANDPA key), sorted by key.
    pub fn active_validators() -> Vec<(T::AccountId, GrandpaKey)> {
        ActiveValidatorSet::<T>::get().into_inner()
    }

    /// Brings `who`'s entry in the active validator set up to date; tells
    /// `OnValidatorSetChange` if the set changed.
    pub(crate) fn refresh_validator(who: &T::AccountId) {
        let wanted = Candidates::<T>::get(who).and_then(|c| {
            let grandpa = c.grandpa?;
            Self::is_active(who, &c).then_some(grandpa)
        });
        let mut set = ActiveValidatorSet::<T>::get();
        let current = set.iter().position(|(acc, _)| acc == who);
        let unchanged = match (current, wanted) {
            (None, None) => true,
            (Some(i), Some(key)) => set.get(i).is_some_and(|(_, k)| *k == key),
            _ => false,
        };
        if unchanged {
            return;
        }
        if current.is_some() {
            set.retain(|(acc, _)| acc != who);
        }
        if let Some(key) = wanted {
            let at = set.partition_point(|(_, k)| *k < key);
            if set.try_insert(at, (who.clone(), key)).is_err() {
                // Unreachable: at most `MaxValidators` are admitted.
                log::error!(target: LOG_TARGET, "active validator set full");
            }
        }
        let keys: Vec<GrandpaKey> = set.iter().map(|(_, k)| *k).collect();
        ActiveValidatorSet::<T>::put(set);
        Self::deposit_event(Event::ValidatorSetChanged {
            count: keys.len() as u32,
        });
        if !keys.is_empty() {
            UnappliedValidatorSet::<T>::kill();
            if !T::OnValidatorSetChange::new_set(keys.clone()) {
                UnappliedValidatorSet::<T>::put(BoundedVec::truncate_from(keys));
            }
        }
    }
}

/// The active validators' accounts (for the rewards pallet's `Validators`).
pub struct ActiveValidatorAccounts<T>(core::marker::PhantomData<T>);

impl<T: Config> Get<Vec<T::AccountId>> for ActiveValidatorAccounts<T> {
    fn get() -> Vec<T::AccountId> {
        ActiveValidatorSet::<T>::get()
            .into_iter()
            .map(|(who, _)| who)
            .collect()
    }
}
