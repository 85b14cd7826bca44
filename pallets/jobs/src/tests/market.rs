//! The market: every open job is trainable, in price order; a full market
//! yields to a better price by evicting its cheapest job (refunded), and
//! refuses a job that pays no more.

use super::*;

#[test]
fn every_open_job_is_trainable_in_price_then_posting_order() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 3, 100);
        let b = post(2, 10, 5, 100);
        let c = post(3, 10, 9, 100);
        let d = post(4, 10, 5, 100);
        assert_eq!(Open::<Test>::get().into_inner(), vec![c, b, d, a]);
        assert_eq!(UpowJobs::open_jobs(), vec![c, b, d, a]);
        assert_eq!(open_ids(), vec![c, b, d, a, 0]);
        // Blocks may train any of them, in any order.
        progress(a, 5, 10);
        assert_eq!(job(a).status, JobStatus::Completed);
        progress(d, 5, 3);
        assert_eq!(steps_of(d), 3);
        assert_eq!(open_ids(), vec![c, b, d, 0]);
        assert!(!trainable(a));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_full_market_of_cheap_jobs_yields_to_a_better_price() {
    new_test_ext().execute_with(|| {
        // A griefer fills the market at the minimum price.
        let cheap: Vec<JobId> = (0..MAX_OPEN)
            .map(|_| post(2, 1, MIN_PRICE, MIN_PRICE))
            .collect();
        assert_eq!(Open::<Test>::get().len() as u32, MAX_OPEN);
        let before = free(2);
        // A job paying no more is refused…
        assert_noop!(
            UpowJobs::post_job(
                RuntimeOrigin::signed(3),
                spec(10).into(),
                MIN_PRICE,
                100,
                None
            ),
            Error::<Test>::MarketFull
        );
        // … a better one takes the place of the cheapest (the newest of
        // equal prices), whose budget goes back at once.
        let better = post(3, 10, MIN_PRICE + 1, 100);
        let evicted = *cheap.last().expect("jobs");
        assert_eq!(job(evicted).status, JobStatus::Evicted);
        assert_eq!(job(evicted).ended_at, Some(1));
        assert_eq!(free(2), before + MIN_PRICE);
        assert_eq!(held(2), (MAX_OPEN as u64 - 1) * MIN_PRICE);
        assert!(events().contains(&Event::JobEvicted {
            job: evicted,
            by: better,
            refund: MIN_PRICE
        }));
        assert_eq!(Open::<Test>::get().first(), Some(&better));
        assert!(!trainable(evicted));
        // The evicted job's deposit stays until it is reaped.
        assert_eq!(deposits(2), MAX_OPEN as u64 * DEPOSIT);
        assert_ok!(UpowJobs::do_try_state());
    });
}
