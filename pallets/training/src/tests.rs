//! Unit tests of the training pallet: real trajectories mined with the
//! reference step, verified (or rejected) by the pallet.

use crate::{mock::*, pallet::*, Error as TrainingError, InherentError, LOSS_CURVE_POINTS};
use frame_support::{
    assert_noop, assert_ok,
    inherent::ProvideInherent,
    traits::{FindAuthor, Hooks},
};
use sp_core::H256;
use sp_runtime::{Digest, DigestItem, DispatchError};
use upow_primitives::{
    traits::{ActiveJob, OnJobReaped},
    PreDigest, TrainingProgress, ENGINE_ID, INHERENT_IDENTIFIER,
};
use upow_puzzle::{
    mining::{Mined, ReferenceMiner},
    Dataset, Hyperparams, JobSpec, Model, TrajectoryContext, Weights,
};

const AUTHOR: [u8; 32] = [8; 32];
const ACCOUNT: u64 = 7;
const PARENT: H256 = H256([9; 32]);
const JOB: u64 = 3;

fn dataset() -> Dataset {
    let labels: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
    let pixels: Vec<u8> = (0..40 * 12).map(|i| (i * 29 % 256) as u8).collect();
    Dataset::new(12, &labels, &pixels).unwrap()
}

fn job() -> ActiveJob {
    let model = Model::new(&[12, 6, 3]).unwrap();
    let hyper = Hyperparams::new(4, 2, 1000).unwrap();
    active_job(
        JOB,
        JobSpec::new(model, hyper, dataset().commitment()).unwrap(),
        [1; 32],
    )
}

/// Schedules the job, admits the author, and mines a trajectory on `PARENT`
/// that wins at `difficulty` (at least `min_steps` steps).
fn mine(difficulty: u128) -> Mined {
    let job = job();
    OpenJobs::set(vec![job.clone()]);
    Admitted::set(vec![(AUTHOR, ACCOUNT)]);
    Difficulty::<Test>::put(difficulty);
    // The job's own difficulty: the chain's scaled by its (tiny) step cost.
    let difficulty = Training::difficulty_of(&job);
    let data = dataset();
    let start = Weights::initial(&job.spec.model, &job.init_seed);
    let ctx = TrajectoryContext {
        parent: PARENT.0,
        author: AUTHOR,
        job: JOB,
        salt: 0,
    };
    let mut miner = ReferenceMiner::new(&job.spec, job.liveness, &data, ctx, start, 0, 4);
    miner
        .run(difficulty, 10_000_000)
        .unwrap()
        .expect("a ticket wins")
}

fn digest_of(mined: &Mined) -> Digest {
    let pre = PreDigest::new(AUTHOR, JOB, mined.context.salt, mined.claim);
    Digest {
        logs: vec![pre.to_digest_item()],
    }
}

/// Starts the next block, on `PARENT`, with `digest`.
fn start_block(digest: &Digest) {
    System::initialize(&(System::block_number() + 1), &PARENT, digest);
}

#[test]
fn a_block_hands_its_sealing_ticket_to_the_market_first() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        let digest = digest_of(&mined);
        start_block(&digest);
        Training::on_initialize(System::block_number());
        // The final step's ticket, as the seal rule computes it: what draws
        // the initial weights of the jobs posted in the parent.
        let sealing = PreDigest::find(&digest)
            .unwrap()
            .sealing_ticket(PARENT.0)
            .unwrap();
        assert_eq!(sealing, mined.ticket, "the claim's final ticket");
        assert_eq!(SealingTickets::get(), vec![sealing]);

        // A block without a claim hands nothing (it is invalid anyway).
        SealingTickets::set(Vec::new());
        start_block(&Digest::default());
        Training::on_initialize(System::block_number());
        assert!(SealingTickets::get().is_empty());
    });
}

#[test]
fn valid_trajectory_is_adopted_and_reported() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&digest_of(&mined));
        assert_ok!(Training::submit_trajectory(
            RuntimeOrigin::none(),
            mined.proof.clone()
        ));
        let state = Jobs::<Test>::get(JOB).unwrap();
        assert_eq!(state.weights, mined.final_weights.hash());
        assert_eq!(state.steps, mined.claim.steps as u64);
        let loss = state.last_loss.unwrap();
        assert!(loss > 0);
        assert!(Proven::<Test>::get());
        assert_eq!(
            Progressed::get(),
            vec![Progress {
                job: JOB,
                author: ACCOUNT,
                steps: mined.claim.steps,
                total_steps: state.steps,
                loss
            }]
        );
        assert_eq!(LossPoints::<Test>::get(JOB), 1);
        let curve = Training::loss_curve(JOB, 0, 10);
        assert_eq!(curve.len(), 1);
        assert_eq!(
            (curve[0].block, curve[0].steps, curve[0].loss),
            (2, state.steps, loss)
        );
        System::assert_last_event(
            Event::TrajectoryVerified {
                job: JOB,
                author: ACCOUNT,
                steps: mined.claim.steps,
                total_steps: state.steps,
                weights: state.weights,
                loss,
                payment: crate::mock::PRICE * u128::from(mined.claim.steps),
            }
            .into(),
        );
        // The next block's work starts from the adopted weights.
        let work = Training::work(JOB).unwrap();
        assert_eq!(
            (work.job, work.weights, work.steps),
            (JOB, state.weights, state.steps)
        );
        assert_eq!(Training::open_work(), vec![work]);
    });
}

#[test]
fn second_trajectory_in_a_block_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&digest_of(&mined));
        assert_ok!(Training::submit_trajectory(
            RuntimeOrigin::none(),
            mined.proof.clone()
        ));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            TrainingError::<Test>::AlreadyProven
        );
    });
}

#[test]
fn signed_origin_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&digest_of(&mined));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::signed(1), mined.proof),
            DispatchError::BadOrigin
        );
    });
}

#[test]
fn missing_or_malformed_digest_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&Digest::default());
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof.clone()),
            TrainingError::<Test>::MissingDigest
        );
        start_block(&Digest {
            logs: vec![DigestItem::PreRuntime(ENGINE_ID, vec![1, 2, 3])],
        });
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            TrainingError::<Test>::MalformedDigest
        );
    });
}

#[test]
fn wrong_or_missing_job_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        let pre = PreDigest::new(AUTHOR, JOB + 1, mined.context.salt, mined.claim);
        start_block(&Digest {
            logs: vec![pre.to_digest_item()],
        });
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof.clone()),
            TrainingError::<Test>::JobNotOpen
        );
        // The job ended (the market no longer offers it).
        OpenJobs::set(Vec::new());
        start_block(&digest_of(&mined));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            TrainingError::<Test>::JobNotOpen
        );
    });
}

#[test]
fn non_admitted_author_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        Admitted::set(vec![([1; 32], 1)]);
        start_block(&digest_of(&mined));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            TrainingError::<Test>::AuthorNotAdmitted
        );
    });
}

#[test]
fn ticket_above_target_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        Difficulty::<Test>::put(u128::MAX);
        start_block(&digest_of(&mined));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            TrainingError::<Test>::TicketAboveTarget
        );
    });
}

#[test]
fn tampered_proofs_are_rejected_with_typed_errors() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&digest_of(&mined));
        let reject = |proof, error: TrainingError<Test>| {
            assert_noop!(
                Training::submit_trajectory(RuntimeOrigin::none(), proof),
                error
            );
        };
        let mut p = mined.proof.clone();
        p.steps[0].weights[0] ^= 1;
        reject(p, TrainingError::BadTrajectoryProof);
        let mut p = mined.proof.clone();
        p.steps[0].weights.truncate(3);
        reject(p, TrainingError::MalformedWeights);
        let mut p = mined.proof.clone();
        p.steps[0].samples[0].sample[5] ^= 1;
        reject(p, TrainingError::WrongSamples);
        let mut p = mined.proof.clone();
        p.steps[0].samples.pop();
        reject(p, TrainingError::WrongSamples);
        let mut p = mined.proof.clone();
        p.steps.pop();
        reject(p, TrainingError::ChallengeMismatch);
        let mut p = mined.proof.clone();
        if let Some(s) = p.start.siblings.first_mut() {
            s[0] ^= 1;
            reject(p, TrainingError::StartMismatch);
        }
    });
}

#[test]
fn trajectory_from_stale_weights_is_rejected() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        // The chain moved on: the job's weights are no longer W_0.
        Jobs::<Test>::insert(
            JOB,
            TrainingProgress {
                weights: [5; 32],
                steps: 9,
                last_loss: None,
                settled_weights: [5; 32],
                settled_steps: 9,
            },
        );
        start_block(&digest_of(&mined));
        assert_noop!(
            Training::submit_trajectory(RuntimeOrigin::none(), mined.proof),
            TrainingError::<Test>::StartMismatch
        );
    });
}

#[test]
#[should_panic(expected = "a block must carry its trajectory proof")]
fn block_without_proof_is_invalid() {
    new_test_ext().execute_with(|| {
        Training::on_finalize(2);
    });
}

#[test]
fn finalization_retargets_toward_the_block_time() {
    new_test_ext().execute_with(|| {
        Difficulty::<Test>::put(1000);
        // Blocks 1 s apart against a 4 s target: difficulty rises.
        for n in 1..=5u64 {
            Proven::<Test>::put(true);
            pallet_timestamp::Now::<Test>::put(n * 1000);
            Training::on_finalize(n);
        }
        let d = Difficulty::<Test>::get();
        assert!(d > 1000, "{d}");
        assert_eq!(RecentTimes::<Test>::get().len(), 5);
        assert!(!Proven::<Test>::get());
        // Slow blocks bring it back down.
        for n in 6..=30u64 {
            Proven::<Test>::put(true);
            pallet_timestamp::Now::<Test>::put(5000 + (n - 5) * 20_000);
            Training::on_finalize(n);
        }
        assert!(Difficulty::<Test>::get() < d);
        assert_eq!(RecentTimes::<Test>::get().len(), (WINDOW + 1) as usize);
    });
}

#[test]
fn inherent_is_required_and_built_from_data() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        let mut data = sp_inherents::InherentData::new();
        assert!(matches!(
            Training::is_inherent_required(&data),
            Ok(Some(InherentError::Missing))
        ));
        assert!(Training::create_inherent(&data).is_none());
        data.put_data(INHERENT_IDENTIFIER, &mined.proof).unwrap();
        let call = Training::create_inherent(&data).unwrap();
        assert!(Training::is_inherent(&call));
        assert!(matches!(call, Call::submit_trajectory { ref proof } if *proof == mined.proof));
    });
}

#[test]
fn author_is_found_from_the_digest() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        let digest = digest_of(&mined);
        let items = digest.logs.iter().filter_map(|d| d.as_pre_runtime());
        assert_eq!(Training::find_author(items), Some(ACCOUNT));
        Admitted::set(vec![]);
        let items = digest.logs.iter().filter_map(|d| d.as_pre_runtime());
        assert_eq!(Training::find_author(items), None);
        assert_eq!(
            Training::find_author(vec![(ENGINE_ID, &[1u8, 2][..])]),
            None
        );
        // Other engines' digests are skipped; two upow digests name no one.
        Admitted::set(vec![(AUTHOR, ACCOUNT)]);
        let ours = digest.logs[0].as_pre_runtime().unwrap();
        assert_eq!(
            Training::find_author(vec![(*b"aura", &[1u8][..]), ours]),
            Some(ACCOUNT)
        );
        assert_eq!(Training::find_author(vec![ours, ours]), None);
    });
}

#[test]
fn fresh_job_starts_from_its_initial_weights() {
    new_test_ext().execute_with(|| {
        assert!(Training::work(JOB).is_none());
        assert!(Training::job_difficulty(JOB).is_none());
        let job = job();
        OpenJobs::set(vec![job.clone()]);
        let work = Training::work(JOB).unwrap();
        assert_eq!(
            work.weights,
            Weights::initial(&job.spec.model, &job.init_seed).hash()
        );
        // At chain difficulty 1 (one reference step), a job of tiny steps
        // needs many of them.
        let expected = (upow_puzzle::REFERENCE_COST as u128).div_ceil(job.cost as u128);
        assert!(expected > 1000, "{expected}");
        assert_eq!((work.steps, work.difficulty), (0, expected));
        assert_eq!(Training::job_difficulty(JOB), Some(expected));
        assert!(Training::loss_curve(JOB, 0, 5).is_empty());
    });
}

#[test]
fn a_jobs_difficulty_follows_its_listed_cost_not_its_products() {
    new_test_ext().execute_with(|| {
        Difficulty::<Test>::put(1_000);
        let nominal = job();
        // The same spec listed at 8 times its products' count (a measured
        // cost above the count) and at the reference cost.
        for (cost, expected) in [
            (
                nominal.cost * 8,
                (1_000 * upow_puzzle::REFERENCE_COST as u128).div_ceil(nominal.cost as u128 * 8),
            ),
            (upow_puzzle::REFERENCE_COST, 1_000),
        ] {
            OpenJobs::set(vec![ActiveJob {
                cost,
                ..nominal.clone()
            }]);
            assert_eq!(Training::job_difficulty(JOB), Some(expected));
            assert_eq!(Training::work(JOB).unwrap().difficulty, expected);
        }
    });
}

#[test]
fn the_loss_curve_keeps_the_newest_points_and_reaping_drops_the_state() {
    new_test_ext().execute_with(|| {
        let total = LOSS_CURVE_POINTS + 10;
        for i in 0..total {
            LossCurve::<Test>::insert(
                JOB,
                i % LOSS_CURVE_POINTS,
                upow_primitives::LossPoint {
                    block: i,
                    steps: u64::from(i),
                    loss: 0,
                },
            );
        }
        LossPoints::<Test>::insert(JOB, total);
        // Points 0..10 were overwritten: asking for them gives the kept ones.
        let head = Training::loss_curve(JOB, 0, 20);
        assert_eq!(head.len(), 10);
        assert_eq!(head[0].block, 10);
        let tail = Training::loss_curve(JOB, total - 5, 100);
        assert_eq!(
            tail.iter().map(|p| p.block).collect::<Vec<_>>(),
            (total - 5..total).collect::<Vec<_>>()
        );
        Jobs::<Test>::insert(
            JOB,
            TrainingProgress {
                weights: [3; 32],
                steps: 5,
                last_loss: None,
                settled_weights: [3; 32],
                settled_steps: 5,
            },
        );
        assert_eq!(Training::trained_weights(), vec![(JOB, [3; 32])]);
        <Training as OnJobReaped>::on_reaped(JOB);
        assert!(Jobs::<Test>::get(JOB).is_none());
        assert_eq!(LossPoints::<Test>::get(JOB), 0);
        assert_eq!(LossCurve::<Test>::iter_prefix(JOB).count(), 0);
        assert!(Training::trained_weights().is_empty());
    });
}

#[test]
fn a_block_settles_after_the_dispute_window_and_not_before() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&digest_of(&mined));
        assert_ok!(Training::submit_trajectory(
            RuntimeOrigin::none(),
            mined.proof.clone()
        ));
        let block = System::block_number();
        let record = Disputable::<Test>::get(block).unwrap();
        assert_eq!(record.trajectory_claim(), mined.claim);
        assert_eq!(record.start.steps, 0);
        assert_eq!(record.payment, PRICE * u128::from(mined.claim.steps));
        assert_eq!(
            Training::disputable_weights(),
            vec![(JOB, job().initial_weights)]
        );
        // Pending until the window has passed.
        for n in block + 1..block + u64::from(DISPUTE_WINDOW) {
            Training::on_initialize(n);
            assert!(Settled::get().is_empty(), "settled at {n}");
        }
        Training::on_initialize(block + u64::from(DISPUTE_WINDOW));
        assert_eq!(
            Settled::get(),
            vec![(JOB, ACCOUNT, mined.claim.steps, record.payment)]
        );
        assert!(Disputable::<Test>::get(block).is_none());
        let state = Jobs::<Test>::get(JOB).unwrap();
        assert_eq!(state.settled_steps, u64::from(mined.claim.steps));
        assert_eq!(state.settled_weights, mined.final_weights.hash());
    });
}

#[test]
fn fraud_reports_against_unknown_or_honest_blocks_are_refused() {
    new_test_ext().execute_with(|| {
        let mined = mine(4);
        start_block(&digest_of(&mined));
        assert_ok!(Training::submit_trajectory(
            RuntimeOrigin::none(),
            mined.proof.clone()
        ));
        let block = System::block_number();
        let record = Disputable::<Test>::get(block).unwrap();
        let spec = job().spec;
        let start = Weights::initial(&spec.model, &job().init_seed);
        let honest = |segment| {
            upow_puzzle::open_segment(
                &spec,
                &record.context(),
                &upow_puzzle::JobProgress {
                    weights: start.hash(),
                    steps: 0,
                },
                &start,
                &record.trajectory_claim(),
                &mined.proof.segments,
                &dataset(),
                segment,
            )
            .unwrap()
        };
        assert_noop!(
            Training::report_fraud(RuntimeOrigin::signed(5), block + 1, honest(1)),
            TrainingError::<Test>::NotDisputable
        );
        assert_noop!(
            Training::report_fraud(RuntimeOrigin::signed(5), block, honest(1)),
            TrainingError::<Test>::NoFraud
        );
        assert_noop!(
            Training::report_fraud(RuntimeOrigin::none(), block, honest(1)),
            DispatchError::BadOrigin
        );
        assert!(Slashes::get().is_empty());
    });
}
