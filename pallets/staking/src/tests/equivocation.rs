//! `report_equivocation`: the proofs it accepts and rejects, the slash (to
//! the treasury, or burned), the suspension, and `reinstate`.

use super::*;
use sp_runtime::{traits::Header as _, DigestItem};
use upow_primitives::ENGINE_ID;

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
        // Two headers the author signed on another chain (a dev chain run
        // with the same key): not evidence here, even as a pair.
        let elsewhere = |extra| {
            seal_on(
                unsealed_header(5, [7; 32], author_key(1), extra),
                &author_pair(1),
                [0xd3; 32],
            )
        };
        assert_ne!(genesis(), [0xd3; 32]);
        assert_noop!(
            report(elsewhere(1), elsewhere(2)),
            Error::<Test>::BadSignature
        );
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

#[test]
fn fraud_takes_the_whole_bond_pays_out_in_order_and_suspends() {
    use upow_primitives::traits::FraudPenalty;
    ExtBuilder::default().build_and_execute(|| {
        admit_miner(1, 1);
        bond(1, 10_000);
        assert_ok!(Staking::unbond(RuntimeOrigin::signed(1), 4_000));
        staking_events();
        let issuance_before = issuance();
        let (free5, free6) = (free(5), free(6));
        assert_eq!(<Staking as FraudPenalty<AccountId>>::bond_of(&1), 10_000);
        // 3_000 to 5, then 8_000 wanted by 6 of which 7_000 are left.
        let slashed = <Staking as FraudPenalty<AccountId>>::slash_for_fraud(
            &1,
            &[(5, 3_000), (6, 8_000), (7, 1_000)],
        );
        assert_eq!(slashed, 10_000);
        assert_eq!(held(1), 0);
        assert_eq!(Ledgers::<Test>::get(1), None);
        assert_eq!((free(5), free(6)), (free5 + 3_000, free6 + 7_000));
        // Nothing was left for 7.
        assert_eq!(free(7), ENDOWMENT);
        assert_eq!(issuance(), issuance_before);
        assert_eq!(
            <Staking as AuthorAdmission<AccountId>>::account_of(&author_key(1)),
            None
        );
        let events = staking_events();
        assert!(events.contains(&E::SlashedForFraud {
            who: 1,
            amount: 10_000
        }));
        assert!(events.contains(&E::Suspended { who: 1 }));
        // Nothing left to take the second time.
        assert_eq!(
            <Staking as FraudPenalty<AccountId>>::slash_for_fraud(&1, &[(5, 1)]),
            0
        );
    });
}
