//! The shortcut table of docs/v3.md §2.2 and the cost of a workload,
//! measured: for each workload, at an early, a middle and a late checkpoint
//! of its learning-rate schedule, the time of one step with every honest
//! kernel the project ships (the normative reference, the sparse host
//! kernel, candle on the CPU, one thread each) and with the attacker's
//! shortcuts, side by side in one run. Prints a table; run with
//!
//!     cargo bench -p upow-miner --bench shortcuts
//!
//! * `ρ` of a shortcut is the best honest time at that checkpoint over the
//!   shortcut's time: how much more difficulty per second it buys (listing
//!   needs every `ρ ≤ 1.25`).
//! * Crafted weights (2-layer models): `live` of the hidden units fire, the
//!   others are dead on every input. Two attackers: the integer one
//!   (`adversarial::sparse_step`, bit-exact, checked) and a float one
//!   bounded from above (candle on the live sub-model plus the full weights'
//!   hash; not bit-exact, so only its time means anything: a lower bound on
//!   any float kernel restricted to the live units).
//! * Crafted rare firing (2-layer models): hidden units triggered on one
//!   input lit in a fraction of the samples (the others, if any, firing on
//!   every row), a triggered unit's other weights `≤ 0`,
//!   so its activation is known to be zero on every row where that input
//!   is dark; the integer attacker (`adversarial::triggered_step`,
//!   bit-exact, checked) computes only the others, and a bound on any
//!   attacker: the sparse kernel's step on the crafted weights less the
//!   forward pass's time on the activations known to be zero (as if skipping
//!   them were free). Rows are printed with
//!   the live units and activation density of their first batch; those
//!   with fewer live units than the house workload's threshold are not
//!   timed, those under its density threshold are marked refused.
//! * Zeros at the non-zero-weights threshold (every workload): the
//!   checkpoint's weights with as many first-layer zeros as the house `ν`
//!   allows, on the most lit inputs (`adversarial::zeros_on_lit_inputs`);
//!   a bound on any zero-skipping attacker: the sparse kernel's step on
//!   them less the forward pass's share of the products those zeros
//!   multiply, as if skipping them were free.
//! * `cost` is docs/v3.md §2.2's `2^16 · min over checkpoints of t_best(w, c)
//!   / mean over checkpoints of t_best(ref, c)` on this machine's CPU, the
//!   reference workload being the first (the house workload).
//!
//! Data: the house workload (the unit) runs on Fashion-MNIST's training set
//! (`UPOW_FASHION_MNIST`, default Debian's `/usr/share/datasets/fashion-mnist`;
//! else a synthetic set with its density, half the pixels zero); the others
//! on `UPOW_SHORTCUT_DATA` (an IDX directory's training split: a workload is
//! measured on its own dataset, a cost measured on other data means
//! nothing), by default the house's data. Knobs: `UPOW_BENCH_SECONDS` per
//! measurement (default 1), `UPOW_SHORTCUT_EPOCHS` in each workload's plan
//! (default 4; the house plan is 40: the checkpoints keep their phases),
//! `UPOW_SHORTCUT_WORKLOADS` the workloads after the house one.

// A bench binary: unwrapping is fine.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

// The attacker's pre-activations (`TriggeredStep::preactivations`) are the
// attack tests' concern; this bench times the steps.
#[path = "../../puzzle/tests/common/adversarial.rs"]
#[allow(dead_code)]
mod adversarial;

use std::{path::PathBuf, time::Duration};

use upow_miner::{
    backend::{self, BackendKind},
    bench::time_for,
};
use upow_puzzle::{
    batch::select_batch,
    idx::{load_split, Split},
    prng::draw,
    step::Forward,
    validate_step, Batch, Dataset, Hash, Hyperparams, JobSpec, Liveness, Model, Seed, SparseStep,
    TrainingStep, Weights,
};

/// Batches (and their seeds) the timed steps cycle through.
const BATCHES: usize = 16;

struct Workload {
    dims: Vec<u32>,
    batch_log2: u32,
    lr_shift: u32,
}

/// The house workload first (the reference of `cost`), then others a
/// catalogue could list; `UPOW_SHORTCUT_WORKLOADS` replaces the others
/// (`784-64-10/6/2,784-128-10/8/2`: model/log2 batch/lr_shift).
fn workloads() -> Vec<Workload> {
    let house = Workload {
        dims: vec![784, 128, 10],
        batch_log2: 6,
        lr_shift: 2,
    };
    let parse = |text: &str| {
        let parts: Vec<&str> = text.split('/').collect();
        let [dims, batch_log2, lr_shift] = parts[..] else {
            panic!("UPOW_SHORTCUT_WORKLOADS: {text:?} is not model/log2 batch/lr_shift");
        };
        Workload {
            dims: dims.split('-').map(|d| d.parse().unwrap()).collect(),
            batch_log2: batch_log2.parse().unwrap(),
            lr_shift: lr_shift.parse().unwrap(),
        }
    };
    let others: Vec<Workload> = match std::env::var("UPOW_SHORTCUT_WORKLOADS") {
        Ok(list) => list.split(',').map(parse).collect(),
        Err(_) => ["784-32-10/6/2", "784-256-128-10/6/2", "784-128-10/8/2"]
            .into_iter()
            .map(parse)
            .collect(),
    };
    std::iter::once(house).chain(others).collect()
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The training split of the IDX directory `dir`, and its description.
fn idx_data(dir: PathBuf) -> Option<(Dataset, String)> {
    let data = load_split(&dir, Split::Train).ok()?;
    Some((data, format!("IDX training split of {}", dir.display())))
}

/// What a dataset is, for the table's header.
fn describe(data: &Dataset, source: &str) -> String {
    let pixels = data.len() * (data.sample_len() - 1);
    let zeros = data
        .encoded()
        .chunks_exact(data.sample_len())
        .flat_map(|s| &s[1..])
        .filter(|&&p| p == 0)
        .count();
    format!(
        "{source}, {} samples, {:.1}% of pixels zero",
        data.len(),
        100.0 * zeros as f64 / pixels as f64
    )
}

fn synthetic() -> (Dataset, String) {
    let samples = 60_000usize;
    let labels: Vec<u8> = (0..samples).map(|i| (i % 10) as u8).collect();
    let pixels: Vec<u8> = (0..samples * 784)
        .map(|i| {
            let v = draw(42, i as u64);
            if v & 1 == 0 {
                0
            } else {
                (v >> 56) as u8
            }
        })
        .collect();
    (
        Dataset::new(784, &labels, &pixels).unwrap(),
        "synthetic, half the pixels zero".into(),
    )
}

fn seed(t: u64) -> Seed {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&draw(0x5eed ^ i as u64, t).to_le_bytes());
    }
    Seed(bytes)
}

/// Seconds per step of a kernel stepping on from its checkpoint through
/// `batches` (step numbers from `first_step`). `step` advances the kernel's
/// own weights and returns their hash: every kernel publishes the hash of
/// what it computed.
fn time_steps(
    budget: Duration,
    batches: &[(Seed, Batch)],
    first_step: u64,
    mut step: impl FnMut(&Batch, &Seed, u64) -> Hash,
) -> f64 {
    let mut i = 0usize;
    let timing = time_for(budget, || {
        let (seed, batch) = &batches[i % batches.len()];
        std::hint::black_box(step(batch, seed, first_step + i as u64));
        i += 1;
        Ok(())
    })
    .unwrap();
    timing.seconds / timing.iterations as f64
}

/// [`time_steps`] of a host kernel `run(weights, batch, seed, t)`.
fn time_host(
    budget: Duration,
    start: &Weights,
    batches: &[(Seed, Batch)],
    first_step: u64,
    mut run: impl FnMut(&Weights, &Batch, &Seed, u64) -> Weights,
) -> f64 {
    let mut weights = start.clone();
    time_steps(budget, batches, first_step, |b, s, t| {
        weights = run(&weights, b, s, t);
        weights.hash()
    })
}

/// A float attacker on crafted weights with `live` live hidden units (the
/// first ones): candle's CPU step run on the live sub-model only
/// (`inputs-live-classes`, the live units' weights) plus the hash of the
/// full weights, which every step must publish. Its stochastic rounding
/// draws by position in the sub-model, so it is *not* bit-exact: the time
/// is a lower bound on what a bit-exact float kernel restricted to the live
/// units could take (its own sub-model hash, about `live / width` of the
/// full one, is the only work it does that such a kernel would not), so
/// its `ρ` bounds that attacker's from above.
fn float_attacker_seconds(
    budget: Duration,
    model: &Model,
    hyper: &Hyperparams,
    crafted: &Weights,
    live: usize,
    batches: &[(Seed, Batch)],
    first_step: u64,
) -> f64 {
    let (inputs, width) = model.shape(0);
    let (_, classes) = model.shape(1);
    let sub_model = Model::new(&[inputs as u32, live as u32, classes as u32]).unwrap();
    let first: Vec<i16> = crafted
        .layer(0)
        .chunks_exact(width)
        .flat_map(|row| row[..live].to_vec())
        .collect();
    let second: Vec<i16> = crafted.layer(1)[..live * classes].to_vec();
    let sub_weights = Weights::from_layers(&sub_model, vec![first, second]).unwrap();
    let mut cpu = backend::create(BackendKind::Cpu, 0, &sub_model, hyper, &sub_weights).unwrap();
    let full = crafted.clone();
    time_steps(budget, batches, first_step, |b, s, t| {
        std::hint::black_box(cpu.step(b, s, t).unwrap().weights_hash);
        full.hash()
    })
}

/// A bound on any attacker that skips `skipped` of the forward pass's
/// work on `weights`: the sparse kernel's step on them less that share of
/// the forward pass's time, as if skipping it were free. (Each timed step
/// starts from `weights`, as a planter's would.)
fn skip_bound_seconds(
    budget: Duration,
    batches: &[(Seed, Batch)],
    at: u64,
    model: &Model,
    sparse: &SparseStep,
    weights: &Weights,
    skipped: f64,
) -> f64 {
    let sparse_seconds = time_steps(budget, batches, at, |b, s, t| {
        sparse.run(weights, b, s, t).unwrap().weights.hash()
    });
    let forward_seconds = time_steps(budget, batches, at, |b, _, _| {
        forward_digest(&Forward::run(model, weights, &b.inputs, b.rows()))
    });
    sparse_seconds - forward_seconds * skipped
}

/// Something of a forward pass's first pre-activations for the timer to
/// keep (a forward pass alone publishes nothing).
fn forward_digest(forward: &Forward) -> Hash {
    let folded = forward.preactivations[0].iter().fold(0, |x, &z| x ^ z);
    let mut hash: Hash = [0; 32];
    hash[..4].copy_from_slice(&folded.to_le_bytes());
    hash
}

/// The share of the forward passes' products over `batches` that multiply
/// a first-layer weight of a `dark` input (all its weights zero): products
/// of layer `l` are `Σ_rows (non-zero activations entering l) · d_{l+1}`,
/// as the kernels skip zero inputs and activations.
fn skipped_forward_share(
    model: &Model,
    weights: &Weights,
    batches: &[(Seed, Batch)],
    dark: &[bool],
) -> f64 {
    let (mut skipped, mut total) = (0u64, 0u64);
    for (_, batch) in batches {
        let forward = Forward::run(model, weights, &batch.inputs, batch.rows());
        for l in 0..model.layers() {
            let (inputs, outputs) = model.shape(l);
            for row in forward.activations[l].chunks_exact(inputs) {
                let lit = row.iter().filter(|&&a| a != 0).count() as u64;
                total += lit * outputs as u64;
                if l == 0 {
                    let lit_dark = row.iter().zip(dark).filter(|&(&a, &d)| a != 0 && d).count();
                    skipped += lit_dark as u64 * outputs as u64;
                }
            }
        }
    }
    skipped as f64 / total as f64
}

struct Row {
    checkpoint: &'static str,
    step: u64,
    kernel: String,
    honest: bool,
    seconds: f64,
}

fn main() {
    // One thread for candle, as the host kernels.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    let budget = Duration::from_secs_f64(env_f64("UPOW_BENCH_SECONDS", 1.0));
    let epochs = env_f64("UPOW_SHORTCUT_EPOCHS", 4.0);
    let fashion = std::env::var_os("UPOW_FASHION_MNIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"));
    let (house_data, house_source) = idx_data(fashion).unwrap_or_else(synthetic);
    let other = std::env::var_os("UPOW_SHORTCUT_DATA").map(|dir| {
        let dir = PathBuf::from(dir);
        idx_data(dir.clone()).unwrap_or_else(|| {
            panic!(
                "UPOW_SHORTCUT_DATA: no IDX training split in {}",
                dir.display()
            )
        })
    });
    println!(
        "house data: {}; {} s per measurement; plans of {epochs} epochs; one thread each",
        describe(&house_data, &house_source),
        budget.as_secs_f64()
    );
    if let Some((data, source)) = &other {
        println!("other workloads' data: {}", describe(data, source));
    }

    let mut reference_mean = None;
    for (i, workload) in workloads().into_iter().enumerate() {
        let data = match &other {
            Some((data, _)) if i > 0 => data,
            _ => &house_data,
        };
        let model = Model::new(&workload.dims).unwrap();
        let batch = 1u64 << workload.batch_log2;
        let total = ((epochs * data.len() as f64) / batch as f64)
            .ceil()
            .max(8.0) as u64;
        let hyper = Hyperparams::new(workload.batch_log2, workload.lr_shift, total).unwrap();
        let spec = JobSpec::new(model.clone(), hyper, data.commitment()).unwrap();
        let reference = TrainingStep::new(&model, &hyper);
        let sparse = SparseStep::new(&model, &hyper);

        // Train to each checkpoint with the sparse kernel (its bits are the
        // reference's: checked at every checkpoint below).
        let checkpoints = [
            ("early", 0u64),
            ("middle", total / 2),
            ("late", total * 7 / 8),
        ];
        let mut weights = Weights::initial(&model, &[1; 32]);
        let mut trained = 0u64;
        let mut rows = Vec::new();
        for (checkpoint, at) in checkpoints {
            while trained < at {
                let s = seed(trained);
                let b = select_batch(&spec, data, &s).unwrap();
                weights = sparse.run(&weights, &b, &s, trained).unwrap().weights;
                trained += 1;
            }
            let batches: Vec<(Seed, Batch)> = (0..BATCHES as u64)
                .map(|i| {
                    let s = seed(at + i);
                    let b = select_batch(&spec, data, &s).unwrap();
                    (s, b)
                })
                .collect();
            let (s0, b0) = &batches[0];
            assert_eq!(
                sparse.run(&weights, b0, s0, at).unwrap(),
                reference.run(&weights, b0, s0, at).unwrap(),
                "the sparse kernel gives the reference's bits"
            );
            let mut row = |kernel: &str, honest: bool, seconds: f64| {
                rows.push(Row {
                    checkpoint,
                    step: at,
                    kernel: kernel.to_string(),
                    honest,
                    seconds,
                })
            };
            row(
                "reference",
                true,
                time_host(budget, &weights, &batches, at, |w, b, s, t| {
                    reference.run(w, b, s, t).unwrap().weights
                }),
            );
            row(
                "sparse: zero errors, gradients, dead backprop skipped",
                true,
                time_host(budget, &weights, &batches, at, |w, b, s, t| {
                    sparse.run(w, b, s, t).unwrap().weights
                }),
            );
            let mut cpu = backend::create(BackendKind::Cpu, 0, &model, &hyper, &weights).unwrap();
            row(
                "candle cpu",
                true,
                time_steps(budget, &batches, at, |b, s, t| {
                    cpu.step(b, s, t).unwrap().weights_hash
                }),
            );

            // Zero weights at the house non-zero-weights threshold ν
            // (docs/v3.md §2.3): the checkpoint's weights with the first
            // layer's allowed zeros on the most lit inputs. A bound on any
            // attacker of these weights: the sparse kernel's step on them,
            // less the forward pass's share of the products that multiply
            // those zeros, as if skipping them cost nothing. (Planting them
            // is a jump no honest step makes, and a step moves them.)
            {
                let house = upow_puzzle::REFERENCE_LIVENESS;
                let (zeroed, dark) =
                    adversarial::zeros_on_lit_inputs(&model, &weights, data, house);
                let out = reference.run(&zeroed, b0, s0, at).unwrap();
                let verdict = match validate_step(&model, house, &out.stats) {
                    Ok(()) => "",
                    Err(_) => " (refused)",
                };
                let skipped = skipped_forward_share(&model, &zeroed, &batches, &dark);
                row(
                    &format!(
                        "zeros at ν on {} most lit inputs, {:.1}% of forward, bound{verdict}",
                        dark.iter().filter(|&&d| d).count(),
                        100.0 * skipped
                    ),
                    false,
                    skip_bound_seconds(budget, &batches, at, &model, &sparse, &zeroed, skipped),
                );
            }

            // Crafted dead units (2-layer models): the fewest live units
            // puzzle.md §9 admits, and the live fractions of docs/v3.md §2.3.
            if model.layers() == 2 {
                let width = workload.dims[1] as usize;
                for live in [width.div_ceil(32), width / 2, width * 2 / 3, width * 3 / 4] {
                    let crafted = adversarial::crafted_weights(&model, live, 7);
                    let out = reference.run(&crafted, b0, s0, at).unwrap();
                    if validate_step(&model, Liveness::MINIMUM, &out.stats).is_err() {
                        continue;
                    }
                    assert_eq!(
                        adversarial::sparse_step(&model, &hyper, &crafted, live, b0, s0, at),
                        out.weights,
                        "the attacker's step is bit-exact"
                    );
                    row(
                        &format!("crafted {live}/{width} live, attacker's step"),
                        false,
                        time_host(budget, &crafted, &batches, at, |w, b, s, t| {
                            adversarial::sparse_step(&model, &hyper, w, live, b, s, t)
                        }),
                    );
                    row(
                        &format!("crafted {live}/{width} live, float attacker (bound)"),
                        false,
                        float_attacker_seconds(
                            budget, &model, &hyper, &crafted, live, &batches, at,
                        ),
                    );
                }
                // Crafted rare firing: units triggered on an input lit in
                // about `frequency` of the samples, so they are live while
                // most of their activations are zero and known in advance
                // (docs/v3.md §2.3); mixed with `always` units that fire on
                // every row (the density threshold's activations bought
                // where they cost least per activation). Each timed step
                // starts from the crafted weights (a step moves them), as
                // a planter's would.
                let eighth = width / 8;
                let configurations = [
                    (0, 0.08),
                    (0, 0.125),
                    (0, 0.16),
                    (0, 0.21),
                    (eighth, 0.01),
                    (eighth, 0.03),
                    (eighth + eighth / 2, 0.01),
                ];
                for (always, frequency) in configurations {
                    let (units, quiet) =
                        adversarial::units_on_inputs_lit(data, width, always, frequency);
                    let crafted = adversarial::triggered_weights(&model, &units, &quiet, 7);
                    let out = reference.run(&crafted, b0, s0, at).unwrap();
                    let house = upow_puzzle::REFERENCE_LIVENESS;
                    let live_only = Liveness::new(
                        Liveness::MINIMUM.nonzero_weights_per_1024(),
                        house.live_units_per_1024(),
                        0,
                    )
                    .unwrap();
                    if validate_step(&model, live_only, &out.stats).is_err() {
                        continue;
                    }
                    let verdict = match validate_step(&model, house, &out.stats) {
                        Ok(()) => "",
                        Err(_) => " (refused)",
                    };
                    assert_eq!(
                        adversarial::triggered_step(&model, &hyper, &crafted, &units, b0, s0, at)
                            .weights,
                        out.weights,
                        "the attacker's step is bit-exact"
                    );
                    let density = f64::from(out.stats.active_activations[0])
                        / (f64::from(out.stats.rows) * width as f64);
                    row(
                        &format!(
                            "rare firing ({always} always), {}/{width} live, {:.1}% active{verdict}",
                            out.stats.live_units[0],
                            100.0 * density
                        ),
                        false,
                        time_steps(budget, &batches, at, |b, s, t| {
                            adversarial::triggered_step(&model, &hyper, &crafted, &units, b, s, t)
                                .weights
                                .hash()
                        }),
                    );
                    // A bound on any attacker of these weights: the honest
                    // sparse kernel's step on them, less the forward pass's
                    // share of the activations known to be zero, as if
                    // skipping them cost nothing.
                    row(
                        &format!(
                            "rare firing ({always} always), {:.1}% active, bound{verdict}",
                            100.0 * density
                        ),
                        false,
                        skip_bound_seconds(
                            budget,
                            &batches,
                            at,
                            &model,
                            &sparse,
                            &crafted,
                            1.0 - density,
                        ),
                    );
                }
            }
        }

        // The table of this workload.
        println!();
        println!(
            "{model} batch {batch} lr_shift {} (plan {total} steps)",
            workload.lr_shift
        );
        println!(
            "{:<8} {:>6}  {:<62} {:>10} {:>6}",
            "phase", "step", "kernel", "µs/step", "ρ"
        );
        let best_at = |checkpoint: &str| {
            rows.iter()
                .filter(|r| r.honest && r.checkpoint == checkpoint)
                .map(|r| r.seconds)
                .fold(f64::INFINITY, f64::min)
        };
        for r in &rows {
            let best = best_at(r.checkpoint);
            println!(
                "{:<8} {:>6}  {:<62} {:>10.1} {:>6}",
                r.checkpoint,
                r.step,
                if r.honest {
                    format!("{} (honest)", r.kernel)
                } else {
                    r.kernel.clone()
                },
                r.seconds * 1e6,
                format!("{:.2}", best / r.seconds),
            );
        }
        let bests: Vec<f64> = checkpoints.iter().map(|(c, _)| best_at(c)).collect();
        let mean = bests.iter().sum::<f64>() / bests.len() as f64;
        let min = bests.iter().copied().fold(f64::INFINITY, f64::min);
        let reference_mean = *reference_mean.get_or_insert(mean);
        let shortcut_best = rows
            .iter()
            .filter(|r| !r.honest)
            .map(|r| best_at(r.checkpoint) / r.seconds)
            .fold(0.0f64, f64::max);
        println!(
            "cost (CPU) = 2^16 · {:.1} µs / {:.1} µs = {:.0} units (nominal {}); best shortcut ρ {:.2}",
            min * 1e6,
            reference_mean * 1e6,
            65536.0 * min / reference_mean,
            upow_puzzle::cost::nominal_cost(&model, batch as usize),
            shortcut_best,
        );
    }
}
