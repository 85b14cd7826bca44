//! The cheapest step an attacker can run on weights that pass the
//! degeneracy rule (docs/puzzle.md §9), for measuring what the rule leaves.
//!
//! The weights are crafted for a 2-layer model: in the first layer, all but
//! `⌈width / 32⌉` hidden units (the fewest live units §9 allows) get strictly
//! negative weights. Inputs are never negative, so those units are dead for
//! every batch *without computing them*, while every layer stays dense (no
//! zero weight). The attacker's step then skips every product, draw and
//! update that involves a dead unit, and gets exactly the reference step's
//! output (checked by `puzzle/tests/attacks.rs`); `puzzle/benches/adversarial.rs`
//! times it against the reference step. Shared by both through `#[path]`.

use upow_puzzle::{
    linalg,
    loss::{softmax_row, PROB_BITS},
    model::INPUT_EXP,
    prng::{below, derive_key, draw, Purpose},
    rounding::{
        activation_shift, compute_weight, dynamic_shift, requantize_activation, round_error,
        update_shift, updated_weight, MASTER_BITS,
    },
    Batch, Hyperparams, Model, Seed, Weights,
};

/// Crafted weights of a 2-layer `model`: `live` units of the hidden layer
/// with strictly positive first-layer weights (they fire on any input that
/// is not all zero), every other unit with strictly negative ones (dead on
/// every input); a dense random output layer.
pub fn crafted_weights(model: &Model, live: usize, seed: u64) -> Weights {
    assert_eq!(model.layers(), 2, "crafted for 2-layer models");
    let (k, n) = model.shape(0);
    let r0 = model.init_bound(0) as u64;
    let first = (0..k * n)
        .map(|i| {
            let d = draw(seed, i as u64);
            let v = if i % n < live {
                1 + below(d, r0) as i64
            } else {
                -(1 + below(d, r0) as i64)
            };
            (v << MASTER_BITS) as i16
        })
        .collect();
    let (k1, n1) = model.shape(1);
    let r1 = model.init_bound(1) as u64;
    let second = (0..k1 * n1)
        .map(|i| {
            let v = below(draw(seed ^ 1, i as u64), 2 * r1 + 1) as i64 - r1 as i64;
            (v << MASTER_BITS) as i16
        })
        .collect();
    Weights::from_layers(model, vec![first, second]).expect("crafted weights are in range")
}

/// The attacker's step on [`crafted_weights`] with `live` live units: the
/// reference step's arithmetic, restricted to the live units.
pub fn sparse_step(
    model: &Model,
    hyper: &Hyperparams,
    weights: &Weights,
    live: usize,
    batch: &Batch,
    seed: &Seed,
    global_step: u64,
) -> Weights {
    let rows = hyper.batch();
    let (k, n) = model.shape(0);
    let classes = model.classes();
    // Compute weights of the live columns only (row-major `k × live`).
    let masters = weights.layer(0);
    let w0: Vec<i16> = (0..k)
        .flat_map(|i| (0..live).map(move |j| (i, j)))
        .map(|(i, j)| compute_weight(i64::from(masters[i * n + j])) as i16)
        .collect();
    let w1 = weights.compute_layer(1);
    let (e_w0, e_w1) = (model.weight_exp(0), model.weight_exp(1));

    // Forward, live units only: a dead unit's pre-activation is ≤ 0.
    let a0: Vec<i16> = batch.inputs.iter().map(|&p| (p >> 1) as i16).collect();
    let mut z0 = vec![0i32; rows * live];
    for (b, out) in z0.chunks_exact_mut(live).enumerate() {
        for (i, &x) in a0[b * k..(b + 1) * k].iter().enumerate() {
            if x != 0 {
                for (o, &w) in out.iter_mut().zip(&w0[i * live..(i + 1) * live]) {
                    *o += (x * w) as i32;
                }
            }
        }
    }
    let (a1, e1, z1) = hidden_and_logits(&z0, live, n, &w1, classes, INPUT_EXP + e_w0);

    let (err1, eps1) = output_error(&z1, e1 + e_w1, batch, hyper, seed);
    let lr_shift = hyper.lr_shift_at(global_step);
    let mut next: Vec<Vec<i16>> = weights.layers().to_vec();

    // Layer 1: the gradient's rows of dead units are zero (no update).
    update_last_layer(
        &mut next[1],
        &a1,
        &err1,
        live,
        update_shift(lr_shift, e_w1, e1 + eps1),
        derive_key(&seed.0, Purpose::Update, 1),
    );

    // Back-propagate to the live units only (dead ones have z ≤ 0).
    let mut d = vec![0i32; rows * live];
    for b in 0..rows {
        for j in 0..live {
            if z0[b * live + j] > 0 {
                d[b * live + j] = (0..classes)
                    .map(|c| err1[b * classes + c] as i32 * w1[j * classes + c] as i32)
                    .sum();
            }
        }
    }
    let s_d = dynamic_shift(d.iter().map(|v| v.unsigned_abs() as u64).max().unwrap_or(0));
    let key_hidden = derive_key(&seed.0, Purpose::HiddenError, 0);
    let err0: Vec<i16> = d
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (b, j) = (i / live, i % live);
            round_error(v as i64, s_d, draw(key_hidden, (b * n + j) as u64)) as i16
        })
        .collect();
    let eps0 = eps1 + e_w1 + s_d as i32;

    // Layer 0: only the live columns get a gradient.
    let shift0 = update_shift(lr_shift, e_w0, INPUT_EXP + eps0);
    let key0 = derive_key(&seed.0, Purpose::Update, 0);
    let mut g0 = vec![0i32; k * live];
    for b in 0..rows {
        let errors = &err0[b * live..(b + 1) * live];
        for (i, &x) in a0[b * k..(b + 1) * k].iter().enumerate() {
            if x != 0 {
                for (g, &e) in g0[i * live..(i + 1) * live].iter_mut().zip(errors) {
                    *g += (x * e) as i32;
                }
            }
        }
    }
    for (i, row) in g0.chunks_exact(live).enumerate() {
        for (j, &g) in row.iter().enumerate() {
            if g != 0 {
                let index = i * n + j;
                let w = &mut next[0][index];
                *w = updated_weight(*w as i64, g as i64, shift0, draw(key0, index as u64));
            }
        }
    }
    Weights::from_layers(model, next).expect("updates stay in range")
}

/// The reference's hidden activations, their exponent and the logits from
/// hidden pre-activations `z0` (`rows × width`: the units an attacker keeps
/// of a layer of `n`; the shift counts all `n`) of exponent `z0_exp`, and
/// the output layer's compute weights `w1`.
fn hidden_and_logits(
    z0: &[i32],
    width: usize,
    n: usize,
    w1: &[i16],
    classes: usize,
    z0_exp: i32,
) -> (Vec<i16>, i32, Vec<i32>) {
    let rows = z0.len() / width;
    let relu_sum: u64 = z0.iter().map(|&v| v.max(0) as u64).sum();
    let s = activation_shift(relu_sum, rows * n);
    let a1: Vec<i16> = z0
        .iter()
        .map(|&v| requantize_activation(v as i64, s) as i16)
        .collect();
    let mut z1 = vec![0i32; rows * classes];
    for b in 0..rows {
        for j in 0..width {
            let x = a1[b * width + j];
            if x != 0 {
                for c in 0..classes {
                    z1[b * classes + c] += (x * w1[j * classes + c]) as i32;
                }
            }
        }
    }
    (a1, z0_exp + s as i32, z1)
}

/// The output layer's error as the reference rounds it (int8 values as
/// `i16`) and its exponent, from the logits `z1` (`rows × classes`, exponent
/// `logit_exp`) of a two-layer model.
fn output_error(
    z1: &[i32],
    logit_exp: i32,
    batch: &Batch,
    hyper: &Hyperparams,
    seed: &Seed,
) -> (Vec<i16>, i32) {
    let classes = z1.len() / hyper.batch();
    let mut grad = vec![0i32; z1.len()];
    for ((z, g), &label) in z1
        .chunks_exact(classes)
        .zip(grad.chunks_exact_mut(classes))
        .zip(&batch.labels)
    {
        softmax_row(z, logit_exp, label as usize, Some(g));
    }
    let grad_exp = -(PROB_BITS as i32) - hyper.batch_log2() as i32;
    let s_out = dynamic_shift(
        grad.iter()
            .map(|v| v.unsigned_abs() as u64)
            .max()
            .unwrap_or(0),
    );
    let key_out = derive_key(&seed.0, Purpose::OutputError, 1);
    let err1 = grad
        .iter()
        .enumerate()
        .map(|(i, &v)| round_error(v as i64, s_out, draw(key_out, i as u64)) as i16)
        .collect();
    (err1, grad_exp + s_out as i32)
}

/// The last layer's update, as the reference, from hidden activations `a1`
/// (`rows × width`, the units an attacker keeps) and the output error:
/// the gradient's zero entries are skipped (no draw needed).
fn update_last_layer(
    layer: &mut [i16],
    a1: &[i16],
    err1: &[i16],
    width: usize,
    shift: u32,
    key: u64,
) {
    let rows = a1.len() / width;
    let classes = err1.len() / rows;
    let mut g1 = vec![0i32; width * classes];
    linalg::matmul_at(a1, err1, &mut g1, rows, width, classes);
    for (i, &g) in g1.iter().enumerate() {
        if g != 0 {
            let w = &mut layer[i];
            *w = updated_weight(*w as i64, g as i64, shift, draw(key, i as u64));
        }
    }
}

/// How a hidden unit of [`triggered_weights`] fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Strictly negative weights: dead on every input.
    Dead,
    /// Strictly positive weights: fires on any row that is not all zero.
    Always,
    /// Weight `+127` on this input, `−1` on the quiet inputs, `0` elsewhere:
    /// the pre-activation is `≤ 0` on every row where the input is zero, so
    /// the unit's activation there is known to be zero without computing
    /// it. Triggered on a rarely lit pixel, the unit is live (it fires on
    /// some row of most batches) while most of its activations are zero.
    OnInput(usize),
}

/// Crafted weights of a 2-layer `model` whose hidden units fire as `units`
/// says; `quiet` are the inputs that carry the triggered units' negative
/// weights (the least lit ones, at least half of the inputs, so that the
/// layer stays dense enough for the degeneracy rule); a dense random
/// output layer.
pub fn triggered_weights(model: &Model, units: &[Unit], quiet: &[usize], seed: u64) -> Weights {
    assert_eq!(model.layers(), 2, "crafted for 2-layer models");
    let (k, n) = model.shape(0);
    assert_eq!(units.len(), n, "one behaviour per hidden unit");
    let r0 = model.init_bound(0) as u64;
    let mut is_quiet = vec![false; k];
    for &i in quiet {
        is_quiet[i] = true;
    }
    let first = (0..k * n)
        .map(|index| {
            let (i, j) = (index / n, index % n);
            let magnitude = 1 + below(draw(seed, index as u64), r0) as i64;
            let v = match units[j] {
                Unit::Dead => -magnitude,
                Unit::Always => magnitude,
                Unit::OnInput(p) if p == i => 127,
                Unit::OnInput(_) if is_quiet[i] => -1,
                Unit::OnInput(_) => 0,
            };
            (v << MASTER_BITS) as i16
        })
        .collect();
    let second = crafted_weights(model, 0, seed).layers()[1].clone();
    Weights::from_layers(model, vec![first, second]).expect("crafted weights are in range")
}

/// What [`triggered_step`] gives: the step's weights (bit-exact with the
/// reference) and the pre-activations it computed (zero where it skipped
/// a unit, so not the reference's).
pub struct TriggeredStep {
    /// `W'`.
    pub weights: Weights,
    /// `z_0, z_1` as the attacker has them.
    pub preactivations: [Vec<i32>; 2],
}

/// The attacker's step on [`triggered_weights`]: the reference step's
/// arithmetic, computing a unit's pre-activation only on the rows where
/// it can fire (its trigger input is lit, or it always fires), and skipping
/// every zero error, gradient and draw as the honest sparse kernel does.
pub fn triggered_step(
    model: &Model,
    hyper: &Hyperparams,
    weights: &Weights,
    units: &[Unit],
    batch: &Batch,
    seed: &Seed,
    global_step: u64,
) -> TriggeredStep {
    let rows = hyper.batch();
    let (k, n) = model.shape(0);
    let classes = model.classes();
    // Compute weights of layer 0 by unit (column-major `n × k`).
    let masters = weights.layer(0);
    let mut w0t = vec![0i16; n * k];
    for i in 0..k {
        for j in 0..n {
            if units[j] != Unit::Dead {
                w0t[j * k + i] = compute_weight(i64::from(masters[i * n + j])) as i16;
            }
        }
    }
    let w1 = weights.compute_layer(1);
    let (e_w0, e_w1) = (model.weight_exp(0), model.weight_exp(1));

    // Forward: only the units that can fire on each row.
    let a0: Vec<i16> = batch.inputs.iter().map(|&p| (p >> 1) as i16).collect();
    let mut z0 = vec![0i32; rows * n];
    let mut lit: Vec<(usize, i16)> = Vec::with_capacity(k);
    for b in 0..rows {
        let row = &a0[b * k..(b + 1) * k];
        lit.clear();
        lit.extend(
            row.iter()
                .enumerate()
                .filter(|(_, &x)| x != 0)
                .map(|(i, &x)| (i, x)),
        );
        for (j, unit) in units.iter().enumerate() {
            let fires = match *unit {
                Unit::Dead => false,
                Unit::Always => true,
                Unit::OnInput(p) => row[p] != 0,
            };
            if fires {
                let w = &w0t[j * k..(j + 1) * k];
                z0[b * n + j] = lit.iter().map(|&(i, x)| (x * w[i]) as i32).sum();
            }
        }
    }
    let (a1, e1, z1) = hidden_and_logits(&z0, n, n, &w1, classes, INPUT_EXP + e_w0);

    let (err1, eps1) = output_error(&z1, e1 + e_w1, batch, hyper, seed);
    let lr_shift = hyper.lr_shift_at(global_step);
    let mut next: Vec<Vec<i16>> = weights.layers().to_vec();

    // Layer 1.
    update_last_layer(
        &mut next[1],
        &a1,
        &err1,
        n,
        update_shift(lr_shift, e_w1, e1 + eps1),
        derive_key(&seed.0, Purpose::Update, 1),
    );

    // Back-propagate to the units that fired (the others have z ≤ 0).
    let mut d = vec![0i32; rows * n];
    for (index, dv) in d.iter_mut().enumerate() {
        if z0[index] > 0 {
            let (b, j) = (index / n, index % n);
            *dv = (0..classes)
                .map(|c| err1[b * classes + c] as i32 * w1[j * classes + c] as i32)
                .sum();
        }
    }
    let s_d = dynamic_shift(d.iter().map(|v| v.unsigned_abs() as u64).max().unwrap_or(0));
    let key_hidden = derive_key(&seed.0, Purpose::HiddenError, 0);
    let err0: Vec<i16> = d
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v == 0 {
                0
            } else {
                round_error(v as i64, s_d, draw(key_hidden, i as u64)) as i16
            }
        })
        .collect();
    let eps0 = eps1 + e_w1 + s_d as i32;

    // Layer 0: gradients of the non-zero errors only.
    let shift0 = update_shift(lr_shift, e_w0, INPUT_EXP + eps0);
    let key0 = derive_key(&seed.0, Purpose::Update, 0);
    let mut g0 = vec![0i32; k * n];
    let mut errors: Vec<(usize, i32)> = Vec::with_capacity(n);
    for b in 0..rows {
        errors.clear();
        errors.extend(
            err0[b * n..(b + 1) * n]
                .iter()
                .enumerate()
                .filter(|(_, &e)| e != 0)
                .map(|(j, &e)| (j, i32::from(e))),
        );
        if errors.is_empty() {
            continue;
        }
        for (i, &x) in a0[b * k..(b + 1) * k].iter().enumerate() {
            if x != 0 {
                let gradients = &mut g0[i * n..(i + 1) * n];
                for &(j, e) in &errors {
                    gradients[j] += i32::from(x) * e;
                }
            }
        }
    }
    for (index, &g) in g0.iter().enumerate() {
        if g != 0 {
            let w = &mut next[0][index];
            *w = updated_weight(*w as i64, g as i64, shift0, draw(key0, index as u64));
        }
    }
    TriggeredStep {
        weights: Weights::from_layers(model, next).expect("updates stay in range"),
        preactivations: [z0, z1],
    }
}

/// How many samples of `data` light each input (its activation `p >> 1`
/// non-zero).
pub fn lit_counts(data: &upow_puzzle::Dataset) -> Vec<u64> {
    // An encoded sample is `label ‖ inputs`.
    let mut lit = vec![0u64; data.sample_len() - 1];
    for s in 0..data.len() {
        for (count, &p) in lit.iter_mut().zip(&data.sample(s).expect("in range")[1..]) {
            *count += u64::from(p >> 1 != 0);
        }
    }
    lit
}

/// `weights` with first-layer weights set to zero on the most lit inputs
/// of `data` — the most lit first, all of an input's weights at a time —
/// as many as `liveness`'s non-zero-weights threshold lets the layer lose:
/// the zeros that save a zero-skipping forward pass the most products
/// (docs/v3.md §2.3). Returns the weights and, per input, whether its
/// weights are all zero now.
pub fn zeros_on_lit_inputs(
    model: &Model,
    weights: &Weights,
    data: &upow_puzzle::Dataset,
    liveness: upow_puzzle::Liveness,
) -> (Weights, Vec<bool>) {
    let (k, n) = model.shape(0);
    let compute = weights.compute_layer(0);
    let nonzero = compute.iter().filter(|&&w| w != 0).count() as u64;
    let mut spare = nonzero.saturating_sub(liveness.required_nonzero_weights((k * n) as u64));
    let lit = lit_counts(data);
    let mut most_lit: Vec<usize> = (0..k).collect();
    most_lit.sort_by_key(|&j| (std::cmp::Reverse(lit[j]), j));
    let mut first = weights.layer(0).to_vec();
    let mut zeroed = vec![false; k];
    for j in most_lit {
        // Input `j`'s weights to every unit (row-major, `k × n`).
        let column = j * n..(j + 1) * n;
        let cost = column.clone().filter(|&i| compute[i] != 0).count() as u64;
        if cost > spare {
            break;
        }
        first[column].fill(0);
        spare -= cost;
        zeroed[j] = true;
    }
    let mut layers = weights.layers().to_vec();
    layers[0] = first;
    let zeros = Weights::from_layers(model, layers).expect("zero is in range");
    (zeros, zeroed)
}

/// Units for [`triggered_weights`] on `data`: `always` units that always
/// fire, then `width − always` units triggered in turn on the
/// `⌈width / 4⌉` inputs whose lit frequency in `data` is nearest to
/// `frequency`; and the quiet inputs: the least lit half of the others
/// (ties by index). Returns `(units, quiet)`.
pub fn units_on_inputs_lit(
    data: &upow_puzzle::Dataset,
    width: usize,
    always: usize,
    frequency: f64,
) -> (Vec<Unit>, Vec<usize>) {
    let lit = lit_counts(data);
    let k = lit.len();
    let samples = data.len() as f64;
    let distance = |i: usize| (lit[i] as f64 / samples - frequency).abs();
    let mut by_distance: Vec<usize> = (0..k).collect();
    by_distance.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)).then(a.cmp(&b)));
    let (triggers, others) = by_distance.split_at(width.div_ceil(4));
    assert!(others.len() >= k.div_ceil(2), "half of the inputs quiet");
    let mut quiet = others.to_vec();
    quiet.sort_by_key(|&i| (lit[i], i));
    quiet.truncate(k.div_ceil(2));
    let units = (0..width)
        .map(|j| match j < always {
            true => Unit::Always,
            false => Unit::OnInput(triggers[j % triggers.len()]),
        })
        .collect();
    (units, quiet)
}
