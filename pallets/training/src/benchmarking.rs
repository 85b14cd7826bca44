//! Benchmarks of the training pallet: verifying a real trajectory of a
//! Fashion-MNIST-shaped job whose size sets the multiply-accumulate count,
//! and a real fraud proof (one replayed step) against a planted block.

use super::*;
use crate::pallet::{Call, Config, Disputable, Pallet, Proven};
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_system::pallet_prelude::BlockNumberFor;
use frame_system::RawOrigin;
use sp_core::H256;
use sp_runtime::Digest;
use upow_primitives::traits::JobSchedule;
use upow_primitives::PreDigest;
use upow_primitives::{DisputableBlock, TrainingProgress};
use upow_puzzle::{
    batch::select_batch, Dataset, Hyperparams, JobProgress, JobSpec, Model, TrainingStep,
    Trajectory, TrajectoryContext, Weights,
};

/// The benchmarks' training set: 64 samples of 784 inputs.
fn dataset() -> Dataset {
    let labels: Vec<u8> = (0..64u32).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = (0..64 * 784u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    Dataset::new(784, &labels, &pixels).expect("valid dataset")
}

/// A job 784-h-10 whose `steps` re-executed steps take about `kilo_macs`
/// thousand multiply-accumulates. Of the batches 64 to 1024 it takes the
/// one whose proof is the smallest for that much work, so that every point
/// of the benchmarks' ranges is a job the runtime admits (a proof of at most
/// a quarter of the block).
fn spec_of(dataset: &Dataset, kilo_macs: u32, steps: u64) -> JobSpec {
    let spec_at = |batch_log2: u32| {
        // `replay_macs` is linear in the parameters, 794 per hidden unit.
        let per_hidden_unit = steps * upow_puzzle::cost::replay_macs(1u64 << batch_log2, 784 + 10);
        let hidden = ((kilo_macs as u64 * 1000) / per_hidden_unit).clamp(8, 1024) as u32;
        let model = Model::new(&[784, hidden, 10]).expect("within limits");
        let hyper = Hyperparams::new(batch_log2, 2, 1_000_000).expect("within limits");
        JobSpec::new(model, hyper, dataset.commitment()).expect("valid job")
    };
    (6..=10u32)
        .map(spec_at)
        .min_by_key(upow_puzzle::max_proof_len)
        .expect("five batch sizes")
}

/// A 3-step trajectory of `spec` from `start` by `author` of `job`, on a
/// parent whose seeds give three non-degenerate steps (docs/puzzle.md §9),
/// as an honest miner would find by trying salts. With `plant`, leaf 2 is
/// replaced by planted weights (step 2 runs from them). Returns the parent,
/// the trajectory and `W_0 … W_3`.
fn three_steps(
    spec: &JobSpec,
    dataset: &Dataset,
    author: AuthorId,
    job: JobId,
    start: &Weights,
    plant: bool,
) -> (H256, Trajectory, Vec<Weights>) {
    (0u8..=255)
        .find_map(|p| {
            let parent = H256::repeat_byte(p);
            let ctx = TrajectoryContext {
                parent: parent.0,
                author,
                job,
                salt: 0,
            };
            let mut weights = start.clone();
            let mut all = vec![weights.clone()];
            let mut trajectory = Trajectory::start(ctx, weights.hash());
            let step = TrainingStep::new(&spec.model, &spec.hyper);
            for i in 0..3u32 {
                let seed = trajectory.next_seed();
                let batch = select_batch(spec, dataset, &seed).ok()?;
                let outcome = step.run(&weights, &batch, &seed, i as u64).ok()?;
                upow_puzzle::validate_step(
                    &spec.model,
                    upow_puzzle::Liveness::MINIMUM,
                    &outcome.stats,
                )
                .ok()?;
                weights = outcome.weights;
                if plant && i == 1 {
                    let mut layers = weights.layers().to_vec();
                    for w in layers[0].iter_mut() {
                        *w = w.saturating_add(3).min(upow_puzzle::rounding::MASTER_MAX);
                    }
                    weights = Weights::from_layers(&spec.model, layers).ok()?;
                }
                trajectory.push(weights.hash());
                all.push(weights.clone());
            }
            Some((parent, trajectory, all))
        })
        .expect("a parent with three non-degenerate steps")
}

/// A job whose three proven steps re-execute about `kilo_macs` thousand
/// multiply-accumulates, and a 3-step trajectory of it in a block started
/// on its parent: what `submit_trajectory` verifies.
fn setup<T: Config>(kilo_macs: u32) -> TrajectoryProof {
    let dataset = dataset();
    let spec = spec_of(&dataset, kilo_macs, 3);
    let job = T::BenchmarkHelper::open_job(spec.clone());
    let active = T::Jobs::trainable(job).expect("the helper opened a job");
    let author = [3u8; 32];
    T::BenchmarkHelper::admit_author(author);
    // Chain difficulty 0 gives every job the minimum difficulty, 1: the
    // 3-step trajectory's ticket wins whatever the job's size.
    Difficulty::<T>::put(0);
    let start = Weights::initial(&spec.model, &active.init_seed);
    let (parent, trajectory, all) = three_steps(&spec, &dataset, author, job, &start, false);
    let weights = all.last().expect("W_3").clone();
    let claim = trajectory.claim(weights.hash()).expect("3 steps");
    let proof = trajectory
        .prove(&claim, &spec, &dataset, |i| Ok(all[i as usize].clone()))
        .expect("proof");
    let digest = PreDigest::new(author, job, 0, claim);
    frame_system::Pallet::<T>::initialize(
        &(frame_system::Pallet::<T>::block_number() + 1u32.into()),
        &parent,
        &Digest {
            logs: vec![digest.to_digest_item()],
        },
    );
    proof
}

/// A disputable block (at the current block number) of a job whose one
/// replayed step takes about `kilo_macs` thousand multiply-accumulates,
/// whose leaf 2 is planted, and the fraud proof of it (segment 2: one step).
fn setup_fraud<T: Config>(kilo_macs: u32) -> (BlockNumberFor<T>, FraudProof) {
    let dataset = dataset();
    let spec = spec_of(&dataset, kilo_macs, 1);
    let job = T::BenchmarkHelper::open_job(spec.clone());
    let active = T::Jobs::trainable(job).expect("the helper opened a job");
    let author = [3u8; 32];
    let account = T::BenchmarkHelper::admit_author(author);
    let start = Weights::initial(&spec.model, &active.init_seed);
    let (parent, trajectory, all) = three_steps(&spec, &dataset, author, job, &start, true);
    let last = all.last().expect("W_3");
    let claim = trajectory.claim(last.hash()).expect("3 steps");
    let segments = trajectory
        .prove(&claim, &spec, &dataset, |i| Ok(all[i as usize].clone()))
        .expect("proof")
        .segments;
    let block = frame_system::Pallet::<T>::block_number();
    let state = TrainingProgress::untrained(start.hash());
    Disputable::<T>::insert(
        block,
        DisputableBlock {
            job,
            author: account,
            author_key: author,
            parent: parent.0,
            salt: 0,
            steps: claim.steps,
            root: claim.root,
            final_weights: claim.final_weights,
            start: state,
            payment: 0,
        },
    );
    let ctx = *trajectory.context();
    let progress = JobProgress {
        weights: start.hash(),
        steps: 0,
    };
    let audit = upow_puzzle::audit_trajectory(
        &spec,
        &ctx,
        &progress,
        &start,
        &claim,
        &segments,
        &dataset,
        || {},
    )
    .expect("replay");
    let upow_puzzle::Audit::Fraud(proof) = audit else {
        panic!("the planted leaf was not found");
    };
    (block, proof)
}

#[benchmarks]
mod benchmarks {
    use super::*;

    /// Over the whole range of admitted jobs: the runtime admits a job
    /// while this weight at its `block_kilo_macs` stays within 20% of the
    /// block (docs/protocol.md §4), about 750 000 kilo-MACs at the measured
    /// weights (`runtime/tests/liveness.rs` prints the largest admitted).
    #[benchmark]
    fn submit_trajectory(k: Linear<1_000, 800_000>) {
        let proof = setup::<T>(k);
        #[extrinsic_call]
        _(RawOrigin::None, proof);
        assert!(Proven::<T>::get());
    }

    /// A valid fraud proof of one replayed step of `k` kilo-MACs (up to
    /// the largest admitted job's step, about 249 000): verification,
    /// rollback and slash. `Pallet::fraud_weight` adds the scan of the
    /// dispute window and the payouts.
    #[benchmark]
    fn report_fraud(k: Linear<1_000, 250_000>) {
        let (block, proof) = setup_fraud::<T>(k);
        let reporter: T::AccountId = account("reporter", 0, 0);
        #[extrinsic_call]
        _(RawOrigin::Signed(reporter), block, proof);
        assert!(Disputable::<T>::get(block).is_none());
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
