//! The poster's side of the escrow: `cancel_job` (an open job, with a full
//! refund of what is left) and `top_up`.

use super::*;

#[test]
fn cancel_refunds_the_budget_after_the_blocks_payment_and_leaves_the_market() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 6, 60);
        progress(a, 5, 3); // pays 15 in this block
        System::reset_events();
        // The refund is what is left after that payment.
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), a));
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT - 15 - DEPOSIT);
        let cancelled = job(a);
        assert_eq!(cancelled.status, JobStatus::Cancelled);
        assert_eq!((steps_of(a), cancelled.budget_left), (3, 0));
        assert_eq!(cancelled.ended_at, Some(1));
        assert_eq!(Open::<Test>::get().into_inner(), vec![b]);
        assert!(!trainable(a) && trainable(b));
        assert_eq!(events(), vec![Event::JobCancelled { job: a, refund: 85 }]);
        // The deposit stays until the job is reaped.
        assert_eq!(deposits(1), DEPOSIT);
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(2), b));
        assert_eq!(open_ids(), vec![0]);
        assert_eq!((held(1), held(2)), (0, 0));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn cancel_job_errors() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::signed(1), 99),
            Error::<Test>::UnknownJob
        );
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::signed(2), a),
            Error::<Test>::NotPoster
        );
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::signed(HOUSE_POSTER), 0),
            Error::<Test>::HouseJob
        );
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::none(), a),
            DispatchError::BadOrigin
        );
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), a));
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::signed(1), a),
            Error::<Test>::JobNotLive
        );
        let b = post(1, 10, 5, 100);
        progress(b, 5, 10);
        assert_eq!(job(b).status, JobStatus::Completed);
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::signed(1), b),
            Error::<Test>::JobNotLive
        );
        let c = post(1, 10, 5, 10);
        progress(c, 5, 2);
        assert_eq!(job(c).status, JobStatus::Exhausted);
        assert_noop!(
            UpowJobs::cancel_job(RuntimeOrigin::signed(1), c),
            Error::<Test>::JobNotLive
        );
    });
}

#[test]
fn top_up_adds_budget_and_keeps_the_market_order() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 6, 60);
        let c = post(3, 10, 6, 60);
        System::reset_events();
        assert_ok!(UpowJobs::top_up(RuntimeOrigin::signed(3), c, 1_000));
        assert_eq!(job(c).budget_left, 1_060);
        assert_eq!(held(3), 1_060);
        assert_eq!(free(3), ENDOWMENT - 1_060 - DEPOSIT);
        assert_eq!(Open::<Test>::get().into_inner(), vec![b, c, a]);
        assert_eq!(
            events(),
            vec![Event::ToppedUp {
                job: c,
                amount: 1_000,
                budget_left: 1_060
            }]
        );
        // Any open job.
        assert_ok!(UpowJobs::top_up(RuntimeOrigin::signed(1), a, 5));
        assert_eq!(job(a).budget_left, 105);
        assert_eq!(held(1), 105);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn top_up_errors() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(1), 99, 5),
            Error::<Test>::UnknownJob
        );
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(2), a, 5),
            Error::<Test>::NotPoster
        );
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(HOUSE_POSTER), 0, 5),
            Error::<Test>::HouseJob
        );
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(1), a, 0),
            Error::<Test>::ZeroAmount
        );
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(1), a, u64::MAX),
            Error::<Test>::BudgetOverflow
        );
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(1), a, ENDOWMENT),
            Error::<Test>::InsufficientBalance
        );
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::none(), a, 5),
            DispatchError::BadOrigin
        );
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), a));
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(1), a, 5),
            Error::<Test>::JobNotLive
        );
    });
}
