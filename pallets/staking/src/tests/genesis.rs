//! Genesis (admitted and bonded miners and validators, and the chain specs
//! it refuses) and the checks of the pallet's configuration.

use super::*;

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
