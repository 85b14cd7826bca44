//! Unit tests of every call, error and event, and property tests over random
//! sequences of calls checking the escrow invariants.

use crate::{
    mock::*, Active, Error, Event, GenesisJobSpec, HoldReason, HouseJob, Job, JobOf, Jobs,
    NextJobId, Queue, MAX_SPEC_ENCODED_LEN,
};
use codec::{Compact, Decode, Encode, MaxEncodedLen};
use frame_support::{
    assert_noop, assert_ok,
    dispatch::GetDispatchInfo,
    traits::{
        fungible::{Inspect, InspectHold, Mutate},
        LockableCurrency, WithdrawReasons,
    },
};
use sp_runtime::{traits::Dispatchable, BuildStorage, DispatchError, TokenError};
use std::collections::BTreeMap;
use upow_primitives::{traits::JobSchedule, JobId, JobStatus};
use upow_puzzle::{DatasetCommitment, Hyperparams, JobSpec, Model};

const LOCK: frame_support::traits::LockIdentifier = *b"testlock";

fn reason() -> RuntimeHoldReason {
    RuntimeHoldReason::UpowJobs(HoldReason::JobEscrow)
}

fn held(who: u64) -> u64 {
    Balances::balance_on_hold(&reason(), &who)
}

fn free(who: u64) -> u64 {
    Balances::free_balance(who)
}

fn job(id: JobId) -> JobOf<Test> {
    Jobs::<Test>::get(id).expect("job exists")
}

fn post_with(who: u64, spec: JobSpec, price: u64, budget: u64, target_loss: Option<u64>) -> JobId {
    let id = NextJobId::<Test>::get();
    assert_ok!(UpowJobs::post_job(
        RuntimeOrigin::signed(who),
        spec,
        price,
        budget,
        target_loss
    ));
    id
}

fn post(who: u64, total_steps: u64, price: u64, budget: u64) -> JobId {
    post_with(who, spec(total_steps), price, budget, None)
}

/// A block by `author` verifying `steps` more steps of `id` with `loss`.
fn progress_loss(id: JobId, author: u64, steps: u32, loss: u64) {
    let total = job(id).steps.saturating_add(steps.into());
    <UpowJobs as JobSchedule<u64>>::on_progress(id, &author, steps, total, loss);
}

fn progress(id: JobId, author: u64, steps: u32) {
    progress_loss(id, author, steps, 1_000)
}

fn active_id() -> Option<JobId> {
    <UpowJobs as JobSchedule<u64>>::active().map(|job| job.id)
}

fn events() -> Vec<Event<Test>> {
    System::events()
        .into_iter()
        .filter_map(|record| match record.event {
            RuntimeEvent::UpowJobs(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn take_events() -> Vec<Event<Test>> {
    let events = events();
    System::reset_events();
    events
}

// ---------------------------------------------------------------- genesis

#[test]
fn genesis_sets_up_the_house_job() {
    new_test_ext().execute_with(|| {
        assert_eq!(HouseJob::<Test>::get(), Some(0));
        assert_eq!(NextJobId::<Test>::get(), 1);
        assert_eq!(Active::<Test>::get(), None);
        let house = job(0);
        assert_eq!(house.poster, HOUSE_POSTER);
        assert_eq!(house.spec, house_spec());
        assert_eq!(house.init_seed, [42; 32]);
        assert_eq!(house.status, JobStatus::Active);
        assert_eq!((house.price_per_step, house.budget_left), (0, 0));
        let active = <UpowJobs as JobSchedule<u64>>::active().expect("house job");
        assert_eq!(
            (active.id, active.spec, active.init_seed),
            (0, house_spec(), [42; 32])
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn without_house_job_nothing_is_active() {
    ExtBuilder::default().no_house().build().execute_with(|| {
        assert_eq!(HouseJob::<Test>::get(), None);
        assert_eq!(<UpowJobs as JobSchedule<u64>>::active(), None);
        let id = post(1, 10, 5, 100);
        assert_eq!(id, 0);
        assert_eq!(active_id(), Some(0));
        // Completing it leaves nothing to train.
        progress(id, 5, 10);
        assert_eq!(job(id).status, JobStatus::Completed);
        assert_eq!(<UpowJobs as JobSchedule<u64>>::active(), None);
        assert_eq!(
            events().last(),
            Some(&Event::JobCompleted {
                job: id,
                steps: 10,
                refund: 50
            })
        );
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn genesis_paid_jobs_are_posted_and_escrowed() {
    ExtBuilder::default()
        .job(1, 10, 5, 100)
        .job(2, 10, 7, 70)
        .job(3, 10, 7, 90)
        .build()
        .execute_with(|| {
            assert_eq!(Active::<Test>::get(), Some(1));
            assert_eq!(Queue::<Test>::get().into_inner(), vec![2, 3]);
            assert_eq!(job(0).status, JobStatus::Queued);
            assert_eq!((held(1), held(2), held(3)), (100, 70, 90));
            assert_eq!(free(1), ENDOWMENT - 100);
            assert_eq!(
                job(1).init_seed,
                UpowJobs::init_seed(1, &1, &System::parent_hash())
            );
            assert_ok!(UpowJobs::do_try_state());
        });
}

#[test]
#[should_panic(expected = "genesis job rejected")]
fn genesis_rejects_an_unfunded_job() {
    ExtBuilder::default().job(HOUSE_POSTER, 10, 5, 100).build();
}

#[test]
fn genesis_spec_roundtrips() {
    let spec = spec(77);
    let genesis = GenesisJobSpec::from(&spec);
    assert_eq!(genesis.to_spec(), Ok(spec));
    let mut bad = genesis.clone();
    bad.inputs = 5;
    assert!(bad.to_spec().is_err());
    let mut bad = genesis;
    bad.dims = vec![2000, 10];
    assert!(bad.to_spec().is_err());
}

#[test]
fn genesis_config_reads_the_documented_json() {
    let json = r#"{
        "houseJob": {
            "poster": 100,
            "spec": {
                "dims": [784, 128, 10], "batchLog2": 6, "lrShift": 2, "totalSteps": 1000000,
                "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
                "samples": 60000, "inputs": 784
            },
            "initSeed": "0x2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a"
        },
        "jobs": [{
            "poster": 1,
            "spec": {
                "dims": [4, 8, 3], "batchLog2": 2, "lrShift": 2, "totalSteps": 10,
                "datasetRoot": "0x0707070707070707070707070707070707070707070707070707070707070707",
                "samples": 16, "inputs": 4
            },
            "pricePerStep": 5, "budget": 100, "targetLoss": null
        }]
    }"#;
    let config: crate::GenesisConfig<Test> = serde_json::from_str(json).expect("parses");
    let house = config.house_job.as_ref().expect("house job");
    let spec = house.spec.to_spec().expect("valid spec");
    assert_eq!(spec.model.dims(), &[784, 128, 10]);
    assert_eq!(
        (spec.hyper.batch(), spec.hyper.total_steps()),
        (64, 1_000_000)
    );
    assert_eq!(
        spec.dataset,
        DatasetCommitment {
            root: [7; 32],
            samples: 60_000,
            inputs: 784
        }
    );
    assert_eq!(house.init_seed.0, [42; 32]);
    // It round-trips, and unknown fields are rejected.
    let again: crate::GenesisConfig<Test> =
        serde_json::from_str(&serde_json::to_string(&config).expect("serialises")).expect("parses");
    assert_eq!(again.jobs[0].spec, config.jobs[0].spec);
    assert!(serde_json::from_str::<crate::GenesisConfig<Test>>(
        r#"{"houseJob": null, "jobs": [], "x": 1}"#
    )
    .is_err());
    // And builds.
    let mut storage = frame_system::GenesisConfig::<Test>::default()
        .build_storage()
        .expect("system");
    pallet_balances::GenesisConfig::<Test> {
        balances: vec![(1, ENDOWMENT)],
        ..Default::default()
    }
    .assimilate_storage(&mut storage)
    .expect("balances");
    config.assimilate_storage(&mut storage).expect("jobs");
    sp_io::TestExternalities::new(storage).execute_with(|| {
        assert_eq!(HouseJob::<Test>::get(), Some(0));
        assert_eq!(Active::<Test>::get(), Some(1));
        assert_eq!(held(1), 100);
        assert_eq!(job(1).spec, crate::mock::spec(10));
        assert_ok!(UpowJobs::do_try_state());
    });
}

// ---------------------------------------------------------------- post_job

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

/// The SCALE encoding of `post_job` with a hand-written spec.
fn encoded_post_job(dims: &[u32], batch_log2: u8, inputs: u32) -> Vec<u8> {
    let mut bytes = vec![2u8, 0u8]; // pallet index of UpowJobs, call index of post_job
    dims.to_vec().encode_to(&mut bytes);
    (batch_log2, 2u8, 10u64).encode_to(&mut bytes);
    DatasetCommitment {
        root: [7; 32],
        samples: 16,
        inputs,
    }
    .encode_to(&mut bytes);
    Compact(5u64).encode_to(&mut bytes);
    Compact(100u64).encode_to(&mut bytes);
    None::<u64>.encode_to(&mut bytes);
    bytes
}

#[test]
fn oversize_models_fail_to_decode() {
    let call = RuntimeCall::UpowJobs(crate::Call::post_job {
        spec: spec(10),
        price_per_step: 5,
        budget: 100,
        target_loss: None,
    });
    // The hand-written encoding is the call's.
    assert_eq!(encoded_post_job(&[4, 8, 3], 2, 4), call.encode());
    let decoded = RuntimeCall::decode(&mut &call.encode()[..]).expect("a valid call decodes");
    assert_eq!(decoded, call);
    // A 2000-wide layer.
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[2000, 10], 2, 2000)[..]).is_err());
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[4, 2000, 10], 2, 4)[..]).is_err());
    // Too many parameters, too many layers, one class, a batch of 2^11.
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[1024, 1024, 10], 2, 1024)[..]).is_err());
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[4, 4, 4, 4, 4, 4], 2, 4)[..]).is_err());
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[4, 1], 2, 4)[..]).is_err());
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[4, 8, 3], 11, 4)[..]).is_err());
    // The limits themselves decode.
    assert!(RuntimeCall::decode(&mut &encoded_post_job(&[1024, 1000, 10], 10, 1024)[..]).is_ok());
}

#[test]
fn calls_have_their_weights() {
    use crate::WeightInfo;
    let post = RuntimeCall::UpowJobs(crate::Call::post_job {
        spec: spec(10),
        price_per_step: 5,
        budget: 100,
        target_loss: None,
    });
    assert_eq!(
        post.get_dispatch_info().call_weight,
        <() as WeightInfo>::post_job()
    );
    let cancel = RuntimeCall::UpowJobs(crate::Call::cancel_job { job: 1 });
    assert_eq!(
        cancel.get_dispatch_info().call_weight,
        <() as WeightInfo>::cancel_job()
    );
    let top_up = RuntimeCall::UpowJobs(crate::Call::top_up { job: 1, amount: 1 });
    assert_eq!(
        top_up.get_dispatch_info().call_weight,
        <() as WeightInfo>::top_up()
    );
    assert_eq!(
        <UpowJobs as JobSchedule<u64>>::on_progress_weight(),
        <() as WeightInfo>::on_progress()
    );
}

#[test]
fn job_encoding_is_bounded() {
    // The largest spec: 4 layers, so 5 dimensions.
    let widest = JobSpec::new(
        Model::new(&[512, 512, 512, 512, 10]).expect("model"),
        Hyperparams::new(10, 16, u64::MAX).expect("hyper"),
        DatasetCommitment {
            root: [1; 32],
            samples: u64::MAX,
            inputs: 512,
        },
    )
    .expect("spec");
    assert_eq!(widest.encoded_size(), MAX_SPEC_ENCODED_LEN);
    let biggest: JobOf<Test> = Job {
        poster: u64::MAX,
        spec: widest,
        init_seed: [1; 32],
        price_per_step: u64::MAX,
        budget_left: u64::MAX,
        target_loss: Some(u64::MAX),
        status: JobStatus::Exhausted,
        steps: u64::MAX,
        last_loss: Some(u64::MAX),
        posted_at: u64::MAX,
    };
    assert_eq!(biggest.encoded_size(), JobOf::<Test>::max_encoded_len());
}

// ---------------------------------------------------------------- cancel_job

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

// ---------------------------------------------------------------- top_up

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

// ---------------------------------------------------------------- on_progress

#[test]
fn on_progress_pays_the_author_from_the_escrow() {
    new_test_ext().execute_with(|| {
        let issuance = Balances::total_issuance();
        let a = post(1, 100, 5, 1_000);
        System::reset_events();
        progress_loss(a, 6, 3, 500);
        assert_eq!(free(6), ENDOWMENT + 15);
        assert_eq!(held(1), 985);
        assert_eq!(free(1), ENDOWMENT - 1_000);
        let paid = job(a);
        assert_eq!(
            (paid.budget_left, paid.steps, paid.last_loss),
            (985, 3, Some(500))
        );
        assert_eq!(paid.status, JobStatus::Active);
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
        assert_eq!(free(1), ENDOWMENT - 1_000 + 5);
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
        assert_eq!(job(a).steps, 11);
        assert_eq!(job(a).budget_left, 0);
        assert_eq!(held(1), 0);
        assert_eq!(free(1), ENDOWMENT - 55);
        assert_eq!(free(6), ENDOWMENT + 55);
        assert_eq!(Active::<Test>::get(), Some(b));
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
                Event::JobActivated { job: b },
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
        assert_eq!(job(a).status, JobStatus::Active);
        System::reset_events();
        progress_loss(a, 6, 2, 300);
        assert_eq!(job(a).status, JobStatus::Completed);
        assert_eq!(job(a).last_loss, Some(300));
        assert_eq!(free(1), ENDOWMENT - 20);
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
                Event::JobActivated { job: 0 },
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
        assert_eq!(job(a).status, JobStatus::Active);
        progress(a, 6, 3); // owes 15, capped at 7; nothing left
        assert_eq!(job(a).status, JobStatus::Exhausted);
        assert_eq!(free(6), ENDOWMENT + 27);
        assert_eq!((held(1), free(1)), (0, ENDOWMENT - 27));
        assert_eq!(Active::<Test>::get(), Some(b));
        let c = post(3, 100, 5, 13);
        progress(b, 6, 20); // b exhausted exactly, c active
        assert_eq!(job(b).status, JobStatus::Exhausted);
        assert_eq!(Active::<Test>::get(), Some(c));
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
                Event::JobActivated { job: 0 },
            ]
        );
        assert_eq!((held(3), free(3)), (0, ENDOWMENT - 10));
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
        assert_eq!(job(a).steps, 1);
        assert_eq!(job(a).status, JobStatus::Active);
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
        assert_eq!((held(1), free(1)), (0, ENDOWMENT));
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
                Event::JobActivated { job: 0 },
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
        <UpowJobs as JobSchedule<u64>>::on_progress(0, &6, 7, 5_000, 42);
        let house = job(0);
        assert_eq!((house.steps, house.last_loss), (5_000, Some(42)));
        assert_eq!(house.status, JobStatus::Active);
        assert_eq!(free(6), ENDOWMENT);
        assert!(events().is_empty());
        assert_eq!(Balances::total_issuance(), issuance);
        assert_eq!(active_id(), Some(0));
        // Paid jobs take over; the house job resumes where it was.
        let a = post(1, 10, 5, 100);
        assert_eq!(active_id(), Some(a));
        progress(a, 6, 10);
        assert_eq!(active_id(), Some(0));
        assert_eq!(job(0).steps, 5_000);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn on_progress_ignores_jobs_that_are_not_active() {
    new_test_ext().execute_with(|| {
        let a = post(1, 10, 5, 100);
        let b = post(2, 10, 5, 100);
        progress(a, 6, 10); // completes a, activates b
        let c = post(3, 10, 5, 100); // queued
        System::reset_events();
        let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
        for id in [a, c, 99] {
            <UpowJobs as JobSchedule<u64>>::on_progress(id, &6, 3, 3, 0);
        }
        assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
        assert_eq!(Active::<Test>::get(), Some(b));
    });
}

#[test]
fn on_progress_survives_extreme_inputs() {
    new_test_ext().execute_with(|| {
        let issuance = Balances::total_issuance();
        let a = post(1, u64::MAX / 5, 5, 1_000);
        <UpowJobs as JobSchedule<u64>>::on_progress(a, &6, u32::MAX, 7, u64::MAX);
        // Owed u32::MAX × 5, capped at the budget.
        assert_eq!(free(6), ENDOWMENT + 1_000);
        assert_eq!(job(a).status, JobStatus::Exhausted);
        let b = post(1, 10, 5, 1_000);
        <UpowJobs as JobSchedule<u64>>::on_progress(b, &6, 0, u64::MAX, 0);
        assert_eq!(job(b).status, JobStatus::Completed);
        assert_eq!(Balances::total_issuance(), issuance);
        assert_ok!(UpowJobs::do_try_state());
    });
}

#[test]
fn job_info_maps_to_the_runtime_api_type() {
    new_test_ext().execute_with(|| {
        let a = post_with(1, spec(10), 5, 100, Some(7));
        progress_loss(a, 6, 2, 9);
        let stored = UpowJobs::job_info(a).expect("job");
        assert_eq!(UpowJobs::job_info(99), None);
        let info = stored.info([1; 32], [2; 32]);
        assert_eq!(info.poster, [1; 32]);
        assert_eq!(info.weights, [2; 32]);
        assert_eq!(info.spec, spec(10));
        assert_eq!(info.init_seed, stored.init_seed);
        assert_eq!((info.price_per_step, info.budget_left), (5, 90));
        assert_eq!((info.target_steps, info.target_loss), (10, Some(7)));
        assert_eq!(
            (info.status, info.steps, info.last_loss),
            (JobStatus::Active, 2, Some(9))
        );
        assert_eq!(UpowJobs::active_job(), Some(a));
        assert_eq!(UpowJobs::house_job(), Some(0));
    });
}

// ---------------------------------------------------------------- properties

mod properties {
    use super::*;
    use proptest::{prelude::*, strategy::ValueTree};

    /// Posters (account 4 is poor).
    const POSTERS: [u64; 4] = [1, 2, 3, 4];
    /// Every account that may hold or receive anything.
    const ACCOUNTS: [u64; 8] = [1, 2, 3, 4, 5, 6, 77, HOUSE_POSTER];

    #[derive(Clone, Debug)]
    enum Op {
        Post {
            who: u64,
            steps: u64,
            price: u64,
            budget: u64,
            target_loss: Option<u64>,
        },
        /// Cancel job `pick % next id` (or an unknown one), as its poster (`who: None`) or not.
        Cancel {
            who: Option<u64>,
            pick: JobId,
        },
        /// Top up job `pick % next id` (or an unknown one), as its poster or not.
        TopUp {
            who: Option<u64>,
            pick: JobId,
            amount: u64,
        },
        Progress {
            author: u64,
            steps: u32,
            loss: u64,
        },
        Lock {
            who: u64,
            amount: u64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let who = prop::sample::select(POSTERS.to_vec());
        prop_oneof![
            4 => (who.clone(), 1..=12u64, 0..=12u64, 0..=150u64, prop::option::of(0..=60u64))
                .prop_map(|(who, steps, price, budget, target_loss)| Op::Post {
                    who, steps, price, budget, target_loss
                }),
            2 => (prop::option::weighted(0.2, 1..=5u64), any::<u64>())
                .prop_map(|(who, pick)| Op::Cancel { who, pick }),
            2 => (prop::option::weighted(0.2, 1..=5u64), any::<u64>(), 0..=80u64)
                .prop_map(|(who, pick, amount)| Op::TopUp { who, pick, amount }),
            5 => (prop::sample::select(vec![1u64, 5, 6, 77]), 0..=5u32, 0..=100u64)
                .prop_map(|(author, steps, loss)| Op::Progress { author, steps, loss }),
            1 => (who, prop::sample::select(vec![0u64, 100, ENDOWMENT]))
                .prop_map(|(who, amount)| Op::Lock { who, amount }),
        ]
    }

    /// Budget flows per job, from the events: (escrowed, paid, refunded).
    type Flows = BTreeMap<JobId, (u64, u64, u64)>;

    fn record(flows: &mut Flows, events: Vec<Event<Test>>) {
        for event in events {
            match event {
                Event::JobPosted { job, budget, .. } => flows.entry(job).or_default().0 += budget,
                Event::ToppedUp { job, amount, .. } => flows.entry(job).or_default().0 += amount,
                Event::JobPaid { job, amount, .. } => flows.entry(job).or_default().1 += amount,
                Event::JobCompleted { job, refund, .. }
                | Event::JobExhausted { job, refund, .. }
                | Event::JobCancelled { job, refund } => flows.entry(job).or_default().2 += refund,
                Event::JobActivated { .. } => {}
                _ => {}
            }
        }
    }

    fn check_invariants(issuance: u64, flows: &Flows) -> Result<(), TestCaseError> {
        UpowJobs::do_try_state().map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(Balances::total_issuance(), issuance, "jobs minted or burnt");
        let mut escrow: BTreeMap<u64, u64> = BTreeMap::new();
        for (id, job) in Jobs::<Test>::iter() {
            if job.is_live() {
                *escrow.entry(job.poster).or_default() += job.budget_left;
            } else {
                prop_assert_eq!(job.budget_left, 0, "ended job {} holds escrow", id);
            }
            if HouseJob::<Test>::get() == Some(id) {
                continue;
            }
            let (escrowed, paid, refunded) = flows.get(&id).copied().unwrap_or_default();
            prop_assert_eq!(
                escrowed,
                paid + refunded + job.budget_left,
                "job {} leaks",
                id
            );
        }
        for who in ACCOUNTS {
            let expected = escrow.get(&who).copied().unwrap_or_default();
            prop_assert_eq!(held(who), expected, "escrow of {}", who);
            prop_assert_eq!(Balances::total_balance_on_hold(&who), expected);
        }
        // The queue is exactly the queued jobs, sorted by price then id.
        let mut queued: Vec<(u64, JobId)> = Jobs::<Test>::iter()
            .filter(|(_, job)| job.status == JobStatus::Queued)
            .filter(|(id, _)| HouseJob::<Test>::get() != Some(*id))
            .map(|(id, job)| (job.price_per_step, id))
            .collect();
        queued.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let expected: Vec<JobId> = queued.into_iter().map(|(_, id)| id).collect();
        prop_assert_eq!(Queue::<Test>::get().into_inner(), expected);
        // The scheduled job is the active paid job, else the house job.
        prop_assert_eq!(
            active_id(),
            Active::<Test>::get().or(HouseJob::<Test>::get())
        );
        Ok(())
    }

    /// The job `pick` designates and the caller: its poster unless `who` says otherwise.
    fn target(who: Option<u64>, pick: JobId) -> (u64, JobId) {
        let next = NextJobId::<Test>::get();
        // One pick in eight names a job that does not exist.
        let job = if pick.is_multiple_of(8) || next == 0 {
            next + pick % 3
        } else {
            pick % next
        };
        let poster = Jobs::<Test>::get(job).map_or(1, |job| job.poster);
        (who.unwrap_or(poster), job)
    }

    fn apply(op: &Op) -> Result<(), TestCaseError> {
        let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
        let result = match *op {
            Op::Post {
                who,
                steps,
                price,
                budget,
                target_loss,
            } => RuntimeCall::UpowJobs(crate::Call::post_job {
                spec: spec(steps),
                price_per_step: price,
                budget,
                target_loss,
            })
            .dispatch(RuntimeOrigin::signed(who)),
            Op::Cancel { who, pick } => {
                let (who, job) = target(who, pick);
                RuntimeCall::UpowJobs(crate::Call::cancel_job { job })
                    .dispatch(RuntimeOrigin::signed(who))
            }
            Op::TopUp { who, pick, amount } => {
                let (who, job) = target(who, pick);
                RuntimeCall::UpowJobs(crate::Call::top_up { job, amount })
                    .dispatch(RuntimeOrigin::signed(who))
            }
            Op::Progress {
                author,
                steps,
                loss,
            } => {
                if let Some(active) = <UpowJobs as JobSchedule<u64>>::active() {
                    progress_loss(active.id, author, steps, loss);
                }
                return Ok(());
            }
            Op::Lock { who, amount } => {
                if amount == 0 {
                    Balances::remove_lock(LOCK, &who);
                } else {
                    Balances::set_lock(LOCK, &who, amount, WithdrawReasons::all());
                }
                return Ok(());
            }
        };
        if let Err(e) = result {
            // A failed call changes nothing and fails with a typed error.
            prop_assert!(
                matches!(e.error, DispatchError::Module(_)),
                "untyped error {:?} for {:?}",
                e.error,
                op
            );
            prop_assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
        }
        Ok(())
    }

    fn run(house: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let builder = if house {
            ExtBuilder::default()
        } else {
            ExtBuilder::default().no_house()
        };
        builder.build().execute_with(|| {
            Balances::set_balance(&4, 300);
            let issuance = Balances::total_issuance();
            let mut flows = Flows::new();
            for op in &ops {
                apply(op)?;
                record(&mut flows, take_events());
                check_invariants(issuance, &flows)?;
            }
            // Every hold belongs to a live job its poster can cancel: nobody
            // ends with funds they cannot withdraw.
            for who in POSTERS {
                Balances::remove_lock(LOCK, &who);
            }
            let live: Vec<(JobId, u64)> = Jobs::<Test>::iter()
                .filter(|(id, job)| job.is_live() && HouseJob::<Test>::get() != Some(*id))
                .map(|(id, job)| (id, job.poster))
                .collect();
            for (id, poster) in live {
                prop_assert!(UpowJobs::cancel_job(RuntimeOrigin::signed(poster), id).is_ok());
                record(&mut flows, take_events());
                check_invariants(issuance, &flows)?;
            }
            for who in ACCOUNTS {
                prop_assert_eq!(Balances::total_balance_on_hold(&who), 0);
                prop_assert_eq!(
                    Balances::reducible_balance(
                        &who,
                        frame_support::traits::tokens::Preservation::Expendable,
                        frame_support::traits::tokens::Fortitude::Polite
                    ),
                    free(who)
                );
            }
            prop_assert_eq!(Active::<Test>::get(), None);
            prop_assert!(Queue::<Test>::get().is_empty());
            prop_assert_eq!(active_id(), HouseJob::<Test>::get());
            Ok(())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn escrow_invariants_hold(house in any::<bool>(), ops in prop::collection::vec(op(), 1..80)) {
            run(house, ops)?;
        }
    }

    /// A long deterministic run, to reach full queues and long histories.
    #[test]
    fn long_random_run() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let ops = prop::collection::vec(op(), 2_000)
            .new_tree(&mut runner)
            .expect("strategy")
            .current();
        run(true, ops).expect("invariants hold");
    }
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
