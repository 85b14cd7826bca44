//! What a ticket costs (docs/benchmarks.md §Soundness): the normative
//! reference step on honest weights, the cheapest step an attacker can run
//! on weights that pass the degeneracy rule (`tests/common/adversarial.rs`),
//! the weights hash every step must publish, the pre-activations hash a v3
//! leaf adds, and the trajectory bookkeeping of v2 (running root, seed,
//! ticket) per step. Prints a table; run with
//! `cargo bench -p upow-puzzle --bench adversarial`.

// A bench binary: unwrapping is fine.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// The rare-firing attacker of the module is timed by the miner's shortcut
// bench, not here.
#[path = "../tests/common/adversarial.rs"]
#[allow(dead_code)]
mod adversarial;

use std::time::{Duration, Instant};

use upow_puzzle::{
    batch::select_batch, Dataset, Forward, Hyperparams, JobSpec, Liveness, Model, Seed,
    TrainingStep, Trajectory, TrajectoryContext, Weights,
};

/// Median time of `runs` calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn dataset(samples: usize) -> Dataset {
    // Fashion-MNIST-like density: about half the pixels are zero.
    let labels: Vec<u8> = (0..samples).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = (0..samples * 784)
        .map(|i| {
            let v = upow_puzzle::prng::draw(42, i as u64);
            if v & 1 == 0 {
                0
            } else {
                (v >> 56) as u8
            }
        })
        .collect();
    Dataset::new(784, &labels, &pixels).unwrap()
}

fn main() {
    let model = Model::new(&[784, 128, 10]).unwrap();
    let hyper = Hyperparams::new(6, 2, 100_000).unwrap();
    let data = dataset(4096);
    let spec = JobSpec::new(model.clone(), hyper, data.commitment()).unwrap();
    let step = TrainingStep::new(&model, &hyper);
    let seed = Seed([9; 32]);
    let batch = select_batch(&spec, &data, &seed).unwrap();
    let runs = 41;

    let honest = Weights::initial(&model, &[1; 32]);
    let t_reference = median(runs, || {
        let out = step.run(&honest, &batch, &seed, 10).unwrap();
        std::hint::black_box(out.weights.hash());
    });
    let t_hash = median(runs, || {
        std::hint::black_box(honest.hash());
    });

    // What a v3 leaf adds to a step (docs/v3.md §2.3): the hash of the
    // step's pre-activations, `B · (d_1 + d_2) · 4` bytes.
    let forward = Forward::run(&model, &honest, &batch.inputs, hyper.batch());
    let z_bytes: usize = forward.preactivations.iter().map(|z| 4 * z.len()).sum();
    let t_preactivations = median(runs, || {
        std::hint::black_box(forward.preactivations_hash());
    });

    let mut rows = vec![
        (
            "reference step + weights hash, honest weights".to_string(),
            t_reference,
        ),
        ("weights hash alone (203 KB)".to_string(), t_hash),
        (
            format!(
                "pre-activations hash alone ({:.1} KB, v3's leaf)",
                z_bytes as f64 / 1000.0
            ),
            t_preactivations,
        ),
    ];
    for live in [4usize, 8, 32] {
        let crafted = adversarial::crafted_weights(&model, live, 7);
        let out = step.run(&crafted, &batch, &seed, 10).unwrap();
        let passes = upow_puzzle::validate_step(&model, Liveness::MINIMUM, &out.stats).is_ok();
        let t_ref_crafted = median(runs, || {
            let out = step.run(&crafted, &batch, &seed, 10).unwrap();
            std::hint::black_box(out.weights.hash());
        });
        let t_sparse = median(runs, || {
            let next = adversarial::sparse_step(&model, &hyper, &crafted, live, &batch, &seed, 10);
            std::hint::black_box(next.hash());
        });
        let verdict = if passes { "passes §9" } else { "fails §9" };
        rows.push((
            format!("reference step + hash, crafted weights ({live} live units, {verdict})"),
            t_ref_crafted,
        ));
        rows.push((
            format!("attacker's sparse step + hash ({live} live units, {verdict})"),
            t_sparse,
        ));
    }

    // v2's per-step bookkeeping: the seed from the running root, then the
    // new leaf, root and ticket, on a trajectory of 4 000 steps.
    let ctx = TrajectoryContext {
        parent: [1; 32],
        author: [2; 32],
        job: 0,
        salt: 0,
    };
    let mut trajectory = Trajectory::start(ctx, [0; 32]);
    for i in 0..4000u32 {
        trajectory.push(Seed([i as u8; 32]).0);
    }
    let mut leaf = 0u64;
    let t_book = median(runs, || {
        for _ in 0..100 {
            let seed = trajectory.next_seed();
            leaf += 1;
            let mut hash = seed.0;
            hash[..8].copy_from_slice(&leaf.to_le_bytes());
            std::hint::black_box(trajectory.push(hash));
        }
    }) / 100;
    rows.push((
        "trajectory bookkeeping per step (seed, running root, ticket)".to_string(),
        t_book,
    ));

    println!("784-128-10, batch 64, one thread");
    println!("| what | µs per step | × reference step |");
    println!("|---|---:|---:|");
    for (what, t) in rows {
        println!(
            "| {what} | {:.1} | {:.3} |",
            t.as_secs_f64() * 1e6,
            t.as_secs_f64() / t_reference.as_secs_f64()
        );
    }
}
