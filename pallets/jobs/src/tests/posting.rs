//! `post_job`: an open job with its escrow and deposit, its initial
//! weights' seed and hash, and every rejection (which changes nothing).

use super::*;

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
        // The initial weights are hashed once, here.
        assert_eq!(
            posted.initial_weights,
            upow_puzzle::Weights::initial(&posted.spec.model, &posted.init_seed).hash()
        );
        let trained = <UpowJobs as JobSchedule<u64>>::trainable(1).expect("open");
        assert_eq!(
            (
                trained.initial_weights,
                trained.price_per_step,
                trained.budget_left
            ),
            (posted.initial_weights, 5, 100)
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

#[test]
fn init_seed_is_the_documented_hash() {
    new_test_ext().execute_with(|| {
        System::set_parent_hash(sp_core::H256([9; 32]));
        let id = post(3, 10, 5, 100);
        let mut data = b"upow/job-init".to_vec();
        data.extend_from_slice(&id.to_le_bytes());
        data.extend_from_slice(&3u64.to_le_bytes());
        data.extend_from_slice(&[9; 32]);
        assert_eq!(job(id).init_seed, sp_io::hashing::blake2_256(&data));
        assert_eq!(
            <UpowJobs as JobSchedule<u64>>::trainable(id)
                .expect("open")
                .init_seed,
            job(id).init_seed
        );
        // Another job, another seed.
        let other = post(3, 10, 5, 100);
        assert_ne!(job(other).init_seed, job(id).init_seed);
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
