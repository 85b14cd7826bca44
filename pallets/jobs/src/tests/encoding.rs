//! What crosses the runtime's boundary: the decoding limits of a call's
//! spec, the bounded encoding of a stored job, the runtime API's job type,
//! and the calls' weights.

use super::*;

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
fn specs_outside_the_limits_decode_and_fail_with_the_field_named() {
    let call = RuntimeCall::UpowJobs(crate::Call::post_job {
        spec: spec(10).into(),
        price_per_step: 5,
        budget: 100,
        target_loss: None,
    });
    // The hand-written encoding (`JobSpec`'s) is the call's.
    assert_eq!(encoded_post_job(&[4, 8, 3], 4, 4), call.encode());
    let decoded = RuntimeCall::decode(&mut &call.encode()[..]).expect("a valid call decodes");
    assert_eq!(decoded, call);
    let refused = [
        (
            encoded_post_job(&[2000, 10], 4, 2000),
            Error::<Test>::ModelWidth,
        ),
        (encoded_post_job(&[4, 2000, 10], 4, 4), Error::ModelWidth),
        (encoded_post_job(&[4, 0, 10], 4, 4), Error::ModelWidth),
        (
            encoded_post_job(&[1024, 1024, 10], 4, 1024),
            Error::ModelTooLarge,
        ),
        (
            encoded_post_job(&[4, 4, 4, 4, 4, 4], 4, 4),
            Error::ModelLayers,
        ),
        (encoded_post_job(&[4], 4, 4), Error::ModelLayers),
        (encoded_post_job(&[4, 1], 4, 4), Error::ModelClasses),
        (encoded_post_job(&[4, 8, 3], 11, 4), Error::BatchTooLarge),
        (encoded_post_job(&[4, 8, 3], 255, 4), Error::BatchTooLarge),
        (encoded_post_job(&[4, 8, 3], 3, 4), Error::BatchTooSmall),
        (encoded_post_job(&[4, 8, 3], 4, 5), Error::DatasetMismatch),
    ];
    new_test_ext().execute_with(|| {
        let next_id = NextJobId::<Test>::get();
        for (bytes, error) in refused {
            // Any such spec decodes: the refusal is the call's, with its name.
            let call = RuntimeCall::decode(&mut &bytes[..]).expect("decodes");
            let before = Balances::free_balance(1);
            assert_eq!(
                call.dispatch(RuntimeOrigin::signed(1)).map_err(|e| e.error),
                Err(error.into()),
            );
            assert_eq!(Balances::free_balance(1), before);
        }
        // The limits themselves pass the spec's checks (this one is then
        // refused by the mock's per-block proof budget).
        let edge = RuntimeCall::decode(&mut &encoded_post_job(&[1024, 1000, 10], 10, 1024)[..])
            .expect("decodes");
        assert_eq!(
            edge.dispatch(RuntimeOrigin::signed(1)).map_err(|e| e.error),
            Err(Error::<Test>::ProofTooLarge.into()),
        );
        assert_eq!(NextJobId::<Test>::get(), next_id);
    });
}

#[test]
fn the_other_spec_fields_are_named_too() {
    use upow_puzzle::{UncheckedHyperparams, UncheckedJobSpec};
    new_test_ext().execute_with(|| {
        let with_hyper = |lr_shift, total_steps| -> UncheckedJobSpec {
            let mut s = UncheckedJobSpec::from(spec(10));
            s.hyper = UncheckedHyperparams {
                lr_shift,
                total_steps,
                ..s.hyper
            };
            s
        };
        let post = |s| UpowJobs::post_job(RuntimeOrigin::signed(1), s, 5, 100, None);
        assert_noop!(post(with_hyper(17, 10)), Error::<Test>::LrShiftTooLarge);
        assert_noop!(post(with_hyper(2, 0)), Error::<Test>::ZeroSteps);
        let mut empty = UncheckedJobSpec::from(spec(10));
        empty.dataset.samples = 0;
        assert_noop!(post(empty), Error::<Test>::EmptyDataset);
    });
}

/// The spec with the longest encoding: 4 layers (5 dimensions), every
/// integer at its largest.
fn widest_spec() -> JobSpec {
    JobSpec::new(
        Model::new(&[512, 512, 512, 512, 10]).expect("model"),
        Hyperparams::new(10, 16, u64::MAX).expect("hyper"),
        DatasetCommitment {
            root: [1; 32],
            samples: u64::MAX,
            inputs: 512,
        },
    )
    .expect("spec")
}

#[test]
fn job_encoding_is_bounded() {
    let widest = widest_spec();
    assert_eq!(widest.encoded_size(), MAX_SPEC_ENCODED_LEN);
    let biggest: JobOf<Test> = Job {
        poster: u64::MAX,
        spec: widest,
        initial: Some(crate::InitialWeights {
            seed: [1; 32],
            weights: [2; 32],
        }),
        price_per_step: u64::MAX,
        budget_left: u64::MAX,
        pending: u64::MAX,
        deposit: u64::MAX,
        target_loss: Some(u64::MAX),
        status: JobStatus::Exhausted,
        posted_at: u64::MAX,
        last_progress: u64::MAX,
        ended_at: Some(u64::MAX),
    };
    assert!(biggest.encoded_size() <= JobOf::<Test>::max_encoded_len());
    assert!(biggest.encoded_size() + 1 >= JobOf::<Test>::max_encoded_len());
}

#[test]
fn workload_encoding_is_bounded() {
    // The largest spec, the three liveness thresholds (6 bytes), delisted.
    let widest = widest_spec();
    let biggest = crate::Workload::<u64> {
        spec: widest,
        cost: u32::MAX,
        max_label: u8::MAX,
        liveness: upow_puzzle::Liveness::new(1024, 1024, 1024).expect("in range"),
        listed_at: u64::MAX,
        delisted_at: Some(u64::MAX),
    };
    assert_eq!(
        biggest.encoded_size(),
        crate::Workload::<u64>::max_encoded_len()
    );
    assert_eq!(upow_puzzle::Liveness::max_encoded_len(), 6);
}

#[test]
fn job_info_maps_to_the_runtime_api_type() {
    new_test_ext().execute_with(|| {
        let a = post_with(1, spec(10), 5, 100, Some(7));
        progress_loss(a, 6, 2, 9);
        let stored = UpowJobs::job_info(a).expect("job");
        assert_eq!(UpowJobs::job_info(99), None);
        let progress = upow_primitives::TrainingProgress {
            weights: [2; 32],
            settled_weights: [3; 32],
            settled_steps: 1,
            ..MockProgress::progress(a).expect("trained")
        };
        let info = stored.info([1; 32], Some(&progress));
        assert_eq!(info.poster, [1; 32]);
        assert_eq!(info.weights, Some([2; 32]));
        assert_eq!(
            (info.settled_steps, info.settled_weights),
            (1, Some([3; 32]))
        );
        // Never trained: the initial weights, no steps.
        let initial = stored.initial.expect("drawn");
        let untrained = stored.info([1; 32], None);
        assert_eq!((untrained.steps, untrained.last_loss), (0, None));
        assert_eq!(untrained.weights, Some(initial.weights));
        assert_eq!(untrained.settled_weights, Some(initial.weights));
        // Not drawn yet: no seed, no weights.
        let awaiting = Job {
            initial: None,
            ..stored.clone()
        }
        .info([1; 32], None);
        assert_eq!(
            (
                awaiting.init_seed,
                awaiting.weights,
                awaiting.settled_weights
            ),
            (None, None, None)
        );
        assert_eq!(info.spec, spec(10));
        assert_eq!(info.init_seed, Some(initial.seed));
        assert_eq!(
            (info.price_per_step, info.budget_left, info.deposit),
            (5, 90, DEPOSIT as u128)
        );
        assert_eq!((info.target_steps, info.target_loss), (10, Some(7)));
        assert_eq!(
            (info.status, info.steps, info.last_loss),
            (JobStatus::Open, 2, Some(9))
        );
        assert_eq!(
            (info.posted_at, info.last_progress, info.ended_at),
            (1, 1, None)
        );
        assert_eq!(UpowJobs::open_jobs(), vec![a]);
        assert_eq!(UpowJobs::house_job(), Some(0));
        assert_eq!(UpowJobs::recorded_jobs().len(), 2);
    });
}

#[test]
fn calls_have_their_weights() {
    use crate::WeightInfo;
    let post = RuntimeCall::UpowJobs(crate::Call::post_job {
        spec: spec(10).into(),
        price_per_step: 5,
        budget: 100,
        target_loss: None,
    });
    // Posting pays for the draw of its initial weights too.
    let params = spec(10).model.params() as u32;
    assert_eq!(
        post.get_dispatch_info().call_weight,
        <() as WeightInfo>::post_job(params) + <() as WeightInfo>::draw_initial_weights(params)
    );
    let reap = RuntimeCall::UpowJobs(crate::Call::reap_job { job: 1 });
    assert_eq!(
        reap.get_dispatch_info().call_weight,
        <() as WeightInfo>::reap_job()
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
