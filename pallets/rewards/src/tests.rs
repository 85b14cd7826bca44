//! Tests of pallet-upow-rewards.
#![allow(clippy::unwrap_used)]

use crate::{mock::*, *};
use frame_support::traits::{fungible::Inspect, Hooks};

type E = crate::Event<Test>;

fn free(who: AccountId) -> Balance {
    Balances::balance(&who)
}

fn issuance() -> Balance {
    Balances::total_issuance()
}

#[test]
fn no_author_mints_nothing() {
    new_test_ext().execute_with(|| {
        let before = issuance();
        run_block(1, None);
        assert_eq!(issuance(), before);
        assert_eq!(TotalMinted::<Test>::get(), 0);
        assert!(reward_events().is_empty());
        // The schedule still started.
        assert_eq!(
            Rewards::current_era(),
            Some(EraInfo {
                era: 0,
                reward: 1_000,
                next_era_at: 11
            })
        );
    });
}

#[test]
fn unknown_digest_mints_nothing() {
    new_test_ext().execute_with(|| {
        let before = issuance();
        System::initialize(
            &1,
            &Default::default(),
            &sp_runtime::Digest {
                logs: vec![sp_runtime::DigestItem::PreRuntime(*b"othr", vec![1, 2, 3])],
            },
        );
        Rewards::on_finalize(1);
        assert_eq!(issuance(), before);
    });
}

#[test]
fn all_to_the_author_without_validators() {
    new_test_ext().execute_with(|| {
        run_block(1, Some(7));
        assert_eq!(free(7), ENDOWMENT + 1_000);
        assert_eq!(
            reward_events(),
            vec![E::Rewarded {
                author: 7,
                author_amount: 1_000,
                validators_amount: 0
            }]
        );
        assert_eq!(TotalMinted::<Test>::get(), 1_000);
    });
}

#[test]
fn validators_share_equally_dust_to_author() {
    new_test_ext().execute_with(|| {
        Validators::set((1..=7).collect());
        run_block(1, Some(20));
        // 30% of 1000 = 300; 300 / 7 = 42 each (294), dust 6 to the author.
        for v in 1..=7 {
            assert_eq!(free(v), ENDOWMENT + 42);
        }
        assert_eq!(free(20), ENDOWMENT + 706);
        assert_eq!(
            reward_events(),
            vec![E::Rewarded {
                author: 20,
                author_amount: 706,
                validators_amount: 294
            }]
        );
        assert_eq!(TotalMinted::<Test>::get(), 1_000);
    });
}

#[test]
fn author_who_validates_gets_both() {
    new_test_ext().execute_with(|| {
        Validators::set(vec![1, 2]);
        run_block(1, Some(1));
        assert_eq!(free(1), ENDOWMENT + 150 + 700);
        assert_eq!(free(2), ENDOWMENT + 150);
    });
}

#[test]
fn full_validator_share_and_zero_share() {
    new_test_ext().execute_with(|| {
        ValidatorShare::set(Perbill::one());
        Validators::set(vec![1, 2, 3]);
        run_block(1, Some(9));
        assert_eq!(free(1), ENDOWMENT + 333);
        assert_eq!(free(9), ENDOWMENT + 1);
        ValidatorShare::set(Perbill::zero());
        run_block(2, Some(9));
        assert_eq!(free(1), ENDOWMENT + 333);
        assert_eq!(free(9), ENDOWMENT + 1 + 1_000);
        ValidatorShare::set(Perbill::from_percent(30));
    });
}

#[test]
fn only_max_validators_are_paid() {
    new_test_ext().execute_with(|| {
        MaxValidators::set(2);
        Validators::set(vec![1, 2, 3]);
        run_block(1, Some(9));
        assert_eq!(free(1), ENDOWMENT + 150);
        assert_eq!(free(2), ENDOWMENT + 150);
        assert_eq!(free(3), ENDOWMENT);
        assert_eq!(free(9), ENDOWMENT + 700);
        MaxValidators::set(16);
    });
}

#[test]
fn unmintable_validator_share_goes_to_author() {
    new_test_ext().execute_with(|| {
        // 500 does not exist and 5 < ED.
        InitialReward::set(100);
        ValidatorShare::set(Perbill::from_percent(10));
        Validators::set(vec![500, 1]);
        run_block(1, Some(9));
        // Validator 1's 5 is minted (it exists); 500's goes to the author.
        assert_eq!(free(500), 0);
        assert_eq!(free(1), ENDOWMENT + 5);
        assert_eq!(free(9), ENDOWMENT + 95);
        assert_eq!(
            reward_events(),
            vec![E::Rewarded {
                author: 9,
                author_amount: 95,
                validators_amount: 5
            }]
        );
        InitialReward::set(1_000);
        ValidatorShare::set(Perbill::from_percent(30));
    });
}

#[test]
fn unmintable_author_reward_is_not_minted() {
    new_test_ext().execute_with(|| {
        InitialReward::set(5);
        let before = issuance();
        run_block(1, Some(600));
        assert_eq!(issuance(), before);
        assert_eq!(TotalMinted::<Test>::get(), 0);
        assert_eq!(
            reward_events(),
            vec![E::Rewarded {
                author: 600,
                author_amount: 0,
                validators_amount: 0
            }]
        );
        InitialReward::set(1_000);
    });
}

#[test]
fn reward_decays_per_era() {
    new_test_ext().execute_with(|| {
        let mut rewards = Vec::new();
        for n in 1..=35 {
            let before = free(5);
            run_block(n, Some(5));
            rewards.push(free(5) - before);
            if n == 11 {
                assert_eq!(
                    reward_events()[0],
                    E::NewEra {
                        era: 1,
                        reward: 900
                    }
                );
            }
        }
        assert!(rewards[0..10].iter().all(|r| *r == 1_000));
        assert!(rewards[10..20].iter().all(|r| *r == 900));
        assert!(rewards[20..30].iter().all(|r| *r == 810));
        assert!(rewards[30..35].iter().all(|r| *r == 729));
        assert_eq!(Rewards::reward_of_era(3), 729);
        assert_eq!(Rewards::reward_of_era(4), 656); // floor(0.9 * 729)
        assert_eq!(TotalMinted::<Test>::get(), Rewards::scheduled_total(35));
        assert_eq!(
            Rewards::scheduled_total(35),
            10_000 + 9_000 + 8_100 + 5 * 729
        );
    });
}

#[test]
fn halving_schedule() {
    new_test_ext().execute_with(|| {
        DecayPerEra::set(Perbill::from_percent(50));
        InitialReward::set(1_000);
        BlocksPerEra::set(2);
        assert_eq!(
            (0..12).map(Rewards::reward_of_era).collect::<Vec<_>>(),
            vec![1_000, 500, 250, 125, 62, 31, 15, 7, 3, 1, 0, 0]
        );
        // Σ = 2·(1000+500+…+1) = 3988 ≤ 2·B·R = 4000.
        assert_eq!(Rewards::scheduled_total(1_000), 3_988);
        assert_eq!(Rewards::max_total_bound(), Some(4_000));
        for n in 1..=30 {
            run_block(n, Some(3));
        }
        assert_eq!(TotalMinted::<Test>::get(), 3_988);
        // Zero reward: nothing minted, no `Rewarded`.
        run_block(31, Some(3));
        assert!(!reward_events()
            .iter()
            .any(|e| matches!(e, E::Rewarded { .. })));
        assert_eq!(TotalMinted::<Test>::get(), 3_988);
        DecayPerEra::set(Perbill::from_percent(10));
        BlocksPerEra::set(10);
    });
}

#[test]
fn max_total_bound_closed_form() {
    new_test_ext().execute_with(|| {
        // B·R/d = 10 · 1000 / 0.1.
        assert_eq!(Rewards::max_total_bound(), Some(100_000));
        assert!(Rewards::scheduled_total(u64::MAX) <= 100_000);
        DecayPerEra::set(Perbill::zero());
        assert_eq!(Rewards::max_total_bound(), None);
        assert_eq!(Rewards::scheduled_total(100), 100_000);
        DecayPerEra::set(Perbill::from_percent(10));
    });
}

#[test]
fn schedule_starts_at_the_first_block_it_sees() {
    new_test_ext().execute_with(|| {
        // Added by a runtime upgrade at block 1000.
        System::set_block_number(999);
        run_block(1_000, Some(2));
        assert_eq!(
            Rewards::current_era(),
            Some(EraInfo {
                era: 0,
                reward: 1_000,
                next_era_at: 1_010
            })
        );
        for n in 1_001..=1_010 {
            run_block(n, Some(2));
        }
        assert_eq!(
            Rewards::current_era().map(|e| (e.era, e.reward)),
            Some((1, 900))
        );
    });
}

#[test]
fn on_initialize_registers_the_worst_case_weight() {
    new_test_ext().execute_with(|| {
        assert_eq!(
            Rewards::on_initialize(1),
            <() as WeightInfo>::on_finalize(MaxValidators::get()).saturating_add(
                <<Test as frame_system::Config>::DbWeight as Get<
                    frame_support::weights::RuntimeDbWeight,
                >>::get()
                .writes(2)
            )
        );
    });
}

#[test]
fn integrity_test_passes() {
    new_test_ext().execute_with(Rewards::integrity_test);
}

#[test]
fn issuance_is_genesis_plus_minted() {
    new_test_ext().execute_with(|| {
        let genesis = issuance();
        Validators::set(vec![1, 2, 3]);
        for n in 1..=50 {
            run_block(n, (n % 3 != 0).then_some(n % 7 + 1));
            assert_eq!(issuance(), genesis + TotalMinted::<Test>::get());
            assert!(TotalMinted::<Test>::get() <= Rewards::scheduled_total(n));
            Rewards::do_try_state().unwrap();
        }
        Validators::set(vec![]);
    });
}

/// A fraud proof discards block `n`'s training: its author's reward is
/// burned from its free balance (what it spent is the shortfall), once, and
/// only the author's; blocks older than the history are forgotten.
#[test]
fn a_discarded_blocks_reward_is_clawed_back_from_its_author_once() {
    use upow_primitives::traits::{Clawback, RewardClawback};
    new_test_ext().execute_with(|| {
        let genesis = issuance();
        for n in 1..=4 {
            run_block(n, Some(7));
        }
        let reward = free(7) - ENDOWMENT;
        assert_eq!(reward, 4 * 1_000);
        // Not its block, or no such block: nothing.
        assert_eq!(Rewards::claw_back(2, &8), Clawback::default());
        assert_eq!(Rewards::claw_back(9, &7), Clawback::default());
        // Block 2's reward back, all of it.
        assert_eq!(
            Rewards::claw_back(2, &7),
            Clawback {
                recovered: 1_000,
                shortfall: 0
            }
        );
        assert!(reward_events().contains(&E::ClawedBack {
            block: 2,
            author: 7,
            amount: 1_000,
            shortfall: 0
        }));
        assert_eq!(free(7), ENDOWMENT + 3 * 1_000);
        // Once.
        assert_eq!(Rewards::claw_back(2, &7), Clawback::default());
        // Spent: what is left is burned, the rest is the shortfall.
        assert_eq!(
            <Balances as frame_support::traits::fungible::Mutate<_>>::transfer(
                &7,
                &8,
                ENDOWMENT + 2_600,
                frame_support::traits::tokens::Preservation::Expendable,
            )
            .map(|_| ()),
            Ok(())
        );
        assert_eq!(
            Rewards::claw_back(3, &7),
            Clawback {
                recovered: 400,
                shortfall: 600
            }
        );
        assert_eq!(free(7), 0);
        assert_eq!(TotalClawedBack::<Test>::get(), 1_400);
        assert_eq!(
            issuance(),
            genesis + TotalMinted::<Test>::get() - TotalClawedBack::<Test>::get()
        );
        Rewards::do_try_state().unwrap();
        // The history keeps the last `RewardHistory` blocks only.
        for n in 5..=10 {
            run_block(n, Some(9));
        }
        assert!(AuthorRewards::<Test>::get(4).is_none());
        assert!(AuthorRewards::<Test>::get(5).is_none());
        assert!(AuthorRewards::<Test>::get(6).is_some());
        assert_eq!(Rewards::claw_back(4, &7), Clawback::default());
        Rewards::do_try_state().unwrap();
    });
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct Setting {
        reward: Balance,
        blocks_per_era: u64,
        decay: u32,
        share: u32,
    }

    fn setting() -> impl Strategy<Value = Setting> {
        (
            0..100_000u64,
            1..20u64,
            0..=1_000_000_000u32,
            0..=1_000_000_000u32,
        )
            .prop_map(|(reward, blocks_per_era, decay, share)| Setting {
                reward,
                blocks_per_era,
                decay,
                share,
            })
    }

    /// One block: author (None, an existing account or a new one) and how
    /// many of the validators 1..=20 (some new accounts mixed in) are active.
    fn block() -> impl Strategy<Value = (Option<u64>, Vec<u64>)> {
        (
            prop_oneof![
                Just(None),
                (1..=40u64).prop_map(Some),
                (500..510u64).prop_map(Some)
            ],
            proptest::collection::vec(prop_oneof![1..=40u64, 700..710u64], 0..20),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn minting_follows_the_schedule(s in setting(), blocks in proptest::collection::vec(block(), 1..80)) {
            new_test_ext().execute_with(|| {
                InitialReward::set(s.reward);
                BlocksPerEra::set(s.blocks_per_era);
                DecayPerEra::set(Perbill::from_parts(s.decay));
                ValidatorShare::set(Perbill::from_parts(s.share));
                let genesis = issuance();
                let mut all_paid = true;
                for (i, (author, validators)) in blocks.iter().enumerate() {
                    let n = i as u64 + 1;
                    let minted_before = TotalMinted::<Test>::get();
                    Validators::set(validators.clone());
                    run_block(n, *author);
                    let minted = TotalMinted::<Test>::get() - minted_before;
                    let era = Rewards::current_era().unwrap();
                    // Never more than the block's reward.
                    prop_assert!(minted <= era.reward);
                    if minted < era.reward {
                        all_paid = false;
                    }
                    prop_assert!(TotalMinted::<Test>::get() <= Rewards::scheduled_total(n));
                    prop_assert_eq!(issuance(), genesis + TotalMinted::<Test>::get());
                    if let Some(bound) = Rewards::max_total_bound() {
                        prop_assert!(TotalMinted::<Test>::get() <= bound);
                    }
                    // The events add up.
                    for e in reward_events() {
                        if let E::Rewarded { author_amount, validators_amount, .. } = e {
                            prop_assert_eq!(author_amount + validators_amount, minted);
                        }
                    }
                }
                // With every block authored and paid, exactly the schedule.
                if all_paid {
                    prop_assert_eq!(
                        TotalMinted::<Test>::get(),
                        Rewards::scheduled_total(blocks.len() as u64)
                    );
                }
                Ok(())
            })?;
        }
    }
}

#[test]
fn the_predicted_author_reward_is_what_the_author_is_minted() {
    new_test_ext().execute_with(|| {
        // Across era changes (every 10 blocks) and validator sets of every
        // size up to beyond the maximum, with dust.
        for n in 1..=45u64 {
            Validators::set((1..=(n % 9) as AccountId).collect());
            let predicted = Rewards::author_reward(n);
            let before = free(20);
            run_block(n, Some(20));
            assert_eq!(free(20) - before, predicted, "block {n}");
        }
    });
}

#[test]
fn the_split_gives_the_dust_to_the_author() {
    new_test_ext().execute_with(|| {
        let split = Rewards::split(1_000, 7);
        assert_eq!((split.author, split.each_validator), (706, 42));
        let alone = Rewards::split(1_000, 0);
        assert_eq!((alone.author, alone.each_validator), (1_000, 0));
        assert_eq!(Rewards::split(0, 3).author, 0);
    });
}
