//! Payments held for the dispute window: reserved when a block trains a
//! job, paid when it settles, returned when a fraud proof discards it; a
//! job that reaches its target completes only when its last payment
//! settles, and opens again if its last steps are rolled back.

use super::*;

fn reserve(id: JobId, author: u64, steps: u32) -> u64 {
    let total = steps_of(id).saturating_add(steps.into());
    verified_block(id, author, steps, total, 1_000) as u64
}

/// A fraud proof rolled `id` back to `steps` steps and `last_loss`, as the
/// training pallet reports it: the progress restored first.
fn roll_back(id: JobId, steps: u64, last_loss: Option<u64>, released: u64) {
    set_progress(id, steps, last_loss);
    <UpowJobs as JobSchedule<u64>>::on_rolled_back(id, released.into());
}

fn settle(id: JobId, author: u64, steps: u32, payment: u64) {
    <UpowJobs as JobSchedule<u64>>::on_settled(id, &author, steps, payment.into());
}

#[test]
fn payments_wait_for_settlement_and_completion_follows_settled_steps() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let first = reserve(a, 6, 4);
        assert_eq!(first, 20);
        // Reserved, not paid: still held from the poster.
        assert_eq!(free(6), ENDOWMENT);
        assert_eq!((job(a).budget_left, job(a).pending), (80, 20));
        assert_eq!(held(1), 100);
        assert_ok!(UpowJobs::do_try_state());
        // The block that reaches the target stops training, but the job
        // completes only when its payments settle.
        let second = reserve(a, 7, 6);
        assert_eq!(job(a).status, JobStatus::Settling);
        assert!(!trainable(a));
        assert_ok!(UpowJobs::do_try_state());
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(1), a),
            Error::<Test>::JobNotEnded
        );
        settle(a, 6, 4, first);
        assert_eq!(free(6), ENDOWMENT + 20);
        assert_eq!(job(a).status, JobStatus::Settling);
        settle(a, 7, 6, second);
        assert_eq!(free(7), ENDOWMENT + 30);
        assert_eq!(job(a).status, JobStatus::Completed);
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT - 50 - deposits(1));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_rollback_returns_the_discarded_payments_and_reopens_a_settling_job() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let first = reserve(a, 6, 4);
        let bad = reserve(a, 7, 6);
        assert_eq!(job(a).status, JobStatus::Settling);
        roll_back(a, 4, Some(9), bad);
        let info = job(a);
        assert_eq!(info.status, JobStatus::Open);
        assert_eq!((steps_of(a), last_loss_of(a)), (4, Some(9)));
        assert_eq!((info.budget_left, info.pending), (80, 20));
        assert!(trainable(a));
        assert_ok!(UpowJobs::do_try_state());
        settle(a, 6, 4, first);
        assert_eq!(free(6), ENDOWMENT + 20);
        // Nobody was paid for the discarded block.
        assert_eq!(free(7), ENDOWMENT);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_cancelled_job_keeps_its_pending_payments_until_they_settle_or_are_discarded() {
    new_test_ext().execute_with(|| {
        let a = post(1, 100, 5, 100);
        let first = reserve(a, 6, 4);
        let second = reserve(a, 7, 4);
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(1), a));
        // The refund is the budget after both reservations.
        assert_eq!(held(1), 40);
        assert_noop!(
            UpowJobs::reap_job(RuntimeOrigin::signed(1), a),
            Error::<Test>::PaymentsPending
        );
        settle(a, 6, 4, first);
        assert_eq!(free(6), ENDOWMENT + 20);
        // The second block is discarded: its payment goes back to the poster.
        roll_back(a, 4, None, second);
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT - 20 - deposits(1));
        assert_eq!(job(a).status, JobStatus::Cancelled);
        assert_ok!(UpowJobs::do_try_state());
        assert_ok!(UpowJobs::reap_job(RuntimeOrigin::signed(1), a));
    });
}

#[test]
fn a_rollback_pays_no_discarded_block_from_the_escrow() {
    new_test_ext().execute_with(|| {
        let a = post(1, 100, 5, 100);
        let bad = reserve(a, 6, 4);
        let later = reserve(a, 7, 4);
        assert_eq!((bad, later), (20, 20));
        // The later block's author is paid from the slash, if at all (the
        // training pallet's split): its reservation, like the bad block's,
        // goes back to the poster's budget whole.
        roll_back(a, 0, None, bad + later);
        assert_eq!(free(7), ENDOWMENT);
        assert_eq!(free(6), ENDOWMENT);
        let info = job(a);
        assert_eq!((info.budget_left, info.pending, steps_of(a)), (100, 0, 0));
        assert_eq!(held(1), 100);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_settling_job_is_never_evicted() {
    new_test_ext().execute_with(|| {
        let cheap: Vec<JobId> = (0..MAX_OPEN)
            .map(|_| post(2, 1, MIN_PRICE, MIN_PRICE))
            .collect();
        // The cheapest (the newest of equal prices) reaches its target.
        let settling = *cheap.last().unwrap();
        reserve(settling, 6, 1);
        assert_eq!(job(settling).status, JobStatus::Settling);
        let better = post(3, 10, MIN_PRICE + 1, 100);
        assert_eq!(job(settling).status, JobStatus::Settling);
        let evicted = cheap[cheap.len() - 2];
        assert_eq!(job(evicted).status, JobStatus::Evicted);
        assert!(Open::<Test>::get().contains(&better));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_settling_job_of_a_delisted_workload_expires_when_rolled_back_instead_of_reopening() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        assert_eq!(reserve(a, 7, 10), 50);
        assert_eq!(job(a).status, JobStatus::Settling);
        let (workload, _) = UpowJobs::listed_workload(&job(a).spec).expect("listed");
        assert_ok!(UpowJobs::delist_workload(RuntimeOrigin::root(), workload));
        // Settling, not open: delisting leaves it to complete.
        assert_eq!(job(a).status, JobStatus::Settling);
        // A fraud proof discards its block: it would open again, but its
        // workload is gone, so it expires with everything refunded.
        roll_back(a, 0, None, 50);
        assert_eq!(job(a).status, JobStatus::Expired);
        assert_eq!((job(a).budget_left, job(a).pending), (0, 0));
        assert_eq!(held(1), 0);
        assert!(!trainable(a));
        System::assert_has_event(
            Event::JobExpired {
                job: a,
                steps: 0,
                refund: 100,
            }
            .into(),
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}
