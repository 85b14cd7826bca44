//! Author equivocation: checking a report's proof (two different sealed
//! headers with the same parent and number, sealed by the same author key;
//! [`Pallet::verify_sealed_header`], [`Pallet::check_equivocation`]), the
//! report's weight parameter ([`Pallet::proof_len`]) and its punishment
//! ([`Pallet::slash`]: `SlashFraction` of the whole bond to the treasury).
//! The `report_equivocation` call is in the pallet module.

use crate::{BalanceOf, Config, Error, HoldReason, Ledgers, Pallet, LOG_TARGET};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::MutateHold as _,
        tokens::{Fortitude, Precision, Restriction},
    },
};
use frame_system::pallet_prelude::{BlockNumberFor, HeaderFor};
use sp_runtime::{
    traits::{Header as HeaderT, Saturating, Zero},
    DigestItem,
};
use upow_primitives::{AuthorId, PowSeal, PreDigest, ENGINE_ID};

/// The largest encoded header [`Pallet::report_equivocation`] accepts (bytes).
pub const MAX_HEADER_LEN: u32 = 16 * 1024;

impl<T: Config> Pallet<T> {
    /// Checks one sealed header: returns its author key and pre-seal hash.
    ///
    /// The header's last digest item must be `Seal(ENGINE_ID, PowSeal)`; the
    /// rest of the header (its pre-seal form) must carry exactly one upow
    /// [`PreDigest`]; the seal must pass [`PowSeal::verify`] on *this* chain
    /// (its genesis hash is part of what the author signed), so headers
    /// signed on another chain are not evidence here.
    pub fn verify_sealed_header(header: &HeaderFor<T>) -> Result<(AuthorId, T::Hash), Error<T>> {
        let mut pre = header.clone();
        let seal = match pre.digest_mut().pop() {
            Some(DigestItem::Seal(id, bytes)) if id == ENGINE_ID => bytes,
            _ => return Err(Error::<T>::MissingSeal),
        };
        let seal = PowSeal::decode_all(&seal).map_err(|_| Error::<T>::BadSeal)?;
        let digest = PreDigest::find(pre.digest()).map_err(|_| Error::<T>::BadPreDigest)?;
        let author = *digest.author();
        let pre_hash = pre.hash();
        let hash32 =
            |h: &T::Hash| <[u8; 32]>::try_from(h.as_ref()).map_err(|_| Error::<T>::BadSignature);
        let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
        ensure!(
            seal.verify(&hash32(&genesis)?, &hash32(&pre_hash)?, &author),
            Error::<T>::BadSignature
        );
        Ok((author, pre_hash))
    }

    /// Checks an equivocation proof: returns the author key and the parent
    /// hash (the offence key). Reads no storage.
    pub fn check_equivocation(
        first: &HeaderFor<T>,
        second: &HeaderFor<T>,
    ) -> Result<(AuthorId, T::Hash), Error<T>> {
        ensure!(
            first.encoded_size() as u64 <= MAX_HEADER_LEN as u64
                && second.encoded_size() as u64 <= MAX_HEADER_LEN as u64,
            Error::<T>::HeaderTooLarge
        );
        ensure!(
            first.parent_hash() == second.parent_hash() && first.number() == second.number(),
            Error::<T>::NotConflicting
        );
        let (author_a, pre_a) = Self::verify_sealed_header(first)?;
        let (author_b, pre_b) = Self::verify_sealed_header(second)?;
        ensure!(pre_a != pre_b, Error::<T>::IdenticalHeaders);
        ensure!(author_a == author_b, Error::<T>::DifferentAuthors);
        Ok((author_a, *first.parent_hash()))
    }

    /// The weight parameter of `report_equivocation`: both headers' encoded
    /// length.
    pub fn proof_len(first: &HeaderFor<T>, second: &HeaderFor<T>) -> u32 {
        let len = first.encoded_size().saturating_add(second.encoded_size());
        u32::try_from(len).unwrap_or(u32::MAX)
    }

    /// Slashes `SlashFraction` of `who`'s whole bond to the treasury (or
    /// burns it if the treasury cannot receive it). Takes from the active
    /// bond first, then from the latest-unlocking chunks. Returns the amount
    /// and whether it was burned.
    pub(crate) fn slash(who: &T::AccountId) -> (BalanceOf<T>, bool) {
        let Some(mut ledger) = Ledgers::<T>::get(who) else {
            return (Zero::zero(), false);
        };
        let amount = T::SlashFraction::get() * ledger.total();
        if amount.is_zero() {
            return (amount, false);
        }
        let mut left = amount;
        let from_active = left.min(ledger.active);
        ledger.active = ledger.active.saturating_sub(from_active);
        left = left.saturating_sub(from_active);
        let mut chunks = ledger.unbonding.clone().into_inner();
        chunks.sort_by_key(|c| core::cmp::Reverse(c.unlock_at));
        for chunk in chunks.iter_mut() {
            let take = left.min(chunk.value);
            chunk.value = chunk.value.saturating_sub(take);
            left = left.saturating_sub(take);
        }
        chunks.retain(|c| !c.value.is_zero());
        chunks.sort_by_key(|c| c.unlock_at);
        // As many chunks as before, or fewer.
        ledger.unbonding = BoundedVec::truncate_from(chunks);

        let reason = HoldReason::Bond.into();
        let treasury = T::Treasury::get();
        let moved = T::Currency::transfer_on_hold(
            &reason,
            who,
            &treasury,
            amount,
            Precision::Exact,
            Restriction::Free,
            Fortitude::Force,
        );
        let burned = match moved {
            Ok(_) => false,
            Err(_) => {
                if let Err(e) =
                    T::Currency::burn_held(&reason, who, amount, Precision::Exact, Fortitude::Force)
                {
                    // Unreachable while the ledger matches the hold.
                    log::error!(target: LOG_TARGET, "slash of {amount:?} failed: {e:?}");
                    return (Zero::zero(), false);
                }
                true
            }
        };
        Self::put_ledger(who, ledger);
        (amount, burned)
    }
}
