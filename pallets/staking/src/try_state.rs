//! The pallet's invariants, checked by `try_state` (and after every step of
//! the property tests): holds equal ledgers, keys stay bound to their
//! accounts, the validator count and the active validator set agree with
//! the candidates.

use crate::{
    ActiveValidatorSet, AuthorOwner, Candidates, Config, GrandpaOwner, HoldReason, Ledgers, Pallet,
    ValidatorCount,
};
use alloc::vec::Vec;
use frame_support::pallet_prelude::*;
use sp_runtime::traits::Zero;

impl<T: Config> Pallet<T> {
    /// Checks the pallet's invariants.
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        use frame_support::traits::fungible::InspectHold as _;
        let reason = HoldReason::Bond.into();
        for (who, ledger) in Ledgers::<T>::iter() {
            ensure!(!ledger.is_empty(), "empty ledger stored");
            ensure!(
                T::Currency::balance_on_hold(&reason, &who) == ledger.total(),
                "bond hold differs from ledger"
            );
            ensure!(
                ledger.unbonding.iter().all(|c| !c.value.is_zero()),
                "zero chunk"
            );
        }
        let mut validators = 0u32;
        let mut expected = Vec::new();
        for (who, c) in Candidates::<T>::iter() {
            if let Some(a) = c.author {
                ensure!(
                    AuthorOwner::<T>::get(a).as_ref() == Some(&who),
                    "author key not bound"
                );
            }
            if let Some(g) = c.grandpa {
                validators = validators.saturating_add(1);
                ensure!(
                    GrandpaOwner::<T>::get(g).as_ref() == Some(&who),
                    "grandpa key not bound"
                );
                if Self::is_active(&who, &c) {
                    expected.push((who.clone(), g));
                }
            }
        }
        ensure!(validators == ValidatorCount::<T>::get(), "validator count");
        expected.sort_by_key(|a| a.1);
        ensure!(
            ActiveValidatorSet::<T>::get().into_inner() == expected,
            "active validator set"
        );
        Ok(())
    }
}
