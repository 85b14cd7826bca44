//! # pallet-upow-rewards
//!
//! Mints each block's reward and splits it between the block's author (found
//! with [`Config::FindAuthor`], from the upow pre-runtime digest in the
//! runtime) and the active GRANDPA validators ([`Config::Validators`]).
//!
//! ## Schedule
//!
//! Blocks are grouped into eras of [`Config::BlocksPerEra`] (`B`) blocks,
//! counted from the first block the pallet finalizes (block 1 on a chain that
//! has it from genesis): era `e` covers blocks `1 + e·B ..= (e + 1)·B`. Every
//! block of era `e` is worth `r_e`, where
//!
//! ```text
//! r_0     = InitialReward                      (R)
//! r_{e+1} = floor((1 − DecayPerEra) · r_e)     (d = DecayPerEra, a Perbill)
//! ```
//!
//! computed exactly in integers (`Perbill::mul_floor`), one step per era.
//! Since `r_e ≤ R·(1 − d)^e`, the total ever minted is at most
//!
//! ```text
//! Σ_e B·r_e ≤ B·R · Σ_e (1 − d)^e = B·R / d          (d > 0)
//! ```
//!
//! (see [`Pallet::max_total_bound`]); a halving schedule is `d = 50%`
//! (total ≤ 2·B·R). With `d > 0` the reward strictly decreases while
//! positive (the floor drops it by at least one unit per era), so it reaches
//! zero after at most `R` eras and minting stops. `d = 0` mints `R` per block
//! forever (no bound).
//!
//! ## Split
//!
//! [`Config::ValidatorShare`] of a block's reward is split equally among the
//! active validators (at most [`Config::MaxValidators`] of them); the
//! remainder of that division (dust) and everything else goes to the
//! author. With no validators the author gets everything; with no author
//! (no or unknown digest) nothing is minted. A validator share that cannot be
//! minted (a brand-new account below the existential deposit) goes to the
//! author too; what cannot be minted to the author is not minted.
//!
//! ## Clawback
//!
//! The pallet remembers what it minted to the author of each of the last
//! [`Config::RewardHistory`] blocks ([`AuthorRewards`]). A fraud proof that
//! discards a block's training takes that reward back
//! ([`upow_primitives::traits::RewardClawback`], called by the training
//! pallet): it is burned from the author's free balance as far as it goes,
//! and what the author has already spent comes off what the fraud game
//! pays out of its slashed bond (docs/protocol.md §8, P4: so it is borne
//! by the later authors and the reporter; version 3 holds rewards for the
//! dispute window instead). [`TotalClawedBack`] counts
//! what was burned.
//!
//! Invariants: [`TotalMinted`] is at most [`Pallet::scheduled_total`] of the
//! current block, and total issuance is the genesis issuance plus
//! [`TotalMinted`] (plus or minus what other pallets mint or burn).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod weights;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible,
        tokens::{Fortitude, Precision, Preservation},
        FindAuthor,
    },
};
use frame_system::pallet_prelude::*;
use scale_info::TypeInfo;
use sp_runtime::{
    traits::{Saturating, UniqueSaturatedInto, Zero},
    PerThing, Perbill,
};
use upow_primitives::traits::{Clawback, RewardClawback};

/// The balance type of the reward currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Where the schedule stands.
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo, Debug)]
pub struct EraInfo<Balance, BlockNumber> {
    /// The current era (0 first).
    pub era: u32,
    /// The reward of each block of this era.
    pub reward: Balance,
    /// The first block of the next era.
    pub next_era_at: BlockNumber,
}

/// How a block's reward is split ([`Pallet::split`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RewardSplit<Balance> {
    /// Minted to the author: the reward less the validators' shares.
    pub author: Balance,
    /// Minted to each active validator.
    pub each_validator: Balance,
}

/// Benchmark support: what the runtime must provide for the benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
    /// Makes `validators` accounts (existing ones) the active validators and
    /// the current block's digest name an author that `FindAuthor` resolves
    /// to an existing account; returns that account.
    fn setup_block(validators: u32) -> Option<AccountId>;
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
        /// The currency rewards are minted in.
        type Currency: fungible::Mutate<Self::AccountId>;

        /// Finds the block's author (from the upow pre-runtime digest).
        type FindAuthor: FindAuthor<Self::AccountId>;

        /// The active validators (the staking pallet's).
        type Validators: Get<Vec<Self::AccountId>>;

        /// The most validators paid per block (more are not paid); the
        /// benchmarks' worst case.
        #[pallet::constant]
        type MaxValidators: Get<u32>;

        /// `R`: the reward of each block of era 0.
        #[pallet::constant]
        type InitialReward: Get<BalanceOf<Self>>;

        /// `B`: blocks per era (must be positive).
        #[pallet::constant]
        type BlocksPerEra: Get<BlockNumberFor<Self>>;

        /// `d`: the reward shrinks by this fraction each era.
        #[pallet::constant]
        type DecayPerEra: Get<Perbill>;

        /// The validators' share of each block's reward.
        #[pallet::constant]
        type ValidatorShare: Get<Perbill>;

        /// Blocks for which the author's reward is remembered, and can be
        /// clawed back: at least the longest dispute window plus one.
        #[pallet::constant]
        type RewardHistory: Get<BlockNumberFor<Self>>;

        /// Weights of the hooks.
        type WeightInfo: WeightInfo;

        /// Benchmark support.
        #[cfg(feature = "runtime-benchmarks")]
        type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
    }

    /// Everything this pallet has minted.
    #[pallet::storage]
    pub type TotalMinted<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

    /// What the author of each of the last [`Config::RewardHistory`] blocks
    /// was minted for it (until clawed back).
    #[pallet::storage]
    pub type AuthorRewards<T: Config> =
        StorageMap<_, Twox64Concat, BlockNumberFor<T>, (T::AccountId, BalanceOf<T>), OptionQuery>;

    /// Everything clawed back (burned) from the authors of blocks whose
    /// training a fraud proof discarded.
    #[pallet::storage]
    pub type TotalClawedBack<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

    /// The current era and its per-block reward (set at the first block).
    #[pallet::storage]
    pub type CurrentEra<T: Config> =
        StorageValue<_, EraInfo<BalanceOf<T>, BlockNumberFor<T>>, OptionQuery>;

    /// Events.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A block's reward was minted.
        Rewarded {
            /// The block's author.
            author: T::AccountId,
            /// Minted to the author (its share plus dust).
            author_amount: BalanceOf<T>,
            /// Minted to the validators, all together.
            validators_amount: BalanceOf<T>,
        },
        /// A block's training was discarded by a fraud proof: its author's
        /// reward was taken back.
        ClawedBack {
            /// The block.
            block: BlockNumberFor<T>,
            /// Its author.
            author: T::AccountId,
            /// Burned from the author's free balance.
            amount: BalanceOf<T>,
            /// What the author had already spent (it comes off what the
            /// fraud game pays out of the slashed bond).
            shortfall: BalanceOf<T>,
        },
        /// A new era began.
        NewEra {
            /// The era.
            era: u32,
            /// Its per-block reward.
            reward: BalanceOf<T>,
        },
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
            // `on_finalize` does the work; its weight is registered here:
            // the benchmarked minting, and the record of the author's reward
            // written and the one fallen out of the history removed.
            T::WeightInfo::on_finalize(T::MaxValidators::get())
                .saturating_add(T::DbWeight::get().writes(2))
        }

        fn on_finalize(n: BlockNumberFor<T>) {
            Self::reward_block(n);
            if let Some(old) = n.checked_sub(&T::RewardHistory::get()) {
                AuthorRewards::<T>::remove(old);
            }
        }

        fn integrity_test() {
            assert!(
                !T::BlocksPerEra::get().is_zero(),
                "BlocksPerEra must be positive"
            );
            assert!(
                !T::RewardHistory::get().is_zero(),
                "RewardHistory must be positive"
            );
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }
    }
}

impl<T: Config> Pallet<T> {
    /// Advances the schedule to block `n` and mints its reward, split by
    /// [`Pallet::split`].
    fn reward_block(n: BlockNumberFor<T>) {
        let era = Self::era_at(n);
        let Some(author) = Self::find_author() else {
            return;
        };
        if era.reward.is_zero() {
            return;
        }
        let validators = T::Validators::get();
        let count = validators.len().min(T::MaxValidators::get() as usize);
        let split = Self::split(era.reward, count as u32);
        let mut validators_amount: BalanceOf<T> = Zero::zero();
        if !split.each_validator.is_zero() {
            for v in validators.iter().take(count) {
                if <T::Currency as fungible::Mutate<_>>::mint_into(v, split.each_validator).is_ok()
                {
                    validators_amount = validators_amount.saturating_add(split.each_validator);
                }
            }
        }
        // The author's share, plus any validator share that could not be
        // minted (a brand-new account below the existential deposit).
        let mut author_amount = era.reward.saturating_sub(validators_amount);
        if <T::Currency as fungible::Mutate<_>>::mint_into(&author, author_amount).is_err() {
            author_amount = Zero::zero();
        }
        let minted = author_amount.saturating_add(validators_amount);
        TotalMinted::<T>::mutate(|t| *t = t.saturating_add(minted));
        if !author_amount.is_zero() {
            AuthorRewards::<T>::insert(n, (author.clone(), author_amount));
        }
        Self::deposit_event(Event::Rewarded {
            author,
            author_amount,
            validators_amount,
        });
    }

    /// The split rule of a block's `reward` among its author and `count`
    /// validators: [`Config::ValidatorShare`] of it in equal parts to the
    /// validators, the rest (with the division's dust) to the author.
    pub fn split(reward: BalanceOf<T>, count: u32) -> RewardSplit<BalanceOf<T>> {
        if count == 0 {
            return RewardSplit {
                author: reward,
                each_validator: Zero::zero(),
            };
        }
        let share = T::ValidatorShare::get().mul_floor(reward);
        let each_validator = share / count.into();
        RewardSplit {
            author: reward.saturating_sub(each_validator.saturating_mul(count.into())),
            each_validator,
        }
    }

    /// What the author of block `n` (the next block, when called at its
    /// parent) is minted: its [`Pallet::split`] of the block's reward with
    /// the current validators. Exact unless a validator's account cannot
    /// receive its share (the author then gets it too).
    pub fn author_reward(n: BlockNumberFor<T>) -> BalanceOf<T> {
        let (era, _) = Self::schedule_at(n);
        let count = T::Validators::get()
            .len()
            .min(T::MaxValidators::get() as usize);
        Self::split(era.reward, count as u32).author
    }

    /// The era of block `n`: starts the schedule at the first block, moves to
    /// the next era at its first block; records it.
    fn era_at(n: BlockNumberFor<T>) -> EraInfo<BalanceOf<T>, BlockNumberFor<T>> {
        let (era, changed) = Self::schedule_at(n);
        if changed {
            if CurrentEra::<T>::get().is_some() {
                Self::deposit_event(Event::NewEra {
                    era: era.era,
                    reward: era.reward,
                });
            }
            CurrentEra::<T>::put(era);
        }
        era
    }

    /// The schedule rule: the era block `n` falls in, from the recorded
    /// one, and whether it differs from the recorded one.
    fn schedule_at(n: BlockNumberFor<T>) -> (EraInfo<BalanceOf<T>, BlockNumberFor<T>>, bool) {
        let blocks = T::BlocksPerEra::get().max(1u32.into());
        match CurrentEra::<T>::get() {
            None => (
                EraInfo {
                    era: 0,
                    reward: T::InitialReward::get(),
                    next_era_at: n.saturating_add(blocks),
                },
                true,
            ),
            Some(era) if n >= era.next_era_at => (
                EraInfo {
                    era: era.era.saturating_add(1),
                    reward: Self::next_reward(era.reward),
                    next_era_at: era.next_era_at.saturating_add(blocks),
                },
                true,
            ),
            Some(era) => (era, false),
        }
    }

    /// `r_{e+1} = floor((1 − d) · r_e)`.
    pub fn next_reward(reward: BalanceOf<T>) -> BalanceOf<T> {
        (Perbill::one().saturating_sub(T::DecayPerEra::get())).mul_floor(reward)
    }

    /// The reward of each block of era `e` (iterates `e` eras; stops at zero).
    pub fn reward_of_era(e: u32) -> BalanceOf<T> {
        let mut reward = T::InitialReward::get();
        for _ in 0..e {
            if reward.is_zero() {
                break;
            }
            reward = Self::next_reward(reward);
        }
        reward
    }

    /// The schedule's total for blocks `1..=n` of a chain that has this
    /// pallet from genesis: the most that can have been minted by block `n`.
    /// Iterates over the eras up to `n`.
    pub fn scheduled_total(n: BlockNumberFor<T>) -> BalanceOf<T> {
        let blocks = T::BlocksPerEra::get().max(1u32.into());
        let mut total: BalanceOf<T> = Zero::zero();
        let mut reward = T::InitialReward::get();
        let mut left = n;
        while !left.is_zero() && !reward.is_zero() {
            let in_era = left.min(blocks);
            let in_era_u128: u128 = in_era.unique_saturated_into();
            let count: BalanceOf<T> = in_era_u128.unique_saturated_into();
            total = total.saturating_add(reward.saturating_mul(count));
            left = left.saturating_sub(in_era);
            reward = Self::next_reward(reward);
        }
        total
    }

    /// The closed-form bound of everything ever minted: `B·R / d`, `None`
    /// when `d = 0` (no bound). Saturates at the balance's maximum.
    pub fn max_total_bound() -> Option<BalanceOf<T>> {
        let d = T::DecayPerEra::get().deconstruct();
        if d == 0 {
            return None;
        }
        let blocks: u128 = T::BlocksPerEra::get().unique_saturated_into();
        let reward: u128 = T::InitialReward::get().unique_saturated_into();
        let bound = blocks
            .saturating_mul(reward)
            .saturating_mul(Perbill::ACCURACY.into())
            .checked_div(d.into())
            .unwrap_or(u128::MAX);
        Some(bound.unique_saturated_into())
    }

    /// The current era, if the schedule started.
    pub fn current_era() -> Option<EraInfo<BalanceOf<T>, BlockNumberFor<T>>> {
        CurrentEra::<T>::get()
    }

    /// The author of the current block, if any.
    fn find_author() -> Option<T::AccountId> {
        let digest = frame_system::Pallet::<T>::digest();
        T::FindAuthor::find_author(digest.logs.iter().filter_map(|d| d.as_pre_runtime()))
    }

    /// Takes back the reward of `block` from `author` (see
    /// [`RewardClawback`]): burns it from the author's free balance as far
    /// as it goes, forgets it, and returns what was burned and what was not.
    pub fn do_claw_back(block: BlockNumberFor<T>, author: &T::AccountId) -> Clawback {
        let Some((rewarded, amount)) = AuthorRewards::<T>::get(block) else {
            return Clawback::default();
        };
        if &rewarded != author {
            return Clawback::default();
        }
        AuthorRewards::<T>::remove(block);
        // Best effort: as much as the author's free balance holds; an error
        // burns nothing, and the whole reward is the shortfall.
        let burned = <T::Currency as fungible::Mutate<_>>::burn_from(
            author,
            amount,
            Preservation::Expendable,
            Precision::BestEffort,
            Fortitude::Polite,
        )
        .unwrap_or_else(|e| {
            log::warn!(target: "upow::rewards", "clawback of block {block:?}'s reward failed: {e:?}");
            Zero::zero()
        });
        let shortfall = amount.saturating_sub(burned);
        TotalClawedBack::<T>::mutate(|t| *t = t.saturating_add(burned));
        Self::deposit_event(Event::ClawedBack {
            block,
            author: author.clone(),
            amount: burned,
            shortfall,
        });
        Clawback {
            recovered: burned.unique_saturated_into(),
            shortfall: shortfall.unique_saturated_into(),
        }
    }

    /// Checks the pallet's invariants.
    #[cfg(any(feature = "try-runtime", test))]
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        let minted = TotalMinted::<T>::get();
        if let Some(bound) = Self::max_total_bound() {
            ensure!(minted <= bound, "minted more than the schedule's bound");
        }
        if let Some(era) = CurrentEra::<T>::get() {
            ensure!(era.reward <= T::InitialReward::get(), "reward grew");
        }
        ensure!(
            TotalClawedBack::<T>::get() <= minted,
            "clawed back more than was minted"
        );
        ensure!(
            AuthorRewards::<T>::iter().count() as u128
                <= T::RewardHistory::get().unique_saturated_into(),
            "remembers more rewards than its history"
        );
        Ok(())
    }
}

impl<T: Config> RewardClawback<T::AccountId, BlockNumberFor<T>> for Pallet<T> {
    fn claw_back(block: BlockNumberFor<T>, author: &T::AccountId) -> Clawback {
        Self::do_claw_back(block, author)
    }

    fn claw_back_weight() -> Weight {
        // The record read and removed, the author's account, the total
        // issuance and the total clawed back read and written; a burn's
        // arithmetic and its event are negligible beside them.
        T::DbWeight::get().reads_writes(4, 4)
    }
}
