//! The catalogue of workloads: only governance lists and delists; a job is
//! posted and trained only while its whole spec is listed; its difficulty
//! is scaled by the listed cost; the house workload stays.

use super::*;
use crate::{ListedSpecs, NextWorkloadId, Workloads};
use upow_puzzle::{REFERENCE_COST, REFERENCE_LIVENESS};

fn listed(spec: &JobSpec) -> Option<u32> {
    UpowJobs::listed_cost(spec)
}

#[test]
fn only_root_lists_and_delists() {
    new_test_ext().execute_with(|| {
        let spec = spec(7);
        for origin in [RuntimeOrigin::signed(1), RuntimeOrigin::none()] {
            assert_noop!(
                UpowJobs::list_workload(
                    origin.clone(),
                    spec.clone().into(),
                    16,
                    2,
                    MIN_NONZERO,
                    MIN_LIVE,
                    MIN_ACTIVE
                ),
                DispatchError::BadOrigin
            );
        }
        let id = NextWorkloadId::<Test>::get();
        assert_ok!(UpowJobs::list_workload(
            RuntimeOrigin::root(),
            spec.clone().into(),
            16,
            2,
            MIN_NONZERO,
            MIN_LIVE,
            MIN_ACTIVE
        ));
        System::assert_last_event(
            Event::WorkloadListed {
                workload: id,
                cost: 16,
            }
            .into(),
        );
        assert_eq!(listed(&spec), Some(16));
        assert_noop!(
            UpowJobs::delist_workload(RuntimeOrigin::signed(1), id),
            DispatchError::BadOrigin
        );
        assert_ok!(UpowJobs::delist_workload(RuntimeOrigin::root(), id));
        System::assert_last_event(Event::WorkloadDelisted { workload: id }.into());
        assert_eq!(listed(&spec), None);
        // The record stays (ids are never reused), marked delisted.
        let record = Workloads::<Test>::get(id).expect("kept");
        assert_eq!((record.cost, record.delisted_at), (16, Some(1)));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn listing_refuses_bad_workloads() {
    new_test_ext().execute_with(|| {
        let root = RuntimeOrigin::root;
        assert_noop!(
            UpowJobs::list_workload(
                root(),
                spec(7).into(),
                0,
                2,
                MIN_NONZERO,
                MIN_LIVE,
                MIN_ACTIVE
            ),
            Error::<Test>::ZeroCost
        );
        // Listed already (spec(10) at genesis), and the house job's spec.
        assert_noop!(
            UpowJobs::list_workload(
                root(),
                spec(10).into(),
                16,
                2,
                MIN_NONZERO,
                MIN_LIVE,
                MIN_ACTIVE
            ),
            Error::<Test>::AlreadyListed
        );
        assert_noop!(
            UpowJobs::list_workload(
                root(),
                house_spec().into(),
                REFERENCE_COST,
                house_spec().model.largest_label(),
                MIN_NONZERO,
                MIN_LIVE,
                MIN_ACTIVE
            ),
            Error::<Test>::AlreadyListed
        );
        // A spec a posted job could not have: the same admission.
        let heavy = JobSpec {
            model: Model::new(&[4, 1024, 3]).expect("model"),
            ..spec(7)
        };
        MaxParams::set(heavy.model.params() - 1);
        assert_noop!(
            UpowJobs::list_workload(
                root(),
                heavy.into(),
                16,
                2,
                MIN_NONZERO,
                MIN_LIVE,
                MIN_ACTIVE
            ),
            Error::<Test>::VerificationTooHeavy
        );
        assert_noop!(
            UpowJobs::delist_workload(root(), 999),
            Error::<Test>::UnknownWorkload
        );
    });
}

#[test]
fn a_workload_whose_labels_are_not_classes_of_its_model_is_refused_and_no_job_posts_it() {
    new_test_ext().execute_with(|| {
        let spec = spec(7); // 3 classes: labels 0, 1 and 2
        for max_label in [3, 4, u8::MAX] {
            assert_noop!(
                UpowJobs::list_workload(
                    RuntimeOrigin::root(),
                    spec.clone().into(),
                    16,
                    max_label,
                    MIN_NONZERO,
                    MIN_LIVE,
                    MIN_ACTIVE
                ),
                Error::<Test>::LabelsOutsideClasses
            );
        }
        // So a job over such a dataset is refused at posting, holding nothing.
        let before = free(1);
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::signed(1), spec.clone().into(), 5, 100, None),
            Error::<Test>::NotListed
        );
        assert_eq!(free(1), before);
        // The largest class is a label.
        assert_ok!(UpowJobs::list_workload(
            RuntimeOrigin::root(),
            spec.clone().into(),
            16,
            spec.model.largest_label(),
            MIN_NONZERO,
            MIN_LIVE,
            MIN_ACTIVE
        ));
        let (id, _) = UpowJobs::listed_workload(&spec).expect("listed");
        assert_eq!(Workloads::<Test>::get(id).map(|w| w.max_label), Some(2));
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn a_delisted_spec_can_be_listed_again_under_a_new_id() {
    new_test_ext().execute_with(|| {
        let spec = spec(7);
        list(&spec);
        let (first, _) = UpowJobs::listed_workload(&spec).expect("listed");
        assert_ok!(UpowJobs::delist_workload(RuntimeOrigin::root(), first));
        assert_noop!(
            UpowJobs::delist_workload(RuntimeOrigin::root(), first),
            Error::<Test>::AlreadyDelisted
        );
        assert_ok!(UpowJobs::list_workload(
            RuntimeOrigin::root(),
            spec.clone().into(),
            99,
            2,
            MIN_NONZERO,
            MIN_LIVE,
            MIN_ACTIVE
        ));
        let (second, workload) = UpowJobs::listed_workload(&spec).expect("listed again");
        assert!(second > first);
        assert_eq!(workload.cost, 99);
        assert_eq!(ListedSpecs::<Test>::get(spec.listing_key()), Some(second));
    });
}

#[test]
fn the_house_job_trains_at_the_reference_cost_even_unlisted() {
    new_test_ext().execute_with(|| {
        // A catalogue not written yet (a runtime upgrade's first block is
        // sealed against the state before its migration).
        let house = UpowJobs::house_job().expect("house job");
        ListedSpecs::<Test>::remove(job(house).spec.listing_key());
        let active = <UpowJobs as JobSchedule<u64>>::trainable(house).expect("trainable");
        assert_eq!(active.cost, REFERENCE_COST);
        assert_eq!(active.liveness, REFERENCE_LIVENESS);
    });
}

#[test]
fn the_house_workload_is_the_reference_and_stays_listed() {
    new_test_ext().execute_with(|| {
        let house = UpowJobs::house_job().expect("house job");
        let (workload, listed) = UpowJobs::listed_workload(&job(house).spec).expect("listed");
        assert_eq!(listed.cost, REFERENCE_COST);
        assert_eq!(listed.liveness, REFERENCE_LIVENESS);
        assert_noop!(
            UpowJobs::delist_workload(RuntimeOrigin::root(), workload),
            Error::<Test>::HouseWorkload
        );
        let active = <UpowJobs as JobSchedule<u64>>::trainable(house).expect("trainable");
        assert_eq!(active.cost, REFERENCE_COST);
        assert_eq!(active.liveness, REFERENCE_LIVENESS);
    });
}

#[test]
fn a_workloads_liveness_threshold_is_bounded_and_reaches_its_jobs() {
    new_test_ext().execute_with(|| {
        let root = RuntimeOrigin::root;
        // Non-zero weights below the degeneracy rule's own 512/1024 or
        // more than all; live units below its 32/1024, or more than the
        // layer; active activations more than all of them.
        for (nonzero, live, active) in [
            (512, 0, 0),
            (512, 31, 0),
            (512, 1025, 0),
            (512, u16::MAX, 0),
            (512, 683, 1025),
            (511, 683, 0),
            (0, 683, 0),
            (1025, 683, 0),
        ] {
            assert_noop!(
                UpowJobs::list_workload(root(), spec(7).into(), 16, 2, nonzero, live, active),
                Error::<Test>::LivenessOutOfRange
            );
        }
        // Listed at fifteen sixteenths non-zero, two thirds live and an
        // eighth active: posted jobs of the spec are trained at them.
        assert_ok!(UpowJobs::list_workload(
            root(),
            spec(7).into(),
            16,
            2,
            960,
            683,
            128
        ));
        let (_, workload) = UpowJobs::listed_workload(&spec(7)).expect("listed");
        assert_eq!(workload.liveness.nonzero_weights_per_1024(), 960);
        assert_eq!(workload.liveness.live_units_per_1024(), 683);
        assert_eq!(workload.liveness.active_per_1024(), 128);
        let id = post(1, 7, 5, 100);
        let active = <UpowJobs as JobSchedule<u64>>::trainable(id).expect("trainable");
        assert_eq!(active.liveness, workload.liveness);
        assert_ok!(UpowJobs::do_try_state());
    });
}

/// T3 of docs/v3.md §10: a job equal to a listed workload but for one
/// field — planned steps, batch, learning rate, model, dataset — is not a
/// run of it. Every such poster-chosen variant is refused, and nothing is
/// held.
#[test]
fn a_spec_differing_from_a_listed_one_in_any_field_is_refused() {
    new_test_ext().execute_with(|| {
        let base = spec(10);
        let variants = [
            spec(11),
            spec(9),
            JobSpec {
                hyper: Hyperparams::new(5, 2, 10).expect("hyper"),
                ..base.clone()
            },
            JobSpec {
                hyper: Hyperparams::new(4, 3, 10).expect("hyper"),
                ..base.clone()
            },
            JobSpec {
                model: Model::new(&[4, 9, 3]).expect("model"),
                ..base.clone()
            },
            JobSpec {
                dataset: DatasetCommitment {
                    root: [8; 32],
                    ..base.dataset
                },
                ..base.clone()
            },
            JobSpec {
                dataset: DatasetCommitment {
                    samples: 17,
                    ..base.dataset
                },
                ..base.clone()
            },
        ];
        let before = free(1);
        for variant in variants {
            assert_noop!(
                UpowJobs::post_job(RuntimeOrigin::signed(1), variant.into(), 5, 100, None),
                Error::<Test>::NotListed
            );
        }
        assert_eq!((free(1), held(1), deposits(1)), (before, 0, 0));
        assert_ok!(UpowJobs::post_job(
            RuntimeOrigin::signed(1),
            base.into(),
            5,
            100,
            None
        ));
    });
}

#[test]
fn a_delisted_workloads_open_jobs_expire_at_once_refunded_and_free_their_places() {
    new_test_ext().execute_with(|| {
        let spec = spec(7);
        list(&spec);
        let id = post_with(1, spec.clone(), 5, 100, None);
        let second = post_with(3, spec.clone(), 5, 100, None);
        // Another workload's job, which delisting must not touch.
        let other = post_with(2, crate::mock::spec(10), 5, 100, None);
        let active = <UpowJobs as JobSchedule<u64>>::trainable(id).expect("trainable");
        assert_eq!(active.cost, spec.nominal_cost());
        assert_eq!(<UpowJobs as JobSchedule<u64>>::payment_for(id, 2), 10);
        let (workload, _) = UpowJobs::listed_workload(&spec).expect("listed");
        assert_ok!(UpowJobs::delist_workload(RuntimeOrigin::root(), workload));
        // It expired at once, its whole budget refunded, its place freed;
        // a top-up of it is refused.
        System::assert_has_event(
            Event::JobExpired {
                job: id,
                steps: 0,
                refund: 100,
            }
            .into(),
        );
        assert_eq!(job(id).status, JobStatus::Expired);
        assert_eq!(job(second).status, JobStatus::Expired);
        assert_eq!((held(1), held(3)), (0, 0));
        assert!(!crate::Open::<Test>::get().contains(&id));
        assert_noop!(
            UpowJobs::top_up(RuntimeOrigin::signed(1), id, 10),
            Error::<Test>::JobNotLive
        );
        assert_eq!(job(other).status, JobStatus::Open);
        assert!(<UpowJobs as JobSchedule<u64>>::trainable(other).is_some());
        assert!(<UpowJobs as JobSchedule<u64>>::trainable(id).is_none());
        assert_eq!(<UpowJobs as JobSchedule<u64>>::payment_for(id, 2), 0);
        assert!(<UpowJobs as JobSchedule<u64>>::open()
            .iter()
            .all(|job| job.id != id));
        // No new job of it can be posted.
        assert_noop!(
            UpowJobs::post_job(RuntimeOrigin::signed(2), spec.into(), 5, 100, None),
            Error::<Test>::NotListed
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn trainable_reports_the_listed_cost_not_the_specs_count() {
    new_test_ext().execute_with(|| {
        let spec = spec(7);
        assert_ok!(UpowJobs::list_workload(
            RuntimeOrigin::root(),
            spec.clone().into(),
            40 * spec.nominal_cost(),
            2,
            MIN_NONZERO,
            MIN_LIVE,
            MIN_ACTIVE
        ));
        let id = post_with(1, spec.clone(), 5, 100, None);
        let active = <UpowJobs as JobSchedule<u64>>::trainable(id).expect("trainable");
        assert_eq!(active.cost, 40 * spec.nominal_cost());
    });
}

#[test]
fn the_listing_key_is_blake2_256_of_the_encoded_spec() {
    for spec in [spec(1), spec(u64::MAX), house_spec()] {
        assert_eq!(
            spec.listing_key(),
            sp_io::hashing::blake2_256(&spec.encode())
        );
    }
}
