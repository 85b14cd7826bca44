//! What fraud proofs cost (docs/benchmarks.md §Fraud proofs): the body bytes
//! the segment roots add per block, an auditor's replay speed against the
//! mining step, and a fraud proof's size, multiply-accumulates and native
//! verification time, for 784-128-10 at batch 64 and the largest job the
//! runtime admits (1024 inputs, batch 256). Prints tables; run with
//! `cargo bench -p upow-puzzle --bench fraud`.

// A bench binary: unwrapping is fine.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use codec::Encode;
use upow_puzzle::{
    audit_trajectory,
    batch::select_batch,
    cost::replay_macs,
    segment::{segment_count, segment_log2},
    verify_fraud, Audit, Dataset, Hyperparams, JobProgress, JobSpec, Model, TrainingStep,
    Trajectory, TrajectoryContext, Weights,
};

fn dataset(samples: usize, inputs: u32) -> Dataset {
    let labels: Vec<u8> = (0..samples).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = (0..samples * inputs as usize)
        .map(|i| {
            let v = upow_puzzle::prng::draw(42, i as u64);
            if v & 1 == 0 {
                0
            } else {
                (v >> 56) as u8
            }
        })
        .collect();
    Dataset::new(inputs, &labels, &pixels).unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One job's figures: mining step, replay step, fraud proof.
fn job_figures(name: &str, dims: &[u32], batch_log2: u32, samples: usize, steps: u32) {
    let model = Model::new(dims).unwrap();
    let hyper = Hyperparams::new(batch_log2, 2, 1_000_000).unwrap();
    let data = dataset(samples, dims[0]);
    let spec = JobSpec::new(model.clone(), hyper, data.commitment()).unwrap();
    let step = TrainingStep::new(&model, &hyper);
    let start = Weights::initial(&model, &[1; 32]);
    let ctx = TrajectoryContext {
        parent: [7; 32],
        author: [8; 32],
        job: 1,
        salt: 0,
    };
    // Mining: step, hash, running root, ticket.
    let mut trajectory = Trajectory::start(ctx, start.hash());
    let mut current = start.clone();
    let jump = steps / 2;
    let started = Instant::now();
    for i in 0..steps {
        let seed = trajectory.next_seed();
        let batch = select_batch(&spec, &data, &seed).unwrap();
        current = step
            .run(&current, &batch, &seed, u64::from(i))
            .unwrap()
            .weights;
        if i + 1 == jump {
            // The planted model.
            let mut layers = current.layers().to_vec();
            for w in layers[0].iter_mut() {
                *w = w.saturating_add(7).min(upow_puzzle::rounding::MASTER_MAX);
            }
            current = Weights::from_layers(&model, layers).unwrap();
        }
        trajectory.push(current.hash());
    }
    let mining = started.elapsed() / steps;
    let claim = trajectory.claim(current.hash()).unwrap();
    let proof = trajectory
        .prove(&claim, &spec, &data, |_| Ok(start.clone()))
        .unwrap();
    let progress = JobProgress {
        weights: start.hash(),
        steps: 0,
    };
    let mut replayed = 0u32;
    let started = Instant::now();
    let audit = audit_trajectory(
        &spec,
        &ctx,
        &progress,
        &start,
        &claim,
        &proof.segments,
        &data,
        || replayed += 1,
    )
    .unwrap();
    let replay = started.elapsed() / replayed.max(1);
    let Audit::Fraud(fraud) = audit else {
        panic!("the planted jump was not found");
    };
    let runs = 5;
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            verify_fraud(&spec, &ctx, &progress, &claim, &fraud).unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    let params = model.params() as u64;
    let macs: u64 = fraud
        .batches
        .iter()
        .map(|b| replay_macs(b.len() as u64, params))
        .sum();
    println!(
        "| {name} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.1} |",
        ms(mining),
        ms(replay),
        replay.as_secs_f64() / mining.as_secs_f64(),
        fraud.batches.len(),
        fraud.encode().len(),
        macs / 1000,
        ms(times[runs / 2]),
    );
}

fn main() {
    println!(
        "Segment roots per block of 784-128-10 at batch 64 (bytes the body carries, SCALE):\n"
    );
    println!("| steps n | segment length s | segment roots | bytes |");
    println!("|---|---|---|---|");
    let reference = JobSpec::new(
        Model::new(&[784, 128, 10]).unwrap(),
        Hyperparams::new(6, 2, 1_000_000).unwrap(),
        upow_puzzle::DatasetCommitment {
            root: [0; 32],
            samples: 60_000,
            inputs: 784,
        },
    )
    .unwrap();
    for n in [100u64, 1_000, 2_000, 10_000, 100_000, 1_000_000] {
        let leaves = n + 1;
        let count = segment_count(&reference, leaves);
        let compact = if count < 64 {
            1
        } else if count < 1 << 14 {
            2
        } else {
            4
        };
        println!(
            "| {n} | {} | {count} | {} |",
            1u64 << segment_log2(&reference, leaves),
            32 * count + compact
        );
    }
    println!("\nFraud proofs (one planted jump; one-leaf segments):\n");
    println!("| job | mining step (ms) | replay step (ms) | replay / mining | steps replayed | proof bytes | kilo-MACs | native verify (ms) |");
    println!("|---|---|---|---|---|---|---|---|");
    job_figures("784-128-10 b64", &[784, 128, 10], 6, 60_000, 16);
    job_figures(
        "1024-314-10 b256 (largest admitted)",
        &[1024, 314, 10],
        8,
        60_000,
        6,
    );
}
