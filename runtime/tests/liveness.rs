//! Liveness through the real runtime (docs/protocol.md §4): no job can stop
//! blocks or crowd out transactions.
//!
//! * a job over a dataset nobody has, posted at the highest price, leaves
//!   the house job open (blocks keep coming) and expires with a refund;
//! * a market full of cheap jobs yields to a better price;
//! * the largest job admission lets in still leaves room for a transfer, a
//!   cancel and a sudo call in the same block as its trajectory;
//! * jobs whose blocks would be too heavy or too large are refused.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codec::Encode;
use common::*;
use frame_support::{
    assert_ok,
    traits::{fungible::Inspect, Hooks},
};
use sp_core::{crypto::Pair as _, sr25519};
use sp_runtime::traits::Dispatchable;
use upow_primitives::{traits::JobLimits as _, JobStatus};
use upow_puzzle::{
    Dataset, DatasetCommitment, Hyperparams, JobSpec, Model, TrajectoryContext, Weights,
};
use upow_runtime::{
    configs::{JobLimits, MAX_BLOCK_LENGTH, MAX_PROOF_LENGTH},
    Balances, Executive, Jobs, Runtime, RuntimeCall, RuntimeOrigin, System, Training, UNIT,
};

fn post_job(spec: JobSpec, price: u128, budget: u128) -> RuntimeCall {
    RuntimeCall::Jobs(pallet_upow_jobs::Call::post_job {
        spec: spec.into(),
        price_per_step: price,
        budget,
        target_loss: None,
    })
}

/// Lists `spec` and posts it as Bob directly (dispatch, as in a block),
/// draws its initial weights as the next block would; returns its id.
fn post_as_bob(spec: JobSpec, price: u128) -> u64 {
    list(&spec);
    let id = pallet_upow_jobs::NextJobId::<Runtime>::get();
    assert_ok!(post_job(spec, price, 1_000 * UNIT).dispatch(RuntimeOrigin::signed(account(&bob()))));
    draw_initial_weights();
    id
}

/// Ends block `n` (the jobs pallet's expiry runs in `on_finalize`).
fn end_block(n: u32) {
    System::set_block_number(n);
    <Jobs as Hooks<u32>>::on_finalize(n);
}

#[test]
fn a_job_nobody_can_mine_never_stops_blocks_and_expires_with_a_refund() {
    ext().execute_with(|| {
        System::set_block_number(1);
        let bob = account(&bob());
        let free = Balances::balance(&bob);
        // A dataset root nobody has, at a price above everything else
        // (Fashion-MNIST's shape: its deposit pays for every byte).
        let unknown = JobSpec::new(
            Model::new(&[784, 128, 10]).unwrap(),
            Hyperparams::new(6, 2, 10_000).unwrap(),
            DatasetCommitment {
                root: [0xab; 32],
                samples: 60_000,
                inputs: 784,
            },
        )
        .unwrap();
        let stuck = post_as_bob(unknown, 1_000 * UNIT);
        assert_eq!(
            Training::open_work()
                .iter()
                .map(|w| w.job)
                .collect::<Vec<_>>(),
            vec![stuck, 0],
            "the unminable job first, the house job still open"
        );
        // Blocks keep coming: a block training the house job is accepted
        // while the unminable job is open.
        let alice = alice();
        let mined = mine(&alice);
        start_mined_block(&alice, &mined);
        assert_ok!(Executive::apply_extrinsic(timestamp(10_000)).unwrap());
        assert_ok!(Executive::apply_extrinsic(inherent(mined.proof)).unwrap());
        Executive::finalize_block();
        // Nobody trains it for the expiry period: it expires, refunded.
        let expiry = pallet_upow_jobs::Expiry::<Runtime>::get();
        for n in 2..=expiry {
            end_block(n);
            assert_eq!(Jobs::job_info(stuck).unwrap().status, JobStatus::Open);
        }
        end_block(expiry + 1);
        let job = Jobs::job_info(stuck).unwrap();
        assert_eq!(job.status, JobStatus::Expired);
        // The deposit (its record and every byte of its dataset) stays held.
        let deposit = job.deposit;
        assert_eq!(Jobs::deposit_for(&job.spec).ok(), Some(deposit));
        assert!(deposit > upow_runtime::configs::JobDeposit::get());
        assert_eq!(Balances::balance(&bob), free - deposit);
        assert!(Training::work(stuck).is_none());
        assert_eq!(Training::open_work().len(), 1, "only the house job");
        // Reaping returns the deposit.
        assert_ok!(Jobs::reap_job(RuntimeOrigin::signed(bob.clone()), stuck));
        assert_eq!(Balances::balance(&bob), free);
    });
}

#[test]
fn a_full_market_of_cheap_jobs_yields_to_a_better_price() {
    ext().execute_with(|| {
        System::set_block_number(1);
        let cheap = upow_runtime::configs::MinPricePerStep::get();
        let full = upow_runtime::configs::MaxOpenJobs::get();
        for _ in 0..full {
            post_as_bob(spec(), cheap);
        }
        let refused = post_job(spec(), cheap, 100 * UNIT)
            .dispatch(RuntimeOrigin::signed(account(&alice())))
            .unwrap_err();
        assert_eq!(
            refused.error,
            pallet_upow_jobs::Error::<Runtime>::MarketFull.into()
        );
        let better = pallet_upow_jobs::NextJobId::<Runtime>::get();
        assert_ok!(post_job(spec(), 2 * cheap, 100 * UNIT)
            .dispatch(RuntimeOrigin::signed(account(&alice()))));
        assert_eq!(Jobs::open_jobs()[0], better);
        assert_eq!(Jobs::open_jobs().len() as u32, full);
        assert!(System::events().iter().any(|e| matches!(
            e.event,
            upow_runtime::RuntimeEvent::Jobs(pallet_upow_jobs::Event::JobEvicted { by, .. }) if by == better
        )));
    });
}

/// `[1024, h, 10]` at `batch_log2` over `samples` samples, with the largest
/// `h` job admission lets in.
fn largest_admissible(batch_log2: u32, samples: u64) -> JobSpec {
    let spec = |h: u32| {
        JobSpec::new(
            Model::new(&[1024, h, 10]).unwrap(),
            Hyperparams::new(batch_log2, 2, 1_000).unwrap(),
            DatasetCommitment {
                root: [1; 32],
                samples,
                inputs: 1024,
            },
        )
        .unwrap()
    };
    let (mut low, mut high) = (1u32, 1014u32);
    assert!(JobLimits::check(&spec(low)).is_ok());
    while low < high {
        let mid = (low + high).div_ceil(2);
        if JobLimits::check(&spec(mid)).is_ok() {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    spec(low)
}

#[test]
fn oversized_jobs_are_refused_and_the_largest_admitted_fits_a_block() {
    ext().execute_with(|| {
        // The puzzle's largest model does not fit a block: refused.
        let biggest = JobSpec::new(
            Model::new(&[1024, 1000, 10]).unwrap(),
            Hyperparams::new(10, 2, 1_000).unwrap(),
            DatasetCommitment {
                root: [1; 32],
                samples: 60_000,
                inputs: 1024,
            },
        )
        .unwrap();
        let refused = post_job(biggest, UNIT, 1_000 * UNIT)
            .dispatch(RuntimeOrigin::signed(account(&bob())))
            .unwrap_err();
        assert!(matches!(
            refused.error,
            sp_runtime::DispatchError::Module(_)
        ));
        for batch_log2 in [4, 6, 8] {
            let spec = largest_admissible(batch_log2, 60_000);
            let proof = upow_puzzle::max_proof_len(&spec);
            assert!(proof <= MAX_PROOF_LENGTH, "{proof}");
            // A fraud proof of one of its steps fits too (docs/puzzle.md §13).
            assert!(upow_puzzle::segment::fraud_proof_fits(&spec));
            eprintln!(
                "largest admitted at batch {}: {:?}, {} parameters, proof ≤ {proof} bytes, {} kilo-MACs per block",
                spec.hyper.batch(),
                spec.model.dims(),
                spec.model.params(),
                pallet_upow_training::block_kilo_macs(&spec),
            );
        }
    });
}

#[test]
fn the_largest_admitted_jobs_block_still_takes_a_transfer_a_cancel_and_a_sudo_call() {
    ext().execute_with(|| {
        System::set_block_number(1);
        // A real dataset for it: 4096 samples of 1024 inputs.
        let samples = 4096usize;
        let labels: Vec<u8> = (0..samples).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> = (0..samples * 1024)
            .map(|i| (upow_puzzle::prng::draw(5, i as u64) >> 56) as u8)
            .collect();
        let data = Dataset::new(1024, &labels, &pixels).unwrap();
        let mut spec = largest_admissible(6, samples as u64);
        spec.dataset = data.commitment();
        assert_eq!(JobLimits::check(&spec), Ok(()));
        // At chain difficulty 1 its steps (several reference steps each)
        // are drawn at difficulty 1.
        pallet_upow_training::Difficulty::<Runtime>::put(1);
        let job = post_as_bob(spec.clone(), UNIT);
        let work = Training::work(job).unwrap();
        let init = Jobs::job_info(job).unwrap().initial.unwrap().seed;
        let alice = alice();
        let ctx = TrajectoryContext {
            job,
            ..context(&alice)
        };
        // The largest proof: a 4-step trajectory (the bound at difficulty
        // 1) whose challenges open three distinct steps.
        assert_eq!(work.difficulty, 1);
        let start = Weights::initial(&spec.model, &init);
        let step = upow_puzzle::TrainingStep::new(&spec.model, &spec.hyper);
        let mined = (0u32..64)
            .find_map(|salt| {
                let mut trajectory =
                    upow_puzzle::Trajectory::start(TrajectoryContext { salt, ..ctx }, start.hash());
                let mut all = vec![start.clone()];
                for i in 0..4u64 {
                    let seed = trajectory.next_seed();
                    let batch = upow_puzzle::batch::select_batch(&spec, &data, &seed).unwrap();
                    let next = step
                        .run(all.last().unwrap(), &batch, &seed, i)
                        .unwrap()
                        .weights;
                    trajectory.push(next.hash());
                    all.push(next);
                }
                let claim = trajectory.claim(all[4].hash()).unwrap();
                let ticket = claim.ticket(trajectory.context()).unwrap();
                if upow_puzzle::challenged_steps(&ticket, 4).len() < 3 {
                    return None;
                }
                let proof = trajectory
                    .prove(&claim, &spec, &data, |i| Ok(all[i as usize].clone()))
                    .unwrap();
                Some((salt, claim, proof))
            })
            .expect("a salt whose challenges open three steps");
        let mined = upow_puzzle::mining::Mined {
            context: TrajectoryContext {
                salt: mined.0,
                ..ctx
            },
            ticket: mined
                .1
                .ticket(&TrajectoryContext {
                    salt: mined.0,
                    ..ctx
                })
                .unwrap(),
            claim: mined.1,
            proof: mined.2,
            final_weights: start.clone(),
        };
        let proof_bytes = mined.proof.encoded_size();
        eprintln!(
            "block of {:?} at batch {}: proof {proof_bytes} bytes",
            spec.model.dims(),
            spec.hyper.batch()
        );

        // Block 2 on PARENT: the trajectory first, then the transactions.
        System::set_block_number(1);
        let pre =
            upow_primitives::PreDigest::new(alice.public().0, job, mined.context.salt, mined.claim);
        System::initialize(
            &2,
            &PARENT,
            &sp_runtime::Digest {
                logs: vec![pre.to_digest_item()],
            },
        );
        assert_ok!(Executive::apply_extrinsic(timestamp(10_000)).unwrap());
        assert_ok!(Executive::apply_extrinsic(inherent(mined.proof)).unwrap());
        let transfer = RuntimeCall::Balances(pallet_balances::Call::transfer_allow_death {
            dest: account(&charlie()).into(),
            value: UNIT,
        });
        let cancel = RuntimeCall::Jobs(pallet_upow_jobs::Call::cancel_job { job });
        let sudo = RuntimeCall::Sudo(pallet_sudo::Call::sudo {
            call: Box::new(RuntimeCall::System(frame_system::Call::remark {
                remark: vec![1; 32],
            })),
        });
        let nonce =
            |pair: &sr25519::Pair| frame_system::Pallet::<Runtime>::account_nonce(account(pair));
        assert_ok!(Executive::apply_extrinsic(signed(&alice, transfer, nonce(&alice))).unwrap());
        assert_ok!(Executive::apply_extrinsic(signed(&bob(), cancel, nonce(&bob()))).unwrap());
        assert_ok!(Executive::apply_extrinsic(signed(&alice, sudo, nonce(&alice))).unwrap());
        assert_eq!(Jobs::job_info(job).unwrap().status, JobStatus::Cancelled);
        let size = frame_system::Pallet::<Runtime>::block_size();
        assert!(size < MAX_BLOCK_LENGTH, "{size}");
        Executive::finalize_block();
    });
}
