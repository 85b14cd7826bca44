//! The sparse kernel ([`SparseStep`]) gives the bits of the normative step
//! ([`TrainingStep::run`]): weights, loss and statistics, for random models
//! (one to three layers), batches, learning-rate phases, input densities
//! from empty to full, and weights trained many steps (where errors are
//! small and mostly round to zero) as well as fresh ones.

// Tests may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use upow_puzzle::{
    batch::select_batch, prng::draw, Dataset, Hyperparams, JobSpec, Model, Seed, SparseStep,
    TrainingStep, Weights,
};

/// `samples` random samples of `inputs` bytes whose pixels are non-zero with
/// probability `density / 8` and labels below `classes`.
fn dataset(inputs: u32, samples: usize, classes: u32, density: u64, key: u64) -> Dataset {
    let labels: Vec<u8> = (0..samples)
        .map(|i| (draw(key ^ 0x1abe1, i as u64) % u64::from(classes)) as u8)
        .collect();
    let pixels: Vec<u8> = (0..samples * inputs as usize)
        .map(|i| {
            let d = draw(key, i as u64);
            if d % 8 < density {
                (d >> 56) as u8
            } else {
                0
            }
        })
        .collect();
    Dataset::new(inputs, &labels, &pixels).unwrap()
}

/// Runs both kernels for `steps` steps from the same weights; they must agree
/// after every step.
fn check(dims: &[u32], batch_log2: u32, density: u64, key: u64, steps: u64) {
    let model = Model::new(dims).unwrap();
    let classes = *dims.last().unwrap();
    let data = dataset(dims[0], 256, classes, density, key);
    // A short plan, so the steps cross the learning-rate phases.
    let hyper = Hyperparams::new(batch_log2, 2, steps.max(1)).unwrap();
    let spec = JobSpec::new(model.clone(), hyper, data.commitment()).unwrap();
    let reference = TrainingStep::new(&model, &hyper);
    let sparse = SparseStep::new(&model, &hyper);
    let mut weights = Weights::initial(&model, &[key as u8; 32]);
    for t in 0..steps {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&draw(key ^ 0x5eed, t).to_le_bytes());
        let seed = Seed(bytes);
        let batch = select_batch(&spec, &data, &seed).unwrap();
        let expected = reference.run(&weights, &batch, &seed, t).unwrap();
        let got = sparse.run(&weights, &batch, &seed, t).unwrap();
        assert_eq!(
            got, expected,
            "{dims:?} batch 2^{batch_log2}, density {density}/8, step {t}"
        );
        weights = expected.weights;
    }
}

#[test]
fn the_house_shape_agrees_over_a_whole_short_plan() {
    // 784-128-10 at batch 64 on Fashion-MNIST-like density, 40 steps: the
    // errors shrink and round to zero more often as the weights train.
    check(&[784, 128, 10], 6, 4, 7, 40);
}

#[test]
fn empty_and_full_inputs_agree() {
    check(&[64, 32, 10], 4, 0, 3, 4);
    check(&[64, 32, 10], 4, 8, 3, 4);
}

#[test]
fn a_wrong_batch_is_refused_as_the_reference_refuses_it() {
    let model = Model::new(&[16, 8, 2]).unwrap();
    let hyper = Hyperparams::new(4, 2, 10).unwrap();
    let data = dataset(16, 64, 2, 4, 1);
    let other = Hyperparams::new(5, 2, 10).unwrap();
    let spec = JobSpec::new(model.clone(), other, data.commitment()).unwrap();
    let seed = Seed([1; 32]);
    let batch = select_batch(&spec, &data, &seed).unwrap();
    let weights = Weights::initial(&model, &[1; 32]);
    let expected = TrainingStep::new(&model, &hyper).run(&weights, &batch, &seed, 0);
    let got = SparseStep::new(&model, &hyper).run(&weights, &batch, &seed, 0);
    assert!(expected.is_err());
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_models_batches_and_densities_agree(
        hidden in prop::collection::vec(1u32..48, 0..3),
        inputs in 1u32..96,
        classes in 2u32..12,
        batch_log2 in 4u32..7,
        density in 0u64..=8,
        key in any::<u64>(),
        steps in 1u64..6,
    ) {
        let mut dims = vec![inputs];
        dims.extend(&hidden);
        dims.push(classes);
        check(&dims, batch_log2, density, key, steps);
    }
}
