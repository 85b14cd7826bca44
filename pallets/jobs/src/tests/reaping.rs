//! Reaping: an ended job's records go (here and, through `OnJobReaped`,
//! in the training pallet) and its deposit returns to its poster — at once
//! for the poster, after the retention period for anyone.

use super::*;

#[test]
fn the_poster_reaps_at_once_and_gets_the_deposit_back() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(1), a),
            Error::<Test>::JobNotEnded
        );
        progress(a, 6, 10);
        assert_eq!(job(a).status, JobStatus::Completed);
        System::reset_events();
        assert_ok!(UpowJobs::reap_job(RuntimeOrigin::signed(1), a));
        assert!(Jobs::<Test>::get(a).is_none());
        assert_eq!((held(1), deposits(1)), (0, 0));
        assert_eq!(free(1), ENDOWMENT - 50);
        assert_eq!(REAPED.with(|r| r.borrow().clone()), vec![a]);
        assert_eq!(
            events(),
            vec![Event::JobReaped {
                job: a,
                deposit: DEPOSIT
            }]
        );
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(1), a),
            Error::<Test>::UnknownJob
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn anyone_reaps_after_the_retention_period() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), a));
        System::set_block_number(1 + RETENTION - 1);
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(7), a),
            Error::<Test>::RetentionNotOver
        );
        System::set_block_number(1 + RETENTION);
        assert_ok!(UpowJobs::reap_job(RuntimeOrigin::signed(7), a));
        // The deposit goes to the poster, not the reaper.
        assert_eq!((deposits(1), free(1)), (0, ENDOWMENT));
        assert_eq!(free(7), ENDOWMENT);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn the_house_job_and_open_jobs_are_never_reaped() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        System::set_block_number(1_000);
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(7), 0),
            Error::<Test>::HouseJob
        );
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(7), a),
            Error::<Test>::JobNotEnded
        );
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::none(), a),
            DispatchError::BadOrigin
        );
        assert!(REAPED.with(|r| r.borrow().is_empty()));
    });
}
