//! Tests of pallet-upow-staking, by topic (one module each), and the
//! helpers they share.
#![allow(clippy::unwrap_used)]

use crate::{mock::*, *};
use frame_support::{
    assert_noop, assert_ok,
    dispatch::{GetDispatchInfo, Pays},
    traits::{
        fungible::{Inspect, InspectHold},
        Get,
    },
};
use sp_runtime::{traits::BadOrigin, DispatchError, TokenError};
use upow_primitives::traits::AuthorAdmission;

mod admission;
mod bonding;
mod equivocation;
mod genesis;
mod proptests;
mod validators;

type E = crate::Event<Test>;

fn held(who: AccountId) -> Balance {
    Balances::balance_on_hold(&RuntimeHoldReason::Staking(HoldReason::Bond), &who)
}

fn free(who: AccountId) -> Balance {
    Balances::balance(&who)
}

fn issuance() -> Balance {
    Balances::total_issuance()
}

fn admit_miner(who: AccountId, i: u8) {
    assert_ok!(Staking::admit(
        RuntimeOrigin::root(),
        who,
        Role::Miner {
            author: author_key(i)
        }
    ));
}

fn admit_validator(who: AccountId, i: u8) {
    assert_ok!(Staking::admit(
        RuntimeOrigin::root(),
        who,
        Role::Validator {
            grandpa: grandpa_key(i)
        }
    ));
}

fn bond(who: AccountId, amount: Balance) {
    assert_ok!(Staking::bond(RuntimeOrigin::signed(who), amount));
}

fn active(who: AccountId) -> Balance {
    Ledgers::<Test>::get(who).map(|l| l.active).unwrap_or(0)
}

fn chunks(who: AccountId) -> Vec<(Balance, u64)> {
    Ledgers::<Test>::get(who)
        .map(|l| l.unbonding.iter().map(|c| (c.value, c.unlock_at)).collect())
        .unwrap_or_default()
}

/// Two conflicting headers by test author `i` on the same parent.
fn equivocation(i: u8) -> (Box<Header>, Box<Header>) {
    (
        Box::new(sealed_header(5, [7; 32], i, 1)),
        Box::new(sealed_header(5, [7; 32], i, 2)),
    )
}
