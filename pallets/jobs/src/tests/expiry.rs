//! Expiry: an open job no block trains for the expiry period is refunded
//! and leaves the market (the chain keeps the house job open whatever
//! happens to paid jobs); a job that is trained is not.

use super::*;

#[test]
fn a_job_nobody_trains_expires_and_is_refunded() {
    ExtBuilder::default().expiry(5).build().execute_with(|| {
        // Posted in block 1, say over a dataset nobody has.
        let stuck = post(1, 10, 50, 500);
        let trained = post(2, 10, 5, 500);
        for n in 1..5 {
            if n == 3 {
                progress(trained, 6, 1);
            }
            end_block(n);
            assert_eq!(job(stuck).status, JobStatus::Open, "block {n}");
        }
        System::reset_events();
        // Block 6: five blocks after it was posted without a step.
        end_block(5);
        end_block(6);
        let expired = job(stuck);
        assert_eq!(expired.status, JobStatus::Expired);
        assert_eq!(expired.ended_at, Some(6));
        assert_eq!((held(1), free(1)), (0, ENDOWMENT - DEPOSIT));
        assert!(events().contains(&Event::JobExpired {
            job: stuck,
            steps: 0,
            refund: 500
        }));
        // The other one was trained in block 3: it lasts until block 8.
        assert_eq!(job(trained).status, JobStatus::Open);
        end_block(7);
        assert_eq!(job(trained).status, JobStatus::Open);
        end_block(8);
        assert_eq!(job(trained).status, JobStatus::Expired);
        // The house job never expires.
        assert_eq!(open_ids(), vec![0]);
        for n in 9..40 {
            end_block(n);
        }
        assert_eq!(open_ids(), vec![0]);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_block_that_trains_a_job_in_its_last_block_keeps_it_open() {
    ExtBuilder::default().expiry(2).build().execute_with(|| {
        let a = post(1, 10, 5, 500);
        end_block(1);
        System::set_block_number(3);
        // Block 3 trains it: the step is verified before the expiry runs.
        progress(a, 6, 1);
        end_block(3);
        assert_eq!(job(a).status, JobStatus::Open);
        assert_eq!(job(a).last_progress, 3);
        assert_ok!(UpowJobs::do_try_state());
    });
}
