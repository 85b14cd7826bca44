//! Property tests: random sequences of calls keep the pallet's invariants
//! (holds equal ledgers, no funds created or destroyed, failed calls change
//! nothing), and everyone gets back everything not slashed.

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
