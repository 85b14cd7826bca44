//! Author equivocation: checking a report's proof (two different sealed
//! headers with the same parent and number, sealed by the same author key;
//! [`Pallet::verify_sealed_header`], [`Pallet::check_equivocation`]), the
//! report's weight parameter ([`Pallet::proof_len`]) and its punishment
//! ([`Pallet::slash`]: `SlashFraction` of the whole bond to the treasury),
//! and the punishment of a proven fraud ([`FraudPenalty`]: the whole bond,
//! paid out as the training pallet asks, and suspension).
//! The `report_equivocation` call is in the pallet module.

use crate::{BalanceOf, Config, Error, HoldReason, Ledgers, Pallet, WeightInfo as _, LOG_TARGET};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::MutateHold as _,
        tokens::{Fortitude, Precision, Restriction},
    },
};
use frame_system::pallet_prelude::{BlockNumberFor, HeaderFor};
use sp_runtime::traits::{Header as HeaderT, SaturatedConversion, Saturating, Zero};
use upow_primitives::{
    seal::{check_signature, split_seal, SealError},
    traits::FraudPenalty,
    AuthorId,
};

/// The report's error for a header that fails the seal rule.
fn seal_error<T>(e: SealError) -> Error<T> {
    match e {
        SealError::Unsealed => Error::MissingSeal,
        SealError::MalformedSeal => Error::BadSeal,
        SealError::Digest(_) => Error::BadPreDigest,
        _ => Error::BadSignature,
    }
}

/// The largest encoded header [`Pallet::report_equivocation`] accepts (bytes).
pub const MAX_HEADER_LEN: u32 = 16 * 1024;

impl<T: Config> Pallet<T> {
    /// Checks one sealed header: returns its author key and pre-seal hash.
    ///
    /// The header's last digest item must be `Seal(ENGINE_ID, PowSeal)`; the
    /// rest of the header (its pre-seal form) must carry exactly one upow
    /// [`upow_primitives::PreDigest`]; the seal must pass
    /// [`upow_primitives::PowSeal::verify`] on *this* chain
    /// (its genesis hash is part of what the author signed), so headers
    /// signed on another chain are not evidence here.
    pub fn verify_sealed_header(header: &HeaderFor<T>) -> Result<(AuthorId, T::Hash), Error<T>> {
        // The seal rule's own functions (`upow_primitives::seal`), as the
        // node's import runs them.
        let sealed = split_seal(header).map_err(seal_error::<T>)?;
        let pre_hash = sealed.unsealed.hash();
        let hash32 =
            |h: &T::Hash| <[u8; 32]>::try_from(h.as_ref()).map_err(|_| Error::<T>::BadSignature);
        let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
        let digest = check_signature(
            &hash32(&genesis)?,
            &hash32(&pre_hash)?,
            sealed.pre_digest.as_deref(),
            &sealed.seal,
        )
        .map_err(seal_error::<T>)?;
        Ok((*digest.author(), pre_hash))
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
        let Some(ledger) = Ledgers::<T>::get(who) else {
            return (Zero::zero(), false);
        };
        let amount = T::SlashFraction::get() * ledger.total();
        Self::slash_amount(who, ledger, amount, &[])
    }

    /// Takes `amount` (at most the bond) from `who`'s `ledger` — the active
    /// bond first, then the latest-unlocking chunks — pays `payouts` from
    /// it in order (each capped at what is left; a payout its account
    /// cannot take stays in the slash) and sends the rest to the treasury
    /// (or burns it if the treasury cannot receive it). Returns the amount
    /// and whether the rest was burned.
    pub(crate) fn slash_amount(
        who: &T::AccountId,
        mut ledger: crate::Ledger<T>,
        amount: BalanceOf<T>,
        payouts: &[(T::AccountId, BalanceOf<T>)],
    ) -> (BalanceOf<T>, bool) {
        let amount = amount.min(ledger.total());
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
        let mut rest = amount;
        for (to, wanted) in payouts {
            let pay = (*wanted).min(rest);
            if pay.is_zero() {
                continue;
            }
            let paid = T::Currency::transfer_on_hold(
                &reason,
                who,
                to,
                pay,
                Precision::Exact,
                Restriction::Free,
                Fortitude::Force,
            );
            if paid.is_ok() {
                rest = rest.saturating_sub(pay);
            }
        }
        let treasury = T::Treasury::get();
        let moved = if rest.is_zero() {
            Ok(rest)
        } else {
            T::Currency::transfer_on_hold(
                &reason,
                who,
                &treasury,
                rest,
                Precision::Exact,
                Restriction::Free,
                Fortitude::Force,
            )
        };
        let burned = match moved {
            Ok(_) => false,
            Err(_) => {
                if let Err(e) =
                    T::Currency::burn_held(&reason, who, rest, Precision::Exact, Fortitude::Force)
                {
                    // Unreachable while the ledger matches the hold.
                    log::error!(target: LOG_TARGET, "slash of {rest:?} failed: {e:?}");
                    return (Zero::zero(), false);
                }
                true
            }
        };
        Self::put_ledger(who, ledger);
        (amount, burned)
    }
}

impl<T: Config> Pallet<T> {
    /// Suspends `who` (if it is a candidate and not suspended yet) until
    /// governance reinstates it, and drops it from the validator set.
    pub(crate) fn suspend(who: &T::AccountId) {
        if let Some(mut candidate) = crate::Candidates::<T>::get(who) {
            if !candidate.suspended {
                candidate.suspended = true;
                crate::Candidates::<T>::insert(who, candidate);
                Self::deposit_event(crate::Event::Suspended { who: who.clone() });
            }
        }
        Self::refresh_validator(who);
    }
}

/// A proven fraud (a fraud proof against one of the author's blocks, in the
/// training pallet) costs the author its whole bond and its admission.
impl<T: Config> FraudPenalty<T::AccountId> for Pallet<T> {
    fn bond_of(who: &T::AccountId) -> u128 {
        Ledgers::<T>::get(who).map_or(0, |l| l.total().saturated_into())
    }

    fn slash_for_fraud(offender: &T::AccountId, payouts: &[(T::AccountId, u128)]) -> u128 {
        let Some(ledger) = Ledgers::<T>::get(offender) else {
            Self::suspend(offender);
            return 0;
        };
        let total = ledger.total();
        let payouts: alloc::vec::Vec<_> = payouts
            .iter()
            .map(|(to, amount)| (to.clone(), (*amount).saturated_into()))
            .collect();
        let (amount, burned) = Self::slash_amount(offender, ledger, total, &payouts);
        Self::deposit_event(crate::Event::SlashedForFraud {
            who: offender.clone(),
            amount,
        });
        if burned {
            Self::deposit_event(crate::Event::SlashBurned {
                who: offender.clone(),
                amount,
            });
        }
        Self::suspend(offender);
        amount.saturated_into()
    }

    fn slash_for_fraud_weight(payouts: u32) -> Weight {
        // The equivocation report's slash and suspension (its header checks
        // included, an upper bound), and one transfer per payout.
        T::WeightInfo::report_equivocation(0).saturating_add(
            T::DbWeight::get()
                .reads_writes(2, 2)
                .saturating_mul(payouts.into()),
        )
    }
}
