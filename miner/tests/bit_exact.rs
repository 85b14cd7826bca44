//! Every backend against the normative reference, bit for bit.
//!
//! One test body ([`check_backend`]) runs on every device: the candle CPU
//! backend always; the CUDA backend when built with `--features cuda` and
//! run with `UPOW_GPU_TESTS=1` on a machine with a GPU.

// Test helpers outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used)]

use upow_miner::backend::{self, BackendKind};
use upow_puzzle::{
    hash::hash_parts,
    prng::{below, draw},
    rounding::MASTER_MAX,
    Batch, Hyperparams, Model, Seed, TrainingStep, Weights,
};

/// A deterministic stream of test randomness.
struct Rng {
    key: u64,
    index: u64,
}

impl Rng {
    fn new(key: u64) -> Self {
        Self { key, index: 0 }
    }
    fn next(&mut self) -> u64 {
        self.index += 1;
        draw(self.key, self.index)
    }
    fn below(&mut self, bound: u64) -> u64 {
        below(self.next(), bound)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// How a case fills its tensors.
#[derive(Clone, Copy, Debug)]
enum Fill {
    Random,
    Saturated,
    Zero,
}

#[derive(Debug)]
struct Case {
    model: Model,
    hyper: Hyperparams,
    weights: Weights,
    batch: Batch,
    seed: Seed,
    global_step: u64,
}

fn weights(rng: &mut Rng, model: &Model, fill: Fill) -> Weights {
    let layers = (0..model.layers())
        .map(|l| {
            let (r, c) = model.shape(l);
            (0..r * c)
                .map(|_| match fill {
                    Fill::Random => rng.range(-(MASTER_MAX as i64), MASTER_MAX as i64) as i16,
                    Fill::Saturated => {
                        if rng.next() & 1 == 0 {
                            MASTER_MAX
                        } else {
                            -MASTER_MAX
                        }
                    }
                    Fill::Zero => 0,
                })
                .collect()
        })
        .collect();
    Weights::from_layers(model, layers).unwrap()
}

fn case(rng: &mut Rng, dims: &[u32], batch_log2: u32, weight_fill: Fill, input_fill: Fill) -> Case {
    let model = Model::new(dims).unwrap();
    let total = 1 + rng.below(1 << 20);
    let hyper = Hyperparams::new(batch_log2, rng.below(17) as u32, total).unwrap();
    let weights = weights(rng, &model, weight_fill);
    let rows = hyper.batch();
    let inputs = (0..rows * model.inputs())
        .map(|_| match input_fill {
            Fill::Random => rng.next() as u8,
            Fill::Saturated => 255,
            Fill::Zero => 0,
        })
        .collect();
    let labels = (0..rows)
        .map(|_| rng.below(model.classes() as u64) as u8)
        .collect();
    let seed = Seed(hash_parts(b"test", &[&rng.next().to_le_bytes()]));
    Case {
        model,
        hyper,
        weights,
        batch: Batch { inputs, labels },
        seed,
        global_step: rng.below(total + 1),
    }
}

fn random_dims(rng: &mut Rng) -> Vec<u32> {
    let layers = 1 + rng.below(4) as usize;
    let mut dims: Vec<u32> = (0..layers).map(|_| 1 + rng.below(96) as u32).collect();
    dims.push(2 + rng.below(15) as u32);
    dims
}

/// Runs `case` on the reference and on `kind` for two consecutive steps and
/// compares weights and losses.
fn check(kind: BackendKind, case: &Case, label: &str) {
    let step = TrainingStep::new(&case.model, &case.hyper);
    let expected = step
        .run(&case.weights, &case.batch, &case.seed, case.global_step)
        .unwrap();
    let second_seed = Seed(hash_parts(b"second", &[&case.seed.0]));
    let expected2 = step
        .run(
            &expected.weights,
            &case.batch,
            &second_seed,
            case.global_step + 1,
        )
        .unwrap();

    let mut backend =
        backend::create(kind, 0, &case.model, &case.hyper, &case.weights).expect("backend");
    let first = backend
        .step(&case.batch, &case.seed, case.global_step)
        .unwrap();
    assert_eq!(first.loss, expected.loss, "{label}: loss differs");
    assert_eq!(
        backend.weights().unwrap(),
        expected.weights,
        "{label}: weights differ"
    );
    assert_eq!(
        first.weights_hash,
        expected.weights.hash(),
        "{label}: hash differs"
    );
    let second = backend
        .step(&case.batch, &second_seed, case.global_step + 1)
        .unwrap();
    assert_eq!(
        second.weights_hash,
        expected2.weights.hash(),
        "{label}: second step differs"
    );
}

/// The one test body every device runs.
fn check_backend(kind: BackendKind) {
    let mut rng = Rng::new(0x5eed);
    // ≥ 1000 random models, batches, weights, inputs, seeds, schedules.
    for i in 0..1000 {
        let dims = random_dims(&mut rng);
        let batch_log2 = rng.below(7) as u32;
        let c = case(&mut rng, &dims, batch_log2, Fill::Random, Fill::Random);
        check(
            kind,
            &c,
            &format!("random case {i} {dims:?} batch 2^{batch_log2}"),
        );
    }
    // Extremes.
    let extremes: &[(&[u32], u32, Fill, Fill)] = &[
        (&[64, 32, 10], 4, Fill::Saturated, Fill::Saturated),
        (&[64, 32, 10], 4, Fill::Zero, Fill::Random),
        (&[64, 32, 10], 4, Fill::Random, Fill::Zero),
        (&[64, 32, 10], 4, Fill::Zero, Fill::Zero),
        (&[784, 128, 10], 0, Fill::Random, Fill::Random), // batch of 1
        (&[784, 128, 10], 0, Fill::Saturated, Fill::Saturated),
        (&[784, 128, 10], 6, Fill::Random, Fill::Random),
        (&[1024, 1000, 10], 4, Fill::Saturated, Fill::Saturated), // widest layers
        (&[1024, 1000, 10], 6, Fill::Random, Fill::Random),
        (
            &[1024, 512, 256, 128, 10],
            2,
            Fill::Saturated,
            Fill::Saturated,
        ), // deepest
        (&[32, 1024, 2], 10, Fill::Saturated, Fill::Saturated), // largest batch
        (&[1024, 2], 10, Fill::Saturated, Fill::Saturated),
    ];
    for (i, &(dims, batch_log2, wf, xf)) in extremes.iter().enumerate() {
        let c = case(&mut rng, dims, batch_log2, wf, xf);
        check(
            kind,
            &c,
            &format!("extreme case {i} {dims:?} batch 2^{batch_log2} {wf:?}/{xf:?}"),
        );
    }
}

#[test]
fn sparse_kernel_matches_reference() {
    check_backend(BackendKind::Sparse);
}

#[test]
fn candle_cpu_matches_reference() {
    check_backend(BackendKind::Cpu);
}

#[test]
fn cuda_matches_reference() {
    if std::env::var("UPOW_GPU_TESTS").as_deref() != Ok("1") {
        eprintln!("skipped: set UPOW_GPU_TESTS=1 (and build with --features cuda) to run on a GPU");
        return;
    }
    check_backend(BackendKind::Cuda);
}

#[test]
fn cuda_without_feature_or_gpu_is_a_clear_error() {
    if std::env::var("UPOW_GPU_TESTS").as_deref() == Ok("1") {
        return;
    }
    let model = Model::new(&[4, 2]).unwrap();
    let hyper = Hyperparams::new(0, 2, 10).unwrap();
    let w = Weights::zeros(&model);
    let err = backend::create(BackendKind::Cuda, 0, &model, &hyper, &w)
        .err()
        .expect("no GPU here");
    let message = err.to_string();
    assert!(
        message.contains("--features cuda") || message.contains("no usable CUDA device"),
        "{message}"
    );
}
