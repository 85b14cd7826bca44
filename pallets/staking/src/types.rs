//! The pallet's storage and record types: the [`Role`] an account is
//! admitted with, its [`Candidate`] record, its bond ([`Ledger`] with its
//! [`UnlockChunk`]s) and the [`LedgerInfo`] the runtime API shows, plus the
//! key and balance aliases they use.

use crate::Config;
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
    pallet_prelude::*, traits::fungible, CloneNoBound, DebugNoBound, DefaultNoBound, EqNoBound,
    PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_runtime::traits::{Saturating, Zero};
use upow_primitives::AuthorId;

/// A GRANDPA authority key: an ed25519 public key.
pub type GrandpaKey = [u8; 32];

/// The balance type of the staking currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// What an account is admitted as.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    MaxEncodedLen,
    TypeInfo,
    Debug,
)]
pub enum Role {
    /// A block author, with its sr25519 author key.
    Miner {
        /// The author key blocks name in their
        /// [`PreDigest`](upow_primitives::PreDigest) and seal with.
        author: AuthorId,
    },
    /// A GRANDPA validator, with its ed25519 GRANDPA key.
    Validator {
        /// The GRANDPA authority key.
        grandpa: GrandpaKey,
    },
}

/// An admitted account: its current keys and whether it is suspended.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Encode,
    Decode,
    DecodeWithMemTracking,
    MaxEncodedLen,
    TypeInfo,
    Debug,
)]
pub struct Candidate {
    /// The author key, when admitted as a miner.
    pub author: Option<AuthorId>,
    /// The GRANDPA key, when admitted as a validator.
    pub grandpa: Option<GrandpaKey>,
    /// Suspended for an offence: neither authors nor validates until reinstated.
    pub suspended: bool,
}

/// Part of a bond on its way out: released by a withdrawal from `unlock_at` on.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    MaxEncodedLen,
    TypeInfo,
    Debug,
)]
pub struct UnlockChunk<Balance, BlockNumber> {
    /// The amount (never zero).
    pub value: Balance,
    /// The first block at which it can be withdrawn.
    pub unlock_at: BlockNumber,
}

/// The bond of an account. Its total (`active` plus every chunk) always
/// equals the account's balance on hold for
/// [`HoldReason::Bond`](crate::HoldReason::Bond).
#[derive(
    Encode,
    Decode,
    MaxEncodedLen,
    TypeInfo,
    CloneNoBound,
    PartialEqNoBound,
    EqNoBound,
    DebugNoBound,
    DefaultNoBound,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Ledger<T: Config> {
    /// The bonded amount that counts towards [`Config::MinBond`].
    pub active: BalanceOf<T>,
    /// Amounts unbonding, each with its unlock block.
    pub unbonding: BoundedVec<UnlockChunk<BalanceOf<T>, BlockNumberFor<T>>, T::MaxUnbondingChunks>,
}

impl<T: Config> Ledger<T> {
    /// `active` plus every unbonding chunk.
    pub fn total(&self) -> BalanceOf<T> {
        self.unbonding
            .iter()
            .fold(self.active, |acc, c| acc.saturating_add(c.value))
    }

    /// The sum of the chunks that have matured at `now`.
    pub fn matured(&self, now: BlockNumberFor<T>) -> BalanceOf<T> {
        self.unbonding
            .iter()
            .filter(|c| c.unlock_at <= now)
            .fold(Zero::zero(), |acc: BalanceOf<T>, c| {
                acc.saturating_add(c.value)
            })
    }

    /// Nothing bonded, nothing unbonding.
    pub fn is_empty(&self) -> bool {
        self.active.is_zero() && self.unbonding.is_empty()
    }
}

/// A ledger as the runtime API shows it.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct LedgerInfo<Balance, BlockNumber> {
    /// The active bond.
    pub active: Balance,
    /// The unbonding chunks: (amount, unlock block).
    pub unbonding: Vec<(Balance, BlockNumber)>,
    /// What a withdrawal would release now.
    pub withdrawable: Balance,
}
