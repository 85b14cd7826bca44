//! Property tests: random sequences of posts, cancels, top-ups, blocks and
//! balance locks keep the escrow invariants (every job's budget is paid,
//! refunded or still held; nothing minted or burnt; failed calls change
//! nothing and fail with typed errors), and every poster gets back what is
//! held in the end.

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
    Progress {
        author: u64,
        steps: u32,
        loss: u64,
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
        5 => (prop::sample::select(vec![1u64, 5, 6, 77]), 0..=5u32, 0..=100u64)
            .prop_map(|(author, steps, loss)| Op::Progress { author, steps, loss }),
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
            | Event::JobCancelled { job, refund } => flows.entry(job).or_default().2 += refund,
            Event::JobActivated { .. } => {}
            _ => {}
        }
    }
}

fn check_invariants(issuance: u64, flows: &Flows) -> Result<(), TestCaseError> {
    UpowJobs::do_try_state().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(Balances::total_issuance(), issuance, "jobs minted or burnt");
    let mut escrow: BTreeMap<u64, u64> = BTreeMap::new();
    for (id, job) in Jobs::<Test>::iter() {
        if job.is_live() {
            *escrow.entry(job.poster).or_default() += job.budget_left;
        } else {
            prop_assert_eq!(job.budget_left, 0, "ended job {} holds escrow", id);
        }
        if HouseJob::<Test>::get() == Some(id) {
            continue;
        }
        let (escrowed, paid, refunded) = flows.get(&id).copied().unwrap_or_default();
        prop_assert_eq!(
            escrowed,
            paid + refunded + job.budget_left,
            "job {} leaks",
            id
        );
    }
    for who in ACCOUNTS {
        let expected = escrow.get(&who).copied().unwrap_or_default();
        prop_assert_eq!(held(who), expected, "escrow of {}", who);
        prop_assert_eq!(Balances::total_balance_on_hold(&who), expected);
    }
    // The queue is exactly the queued jobs, sorted by price then id.
    let mut queued: Vec<(u64, JobId)> = Jobs::<Test>::iter()
        .filter(|(_, job)| job.status == JobStatus::Queued)
        .filter(|(id, _)| HouseJob::<Test>::get() != Some(*id))
        .map(|(id, job)| (job.price_per_step, id))
        .collect();
    queued.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected: Vec<JobId> = queued.into_iter().map(|(_, id)| id).collect();
    prop_assert_eq!(Queue::<Test>::get().into_inner(), expected);
    // The scheduled job is the active paid job, else the house job.
    prop_assert_eq!(
        active_id(),
        Active::<Test>::get().or(HouseJob::<Test>::get())
    );
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
            spec: spec(steps),
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
            author,
            steps,
            loss,
        } => {
            if let Some(active) = <UpowJobs as JobSchedule<u64>>::active() {
                progress_loss(active.id, author, steps, loss);
            }
            return Ok(());
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
        prop_assert_eq!(Active::<Test>::get(), None);
        prop_assert!(Queue::<Test>::get().is_empty());
        prop_assert_eq!(active_id(), HouseJob::<Test>::get());
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

/// A long deterministic run, to reach full queues and long histories.
#[test]
fn long_random_run() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 2_000)
        .new_tree(&mut runner)
        .expect("strategy")
        .current();
    run(true, ops).expect("invariants hold");
}
