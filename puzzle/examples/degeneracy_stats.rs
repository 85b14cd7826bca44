//! The statistics behind the degeneracy rule's thresholds (docs/puzzle.md
//! §9, docs/benchmarks.md §Degeneracy): trains a model on Fashion-MNIST with
//! the reference step, seeds from a trajectory's running roots, and prints
//! the smallest per-step fraction of non-zero weights, live units and
//! changed weights per layer, the activation density's smallest values and
//! percentiles, and every step the rule would reject.
//!
//! `cargo run --release -p upow-puzzle --example degeneracy_stats -- 784-128-10 6 3000 [lr_shift]`
//! (model, log2 batch, steps).

// An example binary: unwrapping is fine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use upow_puzzle::{
    batch::select_batch,
    idx::{load_split, Split},
    validate_step, Hyperparams, JobSpec, Liveness, Model, TrainingStep, Trajectory,
    TrajectoryContext, Weights,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: degeneracy_stats <dims, e.g. 784-128-10> <log2 batch> <steps> [lr shift]"
        );
        std::process::exit(2);
    }
    let train = load_split(Path::new("/usr/share/datasets/fashion-mnist"), Split::Train)
        .expect("Fashion-MNIST (dataset-fashion-mnist)");
    let dims: Vec<u32> = args[1].split('-').map(|d| d.parse().unwrap()).collect();
    let batch_log2: u32 = args[2].parse().unwrap();
    let steps: u64 = args[3].parse().unwrap();
    let lr: u32 = args.get(4).map_or(2, |a| a.parse().unwrap());
    let model = Model::new(&dims).unwrap();
    let hyper = Hyperparams::new(batch_log2, lr, steps).unwrap();
    // The step's domain (any batch), not a job's: small batches are measured too.
    let job = JobSpec {
        model: model.clone(),
        hyper,
        dataset: train.commitment(),
    };
    let ctx = TrajectoryContext {
        parent: [1; 32],
        author: [2; 32],
        job: 0,
        salt: 0,
    };
    let mut weights = Weights::initial(&model, &[3; 32]);
    let mut trajectory = Trajectory::start(ctx, weights.hash());
    let step = TrainingStep::new(&model, &hyper);
    let layers = model.layers();
    let mut min_density = vec![f64::MAX; layers];
    let mut min_live = vec![f64::MAX; layers - 1];
    // Activation density (non-zero activations over rows × width) of every
    // step, per hidden layer: its smallest value and low percentiles.
    let mut density: Vec<Vec<f64>> = vec![Vec::with_capacity(steps as usize); layers - 1];
    let mut min_changed = vec![f64::MAX; layers];
    let mut rejected = 0u64;
    for i in 0..steps {
        let seed = trajectory.next_seed();
        let batch = select_batch(&job, &train, &seed).unwrap();
        let out = step.run(&weights, &batch, &seed, i).unwrap();
        for l in 0..layers {
            let (k, n) = model.shape(l);
            let len = (k * n) as f64;
            min_density[l] = min_density[l].min(out.stats.nonzero_weights[l] as f64 / len);
            min_changed[l] = min_changed[l].min(out.stats.changed_weights[l] as f64 / len);
            if l + 1 < layers {
                min_live[l] = min_live[l].min(out.stats.live_units[l] as f64 / n as f64);
                let values = (n as f64) * f64::from(out.stats.rows);
                density[l].push(f64::from(out.stats.active_activations[l]) / values);
            }
        }
        if let Err(e) = validate_step(&model, Liveness::MINIMUM, &out.stats) {
            rejected += 1;
            println!("step {i} rejected: {e}");
        }
        weights = out.weights;
        trajectory.push(weights.hash());
    }
    for (l, d) in density.iter_mut().enumerate() {
        d.sort_by(f64::total_cmp);
        let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize];
        println!(
            "hidden layer {l}: activation density min {:.4}, 0.1% {:.4}, 1% {:.4}, median {:.4}",
            at(0.0),
            at(0.001),
            at(0.01),
            at(0.5)
        );
    }
    println!(
        "{} batch {}: {steps} steps, {rejected} rejected; smallest fractions per layer: \
         non-zero weights {min_density:.4?}, live units {min_live:.4?}, changed weights {min_changed:.4?}",
        args[1],
        1 << batch_log2
    );
}
