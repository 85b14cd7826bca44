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

/// A job 784-h-10 (batch 64, or 128 above ~470 000 kilo-MACs) whose three
/// proven steps re-execute about `kilo_macs` thousand multiply-accumulates,
/// and a 3-step trajectory of it.
fn setup<T: Config>(kilo_macs: u32) -> TrajectoryProof {
    let batch_log2 = if kilo_macs > 460_000 { 7 } else { 6 };
    let per_hidden_unit = 3 * 3 * (1u64 << batch_log2) * (784 + 10) as u64;
    let hidden = ((kilo_macs as u64 * 1000) / per_hidden_unit).clamp(8, 1024) as u32;
    let model = Model::new(&[784, hidden, 10]).expect("within limits");
    let hyper = Hyperparams::new(batch_log2, 2, 1_000_000).expect("within limits");
    let labels: Vec<u8> = (0..64u32).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = (0..64 * 784u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let dataset = Dataset::new(784, &labels, &pixels).expect("valid dataset");
    let spec = JobSpec::new(model, hyper, dataset.commitment()).expect("valid job");
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

    /// Over the whole range of admitted jobs (up to `MAX_BLOCK_KILO_MACS`,
    /// the runtime's verification budget: docs/protocol.md §4).
    #[benchmark]
    fn submit_trajectory(k: Linear<1_000, 900_000>) {
        let proof = setup::<T>(k);
        #[extrinsic_call]
        _(RawOrigin::None, proof);
        assert!(Proven::<T>::get());
    }

    impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
