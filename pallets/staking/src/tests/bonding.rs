//! Bonds: `bond`, `unbond` (chunk merging when the slots are full) and
//! `withdraw_unbonded`, and the holds behind them.

use super::*;

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
