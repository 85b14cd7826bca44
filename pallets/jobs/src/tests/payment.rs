//! `JobSchedule::on_progress`: paying authors out of the escrow, completing
//! or exhausting jobs with their refunds, authors who cannot receive,
//! frozen escrows, and the house job (never paid, never completed, always
//! open).

use super::*;

#[test]
fn on_progress_pays_the_author_from_the_escrow() {
    new_test_ext().execute_with(|| {
        let issuance = Balances::total_issuance();
        let a = post(1, 100, 5, 1_000);
        System::reset_events();
        progress_loss(a, 6, 3, 500);
        assert_eq!(free(6), ENDOWMENT + 15);
        assert_eq!(held(1), 985);
        assert_eq!(free(1), ENDOWMENT - 1_000 - DEPOSIT);
        let paid = job(a);
        assert_eq!(
            (paid.budget_left, steps_of(a), last_loss_of(a)),
            (985, 3, Some(500))
        );
        assert_eq!(paid.status, JobStatus::Open);
        assert_eq!(
            events(),
            vec![Event::JobPaid {
                job: a,
                author: 6,
                steps: 3,
                amount: 15
            }]
        );
        // A fresh account is created when paid at least the existential deposit.
        progress(a, 77, 2);
        assert_eq!(free(77), 10);
        // The poster may author too.
        progress(a, 1, 1);
        assert_eq!(free(1), ENDOWMENT - 1_000 - DEPOSIT + 5);
        assert_eq!(Balances::total_issuance(), issuance);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn on_progress_completes_at_the_planned_steps() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 1_000);
        let b = post(2, 10, 6, 600);
        progress(a, 6, 4);
        System::reset_events();
        // More steps than planned: paid for all of them, then completed.
        progress(a, 6, 7);
        assert_eq!(job(a).status, JobStatus::Completed);
        assert_eq!(steps_of(a), 11);
        assert_eq!(job(a).budget_left, 0);
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT - 55 - DEPOSIT);
        assert_eq!(free(6), ENDOWMENT + 55);
        assert_eq!(open_ids(), vec![b, 0]);
        assert_eq!(job(a).ended_at, Some(1));
        assert_eq!(
            events(),
            vec![
                Event::JobPaid {
                    job: a,
                    author: 6,
                    steps: 7,
                    amount: 35
                },
                Event::JobCompleted {
                    job: a,
                    steps: 11,
                    refund: 945
                },
            ]
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn on_progress_completes_at_the_target_loss() {
    new_test_ext().execute_with(|| {
        let a = post_with(1, spec(1_000), 5, 1_000, Some(300));
        progress_loss(a, 6, 2, 301);
        assert_eq!(job(a).status, JobStatus::Open);
        System::reset_events();
        progress_loss(a, 6, 2, 300);
        assert_eq!(job(a).status, JobStatus::Completed);
        assert_eq!(last_loss_of(a), Some(300));
        assert_eq!(free(1), ENDOWMENT - 20 - DEPOSIT);
        assert_eq!(
            events(),
            vec![
                Event::JobPaid {
                    job: a,
                    author: 6,
                    steps: 2,
                    amount: 10
                },
                Event::JobCompleted {
                    job: a,
                    steps: 4,
                    refund: 980
                },
            ]
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn on_progress_exhausts_the_budget_and_refunds_dust() {
    new_test_ext().execute_with(|| {
        let a = post(1, 100, 5, 27);
        let b = post(2, 100, 5, 100);
        System::reset_events();
        progress(a, 6, 4); // pays 20, 7 left: one more step
        assert_eq!(job(a).status, JobStatus::Open);
        progress(a, 6, 3); // owes 15, capped at 7; nothing left
        assert_eq!(job(a).status, JobStatus::Exhausted);
        assert_eq!(free(6), ENDOWMENT + 27);
        assert_eq!((held(1), free(1)), (0, ENDOWMENT - 27 - DEPOSIT));
        assert_eq!(open_ids(), vec![b, 0]);
        let c = post(3, 100, 5, 13);
        progress(b, 6, 20); // b exhausted exactly
        assert_eq!(job(b).status, JobStatus::Exhausted);
        assert_eq!(open_ids(), vec![c, 0]);
        System::reset_events();
        progress(c, 6, 2); // pays 10, 3 left < price: dust refunded
        assert_eq!(
            events(),
            vec![
                Event::JobPaid {
                    job: c,
                    author: 6,
                    steps: 2,
                    amount: 10
                },
                Event::JobExhausted {
                    job: c,
                    steps: 2,
                    refund: 3
                },
            ]
        );
        assert_eq!((held(3), free(3)), (0, ENDOWMENT - 10 - DEPOSIT));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn an_author_who_cannot_receive_is_not_paid() {
    new_test_ext().execute_with(|| {
        let a = post(1, 100, 2, 100);
        System::reset_events();
        // 2 < existential deposit: account 77 cannot be created by it.
        progress(a, 77, 1);
        assert_eq!(free(77), 0);
        assert_eq!(job(a).budget_left, 100);
        assert_eq!(steps_of(a), 1);
        assert_eq!(job(a).status, JobStatus::Open);
        assert_eq!(
            events(),
            vec![Event::JobPaid {
                job: a,
                author: 77,
                steps: 1,
                amount: 0
            }]
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_frozen_escrow_ends_the_job_with_a_refund() {
    new_test_ext().execute_with(|| {
        let issuance = Balances::total_issuance();
        let a = post(1, 100, 5, 1_000);
        // A lock placed afterwards covers the held funds too.
        Balances::set_lock(LOCK, &1, ENDOWMENT, WithdrawReasons::all());
        System::reset_events();
        progress(a, 6, 2);
        assert_eq!(free(6), ENDOWMENT);
        assert_eq!(job(a).status, JobStatus::Exhausted);
        assert_eq!((held(1), free(1)), (0, ENDOWMENT - DEPOSIT));
        assert_eq!(
            events(),
            vec![
                Event::JobPaid {
                    job: a,
                    author: 6,
                    steps: 2,
                    amount: 0
                },
                Event::JobExhausted {
                    job: a,
                    steps: 2,
                    refund: 1_000
                },
            ]
        );
        assert_eq!(Balances::total_issuance(), issuance);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn the_house_job_is_never_paid_and_never_completes() {
    new_test_ext().execute_with(|| {
        let issuance = Balances::total_issuance();
        System::reset_events();
        assert_eq!(verified_block(0, 6, 7, 5_000, 42), 0);
        let house = job(0);
        assert_eq!(house.last_progress, 1);
        assert_eq!(house.status, JobStatus::Open);
        assert_eq!(free(6), ENDOWMENT);
        assert!(events().is_empty());
        assert_eq!(Balances::total_issuance(), issuance);
        // Paid jobs come first; the house job stays open beside them.
        let a = post(1, 10, 5, 100);
        assert_eq!(open_ids(), vec![a, 0]);
        progress(a, 6, 10);
        assert_eq!(open_ids(), vec![0]);
        assert_eq!(steps_of(0), 5_000);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn on_progress_ignores_jobs_that_are_not_open() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 5, 100);
        progress(a, 6, 10); // completes a
        assert_ok!(UpowJobs::cancel_job(RuntimeOrigin::signed(2), b));
        System::reset_events();
        let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
        for id in [a, b, 99] {
            assert_eq!(<UpowJobs as JobSchedule<u64>>::payment_for(id, 3), 0);
            <UpowJobs as JobSchedule<u64>>::on_progress(id, &6, 3);
        }
        assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
        assert!(events().is_empty());
    });
}

#[test]
fn on_progress_survives_extreme_inputs() {
    new_test_ext().execute_with(|| {
        let issuance = Balances::total_issuance();
        let a = post(1, u64::MAX / 5, 5, 1_000);
        settled_block(a, 6, u32::MAX, 7, u64::MAX);
        // Owed u32::MAX × 5, capped at the budget.
        assert_eq!(free(6), ENDOWMENT + 1_000);
        assert_eq!(job(a).status, JobStatus::Exhausted);
        let b = post(1, 10, 5, 1_000);
        settled_block(b, 6, 0, u64::MAX, 0);
        assert_eq!(job(b).status, JobStatus::Completed);
        assert_eq!(Balances::total_issuance(), issuance);
        assert_ok!(UpowJobs::do_try_state());
    });
}
