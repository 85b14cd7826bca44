//! `post_job`: activation or a place in the price-ordered queue, the seed
//! of the initial weights, and every rejection (which changes nothing).

use super::*;

#[test]
fn post_job_activates_when_no_paid_job_is_active() {
    new_test_ext().execute_with(|| {
        let id = post(1, 10, 5, 100);
        assert_eq!(id, 1);
        assert_eq!(NextJobId::<Test>::get(), 2);
        assert_eq!(Active::<Test>::get(), Some(1));
        assert_eq!(active_id(), Some(1));
        assert_eq!(held(1), 100);
        assert_eq!(free(1), ENDOWMENT - 100);
        let posted = job(id);
        assert_eq!(posted.status, JobStatus::Active);
        assert_eq!(posted.budget_left, 100);
        assert_eq!(posted.price_per_step, 5);
        assert_eq!(posted.posted_at, 1);
        assert_eq!(
            (posted.steps, posted.last_loss, posted.target_loss),
            (0, None, None)
        );
        assert_eq!(job(0).status, JobStatus::Queued);
        assert_eq!(
            events(),
            vec![
                Event::JobPosted {
                    job: 1,
                    poster: 1,
                    price_per_step: 5,
                    budget: 100
                },
                Event::JobActivated { job: 1 },
            ]
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
            <UpowJobs as JobSchedule<u64>>::active()
                .expect("active")
                .init_seed,
            job(id).init_seed
        );
        // Another job, another seed.
        let other = post(3, 10, 5, 100);
        assert_ne!(job(other).init_seed, job(id).init_seed);
    });
}

#[test]
fn queue_orders_by_price_then_posting_order() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 3, 100); // active
        let b = post(2, 10, 5, 100);
        let c = post(3, 10, 9, 100);
        let d = post(4, 10, 5, 100);
        let e = post(1, 10, 2, 100);
        assert_eq!(Active::<Test>::get(), Some(a));
        assert_eq!(Queue::<Test>::get().into_inner(), vec![c, b, d, e]);
        assert_eq!(UpowJobs::queued(), vec![c, b, d, e]);
        for id in [b, c, d, e] {
            assert_eq!(job(id).status, JobStatus::Queued);
        }
        // Queued posts emit no activation.
        assert_eq!(
            events().last(),
            Some(&Event::JobPosted {
                job: e,
                poster: 1,
                price_per_step: 2,
                budget: 100
            })
        );
        // A later, pricier job does not pre-empt the active one.
        assert_eq!(active_id(), Some(a));
        // The queue drains in its order.
        for next in [c, b, d, e] {
            let current = Active::<Test>::get().expect("active");
            progress(current, 5, 10);
            assert_eq!(Active::<Test>::get(), Some(next));
        }
        progress(e, 5, 10);
        assert_eq!(Active::<Test>::get(), None);
        assert_eq!(active_id(), Some(0));
        assert_eq!(job(0).status, JobStatus::Active);
        assert_eq!(events().last(), Some(&Event::JobActivated { job: 0 }));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn post_job_rejects_bad_jobs() {
    new_test_ext().execute_with(|| {
        let signed = RuntimeOrigin::signed(1);
        let model = Model::new(&[4, 8, 3]).expect("model");
        let hyper = Hyperparams::new(2, 2, 10).expect("hyper");
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
            UpowJobs::post_job(signed.clone(), wrong_width, 5, 100, None),
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
            UpowJobs::post_job(signed.clone(), empty, 5, 100, None),
            Error::<Test>::EmptyDataset
        );
        // Price zero or below the minimum.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10), 0, 100, None),
            Error::<Test>::PriceTooLow
        );
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10), MIN_PRICE - 1, 100, None),
            Error::<Test>::PriceTooLow
        );
        // Budget zero or below one step.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10), 5, 0, None),
            Error::<Test>::BudgetTooLow
        );
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10), 5, 4, None),
            Error::<Test>::BudgetTooLow
        );
        // price × total steps overflows.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(3), u64::MAX / 2, u64::MAX, None),
            Error::<Test>::CostOverflow
        );
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(u64::MAX), 2, 100, None),
            Error::<Test>::CostOverflow
        );
        // More than the caller has, or has unfrozen.
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10), 5, ENDOWMENT + 1, None),
            Error::<Test>::InsufficientBalance
        );
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::signed(77), spec(10), 5, 100, None),
            Error::<Test>::InsufficientBalance
        );
        Balances::set_lock(LOCK, &1, ENDOWMENT - 50, WithdrawReasons::all());
        assert_noop!(
            UpowJobs::post_job(signed.clone(), spec(10), 5, 100, None),
            Error::<Test>::InsufficientBalance
        );
        // Not signed.
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::none(), spec(10), 5, 100, None),
            DispatchError::BadOrigin
        );
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::root(), spec(10), 5, 100, None),
            DispatchError::BadOrigin
        );
    });
}

#[test]
fn post_job_rejects_a_full_queue() {
    new_test_ext().execute_with(|| {
        post(1, 10, 5, 100);
        for _ in 0..MAX_QUEUED {
            post(2, 10, 5, 100);
        }
        assert_eq!(Queue::<Test>::get().len() as u32, MAX_QUEUED);
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::signed(3), spec(10), 50, 100, None),
            Error::<Test>::QueueFull
        );
        // Room again once the active job ends.
        progress(1, 5, 10);
        post(3, 10, 50, 100);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn errors_leave_no_trace_in_dispatch() {
    new_test_ext().execute_with(|| {
        // Through dispatch, as in a block: a failing call changes nothing.
        let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
        let call = RuntimeCall::UpowJobs(crate::Call::post_job {
            spec: spec(10),
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
