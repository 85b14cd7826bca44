//! Benchmarks of pallet-upow-staking: every call at its worst case (a full
//! validator set that changes, full unbonding chunks that are released).

use super::*;
use crate::Pallet as Staking;
use alloc::{boxed::Box, vec};
use frame_benchmarking::v2::*;
use frame_support::traits::fungible::{Inspect, Mutate};
use frame_system::RawOrigin;
use sp_core::crypto::KeyTypeId;
use sp_runtime::{
    traits::{Hash as _, Header as HeaderT, Saturating},
    Digest, DigestItem,
};
use upow_primitives::{PowSeal, PreDigest, TrajectoryClaim, ENGINE_ID};

const SEED: u32 = 0;

/// The key type of the benchmark's throw-away author keys.
const BENCH_KEY: KeyTypeId = KeyTypeId(*b"ubch");

/// A 32-byte key made of a tag and a number (keys sort by tag, then number).
fn key(tag: u8, i: u32) -> [u8; 32] {
    let mut k = [tag; 32];
    for (d, s) in k.iter_mut().skip(1).zip(i.to_be_bytes()) {
        *d = s;
    }
    k
}

/// Gives `who` plenty to bond.
fn fund<T: Config>(who: &T::AccountId) {
    let amount = T::MinBond::get()
        .saturating_mul(1_000u32.into())
        .saturating_add(T::Currency::minimum_balance().saturating_mul(10u32.into()));
    T::Currency::set_balance(who, amount);
}

/// Makes sure the treasury exists, so slashes are transfers.
fn fund_treasury<T: Config>() {
    let treasury = T::Treasury::get();
    let ed = T::Currency::minimum_balance();
    if T::Currency::balance(&treasury) < ed {
        T::Currency::set_balance(&treasury, ed);
    }
}

/// `n` admitted, bonded, active validators (GRANDPA keys tagged 0x80).
fn setup_validators<T: Config>(n: u32) -> Result<(), BenchmarkError> {
    for i in 0..n {
        let who: T::AccountId = account("validator", i, SEED);
        fund::<T>(&who);
        Staking::<T>::do_admit(
            &who,
            Role::Validator {
                grandpa: key(0x80, i),
            },
        )?;
        Staking::<T>::do_bond(&who, T::MinBond::get())?;
        Staking::<T>::refresh_validator(&who);
    }
    Ok(())
}

/// Adds `chunks` matured unbonding chunks of one unit each to the ledger of
/// a funded account (bonding them first), at block 100.
fn setup_ledger_with_matured_chunks<T: Config>(
    who: &T::AccountId,
    chunks: u32,
) -> Result<(), BenchmarkError> {
    frame_system::Pallet::<T>::set_block_number(100u32.into());
    let unit: BalanceOf<T> = 1u32.into();
    let extra = unit.saturating_mul(chunks.into());
    Staking::<T>::do_bond(who, extra)?;
    let mut ledger = Ledgers::<T>::get(who).ok_or(BenchmarkError::Stop("no ledger"))?;
    ledger.active = ledger.active.saturating_sub(extra);
    for i in 0..chunks {
        let chunk = UnlockChunk {
            value: unit,
            unlock_at: (i + 1).into(),
        };
        ledger
            .unbonding
            .try_push(chunk)
            .map_err(|_| BenchmarkError::Stop("chunks"))?;
    }
    Ledgers::<T>::insert(who, ledger);
    Ok(())
}

/// A header on `parent` by `author` with `extra` bytes of padding, sealed
/// with the keystore key `author`.
fn sealed_header<T: Config>(
    parent: T::Hash,
    author: AuthorId,
    tag: u8,
    extra: u32,
) -> Result<HeaderFor<T>, BenchmarkError> {
    let pre = PreDigest::new(
        author,
        1,
        0,
        TrajectoryClaim {
            steps: 1,
            root: [tag; 32],
            final_weights: [tag; 32],
        },
    );
    let mut logs = vec![pre.to_digest_item()];
    if extra > 0 {
        logs.push(DigestItem::Other(vec![tag; extra as usize]));
    }
    let mut header = <HeaderFor<T> as HeaderT>::new(
        7u32.into(),
        Default::default(),
        Default::default(),
        parent,
        Digest { logs },
    );
    let hash32 = |h: T::Hash| {
        <[u8; 32]>::try_from(h.as_ref()).map_err(|_| BenchmarkError::Stop("32-byte hashes"))
    };
    let genesis = hash32(frame_system::Pallet::<T>::block_hash(
        frame_system::pallet_prelude::BlockNumberFor::<T>::zero(),
    ))?;
    let message = PowSeal::message(&genesis, &hash32(header.hash())?);
    let public = sp_core::sr25519::Public::from_raw(author);
    let signature = sp_io::crypto::sr25519_sign(BENCH_KEY, &public, &message)
        .ok_or(BenchmarkError::Stop("no keystore key"))?;
    let seal = PowSeal::V2 {
        signature: signature.0,
    };
    header
        .digest_mut()
        .push(DigestItem::Seal(ENGINE_ID, seal.encode()));
    Ok(header)
}

#[benchmarks]
mod benchmarks {
    use super::*;

    /// A bonded miner becomes a validator and joins a full set.
    #[benchmark]
    fn admit() -> Result<(), BenchmarkError> {
        setup_validators::<T>(T::MaxValidators::get().saturating_sub(1))?;
        let who: T::AccountId = account("candidate", 0, SEED);
        fund::<T>(&who);
        Staking::<T>::do_admit(&who, Role::Miner { author: key(1, 0) })?;
        Staking::<T>::do_bond(&who, T::MinBond::get())?;
        let origin =
            T::AdmitOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
        // Sorts first: the whole set moves.
        let role = Role::Validator {
            grandpa: key(0x00, 0),
        };

        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, who.clone(), role);

        assert_eq!(
            ActiveValidatorSet::<T>::get().len() as u32,
            T::MaxValidators::get()
        );
        Ok(())
    }

    /// An active validator with full, matured chunks leaves a full set.
    #[benchmark]
    fn remove() -> Result<(), BenchmarkError> {
        setup_validators::<T>(T::MaxValidators::get())?;
        let who: T::AccountId = account("validator", 0, SEED);
        setup_ledger_with_matured_chunks::<T>(&who, T::MaxUnbondingChunks::get())?;
        let origin =
            T::AdmitOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, who.clone());

        assert!(Candidates::<T>::get(&who).is_none());
        assert_eq!(
            ActiveValidatorSet::<T>::get().len() as u32,
            T::MaxValidators::get() - 1
        );
        Ok(())
    }

    /// An admitted validator bonds and joins a full set.
    #[benchmark]
    fn bond() -> Result<(), BenchmarkError> {
        setup_validators::<T>(T::MaxValidators::get().saturating_sub(1))?;
        let who: T::AccountId = account("candidate", 0, SEED);
        fund::<T>(&who);
        Staking::<T>::do_admit(
            &who,
            Role::Validator {
                grandpa: key(0x00, 0),
            },
        )?;
        let amount = T::MinBond::get();

        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), amount);

        assert_eq!(
            ActiveValidatorSet::<T>::get().len() as u32,
            T::MaxValidators::get()
        );
        Ok(())
    }

    /// An active validator with full, matured chunks unbonds everything:
    /// the chunks are released, it leaves a full set.
    #[benchmark]
    fn unbond() -> Result<(), BenchmarkError> {
        setup_validators::<T>(T::MaxValidators::get())?;
        let who: T::AccountId = account("validator", 0, SEED);
        setup_ledger_with_matured_chunks::<T>(&who, T::MaxUnbondingChunks::get())?;
        let amount = T::MinBond::get();

        #[extrinsic_call]
        _(RawOrigin::Signed(who.clone()), amount);

        assert_eq!(
            ActiveValidatorSet::<T>::get().len() as u32,
            T::MaxValidators::get() - 1
        );
        Ok(())
    }

    /// A third party withdraws full, matured chunks for an account.
    #[benchmark]
    fn withdraw_unbonded() -> Result<(), BenchmarkError> {
        let who: T::AccountId = account("candidate", 0, SEED);
        fund::<T>(&who);
        Staking::<T>::do_admit(&who, Role::Miner { author: key(1, 0) })?;
        setup_ledger_with_matured_chunks::<T>(&who, T::MaxUnbondingChunks::get())?;
        let caller: T::AccountId = whitelisted_caller();

        #[extrinsic_call]
        _(RawOrigin::Signed(caller), who.clone());

        assert!(Ledgers::<T>::get(&who).is_none_or(|l| l.unbonding.is_empty()));
        Ok(())
    }

    /// A valid report against an active validator and miner with full
    /// chunks, in a full set; `n`: encoded bytes of both headers.
    #[benchmark]
    fn report_equivocation(
        n: Linear<0, { 2 * MAX_HEADER_LEN - 1024 }>,
    ) -> Result<(), BenchmarkError> {
        fund_treasury::<T>();
        setup_validators::<T>(T::MaxValidators::get())?;
        let who: T::AccountId = account("validator", 0, SEED);
        let author = sp_io::crypto::sr25519_generate(BENCH_KEY, None).0;
        Staking::<T>::do_admit(&who, Role::Miner { author })?;
        setup_ledger_with_matured_chunks::<T>(&who, T::MaxUnbondingChunks::get())?;
        let parent = T::Hashing::hash(b"parent");
        let first = sealed_header::<T>(parent, author, 1, n / 2)?;
        let second = sealed_header::<T>(parent, author, 2, n / 2)?;
        let caller: T::AccountId = whitelisted_caller();

        #[extrinsic_call]
        _(RawOrigin::Signed(caller), Box::new(first), Box::new(second));

        assert!(Candidates::<T>::get(&who).is_some_and(|c| c.suspended));
        assert!(ReportedOffences::<T>::contains_key(author, parent));
        Ok(())
    }

    /// A suspended, bonded validator rejoins a full set.
    #[benchmark]
    fn reinstate() -> Result<(), BenchmarkError> {
        setup_validators::<T>(T::MaxValidators::get())?;
        let who: T::AccountId = account("validator", 0, SEED);
        Candidates::<T>::mutate(&who, |c| {
            if let Some(c) = c {
                c.suspended = true;
            }
        });
        Staking::<T>::refresh_validator(&who);
        let origin =
            T::AdmitOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

        #[extrinsic_call]
        _(origin as T::RuntimeOrigin, who.clone());

        assert_eq!(
            ActiveValidatorSet::<T>::get().len() as u32,
            T::MaxValidators::get()
        );
        Ok(())
    }

    /// `AuthorAdmission::account_of` of an admitted author.
    #[benchmark]
    fn account_of() -> Result<(), BenchmarkError> {
        let who: T::AccountId = account("candidate", 0, SEED);
        fund::<T>(&who);
        let author = key(1, 0);
        Staking::<T>::do_admit(&who, Role::Miner { author })?;
        Staking::<T>::do_bond(&who, T::MinBond::get())?;
        let found;

        #[block]
        {
            found = Staking::<T>::account_of_author(&author);
        }

        assert_eq!(found, Some(who));
        Ok(())
    }

    impl_benchmark_test_suite!(Staking, crate::mock::new_test_ext(), crate::mock::Test);
}
