//! The poster's side of the escrow: `cancel_job` (queued or active, with a
//! full refund) and `top_up`.

use super::*;

#[test]
fn cancel_queued_job_refunds_and_leaves_the_queue() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 6, 60);
        let c = post(2, 10, 7, 70);
        System::reset_events();
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(2), b));
        assert_eq!(job(b).status, JobStatus::Cancelled);
        assert_eq!(job(b).budget_left, 0);
        assert_eq!(held(2), 70);
        assert_eq!(free(2), ENDOWMENT - 70);
        assert_eq!(Queue::<Test>::get().into_inner(), vec![c]);
        assert_eq!(Active::<Test>::get(), Some(a));
        assert_eq!(events(), vec![Event::JobCancelled { job: b, refund: 60 }]);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn cancel_active_job_refunds_and_activates_the_next() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 6, 60);
        let c = post(3, 10, 7, 70);
        progress(a, 5, 3); // pays 15
        System::reset_events();
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), a));
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT - 15);
        assert_eq!(job(a).status, JobStatus::Cancelled);
        assert_eq!(job(a).steps, 3);
        assert_eq!(Active::<Test>::get(), Some(c));
        assert_eq!(job(c).status, JobStatus::Active);
        assert_eq!(Queue::<Test>::get().into_inner(), vec![b]);
        assert_eq!(
            events(),
            vec![
                Event::JobCancelled { job: a, refund: 85 },
                Event::JobActivated { job: c }
            ]
        );
        // Cancelling the last one falls back to the house job.
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(3), c));
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(2), b));
        assert_eq!(Active::<Test>::get(), None);
        assert_eq!(active_id(), Some(0));
        assert_eq!(job(0).status, JobStatus::Active);
        assert_eq!(events().last(), Some(&Event::JobActivated { job: 0 }));
        assert_eq!((held(1), held(2), held(3)), (0, 0, 0));
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
fn top_up_adds_budget_and_keeps_the_queue_order() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 6, 60);
        let c = post(3, 10, 6, 60);
        System::reset_events();
        assert_ok!(UpowJobs::top_up(RuntimeOrigin::signed(3), c, 1_000));
        assert_eq!(job(c).budget_left, 1_060);
        assert_eq!(held(3), 1_060);
        assert_eq!(free(3), ENDOWMENT - 1_060);
        assert_eq!(Queue::<Test>::get().into_inner(), vec![b, c]);
        assert_eq!(
            events(),
            vec![Event::ToppedUp {
                job: c,
                amount: 1_000,
                budget_left: 1_060
            }]
        );
        // The active job too, which then pays for longer.
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
