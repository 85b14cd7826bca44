//! `admit` and `remove`: roles, keys bound to their accounts for good, key
//! rotation, the validator bound, and the author lookup the training
//! pallet uses.

use super::*;

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

#[test]
fn author_admission_weight_is_the_benchmarked_one() {
    assert_eq!(
        <Staking as AuthorAdmission<AccountId>>::account_of_weight(),
        <() as WeightInfo>::account_of()
    );
}
