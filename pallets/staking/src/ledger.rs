//! Bonds: holding funds for [`HoldReason::Bond`] and recording them in the
//! [`Ledger`], unbonding into [`UnlockChunk`]s (merging when the chunk slots
//! are full), releasing matured chunks, and the runtime API's view of a
//! ledger ([`LedgerInfo`]). The `bond`, `unbond`, `withdraw_unbonded` and
//! `remove` calls and genesis use these helpers; slashing (in
//! [`equivocation`](crate::equivocation)) stores its result with
//! [`Pallet::put_ledger`].

use crate::{
    BalanceOf, Config, Error, Event, HoldReason, Ledger, LedgerInfo, Ledgers, Pallet, UnlockChunk,
};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::{Inspect as _, MutateHold as _},
        tokens::{Fortitude, Precision, Preservation},
    },
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

impl<T: Config> Pallet<T> {
    /// The bond of `who`, if it has one.
    pub fn ledger(who: &T::AccountId) -> Option<LedgerInfo<BalanceOf<T>, BlockNumberFor<T>>> {
        let ledger = Ledgers::<T>::get(who)?;
        let now = frame_system::Pallet::<T>::block_number();
        Some(LedgerInfo {
            active: ledger.active,
            withdrawable: ledger.matured(now),
            unbonding: ledger
                .unbonding
                .iter()
                .map(|c| (c.value, c.unlock_at))
                .collect(),
        })
    }

    /// Holds `amount` more for `who` and records it (calls and genesis).
    pub(crate) fn do_bond(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
        let mut ledger = Ledgers::<T>::get(who).unwrap_or_default();
        ledger.active = ledger
            .active
            .checked_add(&amount)
            .ok_or(Error::<T>::Overflow)?;
        // Keep the existential deposit free, so releases can always deposit.
        let free = T::Currency::reducible_balance(who, Preservation::Preserve, Fortitude::Force);
        ensure!(amount <= free, Error::<T>::InsufficientBalance);
        T::Currency::hold(&HoldReason::Bond.into(), who, amount)
            .map_err(|_| Error::<T>::InsufficientBalance)?;
        Ledgers::<T>::insert(who, ledger);
        Ok(())
    }

    /// Moves `amount` (≤ `ledger.active`) into unbonding; infallible.
    /// Returns the unlock block of the chunk holding it.
    pub(crate) fn unbond_in(
        who: &T::AccountId,
        ledger: &mut Ledger<T>,
        amount: BalanceOf<T>,
    ) -> BlockNumberFor<T> {
        // Callers guarantee `amount <= active`; the parts of the held total
        // cannot overflow (they sum to a balance on hold).
        ledger.active = ledger.active.saturating_sub(amount);
        let unlock_at =
            frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingDelay::get());
        if let Some(chunk) = ledger
            .unbonding
            .iter_mut()
            .find(|c| c.unlock_at == unlock_at)
        {
            chunk.value = chunk.value.saturating_add(amount);
            return unlock_at;
        }
        if ledger.unbonding.is_full() {
            // Free the slots of matured chunks (best effort: if the release
            // fails the chunks stay and the amount merges below).
            let _ = Self::withdraw_in(who, ledger);
        }
        let chunk = UnlockChunk {
            value: amount,
            unlock_at,
        };
        if let Err(chunk) = ledger.unbonding.try_push(chunk) {
            // Full and nothing matured: merge into the latest chunk, which
            // now unlocks with the new amount.
            if let Some(latest) = ledger.unbonding.iter_mut().max_by_key(|c| c.unlock_at) {
                latest.value = latest.value.saturating_add(chunk.value);
                latest.unlock_at = latest.unlock_at.max(unlock_at);
                return latest.unlock_at;
            }
        }
        unlock_at
    }

    /// Releases the matured chunks of `ledger` to `who`; returns the amount
    /// (zero: nothing matured). Emits `Withdrawn` when it released anything.
    /// On error nothing changed.
    pub(crate) fn withdraw_in(
        who: &T::AccountId,
        ledger: &mut Ledger<T>,
    ) -> Result<BalanceOf<T>, DispatchError> {
        let now = frame_system::Pallet::<T>::block_number();
        let amount = ledger.matured(now);
        if amount.is_zero() {
            return Ok(amount);
        }
        T::Currency::release(&HoldReason::Bond.into(), who, amount, Precision::Exact)
            .map_err(|_| Error::<T>::ReleaseFailed)?;
        ledger.unbonding.retain(|c| c.unlock_at > now);
        Self::deposit_event(Event::Withdrawn {
            who: who.clone(),
            amount,
        });
        Ok(amount)
    }

    /// Stores a ledger, or removes it when empty.
    pub(crate) fn put_ledger(who: &T::AccountId, ledger: Ledger<T>) {
        if ledger.is_empty() {
            Ledgers::<T>::remove(who);
        } else {
            Ledgers::<T>::insert(who, ledger);
        }
    }
}
