//! Property tests: random sequences of posts (into a full market too),
//! cancels, top-ups, blocks training random open jobs, block ends (expiry),
//! reaps and balance locks keep the escrow invariants (every job's budget is
//! paid, refunded or still held; every unreaped job's deposit is held;
//! nothing minted or burnt; failed calls change nothing and fail with typed
//! errors), and every poster gets back everything in the end.

use super::*;
use proptest::{prelude::*, strategy::ValueTree};

/// Posters (account 4 is poor).
const POSTERS: [u64; 4] = [1, 2, 3, 4];
/// Every account that may hold or receive anything.
const ACCOUNTS: [u64; 8] = [1, 2, 3, 4, 5, 6, 77, HOUSE_POSTER];

#[derive(Clone, Debug)]
enum Op {
    Post {
        who: u64,
        steps: u64,
        price: u64,
        budget: u64,
        target_loss: Option<u64>,
    },
    /// Cancel job `pick % next id` (or an unknown one), as its poster (`who: None`) or not.
    Cancel {
        who: Option<u64>,
        pick: JobId,
    },
    /// Top up job `pick % next id` (or an unknown one), as its poster or not.
    TopUp {
        who: Option<u64>,
        pick: JobId,
        amount: u64,
    },
    /// A block training open job `pick % open jobs`.
    Progress {
        pick: usize,
        author: u64,
        steps: u32,
        loss: u64,
    },
    /// The end of the block (expiry), then the next block.
    EndBlock,
    /// Reap job `pick % next id` (or an unknown one), as its poster or not.
    Reap {
        who: Option<u64>,
        pick: JobId,
    },
    Lock {
        who: u64,
        amount: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = prop::sample::select(POSTERS.to_vec());
    prop_oneof![
        4 => (who.clone(), 1..=12u64, 0..=12u64, 0..=150u64, prop::option::of(0..=60u64))
            .prop_map(|(who, steps, price, budget, target_loss)| Op::Post {
                who, steps, price, budget, target_loss
            }),
        2 => (prop::option::weighted(0.2, 1..=5u64), any::<u64>())
            .prop_map(|(who, pick)| Op::Cancel { who, pick }),
        2 => (prop::option::weighted(0.2, 1..=5u64), any::<u64>(), 0..=80u64)
            .prop_map(|(who, pick, amount)| Op::TopUp { who, pick, amount }),
        5 => (any::<usize>(), prop::sample::select(vec![1u64, 5, 6, 77]), 0..=5u32, 0..=100u64)
            .prop_map(|(pick, author, steps, loss)| Op::Progress { pick, author, steps, loss }),
        3 => Just(Op::EndBlock),
        1 => (prop::option::weighted(0.3, 1..=5u64), any::<u64>())
            .prop_map(|(who, pick)| Op::Reap { who, pick }),
        1 => (who, prop::sample::select(vec![0u64, 100, ENDOWMENT]))
            .prop_map(|(who, amount)| Op::Lock { who, amount }),
    ]
}

/// Budget flows per job, from the events: (escrowed, paid, refunded).
type Flows = BTreeMap<JobId, (u64, u64, u64)>;

fn record(flows: &mut Flows, events: Vec<Event<Test>>) {
    for event in events {
        match event {
            Event::JobPosted { job, budget, .. } => flows.entry(job).or_default().0 += budget,
            Event::ToppedUp { job, amount, .. } => flows.entry(job).or_default().0 += amount,
            Event::JobPaid { job, amount, .. } => flows.entry(job).or_default().1 += amount,
            Event::JobCompleted { job, refund, .. }
            | Event::JobExhausted { job, refund, .. }
            | Event::JobExpired { job, refund, .. }
            | Event::JobEvicted { job, refund, .. }
            | Event::JobCancelled { job, refund } => flows.entry(job).or_default().2 += refund,
            _ => {}
        }
    }
}

fn check_invariants(issuance: u64, flows: &Flows) -> Result<(), TestCaseError> {
    UpowJobs::do_try_state().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(Balances::total_issuance(), issuance, "jobs minted or burnt");
    let mut escrow: BTreeMap<u64, u64> = BTreeMap::new();
    let mut deposit: BTreeMap<u64, u64> = BTreeMap::new();
    for (id, job) in Jobs::<Test>::iter() {
        *deposit.entry(job.poster).or_default() += job.deposit;
        *escrow.entry(job.poster).or_default() += job.pending;
        if job.in_market() {
            *escrow.entry(job.poster).or_default() += job.budget_left;
        } else {
            prop_assert_eq!(job.budget_left, 0, "ended job {} holds escrow", id);
        }
        if HouseJob::<Test>::get() == Some(id) {
            continue;
        }
        let (escrowed, paid, refunded) = flows.get(&id).copied().unwrap_or_default();
        prop_assert_eq!(job.deposit, DEPOSIT, "job {} deposit", id);
        prop_assert_eq!(
            escrowed,
            paid + refunded + job.budget_left + job.pending,
            "job {} leaks",
            id
        );
    }
    for who in ACCOUNTS {
        let expected = escrow.get(&who).copied().unwrap_or_default();
        let deposits_expected = deposit.get(&who).copied().unwrap_or_default();
        prop_assert_eq!(held(who), expected, "escrow of {}", who);
        prop_assert_eq!(deposits(who), deposits_expected, "deposits of {}", who);
        prop_assert_eq!(
            Balances::total_balance_on_hold(&who),
            expected + deposits_expected
        );
    }
    // The market is exactly the open paid jobs, sorted by price then id,
    // and at most MAX_OPEN of them.
    let mut open: Vec<(u64, JobId)> = Jobs::<Test>::iter()
        .filter(|(_, job)| job.status == JobStatus::Open)
        .filter(|(id, _)| HouseJob::<Test>::get() != Some(*id))
        .map(|(id, job)| (job.price_per_step, id))
        .collect();
    open.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected: Vec<JobId> = open.into_iter().map(|(_, id)| id).collect();
    prop_assert!(expected.len() as u32 <= MAX_OPEN);
    prop_assert_eq!(Open::<Test>::get().into_inner(), expected.clone());
    // Blocks may train exactly those whose initial weights are drawn, and
    // the house job.
    let trainable: Vec<JobId> = expected
        .into_iter()
        .filter(|id| Jobs::<Test>::get(id).is_some_and(|job| job.initial.is_some()))
        .chain(HouseJob::<Test>::get())
        .collect();
    prop_assert_eq!(open_ids(), trainable);
    Ok(())
}

/// The job `pick` designates and the caller: its poster unless `who` says otherwise.
fn target(who: Option<u64>, pick: JobId) -> (u64, JobId) {
    let next = NextJobId::<Test>::get();
    // One pick in eight names a job that does not exist.
    let job = if pick.is_multiple_of(8) || next == 0 {
        next + pick % 3
    } else {
        pick % next
    };
    let poster = Jobs::<Test>::get(job).map_or(1, |job| job.poster);
    (who.unwrap_or(poster), job)
}

fn apply(op: &Op) -> Result<(), TestCaseError> {
    let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
    let result = match *op {
        Op::Post {
            who,
            steps,
            price,
            budget,
            target_loss,
        } => RuntimeCall::UpowJobs(crate::Call::post_job {
            spec: spec(steps).into(),
            price_per_step: price,
            budget,
            target_loss,
        })
        .dispatch(RuntimeOrigin::signed(who)),
        Op::Cancel { who, pick } => {
            let (who, job) = target(who, pick);
            RuntimeCall::UpowJobs(crate::Call::cancel_job { job })
                .dispatch(RuntimeOrigin::signed(who))
        }
        Op::TopUp { who, pick, amount } => {
            let (who, job) = target(who, pick);
            RuntimeCall::UpowJobs(crate::Call::top_up { job, amount })
                .dispatch(RuntimeOrigin::signed(who))
        }
        Op::Progress {
            pick,
            author,
            steps,
            loss,
        } => {
            let open = <UpowJobs as JobSchedule<u64>>::open();
            if !open.is_empty() {
                progress_loss(open[pick % open.len()].id, author, steps, loss);
            }
            return Ok(());
        }
        Op::EndBlock => {
            let n = System::block_number();
            end_block(n);
            return Ok(());
        }
        Op::Reap { who, pick } => {
            let (who, job) = target(who, pick);
            RuntimeCall::UpowJobs(crate::Call::reap_job { job })
                .dispatch(RuntimeOrigin::signed(who))
        }
        Op::Lock { who, amount } => {
            if amount == 0 {
                Balances::remove_lock(LOCK, &who);
            } else {
                Balances::set_lock(LOCK, &who, amount, WithdrawReasons::all());
            }
            return Ok(());
        }
    };
    if let Err(e) = result {
        // A failed call changes nothing and fails with a typed error.
        prop_assert!(
            matches!(e.error, DispatchError::Module(_)),
            "untyped error {:?} for {:?}",
            e.error,
            op
        );
        prop_assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
    }
    Ok(())
}

fn run(house: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let builder = if house {
        ExtBuilder::default()
    } else {
        ExtBuilder::default().no_house()
    };
    builder.build().execute_with(|| {
        Balances::set_balance(&4, 300);
        let issuance = Balances::total_issuance();
        let mut flows = Flows::new();
        for op in &ops {
            apply(op)?;
            record(&mut flows, take_events());
            check_invariants(issuance, &flows)?;
        }
        // Every hold belongs to a live job its poster can cancel: nobody
        // ends with funds they cannot withdraw.
        for who in POSTERS {
            Balances::remove_lock(LOCK, &who);
        }
        let live: Vec<(JobId, u64)> = Jobs::<Test>::iter()
            .filter(|(id, job)| job.is_live() && HouseJob::<Test>::get() != Some(*id))
            .map(|(id, job)| (id, job.poster))
            .collect();
        for (id, poster) in live {
            prop_assert!(UpowJobs::cancel_job(RuntimeOrigin::signed(poster), id).is_ok());
            record(&mut flows, take_events());
            check_invariants(issuance, &flows)?;
        }
        // And every ended job's poster reaps it, getting the deposit back.
        let ended: Vec<(JobId, u64)> = Jobs::<Test>::iter()
            .filter(|(id, _)| HouseJob::<Test>::get() != Some(*id))
            .map(|(id, job)| (id, job.poster))
            .collect();
        for (id, poster) in ended {
            prop_assert!(UpowJobs::reap_job(RuntimeOrigin::signed(poster), id).is_ok());
        }
        for who in ACCOUNTS {
            prop_assert_eq!(Balances::total_balance_on_hold(&who), 0);
            prop_assert_eq!(
                Balances::reducible_balance(
                    &who,
                    frame_support::traits::tokens::Preservation::Expendable,
                    frame_support::traits::tokens::Fortitude::Polite
                ),
                free(who)
            );
        }
        prop_assert!(Open::<Test>::get().is_empty());
        prop_assert_eq!(
            open_ids(),
            HouseJob::<Test>::get().into_iter().collect::<Vec<_>>()
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn escrow_invariants_hold(house in any::<bool>(), ops in prop::collection::vec(op(), 1..80)) {
        run(house, ops)?;
    }
}

/// A long deterministic run, to reach full markets and long histories.
#[test]
fn long_random_run() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 2_000)
        .new_tree(&mut runner)
        .expect("strategy")
        .current();
    run(true, ops).expect("invariants hold");
}
