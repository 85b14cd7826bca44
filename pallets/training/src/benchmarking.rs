//! Benchmarks of the training pallet: verifying a real trajectory of a
//! Fashion-MNIST-shaped job whose size sets the multiply-accumulate count.

use super::*;
use crate::pallet::{Call, Config, Pallet, Proven};
use alloc::vec;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use sp_core::H256;
use sp_runtime::Digest;
use upow_primitives::traits::JobSchedule;
use upow_primitives::PreDigest;
use upow_puzzle::{
    mining::select_batch, Dataset, Hyperparams, JobSpec, Model, TrainingStep, Trajectory,
    TrajectoryContext, Weights,
};

/// A job 784-h-10 whose three proven steps re-execute about `kilo_macs`
/// thousand multiply-accumulates, and a 3-step trajectory of it. Of the
/// batches 64 to 1024 it takes the one whose proof is the smallest for that
/// much work, so that every point of the benchmark's range is a job the
/// runtime admits (a proof of at most a quarter of the block).
fn setup<T: Config>(kilo_macs: u32) -> TrajectoryProof {
    let labels: Vec<u8> = (0..64u32).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = (0..64 * 784u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let dataset = Dataset::new(784, &labels, &pixels).expect("valid dataset");
    let spec_at = |batch_log2: u32| {
        let per_hidden_unit = 3 * 3 * (1u64 << batch_log2) * (784 + 10) as u64;
        let hidden = ((kilo_macs as u64 * 1000) / per_hidden_unit).clamp(8, 1024) as u32;
        let model = Model::new(&[784, hidden, 10]).expect("within limits");
        let hyper = Hyperparams::new(batch_log2, 2, 1_000_000).expect("within limits");
        JobSpec::new(model, hyper, dataset.commitment()).expect("valid job")
    };
    let spec = (6..=10u32)
        .map(spec_at)
        .min_by_key(upow_puzzle::max_proof_len)
        .expect("five batch sizes");
    let job = T::BenchmarkHelper::open_job(spec.clone());
    let active = T::Jobs::trainable(job).expect("the helper opened a job");
    let init_seed = active.init_seed;
    let author = [3u8; 32];
    T::BenchmarkHelper::admit_author(author);
    // Chain difficulty 0 gives every job the minimum difficulty, 1: the
    // 3-step trajectory's ticket wins whatever the job's size.
    Difficulty::<T>::put(0);

    // A parent whose seeds give three non-degenerate steps (docs/puzzle.md
    // §9), as an honest miner would find by trying salts.
    let (parent, trajectory, all) = (0u8..=255)
        .find_map(|p| {
            let parent = H256::repeat_byte(p);
            let ctx = TrajectoryContext {
                parent: parent.0,
                author,
                job,
                salt: 0,
            };
            let mut weights = Weights::initial(&spec.model, &init_seed);
            let mut all = vec![weights.clone()];
            let mut trajectory = Trajectory::start(ctx, weights.hash());
            let step = TrainingStep::new(&spec.model, &spec.hyper);
            for i in 0..3u32 {
                let seed = trajectory.next_seed();
                let batch = select_batch(&spec, &dataset, &seed).ok()?;
                let outcome = step.run(&weights, &batch, &seed, i as u64).ok()?;
                upow_puzzle::validate_step(&spec.model, &outcome.stats).ok()?;
                weights = outcome.weights;
                trajectory.push(weights.hash());
                all.push(weights.clone());
            }
            Some((parent, trajectory, all))
        })
        .expect("a parent with three non-degenerate steps");
    let weights = all.last().expect("W_3").clone();
    let claim = trajectory.claim(weights.hash()).expect("3 steps");
    let proof = trajectory
        .prove(&claim, spec.hyper.batch(), &dataset, |i| {
            Ok(all[i as usize].clone())
        })
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

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
