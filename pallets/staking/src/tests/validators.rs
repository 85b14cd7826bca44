//! The active validator set: sorted by key, changed by admission and bonds,
//! and handed to GRANDPA (retried until it accepts).

use super::*;

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
