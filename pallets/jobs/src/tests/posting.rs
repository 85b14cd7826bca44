//! `post_job`: an open job with its escrow and deposit, its initial
//! weights' seed and hash, and every rejection (which changes nothing).

use super::*;
use crate::InitialWeights;

#[test]
fn post_job_opens_the_job_and_holds_budget_and_deposit() {
    new_test_ext().execute_with(|| {
        let id = post(1, 10, 5, 100);
        assert_eq!(id, 1);
        assert_eq!(NextJobId::<Test>::get(), 2);
        assert_eq!(Open::<Test>::get().into_inner(), vec![1]);
        assert_eq!(open_ids(), vec![1, 0]);
        assert!(trainable(1) && trainable(0) && !trainable(2));
        assert_eq!((held(1), deposits(1)), (100, DEPOSIT));
        assert_eq!(free(1), ENDOWMENT - 100 - DEPOSIT);
        let posted = job(id);
        assert_eq!(posted.status, JobStatus::Open);
        assert_eq!(posted.budget_left, 100);
        assert_eq!(posted.price_per_step, 5);
        assert_eq!(posted.deposit, DEPOSIT);
        assert_eq!(
            (posted.posted_at, posted.last_progress, posted.ended_at),
            (1, 1, None)
        );
        assert_eq!(
            (steps_of(id), last_loss_of(id), posted.target_loss),
            (0, None, None)
        );
        // Drawn by the next block (`post` stands in for it), hashed once.
        let initial = posted.initial.expect("drawn");
        assert_eq!(
            initial.weights,
            upow_puzzle::Weights::initial(&posted.spec.model, &initial.seed).hash()
        );
        let trained = <UpowJobs as JobSchedule<u64>>::trainable(1).expect("open");
        assert_eq!(
            (
                trained.init_seed,
                trained.initial_weights,
                trained.price_per_step,
                trained.budget_left
            ),
            (initial.seed, initial.weights, 5, 100)
        );
        assert_eq!(job(0).status, JobStatus::Open);
        assert_eq!(
            events(),
            vec![Event::JobPosted {
                job: 1,
                poster: 1,
                price_per_step: 5,
                budget: 100,
                deposit: DEPOSIT,
            }]
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

/// Posts a listed spec of `total_steps` in this block, without the next
/// block's draw.
fn post_in_block(who: u64, total_steps: u64, price: u64) -> Result<JobId, DispatchError> {
    list(&spec(total_steps));
    let id = NextJobId::<Test>::get();
    UpowJobs::post_job(
        RuntimeOrigin::signed(who),
        spec(total_steps).into(),
        price,
        10 * price,
        None,
    )?;
    Ok(id)
}

#[test]
fn initial_weights_are_drawn_by_the_next_blocks_sealing_ticket() {
    new_test_ext().execute_with(|| {
        // Posted: nobody knows its initial weights yet, so nothing trains it.
        let a = post_in_block(3, 10, 5).expect("posted");
        let b = post_in_block(4, 10, 5).expect("posted");
        assert!(job(a).initial.is_none() && !trainable(a) && !trainable(b));
        assert_eq!(
            AwaitingInitialWeights::<Test>::get().into_inner(),
            vec![a, b]
        );
        assert_ok!(UpowJobs::do_try_state());

        // The next block's sealing ticket draws them: `run_seed(job, ticket)`.
        let ticket = upow_puzzle::Ticket([0x71; 32]);
        UpowJobs::draw_initial_weights(&ticket);
        let initial = job(a).initial.expect("drawn");
        let seed = upow_puzzle::lane::run_seed(a, &ticket);
        assert_eq!(initial, InitialWeights::draw(&spec(10).model, seed));
        assert_ne!(
            job(b).initial.expect("drawn").seed,
            seed,
            "one seed per job"
        );
        assert!(trainable(a) && trainable(b));
        assert!(AwaitingInitialWeights::<Test>::get().is_empty());
        assert!(System::events().iter().any(|record| record.event
            == RuntimeEvent::UpowJobs(Event::InitialWeightsDrawn {
                job: a,
                seed,
                weights: initial.weights,
            })));
        assert_ok!(UpowJobs::do_try_state());

        // Drawn once: a later ticket changes nothing.
        UpowJobs::draw_initial_weights(&upow_puzzle::Ticket([0x72; 32]));
        assert_eq!(job(a).initial, Some(initial));
    });
}

#[test]
fn a_poster_cannot_choose_its_jobs_initial_weights() {
    // Whoever posts (and whatever account or block it posts from), the
    // seed is a function of the job id and the next block's sealing ticket
    // only; a different ticket, a different seed.
    let drawn = |poster: u64, ticket: u8| {
        new_test_ext().execute_with(|| {
            let id = post_in_block(poster, 10, 5).expect("posted");
            UpowJobs::draw_initial_weights(&upow_puzzle::Ticket([ticket; 32]));
            job(id).initial.expect("drawn")
        })
    };
    assert_eq!(drawn(3, 1), drawn(4, 1));
    assert_ne!(drawn(3, 1), drawn(3, 2));
}

#[test]
fn jobs_that_leave_the_market_before_their_draw_are_not_drawn() {
    new_test_ext().execute_with(|| {
        // A full market posted in one block, then a better price evicts the
        // cheapest and a poster cancels (and reaps) another, all before the
        // next block: only the open jobs await a draw, so a poster cannot
        // crowd the list, and the draw skips nobody it should draw.
        let max = u64::from(MAX_OPEN);
        let posted: Vec<JobId> = (0..max)
            .map(|n| post_in_block(1 + n, 10, 5 + n).expect("room"))
            .collect();
        let better = post_in_block(9, 10, 1_000).expect("evicts the cheapest");
        assert_eq!(job(posted[0]).status, JobStatus::Evicted);
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(2), posted[1]));
        assert_ok!(UpowJobs::reap_job(RuntimeOrigin::signed(2), posted[1]));
        let open: Vec<JobId> = Open::<Test>::get().into_inner();
        let mut awaiting = AwaitingInitialWeights::<Test>::get().into_inner();
        awaiting.sort();
        let mut expected = open.clone();
        expected.sort();
        assert_eq!(awaiting, expected);
        assert!(awaiting.contains(&better) && !awaiting.contains(&posted[0]));
        assert_ok!(UpowJobs::do_try_state());

        draw_initial_weights();
        assert!(open
            .iter()
            .all(|&id| job(id).initial.is_some() && trainable(id)));
        // Ended before its draw: never drawn, never trained.
        assert!(job(posted[0]).initial.is_none() && !trainable(posted[0]));
        assert!(AwaitingInitialWeights::<Test>::get().is_empty());
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_jobs_expiry_counts_from_its_draw() {
    new_test_ext().execute_with(|| {
        // One draw per block: the second job waits a block for its own.
        DrawBudget::set(frame_support::weights::Weight::zero());
        let first = post_in_block(1, 10, 5).expect("posted");
        let second = post_in_block(2, 10, 5).expect("posted");
        end_block(1);
        assert!(job(first).initial.is_some() && job(second).initial.is_none());
        end_block(2);
        assert_eq!(
            (job(first).last_progress, job(second).last_progress),
            (2, 3)
        );
        // `EXPIRY` blocks after its posting the second job is still open:
        // the wait for its draw is not time nobody trained it.
        for n in 3..=2 + EXPIRY {
            end_block(n);
        }
        assert_eq!(job(first).status, JobStatus::Expired);
        assert_eq!(job(second).status, JobStatus::Open);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_blocks_draw_keeps_to_its_budget_and_draws_at_least_one_job() {
    new_test_ext().execute_with(|| {
        let jobs: Vec<JobId> = (0..3)
            .map(|n| post_in_block(1 + n, 10, 5).expect("posted"))
            .collect();
        // No budget: the first job is drawn all the same, the others wait
        // for the next blocks, in posting order.
        DrawBudget::set(frame_support::weights::Weight::zero());
        UpowJobs::draw_initial_weights(&upow_puzzle::Ticket([1; 32]));
        assert!(job(jobs[0]).initial.is_some());
        assert_eq!(
            AwaitingInitialWeights::<Test>::get().into_inner(),
            jobs[1..].to_vec()
        );
        assert!(trainable(jobs[0]) && !trainable(jobs[1]));
        assert_ok!(UpowJobs::do_try_state());
        UpowJobs::draw_initial_weights(&upow_puzzle::Ticket([2; 32]));
        assert_eq!(
            job(jobs[1]).initial.map(|initial| initial.seed),
            Some(upow_puzzle::lane::run_seed(
                jobs[1],
                &upow_puzzle::Ticket([2; 32])
            ))
        );
        // Budget for all: the rest in one block.
        DrawBudget::set(frame_support::weights::Weight::MAX);
        UpowJobs::draw_initial_weights(&upow_puzzle::Ticket([3; 32]));
        assert!(jobs.iter().all(|&id| job(id).initial.is_some()));
        assert!(AwaitingInitialWeights::<Test>::get().is_empty());
    });
}

#[test]
fn post_job_rejects_bad_jobs() {
    new_test_ext().execute_with(|| {
        let signed = RuntimeOrigin::signed(1);
        let model = Model::new(&[4, 8, 3]).expect("model");
        let hyper = Hyperparams::new(4, 2, 10).expect("hyper");
        // The dataset's width differs from the model's.
        let wrong_width = JobSpec {
            model: model.clone(),
            hyper,
            dataset: DatasetCommitment {
                root: [1; 32],
                samples: 16,
                inputs: 5,
            },
        };
        assert_noop!(
            UpowJobs::post_job(signed.clone(), wrong_width.into(), 5, 100, None),
            Error::<Test>::DatasetMismatch
        );
        // No samples.
        let empty = JobSpec {
            model,
            hyper,
            dataset: DatasetCommitment {
                root: [1; 32],
                samples: 0,
                inputs: 4,
            },
        };
        assert_noop!(
            UpowJobs::post_job(signed.clone(), empty.into(), 5, 100, None),
            Error::<Test>::EmptyDataset
        );
        // A batch below 16.
        let small_batch = JobSpec {
            model: Model::new(&[4, 8, 3]).expect("model"),
            hyper: Hyperparams::new(3, 2, 10).expect("hyper"),
            dataset: spec(10).dataset,
        };
        assert_noop!(
            UpowJobs::post_job(signed.clone(), small_batch.into(), 5, 100, None),
            Error::<Test>::BatchTooSmall
        );
        // Too heavy to verify, or too large to carry, in one block.
        let heavy = JobSpec {
            model: Model::new(&[4, 4096 / 4, 3]).expect("model"),
            ..spec(10)
        };
        MaxParams::set(heavy.model.params() - 1);
        assert_noop!(
            UpowJobs::post_job(signed.clone(), heavy.clone().into(), 5, 100, None),
            Error::<Test>::VerificationTooHeavy
        );
        MaxParams::set(heavy.model.params());
        // Admitted by cost, but not listed: refused until governance lists it.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), heavy.clone().into(), 5, 100, None),
            Error::<Test>::NotListed
        );
        list(&heavy);
        assert_ok!(UpowJobs::do_post(&1, heavy, 5, 100, None).map(|_| ()));
        MaxBatch::set(8);
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 5, 100, None),
            Error::<Test>::ProofTooLarge
        );
        MaxBatch::set(256);
        // Price zero or below the minimum.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 0, 100, None),
            Error::<Test>::PriceTooLow
        );
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), MIN_PRICE - 1, 100, None),
            Error::<Test>::PriceTooLow
        );
        // Budget zero or below one step.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 5, 0, None),
            Error::<Test>::BudgetTooLow
        );
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 5, 4, None),
            Error::<Test>::BudgetTooLow
        );
        // price × total steps overflows.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(3).into(), u64::MAX / 2, u64::MAX, None),
            Error::<Test>::CostOverflow
        );
        list(&spec(u64::MAX));
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(u64::MAX).into(), 2, 100, None),
            Error::<Test>::CostOverflow
        );
        // More than the caller has (budget and deposit), or has unfrozen.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 5, ENDOWMENT + 1, None),
            Error::<Test>::InsufficientBalance
        );
        let all = free(1) - ED;
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 5, all - DEPOSIT + 1, None),
            Error::<Test>::InsufficientBalance
        );
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::signed(77), spec(10).into(), 5, 100, None),
            Error::<Test>::InsufficientBalance
        );
        Balances::set_lock(LOCK, &1, ENDOWMENT - 50, WithdrawReasons::all());
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10).into(), 5, 100, None),
            Error::<Test>::InsufficientBalance
        );
        // Not signed.
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::none(), spec(10).into(), 5, 100, None),
            DispatchError::BadOrigin
        );
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::root(), spec(10).into(), 5, 100, None),
            DispatchError::BadOrigin
        );
    });
}

#[test]
fn errors_leave_no_trace_in_dispatch() {
    new_test_ext().execute_with(|| {
        // Through dispatch, as in a block: a failing call changes nothing.
        let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
        let call = RuntimeCall::UpowJobs(crate::Call::post_job {
            spec: spec(10).into(),
            price_per_step: 5,
            budget: ENDOWMENT * 2,
            target_loss: None,
        });
        let error = call.dispatch(RuntimeOrigin::signed(1)).expect_err("fails");
        assert_eq!(error.error, Error::<Test>::InsufficientBalance.into());
        assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
        // Not a token error: the pallet checks before holding.
        assert_ne!(
            error.error,
            DispatchError::Token(TokenError::FundsUnavailable)
        );
    });
}

#[test]
fn a_job_holds_a_deposit_for_every_byte_of_its_dataset() {
    new_test_ext().execute_with(|| {
        DepositPerByte::set(3);
        // 16 samples of a label and 4 inputs: 80 bytes on every node.
        let spec = spec(10);
        assert_eq!(spec.dataset.stored_bytes(), 80);
        let deposit = DEPOSIT + 3 * 80;
        assert_eq!(
            UpowJobs::deposit_for(&spec).map_err(DispatchError::from),
            Ok(deposit)
        );
        let id = post(1, 10, 5, 100);
        assert_eq!((job(id).deposit, deposits(1)), (deposit, deposit));
        assert_eq!(free(1), ENDOWMENT - 100 - deposit);
        assert_ok!(UpowJobs::do_try_state());
        // Reaping returns all of it.
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), id));
        assert_ok!(UpowJobs::reap_job(RuntimeOrigin::signed(1), id));
        assert_eq!((deposits(1), free(1)), (0, ENDOWMENT));
    });
}

#[test]
fn a_job_cannot_make_nodes_store_more_than_its_deposit_pays_for() {
    new_test_ext().execute_with(|| {
        DepositPerByte::set(3);
        let deposit = DEPOSIT + 3 * 80;
        // A poster that can hold the budget and every byte's deposit, and
        // one that is a unit short: refused, nothing held.
        Balances::set_balance(&9, ED + 100 + deposit - 1);
        list(&spec(10));
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::signed(9), spec(10).into(), 5, 100, None),
            Error::<Test>::InsufficientBalance
        );
        Balances::set_balance(&9, ED + 100 + deposit);
        let id = post(9, 10, 5, 100);
        assert_eq!(deposits(9), deposit);
        // Whatever the dataset's size: the deposit is the bytes' price, and
        // a deposit beyond any balance is a refusal, not a wrap.
        let huge = JobSpec {
            dataset: DatasetCommitment {
                samples: u64::MAX,
                ..spec(10).dataset
            },
            ..spec(10)
        };
        DepositPerByte::set(u64::MAX);
        assert_eq!(
            UpowJobs::deposit_for(&huge).map_err(DispatchError::from),
            Err(Error::<Test>::CostOverflow.into())
        );
        assert_eq!(job(id).deposit, deposit, "held deposits do not change");
    });
}
