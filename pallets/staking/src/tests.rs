//! Tests of pallet-upow-staking.
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

// ---------------------------------------------------------------- genesis

#[test]
fn genesis_admits_and_holds_bonds() {
    ExtBuilder::default()
        .miner(1, author_key(1), 2_000)
        .validator(2, grandpa_key(2), 1_500)
        .validator(1, grandpa_key(1), 1_000)
        .build_and_execute(|| {
            assert_eq!(held(1), 3_000);
            assert_eq!(active(1), 3_000);
            assert_eq!(held(2), 1_500);
            assert_eq!(free(1), ENDOWMENT - 3_000);
            assert_eq!(Staking::account_of(&author_key(1)), Some(1));
            assert!(Staking::is_author_admitted(&author_key(1)));
            assert_eq!(
                Staking::active_validators(),
                vec![(1, grandpa_key(1)), (2, grandpa_key(2))]
            );
            assert_eq!(ValidatorCount::<Test>::get(), 2);
            assert_eq!(ActiveValidatorAccounts::<Test>::get(), vec![1, 2]);
            // Genesis does not announce a set change.
            assert!(take_announced_sets().is_empty());
        });
}

#[test]
#[should_panic(expected = "bond below MinBond")]
fn genesis_rejects_small_bond() {
    ExtBuilder::default()
        .miner(1, author_key(1), MIN_BOND - 1)
        .build();
}

#[test]
#[should_panic(expected = "cannot admit")]
fn genesis_rejects_shared_key() {
    ExtBuilder::default()
        .miner(1, author_key(1), MIN_BOND)
        .miner(2, author_key(1), MIN_BOND)
        .build();
}

#[test]
#[should_panic(expected = "cannot hold the bond")]
fn genesis_rejects_unaffordable_bond() {
    ExtBuilder::default()
        .miner(1, author_key(1), ENDOWMENT)
        .build();
}

// ---------------------------------------------------------------- admit

#[test]
fn admit_miner_works_and_needs_bond_to_author() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        assert_eq!(
            staking_events(),
            vec![E::Admitted {
                who: 1,
                role: Role::Miner {
                    author: author_key(1)
                }
            }]
        );
        assert_eq!(
            Staking::candidate(&1),
            Some(Candidate {
                author: Some(author_key(1)),
                grandpa: None,
                suspended: false
            })
        );
        assert_eq!(AuthorOwner::<Test>::get(author_key(1)), Some(1));
        // Not bonded yet.
        assert_eq!(Staking::account_of(&author_key(1)), None);
        bond(1, MIN_BOND - 1);
        assert_eq!(Staking::account_of(&author_key(1)), None);
        bond(1, 1);
        assert_eq!(Staking::account_of(&author_key(1)), Some(1));
        assert_eq!(Staking::account_of(&author_key(2)), None);
    });
}

#[test]
fn admit_requires_admit_origin() {
    ExtBuilder::default().build_and_execute(|| {
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::signed(1),
                1,
                Role::Miner {
                    author: author_key(1)
                }
            ),
            BadOrigin
        );
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::none(),
                1,
                Role::Miner {
                    author: author_key(1)
                }
            ),
            BadOrigin
        );
    });
}

#[test]
fn admit_twice_fails() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::root(),
                1,
                Role::Miner {
                    author: author_key(1)
                }
            ),
            Error::<Test>::AlreadyAdmitted
        );
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::root(),
                1,
                Role::Validator {
                    grandpa: grandpa_key(1)
                }
            ),
            Error::<Test>::AlreadyAdmitted
        );
    });
}

#[test]
fn keys_are_unique_across_accounts_for_good() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::root(),
                2,
                Role::Miner {
                    author: author_key(1)
                }
            ),
            Error::<Test>::AuthorKeyInUse
        );
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::root(),
                2,
                Role::Validator {
                    grandpa: grandpa_key(1)
                }
            ),
            Error::<Test>::GrandpaKeyInUse
        );
        // Still bound after removal.
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::root(),
                2,
                Role::Miner {
                    author: author_key(1)
                }
            ),
            Error::<Test>::AuthorKeyInUse
        );
        // The owner may come back with it.
        admit_miner(1, 1);
    });
}

#[test]
fn admit_rotates_keys() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        bond(1, MIN_BOND);
        assert_eq!(Staking::active_validators(), vec![(1, grandpa_key(1))]);
        take_announced_sets();
        admit_miner(1, 2);
        assert_eq!(Staking::account_of(&author_key(1)), None);
        assert_eq!(Staking::account_of(&author_key(2)), Some(1));
        // The old key stays bound to 1.
        assert_eq!(AuthorOwner::<Test>::get(author_key(1)), Some(1));
        admit_validator(1, 2);
        assert_eq!(Staking::active_validators(), vec![(1, grandpa_key(2))]);
        assert_eq!(take_announced_sets(), vec![vec![grandpa_key(2)]]);
        assert_eq!(ValidatorCount::<Test>::get(), 1);
    });
}

#[test]
fn admit_validator_bounded_by_max_validators() {
    ExtBuilder::default().build_and_execute(|| {
        for i in 1..=MAX_VALIDATORS as u8 {
            admit_validator(i as u64, i);
        }
        assert_noop!(
            Staking::admit(
                RuntimeOrigin::root(),
                20,
                Role::Validator {
                    grandpa: grandpa_key(20)
                }
            ),
            Error::<Test>::TooManyValidators
        );
        // Rotation of an admitted validator is not an addition.
        admit_validator(1, 30);
        // Removal frees a slot.
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 2));
        admit_validator(20, 20);
    });
}

#[test]
fn admitting_a_bonded_validator_changes_the_set() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, MIN_BOND);
        assert!(Staking::active_validators().is_empty());
        staking_events();
        admit_validator(1, 1);
        assert_eq!(Staking::active_validators(), vec![(1, grandpa_key(1))]);
        assert_eq!(take_announced_sets(), vec![vec![grandpa_key(1)]]);
        assert_eq!(
            staking_events(),
            vec![
                E::Admitted {
                    who: 1,
                    role: Role::Validator {
                        grandpa: grandpa_key(1)
                    }
                },
                E::ValidatorSetChanged { count: 1 },
            ]
        );
    });
}

#[test]
fn validator_set_is_sorted_by_key() {
    ExtBuilder::default().build_and_execute(|| {
        for (who, k) in [(1, 5u8), (2, 3), (3, 9), (4, 1)] {
            admit_validator(who, k);
            bond(who, MIN_BOND);
        }
        assert_eq!(
            Staking::active_validators(),
            vec![
                (4, grandpa_key(1)),
                (2, grandpa_key(3)),
                (1, grandpa_key(5)),
                (3, grandpa_key(9))
            ]
        );
        assert_eq!(
            take_announced_sets().last().cloned(),
            Some(vec![
                grandpa_key(1),
                grandpa_key(3),
                grandpa_key(5),
                grandpa_key(9)
            ])
        );
    });
}

// ---------------------------------------------------------------- remove

#[test]
fn remove_requires_origin_and_candidate() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        assert_noop!(Staking::remove(RuntimeOrigin::signed(1), 1), BadOrigin);
        assert_noop!(
            Staking::remove(RuntimeOrigin::root(), 2),
            Error::<Test>::NotCandidate
        );
    });
}

#[test]
fn remove_unbonds_everything_and_funds_come_back() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        bond(1, 5_000);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 1_000));
        run_to(3);
        staking_events();
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        assert_eq!(
            staking_events(),
            vec![
                E::Unbonded {
                    who: 1,
                    amount: 4_000,
                    unlock_at: 3 + DELAY
                },
                E::Removed {
                    who: 1,
                    unbonding: 4_000
                },
                E::ValidatorSetChanged { count: 0 },
            ]
        );
        // The empty set is not announced: GRANDPA keeps its authorities.
        assert_eq!(take_announced_sets(), vec![vec![grandpa_key(1)]]);
        assert_eq!(Staking::candidate(&1), None);
        assert_eq!(ValidatorCount::<Test>::get(), 0);
        assert_eq!(Staking::account_of(&author_key(1)), None);
        assert_eq!(active(1), 0);
        assert_eq!(chunks(1), vec![(1_000, 1 + DELAY), (4_000, 3 + DELAY)]);
        assert_eq!(held(1), 5_000);
        run_to(3 + DELAY);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1), 1));
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT);
        assert_eq!(Ledgers::<Test>::get(1), None);
    });
}

#[test]
fn remove_without_bond_works() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        staking_events();
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        assert_eq!(
            staking_events(),
            vec![E::Removed {
                who: 1,
                unbonding: 0
            }]
        );
        assert_eq!(Ledgers::<Test>::get(1), None);
    });
}

// ---------------------------------------------------------------- bond

#[test]
fn bond_works() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        staking_events();
        bond(1, 700);
        bond(1, 300);
        assert_eq!(
            staking_events(),
            vec![
                E::Bonded {
                    who: 1,
                    amount: 700
                },
                E::Bonded {
                    who: 1,
                    amount: 300
                }
            ]
        );
        assert_eq!(active(1), 1_000);
        assert_eq!(held(1), 1_000);
        assert_eq!(free(1), ENDOWMENT - 1_000);
        assert_eq!(
            Staking::ledger(&1),
            Some(LedgerInfo {
                active: 1_000,
                unbonding: vec![],
                withdrawable: 0
            })
        );
    });
}

#[test]
fn bond_errors() {
    ExtBuilder::default().build_and_execute(|| {
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(1), 100),
            Error::<Test>::NotCandidate
        );
        admit_miner(1, 1);
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(1), 0),
            Error::<Test>::ZeroAmount
        );
        assert_noop!(Staking::bond(RuntimeOrigin::root(), 100), BadOrigin);
        // The existential deposit stays free.
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(1), ENDOWMENT - ED + 1),
            Error::<Test>::InsufficientBalance
        );
        bond(1, ENDOWMENT - ED);
        assert_eq!(free(1), ED);
        assert_noop!(
            Staking::bond(RuntimeOrigin::signed(1), 1),
            Error::<Test>::InsufficientBalance
        );
    });
}

#[test]
fn bond_everything_then_leave_gets_everything_back() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, ENDOWMENT - ED);
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        run_to(1 + DELAY);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(2), 1));
        assert_eq!(free(1), ENDOWMENT);
    });
}

// ---------------------------------------------------------------- unbond

#[test]
fn unbond_works_and_merges_same_block() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 3_000);
        staking_events();
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 500));
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 250));
        assert_eq!(chunks(1), vec![(750, 1 + DELAY)]);
        run_to(2);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 250));
        assert_eq!(chunks(1), vec![(750, 1 + DELAY), (250, 2 + DELAY)]);
        assert_eq!(active(1), 2_000);
        assert_eq!(held(1), 3_000);
        assert_eq!(
            staking_events(),
            vec![
                E::Unbonded {
                    who: 1,
                    amount: 500,
                    unlock_at: 1 + DELAY
                },
                E::Unbonded {
                    who: 1,
                    amount: 250,
                    unlock_at: 1 + DELAY
                },
                E::Unbonded {
                    who: 1,
                    amount: 250,
                    unlock_at: 2 + DELAY
                },
            ]
        );
        assert_eq!(
            Staking::ledger(&1),
            Some(LedgerInfo {
                active: 2_000,
                unbonding: vec![(750, 1 + DELAY), (250, 2 + DELAY)],
                withdrawable: 0
            })
        );
    });
}

#[test]
fn unbond_errors() {
    ExtBuilder::default().build_and_execute(|| {
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(1), 1),
            Error::<Test>::NotBonded
        );
        admit_miner(1, 1);
        bond(1, 1_000);
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(1), 0),
            Error::<Test>::ZeroAmount
        );
        assert_noop!(
            Staking::unbond(RuntimeOrigin::signed(1), 1_001),
            Error::<Test>::InsufficientBond
        );
        assert_noop!(Staking::unbond(RuntimeOrigin::none(), 1), BadOrigin);
    });
}

#[test]
fn unbond_below_min_bond_deactivates() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        bond(1, MIN_BOND);
        assert_eq!(Staking::account_of(&author_key(1)), Some(1));
        assert_eq!(Staking::active_validators().len(), 1);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 1));
        assert_eq!(Staking::account_of(&author_key(1)), None);
        assert!(Staking::active_validators().is_empty());
        bond(1, 1);
        assert_eq!(Staking::account_of(&author_key(1)), Some(1));
        assert_eq!(Staking::active_validators().len(), 1);
    });
}

#[test]
fn unbond_with_full_chunks_withdraws_matured_first() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 10_000);
        for b in 1..=MAX_CHUNKS as u64 {
            run_to(b);
            assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 100));
        }
        assert_eq!(chunks(1).len(), MAX_CHUNKS as usize);
        // Two chunks have matured.
        run_to(2 + DELAY);
        staking_events();
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 100));
        assert_eq!(
            staking_events(),
            vec![
                E::Withdrawn {
                    who: 1,
                    amount: 200
                },
                E::Unbonded {
                    who: 1,
                    amount: 100,
                    unlock_at: 2 + 2 * DELAY
                },
            ]
        );
        assert_eq!(
            chunks(1),
            vec![(100, 3 + DELAY), (100, 4 + DELAY), (100, 2 + 2 * DELAY)]
        );
        assert_eq!(free(1), ENDOWMENT - 10_000 + 200);
    });
}

#[test]
fn unbond_with_full_unmatured_chunks_merges_into_latest() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 10_000);
        for b in 1..=MAX_CHUNKS as u64 {
            run_to(b);
            assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 100));
        }
        run_to(7);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 50));
        assert_eq!(
            chunks(1),
            vec![
                (100, 1 + DELAY),
                (100, 2 + DELAY),
                (100, 3 + DELAY),
                (150, 7 + DELAY)
            ]
        );
        // Removal still succeeds with full chunks, and everything comes back.
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        run_to(8 + DELAY);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1), 1));
        assert_eq!(free(1), ENDOWMENT);
        assert_eq!(Ledgers::<Test>::get(1), None);
    });
}

// ---------------------------------------------------------------- withdraw

#[test]
fn withdraw_errors() {
    ExtBuilder::default().build_and_execute(|| {
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(1), 1),
            Error::<Test>::NotBonded
        );
        admit_miner(1, 1);
        bond(1, 2_000);
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(1), 1),
            Error::<Test>::NothingToWithdraw
        );
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 500));
        run_to(DELAY);
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::signed(1), 1),
            Error::<Test>::NothingToWithdraw
        );
        assert_noop!(
            Staking::withdraw_unbonded(RuntimeOrigin::none(), 1),
            BadOrigin
        );
    });
}

#[test]
fn anyone_can_withdraw_for_anyone_and_funds_go_to_the_owner() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 2_000);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 500));
        run_to(2);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 300));
        run_to(1 + DELAY);
        assert_eq!(Staking::ledger(&1).map(|l| l.withdrawable), Some(500));
        staking_events();
        let free_2 = free(2);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(2), 1));
        assert_eq!(
            staking_events(),
            vec![E::Withdrawn {
                who: 1,
                amount: 500
            }]
        );
        assert_eq!(free(2), free_2);
        assert_eq!(free(1), ENDOWMENT - 2_000 + 500);
        assert_eq!(chunks(1), vec![(300, 2 + DELAY)]);
        assert_eq!(held(1), 1_500);
        // Still admitted and active.
        assert_eq!(Staking::account_of(&author_key(1)), Some(1));
    });
}

#[test]
fn withdraw_is_fee_paying_and_weighted() {
    ExtBuilder::default().build_and_execute(|| {
        let call = RuntimeCall::Staking(crate::Call::withdraw_unbonded { who: 1 });
        let info = call.get_dispatch_info();
        assert_eq!(info.pays_fee, Pays::Yes);
        assert_eq!(info.call_weight, <() as WeightInfo>::withdraw_unbonded());
    });
}

// ---------------------------------------------------------------- equivocation

#[test]
fn equivocation_is_slashed_to_treasury_and_suspends() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        bond(1, 10_000);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 2_000));
        admit_validator(2, 2);
        bond(2, MIN_BOND);
        take_announced_sets();
        staking_events();
        let issuance_before = issuance();
        let (a, b) = equivocation(1);
        let result = Staking::report_equivocation(RuntimeOrigin::signed(3), a.clone(), b.clone());
        assert_ok!(result);
        assert_eq!(result.map(|i| i.pays_fee), Ok(Pays::No));
        // 10% of 10_000, all from the active bond.
        assert_eq!(held(1), 9_000);
        assert_eq!(active(1), 7_000);
        assert_eq!(chunks(1), vec![(2_000, 1 + DELAY)]);
        assert_eq!(free(TREASURY), ED + 1_000);
        assert_eq!(issuance(), issuance_before);
        assert_eq!(
            staking_events(),
            vec![
                E::Slashed {
                    who: 1,
                    author: author_key(1),
                    amount: 1_000
                },
                E::Suspended { who: 1 },
                E::ValidatorSetChanged { count: 1 },
            ]
        );
        assert_eq!(take_announced_sets(), vec![vec![grandpa_key(2)]]);
        assert!(Staking::candidate(&1).is_some_and(|c| c.suspended));
        assert_eq!(Staking::account_of(&author_key(1)), None);
        assert!(ReportedOffences::<Test>::contains_key(
            author_key(1),
            sp_core::H256([7; 32])
        ));
        // The same offence again (even with other headers) is refused.
        assert_noop!(
            Staking::report_equivocation(RuntimeOrigin::signed(3), b.clone(), a.clone()),
            Error::<Test>::DuplicateOffence
        );
        let c = Box::new(sealed_header(5, [7; 32], 1, 3));
        assert_noop!(
            Staking::report_equivocation(RuntimeOrigin::signed(4), a, c),
            Error::<Test>::DuplicateOffence
        );
        // A different offence is punished again.
        assert_ok!(Staking::report_equivocation(
            RuntimeOrigin::signed(3),
            Box::new(sealed_header(6, [8; 32], 1, 1)),
            Box::new(sealed_header(6, [8; 32], 1, 2)),
        ));
        assert_eq!(held(1), 8_100);
        assert_eq!(
            staking_events(),
            vec![E::Slashed {
                who: 1,
                author: author_key(1),
                amount: 900
            }]
        );
    });
}

#[test]
fn slash_reaches_unbonding_chunks_latest_first() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 10_000);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 9_500));
        run_to(2);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 300));
        // active 200, chunks 9_500 @ 1+D, 300 @ 2+D; slash 1_000.
        let (a, b) = equivocation(1);
        assert_ok!(Staking::report_equivocation(RuntimeOrigin::signed(3), a, b));
        assert_eq!(active(1), 0);
        assert_eq!(chunks(1), vec![(9_000, 1 + DELAY)]);
        assert_eq!(held(1), 9_000);
        run_to(1 + DELAY);
        assert_ok!(Staking::withdraw_unbonded(RuntimeOrigin::signed(1), 1));
        assert_eq!(free(1), ENDOWMENT - 1_000);
        assert_eq!(Ledgers::<Test>::get(1), None);
    });
}

#[test]
fn removed_author_stays_slashable_while_unbonding() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 5_000);
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        staking_events();
        let (a, b) = equivocation(1);
        assert_ok!(Staking::report_equivocation(RuntimeOrigin::signed(3), a, b));
        // Not a candidate any more: slashed, not suspended.
        assert_eq!(
            staking_events(),
            vec![E::Slashed {
                who: 1,
                author: author_key(1),
                amount: 500
            }]
        );
        assert_eq!(chunks(1), vec![(4_500, 1 + DELAY)]);
    });
}

#[test]
fn slash_burns_when_treasury_cannot_receive() {
    ExtBuilder::default().treasury(0).build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 50); // 10% = 5 < ED
        let before = issuance();
        staking_events();
        let (a, b) = equivocation(1);
        assert_ok!(Staking::report_equivocation(RuntimeOrigin::signed(3), a, b));
        assert_eq!(
            staking_events(),
            vec![
                E::Slashed {
                    who: 1,
                    author: author_key(1),
                    amount: 5
                },
                E::SlashBurned { who: 1, amount: 5 },
                E::Suspended { who: 1 },
            ]
        );
        assert_eq!(held(1), 45);
        assert_eq!(issuance(), before - 5);
        assert_eq!(free(TREASURY), 0);
    });
}

#[test]
fn slash_of_unbonded_offender_is_zero_but_suspends() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        staking_events();
        let (a, b) = equivocation(1);
        assert_ok!(Staking::report_equivocation(RuntimeOrigin::signed(3), a, b));
        assert_eq!(
            staking_events(),
            vec![
                E::Slashed {
                    who: 1,
                    author: author_key(1),
                    amount: 0
                },
                E::Suspended { who: 1 }
            ]
        );
    });
}

#[test]
fn report_rejects_bad_proofs() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_miner(2, 2);
        bond(1, 5_000);
        let a = sealed_header(5, [7; 32], 1, 1);
        let report = |x: Header, y: Header| {
            Staking::report_equivocation(RuntimeOrigin::signed(3), Box::new(x), Box::new(y))
        };
        assert_noop!(
            Staking::report_equivocation(
                RuntimeOrigin::none(),
                Box::new(a.clone()),
                Box::new(a.clone())
            ),
            BadOrigin
        );
        // Different number / parent.
        assert_noop!(
            report(a.clone(), sealed_header(6, [7; 32], 1, 2)),
            Error::<Test>::NotConflicting
        );
        assert_noop!(
            report(a.clone(), sealed_header(5, [8; 32], 1, 2)),
            Error::<Test>::NotConflicting
        );
        // The same header, or the same pre-seal header sealed twice.
        assert_noop!(
            report(a.clone(), a.clone()),
            Error::<Test>::IdenticalHeaders
        );
        let resealed = seal(
            unsealed_header(5, [7; 32], author_key(1), 1),
            &author_pair(1),
        );
        assert_ne!(resealed, a);
        assert_noop!(report(a.clone(), resealed), Error::<Test>::IdenticalHeaders);
        // No seal; seal not last; seal of another engine.
        let unsealed = unsealed_header(5, [7; 32], author_key(1), 2);
        assert_noop!(
            report(a.clone(), unsealed.clone()),
            Error::<Test>::MissingSeal
        );
        let mut not_last = sealed_header(5, [7; 32], 1, 2);
        not_last.digest_mut().push(DigestItem::Other(vec![1]));
        assert_noop!(report(a.clone(), not_last), Error::<Test>::MissingSeal);
        let mut other_engine = unsealed.clone();
        other_engine
            .digest_mut()
            .push(DigestItem::Seal(*b"aura", vec![0; 65]));
        assert_noop!(report(a.clone(), other_engine), Error::<Test>::MissingSeal);
        // Garbage seal.
        let mut garbage = unsealed.clone();
        garbage
            .digest_mut()
            .push(DigestItem::Seal(ENGINE_ID, vec![1, 2, 3]));
        assert_noop!(report(a.clone(), garbage), Error::<Test>::BadSeal);
        // No pre-digest.
        let bare = Header::new(
            5,
            Default::default(),
            Default::default(),
            [7; 32].into(),
            Default::default(),
        );
        assert_noop!(
            report(a.clone(), seal(bare, &author_pair(1))),
            Error::<Test>::BadPreDigest
        );
        // Signed by someone else.
        let forged = seal(
            unsealed_header(5, [7; 32], author_key(1), 2),
            &author_pair(2),
        );
        assert_noop!(report(a.clone(), forged), Error::<Test>::BadSignature);
        // Signature of another header.
        let mut swapped = sealed_header(5, [7; 32], 1, 2);
        swapped.digest_mut().pop();
        let a_seal = a.digest().logs().last().cloned().unwrap();
        swapped.digest_mut().push(a_seal);
        assert_noop!(report(a.clone(), swapped), Error::<Test>::BadSignature);
        // Two honest authors.
        assert_noop!(
            report(a.clone(), sealed_header(5, [7; 32], 2, 2)),
            Error::<Test>::DifferentAuthors
        );
        // A key never admitted.
        assert_noop!(
            report(
                sealed_header(5, [7; 32], 9, 1),
                sealed_header(5, [7; 32], 9, 2)
            ),
            Error::<Test>::UnknownAuthor
        );
        // Too large.
        let mut big = unsealed_header(5, [7; 32], author_key(1), 2);
        big.digest_mut()
            .push(DigestItem::Other(vec![0; MAX_HEADER_LEN as usize]));
        let big = seal(big, &author_pair(1));
        assert_noop!(report(a.clone(), big), Error::<Test>::HeaderTooLarge);
        // Nothing happened.
        assert_eq!(held(1), 5_000);
    });
}

#[test]
fn report_weight_grows_with_proof_size() {
    ExtBuilder::default().build_and_execute(|| {
        let (a, b) = equivocation(1);
        let small = RuntimeCall::Staking(crate::Call::report_equivocation {
            first: a.clone(),
            second: b.clone(),
        })
        .get_dispatch_info();
        let mut big = (*b).clone();
        big.digest_mut().push(DigestItem::Other(vec![0; 4096]));
        let large = RuntimeCall::Staking(crate::Call::report_equivocation {
            first: a,
            second: Box::new(big),
        })
        .get_dispatch_info();
        assert!(large.call_weight.ref_time() > small.call_weight.ref_time());
    });
}

// ---------------------------------------------------------------- reinstate

#[test]
fn reinstate_works() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        admit_validator(1, 1);
        bond(1, 20_000);
        let (a, b) = equivocation(1);
        assert_ok!(Staking::report_equivocation(RuntimeOrigin::signed(3), a, b));
        assert!(Staking::active_validators().is_empty());
        take_announced_sets();
        staking_events();
        assert_ok!(Staking::reinstate(RuntimeOrigin::root(), 1));
        assert_eq!(
            staking_events(),
            vec![
                E::Reinstated { who: 1 },
                E::ValidatorSetChanged { count: 1 }
            ]
        );
        assert_eq!(take_announced_sets(), vec![vec![grandpa_key(1)]]);
        assert_eq!(Staking::account_of(&author_key(1)), Some(1));
    });
}

#[test]
fn reinstate_errors() {
    ExtBuilder::default().build_and_execute(|| {
        assert_noop!(
            Staking::reinstate(RuntimeOrigin::root(), 1),
            Error::<Test>::NotCandidate
        );
        admit_miner(1, 1);
        assert_noop!(
            Staking::reinstate(RuntimeOrigin::root(), 1),
            Error::<Test>::NotSuspended
        );
        assert_noop!(Staking::reinstate(RuntimeOrigin::signed(1), 1), BadOrigin);
    });
}

#[test]
fn removal_lifts_suspension() {
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 5_000);
        let (a, b) = equivocation(1);
        assert_ok!(Staking::report_equivocation(RuntimeOrigin::signed(3), a, b));
        // Admission does not lift a suspension.
        assert_ok!(Staking::admit(
            RuntimeOrigin::root(),
            1,
            Role::Validator {
                grandpa: grandpa_key(1)
            }
        ));
        assert_eq!(Staking::account_of(&author_key(1)), None);
        assert_ok!(Staking::remove(RuntimeOrigin::root(), 1));
        admit_miner(1, 1);
        bond(1, MIN_BOND);
        assert_eq!(Staking::account_of(&author_key(1)), Some(1));
    });
}

// ---------------------------------------------------------------- misc

#[test]
fn author_admission_weight_is_the_benchmarked_one() {
    assert_eq!(
        <Staking as AuthorAdmission<AccountId>>::account_of_weight(),
        <() as WeightInfo>::account_of()
    );
}

#[test]
fn hold_errors_are_not_token_errors() {
    // `bond` reports a typed pallet error, not the currency's.
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(30, 1); // unendowed account
        let r = Staking::bond(RuntimeOrigin::signed(30), 5);
        assert_eq!(r, Err(Error::<Test>::InsufficientBalance.into()));
        assert_ne!(r, Err(DispatchError::Token(TokenError::FundsUnavailable)));
    });
}

#[test]
fn integrity_test_passes() {
    use frame_support::traits::Hooks;
    new_test_ext().execute_with(|| {
        <Staking as Hooks<u64>>::integrity_test();
        assert_eq!(
            <<Test as Config>::MaxValidators as Get<u32>>::get(),
            MAX_VALIDATORS
        );
    });
}

// ---------------------------------------------------------------- properties

mod properties {
    use super::*;
    use proptest::prelude::*;

    const ACCOUNTS: u64 = 5;

    #[derive(Clone, Debug)]
    enum Op {
        AdmitMiner(u64),
        AdmitValidator(u64),
        Remove(u64),
        Bond(u64, Balance),
        Unbond(u64, Balance),
        Withdraw(u64, u64),
        Advance(u64),
        Report(u64),
        Reinstate(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let who = 1..=ACCOUNTS;
        prop_oneof![
            who.clone().prop_map(Op::AdmitMiner),
            who.clone().prop_map(Op::AdmitValidator),
            who.clone().prop_map(Op::Remove),
            (who.clone(), 1..5_000u64).prop_map(|(w, a)| Op::Bond(w, a)),
            (who.clone(), 1..3_000u64).prop_map(|(w, a)| Op::Unbond(w, a)),
            (who.clone(), who.clone()).prop_map(|(c, w)| Op::Withdraw(c, w)),
            (1..2 * DELAY).prop_map(Op::Advance),
            who.clone().prop_map(Op::Report),
            who.prop_map(Op::Reinstate),
        ]
    }

    /// Applies `op`; a failing call must change nothing at all.
    fn apply(op: &Op, block: &mut u64, offence: &mut u8) {
        let root_before = sp_io::storage::root(sp_runtime::StateVersion::V1);
        let result = match *op {
            Op::AdmitMiner(w) => Staking::admit(
                RuntimeOrigin::root(),
                w,
                Role::Miner {
                    author: author_key(w as u8),
                },
            ),
            Op::AdmitValidator(w) => Staking::admit(
                RuntimeOrigin::root(),
                w,
                Role::Validator {
                    grandpa: grandpa_key(w as u8),
                },
            ),
            Op::Remove(w) => Staking::remove(RuntimeOrigin::root(), w),
            Op::Bond(w, a) => Staking::bond(RuntimeOrigin::signed(w), a),
            Op::Unbond(w, a) => Staking::unbond(RuntimeOrigin::signed(w), a),
            Op::Withdraw(c, w) => Staking::withdraw_unbonded(RuntimeOrigin::signed(c), w),
            Op::Advance(n) => {
                *block += n;
                run_to(*block);
                Ok(())
            }
            Op::Report(w) => {
                *offence = offence.wrapping_add(1);
                Staking::report_equivocation(
                    RuntimeOrigin::signed(10),
                    Box::new(sealed_header(3, [*offence; 32], w as u8, 1)),
                    Box::new(sealed_header(3, [*offence; 32], w as u8, 2)),
                )
                .map(|_| ())
                .map_err(|e| e.error)
            }
            Op::Reinstate(w) => Staking::reinstate(RuntimeOrigin::root(), w),
        };
        if let Err(e) = result {
            assert_eq!(
                sp_io::storage::root(sp_runtime::StateVersion::V1),
                root_before,
                "{op:?} failed with {e:?} but changed storage"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn random_sequences_keep_invariants(ops in proptest::collection::vec(op(), 1..60)) {
            ExtBuilder::default().build().execute_with(|| {
                let issuance_before = issuance();
                let treasury_before = free(TREASURY);
                let mut block = 1;
                let mut offence = 0u8;
                for op in &ops {
                    apply(op, &mut block, &mut offence);
                    // Holds equal ledgers; keys, counts and the set agree.
                    Staking::do_try_state().map_err(|e| format!("{op:?}: {e:?}")).unwrap();
                    // Staking never creates or destroys funds (treasury exists).
                    assert_eq!(issuance(), issuance_before);
                    for w in 1..=ACCOUNTS {
                        let ledger_total = Ledgers::<Test>::get(w).map(|l| l.total()).unwrap_or(0);
                        assert_eq!(held(w), ledger_total);
                    }
                }
                // Everyone leaves; after the delay, withdrawal returns
                // everything that was not slashed.
                let slashed: Balance = System::events()
                    .iter()
                    .filter_map(|r| match r.event {
                        RuntimeEvent::Staking(E::Slashed { amount, .. }) => Some(amount),
                        _ => None,
                    })
                    .sum();
                for w in 1..=ACCOUNTS {
                    let _ = Staking::remove(RuntimeOrigin::root(), w);
                }
                run_to(block + DELAY);
                for w in 1..=ACCOUNTS {
                    let _ = Staking::withdraw_unbonded(RuntimeOrigin::signed(w), w);
                    assert_eq!(held(w), 0);
                    assert_eq!(Ledgers::<Test>::get(w), None);
                }
                let total_free: Balance = (1..=ACCOUNTS).map(free).sum();
                assert_eq!(total_free + slashed, ACCOUNTS * ENDOWMENT);
                assert_eq!(free(TREASURY), treasury_before + slashed);
                assert_eq!(issuance(), issuance_before);
                assert!(Staking::active_validators().is_empty());
                Staking::do_try_state().unwrap();
            });
        }
    }
}

#[test]
fn validator_set_waits_until_grandpa_accepts_it() {
    ExtBuilder::default().build_and_execute(|| {
        admit_validator(1, 1);
        bond(1, MIN_BOND);
        take_announced_sets();
        set_grandpa_busy(true);
        admit_validator(2, 2);
        bond(2, MIN_BOND);
        // GRANDPA refused: nothing announced, the set waits.
        assert!(take_announced_sets().is_empty());
        assert!(UnappliedValidatorSet::<Test>::get().is_some());
        Staking::on_finalize(1);
        assert!(take_announced_sets().is_empty());
        // Accepted at the end of the next block, and only once.
        set_grandpa_busy(false);
        Staking::on_finalize(2);
        let mut expected = vec![grandpa_key(1), grandpa_key(2)];
        expected.sort();
        assert_eq!(take_announced_sets(), vec![expected]);
        assert!(UnappliedValidatorSet::<Test>::get().is_none());
        Staking::on_finalize(3);
        assert!(take_announced_sets().is_empty());
    });
}
