//! # pallet-upow-staking
//!
//! Permissioned admission of upow's block authors ("miners") and GRANDPA
//! validators, their bonds, unbonding, and slashing of authors that
//! equivocate.
//!
//! ## Roles and admission
//!
//! [`Config::AdmitOrigin`] (root, via sudo, in the runtime) admits an account
//! with a [`Role`]: [`Role::Miner`] binds an sr25519 author key
//! ([`AuthorId`]), [`Role::Validator`] an ed25519 GRANDPA key
//! ([`GrandpaKey`]). An account may hold both roles. Admitting a role the
//! account already holds with another key rotates the key.
//!
//! Keys are **bound for good** to the first account they were admitted for
//! ([`AuthorOwner`], [`GrandpaOwner`]): no other account can ever be admitted
//! with them, and equivocations signed by an old (rotated or removed) author
//! key stay reportable and slash the account that held it, for as long as
//! that account has anything bonded.
//!
//! ## Bonds
//!
//! A candidate [`bond`](Pallet::bond)s funds: they are put on hold with
//! [`HoldReason::Bond`] (a `fungible` hold, not a reserve) and are recorded in
//! its [`Ledger`] as `active`. An account is **active** (may author, resp.
//! validate) while it is admitted for the role, not suspended, and its active
//! bond is at least [`Config::MinBond`].
//!
//! [`unbond`](Pallet::unbond) moves part of the active bond into an unbonding
//! chunk that matures [`Config::UnbondingDelay`] blocks later;
//! [`withdraw_unbonded`](Pallet::withdraw_unbonded) releases every matured
//! chunk back to the free balance. Invariant: the balance held for
//! [`HoldReason::Bond`] always equals the ledger's `active` plus its
//! unbonding chunks.
//!
//! ### Withdrawals never get stuck
//!
//! Known pain points of other staking systems, and what this pallet does:
//!
//! * *"No more chunks"*: unbonding never fails for lack of chunk slots. A new
//!   chunk with the same unlock block as an existing one is merged into it;
//!   when all [`Config::MaxUnbondingChunks`] slots are taken, the matured
//!   chunks are withdrawn first, and if none has matured the amount is merged
//!   into the latest chunk, whose unlock block moves to the new (at most
//!   [`Config::UnbondingDelay`] later) one.
//! * *Removal strands funds*: [`remove`](Pallet::remove) unbonds the whole
//!   active bond automatically; after the delay a withdrawal returns it all.
//! * *Only the owner can withdraw*: [`withdraw_unbonded`](Pallet::withdraw_unbonded)
//!   is permissionless (any signed origin, for any account). Funds only ever
//!   go to the bonded account's own free balance, so this is harmless and
//!   lets anyone (a friend, a bot, the operators) finish the exit of an
//!   account that is offline.
//! * *Release fails below the existential deposit*: [`bond`](Pallet::bond)
//!   never holds into the existential deposit (the account keeps at least
//!   the ED free), so releasing held funds can always be deposited back.
//! * *Ledger and held balance drift apart after slashes*: slashes reduce the
//!   ledger and move exactly the same amount off hold, atomically.
//!
//! ## Equivocation
//!
//! [`report_equivocation`](Pallet::report_equivocation) (any signed origin;
//! the proof is objective, and a valid report is fee-free) takes two
//! different sealed headers with the same parent and number, each carrying a
//! upow [`PreDigest`] naming the same author key and each sealed by a valid
//! [`PowSeal`] signature of that key over its own pre-seal hash. The offender
//! loses [`Config::SlashFraction`] of its whole bond (active and unbonding),
//! which goes to [`Config::Treasury`], and is suspended until
//! [`reinstate`](Pallet::reinstate)d (or removed and re-admitted). Each
//! offence (author key, parent hash) is punished once.
//!
//! **The seal message**: the author signs the 32 (`T::Hash`) bytes of the
//! pre-seal header hash, i.e. `header.hash()` of the header without its final
//! `DigestItem::Seal(ENGINE_ID, PowSeal::encode())` item. See
//! [`Pallet::verify_sealed_header`].
//!
//! ## Validator set
//!
//! The active validators' GRANDPA keys are kept in [`ActiveValidatorSet`],
//! sorted by key. Whenever that set changes (admission, removal, bond,
//! unbond, slash, suspension, reinstatement, key rotation),
//! [`Config::OnValidatorSetChange`] is told the new keys, except when the new
//! set is empty: GRANDPA cannot finalize with no authorities, so the previous
//! authorities stay in charge until a validator is active again. The genesis
//! set is not announced through the hook: the runtime's GRANDPA genesis
//! authorities must be the staking genesis validators.
//!
//! ## Code layout
//!
//! The `pallet` module (config, storage, genesis, events, errors, hooks,
//! calls) is here; its helpers are in one module per topic: `types` (the
//! stored records), `admission` (keys, candidates, the author lookup),
//! `ledger` (bond, unbond, withdraw, holds), `equivocation` (checking a
//! report's proof and slashing), `validators` (the GRANDPA validator set)
//! and `try_state` (the invariants).
//!
//! [`PreDigest`]: upow_primitives::PreDigest
//! [`PowSeal`]: upow_primitives::PowSeal
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod admission;
mod equivocation;
mod ledger;
#[cfg(any(feature = "try-runtime", test))]
mod try_state;
mod types;
mod validators;

pub use equivocation::MAX_HEADER_LEN;
pub use types::*;
pub use validators::{ActiveValidatorAccounts, OnValidatorSetChange};

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod weights;
pub use weights::WeightInfo;

use alloc::{boxed::Box, vec::Vec};
use frame_support::{pallet_prelude::*, traits::fungible, DefaultNoBound};
use frame_system::pallet_prelude::*;
use sp_runtime::{traits::Zero, Perbill};
use upow_primitives::AuthorId;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::upow-staking";

#[frame_support::pallet]
pub mod pallet {
    use super::*;

    /// The in-code storage version.
    const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

    #[pallet::pallet]
    #[pallet::storage_version(STORAGE_VERSION)]
    pub struct Pallet<T>(_);

    /// Configuration of the pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The staking currency: bonds are holds on it.
        type Currency: fungible::Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + fungible::InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The overarching hold reason.
        type RuntimeHoldReason: From<HoldReason>;

        /// Who admits, removes and reinstates candidates (root in the runtime).
        type AdmitOrigin: EnsureOrigin<Self::RuntimeOrigin>;

        /// The least active bond with which an admitted account is active.
        #[pallet::constant]
        type MinBond: Get<BalanceOf<Self>>;

        /// Blocks between unbonding and the funds becoming withdrawable.
        #[pallet::constant]
        type UnbondingDelay: Get<BlockNumberFor<Self>>;

        /// The most unbonding chunks one ledger keeps (further ones merge).
        #[pallet::constant]
        type MaxUnbondingChunks: Get<u32>;

        /// The most admitted validators (and so the largest GRANDPA set).
        #[pallet::constant]
        type MaxValidators: Get<u32>;

        /// The share of an equivocating author's bond that is slashed.
        #[pallet::constant]
        type SlashFraction: Get<Perbill>;

        /// Where slashed funds go (it should exist: endow it at genesis).
        #[pallet::constant]
        type Treasury: Get<Self::AccountId>;

        /// Told the new GRANDPA keys whenever the active validator set changes.
        type OnValidatorSetChange: OnValidatorSetChange;

        /// Weights of the calls.
        type WeightInfo: WeightInfo;
    }

    /// Why this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// A candidate's bond (active and unbonding).
        #[codec(index = 0)]
        Bond,
    }

    /// Admitted accounts: their keys and suspension.
    #[pallet::storage]
    pub type Candidates<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, Candidate, OptionQuery>;

    /// The account every author key was ever admitted for (bound for good).
    #[pallet::storage]
    pub type AuthorOwner<T: Config> =
        StorageMap<_, Blake2_128Concat, AuthorId, T::AccountId, OptionQuery>;

    /// The account every GRANDPA key was ever admitted for (bound for good).
    #[pallet::storage]
    pub type GrandpaOwner<T: Config> =
        StorageMap<_, Blake2_128Concat, GrandpaKey, T::AccountId, OptionQuery>;

    /// The bond of each account that has one.
    #[pallet::storage]
    pub type Ledgers<T: Config> =
        StorageMap<_, Blake2_128Concat, T::AccountId, Ledger<T>, OptionQuery>;

    /// How many accounts are admitted as validators (at most `MaxValidators`).
    #[pallet::storage]
    pub type ValidatorCount<T: Config> = StorageValue<_, u32, ValueQuery>;

    /// The active validators (account, GRANDPA key), sorted by key.
    #[pallet::storage]
    pub type ActiveValidatorSet<T: Config> =
        StorageValue<_, BoundedVec<(T::AccountId, GrandpaKey), T::MaxValidators>, ValueQuery>;

    /// A validator set not yet handed to GRANDPA (it had a change pending);
    /// retried at the end of every block until accepted.
    #[pallet::storage]
    pub type UnappliedValidatorSet<T: Config> =
        StorageValue<_, BoundedVec<GrandpaKey, T::MaxValidators>, OptionQuery>;

    /// Offences already punished: (author key, parent hash) → block reported.
    #[pallet::storage]
    pub type ReportedOffences<T: Config> = StorageDoubleMap<
        _,
        Blake2_128Concat,
        AuthorId,
        Blake2_128Concat,
        T::Hash,
        BlockNumberFor<T>,
        OptionQuery,
    >;

    /// Genesis: admitted and bonded miners and validators.
    #[pallet::genesis_config]
    #[derive(DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// Miners: (account, author key, bond). The bond must be ≥ `MinBond`.
        pub miners: Vec<(T::AccountId, AuthorId, BalanceOf<T>)>,
        /// Validators: (account, GRANDPA key, bond). The bond must be ≥
        /// `MinBond`. An account listed as a miner too bonds both amounts.
        pub validators: Vec<(T::AccountId, GrandpaKey, BalanceOf<T>)>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            // An invalid chain spec is refused by panicking: genesis only.
            let roles = self
                .miners
                .iter()
                .map(|(who, author, bond)| (who, Role::Miner { author: *author }, *bond))
                .chain(self.validators.iter().map(|(who, grandpa, bond)| {
                    (who, Role::Validator { grandpa: *grandpa }, *bond)
                }));
            for (who, role, bond) in roles {
                if bond < T::MinBond::get() {
                    panic!("upow-staking genesis: bond below MinBond");
                }
                if let Err(e) = Pallet::<T>::do_admit(who, role) {
                    panic!("upow-staking genesis: cannot admit: {e:?}");
                }
                if let Err(e) = Pallet::<T>::do_bond(who, bond) {
                    panic!("upow-staking genesis: cannot hold the bond: {e:?}");
                }
            }
            let mut set: Vec<(T::AccountId, GrandpaKey)> = Candidates::<T>::iter()
                .filter_map(|(who, c)| {
                    let grandpa = c.grandpa?;
                    Pallet::<T>::is_active(&who, &c).then_some((who, grandpa))
                })
                .collect();
            set.sort_by_key(|a| a.1);
            match BoundedVec::try_from(set) {
                Ok(set) => ActiveValidatorSet::<T>::put(set),
                Err(_) => panic!("upow-staking genesis: more than MaxValidators validators"),
            }
        }
    }

    /// Events.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// `who` was admitted with `role` (or rotated to its key).
        Admitted {
            /// The account.
            who: T::AccountId,
            /// The role and key.
            role: Role,
        },
        /// `who` was removed; `unbonding` of its bond started unbonding.
        Removed {
            /// The account.
            who: T::AccountId,
            /// The active bond moved into unbonding.
            unbonding: BalanceOf<T>,
        },
        /// `who` bonded `amount` more.
        Bonded {
            /// The account.
            who: T::AccountId,
            /// The amount put on hold.
            amount: BalanceOf<T>,
        },
        /// `who` unbonded `amount`, withdrawable from block `unlock_at`.
        Unbonded {
            /// The account.
            who: T::AccountId,
            /// The amount.
            amount: BalanceOf<T>,
            /// When the chunk holding it matures.
            unlock_at: BlockNumberFor<T>,
        },
        /// `amount` of matured unbonding was released to `who`.
        Withdrawn {
            /// The account.
            who: T::AccountId,
            /// The amount released from hold.
            amount: BalanceOf<T>,
        },
        /// `who` equivocated with `author`: `amount` of its bond was slashed.
        Slashed {
            /// The offender's account.
            who: T::AccountId,
            /// The equivocating author key.
            author: AuthorId,
            /// The amount slashed (to the treasury, unless `SlashBurned` follows).
            amount: BalanceOf<T>,
        },
        /// An author's whole bond was slashed for a proven fraud (a block
        /// whose trajectory a fraud proof showed wrong): paid out to the
        /// authors of discarded blocks, the reporter and the poster, the
        /// rest to the treasury (unless `SlashBurned` follows).
        SlashedForFraud {
            /// The offender's account.
            who: T::AccountId,
            /// The amount slashed.
            amount: BalanceOf<T>,
        },
        /// The treasury could not receive a slash (it does not exist and the
        /// amount is below the existential deposit): `amount` was burned.
        SlashBurned {
            /// The offender's account.
            who: T::AccountId,
            /// The amount burned.
            amount: BalanceOf<T>,
        },
        /// `who` was suspended for an offence.
        Suspended {
            /// The account.
            who: T::AccountId,
        },
        /// `who`'s suspension was lifted.
        Reinstated {
            /// The account.
            who: T::AccountId,
        },
        /// The active validator set changed; it now has `count` validators.
        ValidatorSetChanged {
            /// Size of the new set.
            count: u32,
        },
    }

    /// Errors.
    #[pallet::error]
    pub enum Error<T> {
        /// The account already holds this role with this key.
        AlreadyAdmitted,
        /// The author key is bound to another account.
        AuthorKeyInUse,
        /// The GRANDPA key is bound to another account.
        GrandpaKeyInUse,
        /// The account is not admitted.
        NotCandidate,
        /// `MaxValidators` accounts are already admitted as validators.
        TooManyValidators,
        /// A zero amount.
        ZeroAmount,
        /// Not enough free balance to hold (the existential deposit stays free).
        InsufficientBalance,
        /// Unbonding more than the active bond.
        InsufficientBond,
        /// The account has no bond.
        NotBonded,
        /// No unbonding chunk has matured.
        NothingToWithdraw,
        /// The currency refused to release the held funds.
        ReleaseFailed,
        /// An arithmetic overflow.
        Overflow,
        /// The account is not suspended.
        NotSuspended,
        /// A header of the report is larger than `MAX_HEADER_LEN`.
        HeaderTooLarge,
        /// The two headers do not have the same parent and number.
        NotConflicting,
        /// The two headers are the same block (same pre-seal hash).
        IdenticalHeaders,
        /// A header's last digest item is not a upow seal.
        MissingSeal,
        /// A header's seal does not decode.
        BadSeal,
        /// A header has no (or a malformed) upow pre-runtime digest.
        BadPreDigest,
        /// A header's seal is not the author's signature of its pre-seal hash.
        BadSignature,
        /// The headers name different authors.
        DifferentAuthors,
        /// The author key was never admitted.
        UnknownAuthor,
        /// This offence (author, parent) was already reported.
        DuplicateOffence,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
            // The retry in `on_finalize`: one read, maybe one write.
            T::DbWeight::get().reads_writes(1, 1)
        }

        fn on_finalize(_n: BlockNumberFor<T>) {
            if let Some(keys) = UnappliedValidatorSet::<T>::take() {
                if !T::OnValidatorSetChange::new_set(keys.to_vec()) {
                    UnappliedValidatorSet::<T>::put(keys);
                }
            }
        }

        fn integrity_test() {
            assert!(!T::MinBond::get().is_zero(), "MinBond must be positive");
            assert!(
                T::MaxUnbondingChunks::get() > 0,
                "MaxUnbondingChunks must be positive"
            );
            assert!(
                T::MaxValidators::get() > 0,
                "MaxValidators must be positive"
            );
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Admits `who` with `role` (`AdmitOrigin`). Admitting a role the
        /// account already holds with another key rotates that key; the old
        /// key stays bound to `who`. A suspension is not lifted by this.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::admit())]
        pub fn admit(origin: OriginFor<T>, who: T::AccountId, role: Role) -> DispatchResult {
            T::AdmitOrigin::ensure_origin(origin)?;
            Self::do_admit(&who, role)?;
            Self::deposit_event(Event::Admitted {
                who: who.clone(),
                role,
            });
            Self::refresh_validator(&who);
            Ok(())
        }

        /// Removes `who` from every role (`AdmitOrigin`) and lifts any
        /// suspension; its whole active bond starts unbonding and can be
        /// withdrawn after `UnbondingDelay`. Its keys stay bound to it.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::remove())]
        pub fn remove(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
            T::AdmitOrigin::ensure_origin(origin)?;
            let candidate = Candidates::<T>::take(&who).ok_or(Error::<T>::NotCandidate)?;
            if candidate.grandpa.is_some() {
                ValidatorCount::<T>::mutate(|n| *n = n.saturating_sub(1));
            }
            let mut unbonding = Zero::zero();
            if let Some(mut ledger) = Ledgers::<T>::get(&who) {
                unbonding = ledger.active;
                if !unbonding.is_zero() {
                    let unlock_at = Self::unbond_in(&who, &mut ledger, unbonding);
                    Self::deposit_event(Event::Unbonded {
                        who: who.clone(),
                        amount: unbonding,
                        unlock_at,
                    });
                }
                Self::put_ledger(&who, ledger);
            }
            Self::deposit_event(Event::Removed {
                who: who.clone(),
                unbonding,
            });
            Self::refresh_validator(&who);
            Ok(())
        }

        /// Bonds `amount` more of the caller's free balance (put on hold).
        /// Only admitted accounts bond. The existential deposit stays free.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::bond())]
        pub fn bond(
            origin: OriginFor<T>,
            #[pallet::compact] amount: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            ensure!(
                Candidates::<T>::contains_key(&who),
                Error::<T>::NotCandidate
            );
            Self::do_bond(&who, amount)?;
            Self::deposit_event(Event::Bonded {
                who: who.clone(),
                amount,
            });
            Self::refresh_validator(&who);
            Ok(())
        }

        /// Moves `amount` of the caller's active bond into an unbonding chunk
        /// that matures `UnbondingDelay` blocks from now. Never fails for
        /// lack of chunk slots (see the crate docs).
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::unbond())]
        pub fn unbond(
            origin: OriginFor<T>,
            #[pallet::compact] amount: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            let mut ledger = Ledgers::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
            ensure!(amount <= ledger.active, Error::<T>::InsufficientBond);
            let unlock_at = Self::unbond_in(&who, &mut ledger, amount);
            Self::put_ledger(&who, ledger);
            Self::deposit_event(Event::Unbonded {
                who: who.clone(),
                amount,
                unlock_at,
            });
            Self::refresh_validator(&who);
            Ok(())
        }

        /// Releases every matured unbonding chunk of `who` to `who`'s free
        /// balance. Permissionless: any signed account may call it for any
        /// account (the funds only ever go to `who`).
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::withdraw_unbonded())]
        pub fn withdraw_unbonded(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
            ensure_signed(origin)?;
            let mut ledger = Ledgers::<T>::get(&who).ok_or(Error::<T>::NotBonded)?;
            let amount = Self::withdraw_in(&who, &mut ledger)?;
            ensure!(!amount.is_zero(), Error::<T>::NothingToWithdraw);
            Self::put_ledger(&who, ledger);
            Ok(())
        }

        /// Reports an author equivocation: two different sealed headers with
        /// the same parent and number, signed by the same author key (any
        /// signed origin; fee-free when valid). Slashes `SlashFraction` of the
        /// offender's bond to the treasury and suspends it.
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::report_equivocation(Pallet::<T>::proof_len(first, second)))]
        pub fn report_equivocation(
            origin: OriginFor<T>,
            first: Box<HeaderFor<T>>,
            second: Box<HeaderFor<T>>,
        ) -> DispatchResultWithPostInfo {
            ensure_signed(origin)?;
            let (author, parent) = Self::check_equivocation(&first, &second)?;
            let who = AuthorOwner::<T>::get(author).ok_or(Error::<T>::UnknownAuthor)?;
            ensure!(
                !ReportedOffences::<T>::contains_key(author, parent),
                Error::<T>::DuplicateOffence
            );
            ReportedOffences::<T>::insert(
                author,
                parent,
                frame_system::Pallet::<T>::block_number(),
            );
            let (amount, burned) = Self::slash(&who);
            Self::deposit_event(Event::Slashed {
                who: who.clone(),
                author,
                amount,
            });
            if burned {
                Self::deposit_event(Event::SlashBurned {
                    who: who.clone(),
                    amount,
                });
            }
            Self::suspend(&who);
            Ok(Pays::No.into())
        }

        /// Lifts the suspension of `who` (`AdmitOrigin`).
        #[pallet::call_index(6)]
        #[pallet::weight(T::WeightInfo::reinstate())]
        pub fn reinstate(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
            T::AdmitOrigin::ensure_origin(origin)?;
            let mut candidate = Candidates::<T>::get(&who).ok_or(Error::<T>::NotCandidate)?;
            ensure!(candidate.suspended, Error::<T>::NotSuspended);
            candidate.suspended = false;
            Candidates::<T>::insert(&who, candidate);
            Self::deposit_event(Event::Reinstated { who: who.clone() });
            Self::refresh_validator(&who);
            Ok(())
        }
    }
}
