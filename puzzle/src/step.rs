//! The training step `W' = step(W, seed)`: the normative integer reference.
//!
//! docs/puzzle.md §Step states the same algorithm in prose; the two must
//! agree. Every backend (candle CPU, CUDA, wasm) is tested bit-for-bit
//! against [`TrainingStep::run`].

use alloc::vec::Vec;

use crate::{
    batch::Batch,
    degeneracy::StepStats,
    error::{Error, Result},
    hash::{chunked_hash, tag, Hash},
    linalg,
    loss::{argmax, softmax_row, PROB_BITS},
    model::{Hyperparams, Model, INPUT_EXP},
    pow::Seed,
    prng::{derive_key, draw, Purpose},
    rounding::{
        activation_shift, dynamic_shift, max_abs, relu_sum, requantize_activation, round_error,
        update_shift, updated_weight,
    },
    weights::Weights,
};

/// What one step produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutcome {
    /// The weights after the step.
    pub weights: Weights,
    /// Cross-entropy of the batch before the update, summed over rows, in
    /// sixteenths of a bit.
    pub loss: u64,
    /// What the degeneracy rules look at ([`crate::degeneracy`]).
    pub stats: StepStats,
}

/// The forward pass of a batch, kept for the backward pass.
#[derive(Clone, Debug)]
pub struct Forward {
    /// Rows of the batch.
    pub rows: usize,
    /// Activations entering each layer (`rows × d_l`, int8 values as `i16`).
    pub activations: Vec<Vec<i16>>,
    /// Exponent of each layer's input activations.
    pub activation_exps: Vec<i32>,
    /// Pre-activations of every layer (`rows × d_{l+1}`); the last are logits.
    pub preactivations: Vec<Vec<i32>>,
    /// Exponent of the logits.
    pub logit_exp: i32,
    /// Non-zero compute weights of each layer.
    pub nonzero_weights: Vec<u32>,
    /// Units of each hidden layer with a non-zero activation for at least
    /// one row of the batch (one entry per hidden layer).
    pub live_units: Vec<u32>,
    /// Non-zero activations of each hidden layer over the whole batch
    /// (`rows × width` values; one entry per hidden layer).
    pub active_activations: Vec<u32>,
}

impl Forward {
    /// Runs the forward pass on `rows` inputs: `a_0 = pixel >> 1`
    /// (exponent −7); `z_l = a_l · W_l` (exponent `e_a + e_W`); hidden layers
    /// `a_{l+1} = min(RHU(relu(z_l), s), 127)` with `s` from
    /// [`activation_shift`].
    pub fn run(model: &Model, weights: &Weights, inputs: &[u8], rows: usize) -> Self {
        let mut activations = Vec::with_capacity(model.layers());
        let mut activation_exps = Vec::with_capacity(model.layers());
        let mut preactivations = Vec::with_capacity(model.layers());
        let mut nonzero_weights = Vec::with_capacity(model.layers());
        let mut live_units = Vec::with_capacity(model.layers().saturating_sub(1));
        let mut active_activations = Vec::with_capacity(model.layers().saturating_sub(1));
        let mut a: Vec<i16> = inputs.iter().map(|&p| (p >> 1) as i16).collect();
        let mut e = INPUT_EXP;
        for l in 0..model.layers() {
            let (k, n) = model.shape(l);
            let w = weights.compute_layer(l);
            nonzero_weights.push(count_nonzero(&w));
            let mut z = alloc::vec![0i32; rows * n];
            linalg::matmul(&a, &w, &mut z, rows, k, n);
            let ez = e + model.weight_exp(l);
            activations.push(a);
            activation_exps.push(e);
            if l + 1 < model.layers() {
                let s = activation_shift(relu_sum(&z), z.len());
                a = z
                    .iter()
                    .map(|&v| requantize_activation(v as i64, s) as i16)
                    .collect();
                live_units.push(count_live_units(&a, n));
                active_activations.push(count_nonzero(&a));
                e = ez + s as i32;
            } else {
                a = Vec::new();
                e = ez;
            }
            preactivations.push(z);
        }
        Self {
            rows,
            activations,
            activation_exps,
            preactivations,
            logit_exp: e,
            nonzero_weights,
            live_units,
            active_activations,
        }
    }

    /// The logits (`rows × classes`).
    pub fn logits(&self) -> &[i32] {
        &self.preactivations[self.preactivations.len() - 1]
    }

    /// The hash of its pre-activations ([`preactivations_hash`]).
    pub fn preactivations_hash(&self) -> Hash {
        preactivations_hash(self.preactivations.iter().map(Vec::as_slice))
    }
}

/// The pre-activations hash of a step (docs/puzzle.md §5): every layer's
/// pre-activations `z_0, …, z_{L−1}` (the last are the logits), each
/// `rows × d_{l+1}` row major, as signed 32-bit little-endian values one
/// layer after the other, hashed by [`chunked_hash`] with the tags
/// `"upow/preactivations/v1"` and `"upow/preactivations-chunk/v1"`.
///
/// Committing to it makes every pre-activation part of a step's result: a
/// step that skips some (a unit known to be dead or to fire rarely) cannot
/// give the hash (docs/v3.md §2.3).
pub fn preactivations_hash<'a>(layers: impl IntoIterator<Item = &'a [i32]>) -> Hash {
    let mut bytes = Vec::new();
    for z in layers {
        bytes.reserve(4 * z.len());
        for v in z {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    chunked_hash(tag::PREACTIVATIONS, tag::PREACTIVATIONS_CHUNK, &bytes)
}

/// One training step of a job: fixed model and hyper-parameters.
#[derive(Clone, Copy, Debug)]
pub struct TrainingStep<'a> {
    model: &'a Model,
    hyper: &'a Hyperparams,
}

impl<'a> TrainingStep<'a> {
    /// The step of a job.
    pub fn new(model: &'a Model, hyper: &'a Hyperparams) -> Self {
        Self { model, hyper }
    }

    /// Runs the step on `batch` from `weights` with the step's `seed`, as the
    /// job's step number `global_step` (it sets the learning rate).
    pub fn run(
        &self,
        weights: &Weights,
        batch: &Batch,
        seed: &Seed,
        global_step: u64,
    ) -> Result<StepOutcome> {
        let model = self.model;
        let layers = model.layers();
        let rows = self.hyper.batch();
        let mut start = StepStart::run(model, self.hyper, weights, batch, seed)?;
        let (mut err, mut err_exp) = (core::mem::take(&mut start.err), start.err_exp);
        let forward = &start.forward;

        let lr_shift = self.hyper.lr_shift_at(global_step);
        let mut next = weights.clone();
        let mut changed_weights = alloc::vec![0u32; layers];
        for l in (0..layers).rev() {
            let (k, n) = model.shape(l);
            let a = &forward.activations[l];
            let mut g = alloc::vec![0i32; k * n];
            linalg::matmul_at(a, &err, &mut g, rows, k, n);
            let g_exp = forward.activation_exps[l] + err_exp;

            // Back-propagate through the old weights before updating them.
            let propagated = if l > 0 {
                let w = weights.compute_layer(l);
                let mut d = alloc::vec![0i32; rows * k];
                linalg::matmul_bt(&err, &w, &mut d, rows, k, n);
                for (v, &z) in d.iter_mut().zip(&forward.preactivations[l - 1]) {
                    if z <= 0 {
                        *v = 0;
                    }
                }
                Some(round_error_tensor(
                    &d,
                    err_exp + model.weight_exp(l),
                    derive_key(&seed.0, Purpose::HiddenError, (l - 1) as u8),
                ))
            } else {
                None
            };

            let shift = update_shift(lr_shift, model.weight_exp(l), g_exp);
            let key = derive_key(&seed.0, Purpose::Update, l as u8);
            let mut changed = 0u32;
            for (i, (w, &gv)) in next.layer_mut(l).iter_mut().zip(&g).enumerate() {
                let updated = updated_weight(*w as i64, gv as i64, shift, draw(key, i as u64));
                changed += (updated != *w) as u32;
                *w = updated;
            }
            changed_weights[l] = changed;
            if let Some((e, ee)) = propagated {
                err = e;
                err_exp = ee;
            }
        }
        Ok(start.finish(next, changed_weights))
    }
}

/// What every implementation of the step starts with (the reference and
/// [`crate::SparseStep`]): the batch's shape checked, the forward pass, the
/// batch loss, and the output error rounded to int8.
pub(crate) struct StepStart {
    /// The forward pass.
    pub forward: Forward,
    /// Cross-entropy of the batch, summed over rows, in sixteenths of a bit.
    pub loss: u64,
    /// The output layer's error (`rows × classes`), int8 values as `i16`.
    pub err: Vec<i16>,
    /// Its exponent.
    pub err_exp: i32,
}

impl StepStart {
    /// Checks `batch` against the job's batch size and runs the forward pass
    /// and the output error: softmax gradient (exponent −12 − log2 B),
    /// rounded to int8.
    pub fn run(
        model: &Model,
        hyper: &Hyperparams,
        weights: &Weights,
        batch: &Batch,
        seed: &Seed,
    ) -> Result<Self> {
        let rows = hyper.batch();
        if batch.rows() != rows || batch.inputs.len() != rows * model.inputs() {
            return Err(Error::BatchSize {
                got: batch.rows(),
                expected: rows,
            });
        }
        let forward = Forward::run(model, weights, &batch.inputs, rows);
        let classes = model.classes();
        let mut grad = alloc::vec![0i32; rows * classes];
        let mut loss = 0u64;
        for ((z, g), &label) in forward
            .logits()
            .chunks_exact(classes)
            .zip(grad.chunks_exact_mut(classes))
            .zip(&batch.labels)
        {
            loss += softmax_row(z, forward.logit_exp, label as usize, Some(g));
        }
        let grad_exp = -(PROB_BITS as i32) - hyper.batch_log2() as i32;
        let (err, err_exp) = round_error_tensor(
            &grad,
            grad_exp,
            derive_key(&seed.0, Purpose::OutputError, (model.layers() - 1) as u8),
        );
        Ok(Self {
            forward,
            loss,
            err,
            err_exp,
        })
    }

    /// The step's outcome once the backward pass has given `weights` and
    /// the count of changed master weights per layer.
    pub fn finish(self, weights: Weights, changed_weights: Vec<u32>) -> StepOutcome {
        StepOutcome {
            weights,
            loss: self.loss,
            stats: StepStats {
                nonzero_weights: self.forward.nonzero_weights,
                live_units: self.forward.live_units,
                active_activations: self.forward.active_activations,
                // At most 2^10 rows (`MAX_BATCH_LOG2`).
                rows: self.forward.rows as u32,
                changed_weights,
            },
        }
    }
}

/// Number of non-zero values (at most 2^20 · 1024 < 2^32 in any tensor of a step).
fn count_nonzero(values: &[i16]) -> u32 {
    values.iter().filter(|&&v| v != 0).count() as u32
}

/// Columns of a row-major `rows × width` tensor with a non-zero value.
fn count_live_units(values: &[i16], width: usize) -> u32 {
    let mut live = alloc::vec![false; width];
    for row in values.chunks_exact(width) {
        for (unit, &v) in live.iter_mut().zip(row) {
            *unit |= v != 0;
        }
    }
    live.iter().filter(|&&l| l).count() as u32
}

/// Rounds an error tensor to int8 by stochastic rounding with its dynamic
/// shift; returns the rounded values and their exponent.
fn round_error_tensor(values: &[i32], exp: i32, key: u64) -> (Vec<i16>, i32) {
    let s = dynamic_shift(max_abs(values));
    let rounded = values
        .iter()
        .enumerate()
        .map(|(i, &v)| round_error(v as i64, s, draw(key, i as u64)) as i16)
        .collect();
    (rounded, exp + s as i32)
}

/// Accuracy and loss of a model on a labelled set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Samples whose largest logit is their label.
    pub correct: u64,
    /// Samples evaluated.
    pub total: u64,
    /// Summed cross-entropy, sixteenths of a bit.
    pub loss: u64,
}

impl Evaluation {
    /// Accuracy in [0, 1] (for display).
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }

    /// Mean cross-entropy in nats (for display).
    pub fn mean_loss_nats(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.loss as f64 / 16.0 / self.total as f64 * core::f64::consts::LN_2
        }
    }
}

/// Evaluates `weights` on `batch`, in consecutive chunks of `chunk` rows (the
/// last may be shorter): the forward pass's dynamic shifts make predictions
/// depend on the chunk, so the spec fixes it to the job's batch size.
pub fn evaluate(model: &Model, weights: &Weights, batch: &Batch, chunk: usize) -> Evaluation {
    let mut eval = Evaluation::default();
    let width = model.inputs();
    let classes = model.classes();
    let chunk = chunk.max(1);
    for (inputs, labels) in batch
        .inputs
        .chunks(chunk * width)
        .zip(batch.labels.chunks(chunk))
    {
        let forward = Forward::run(model, weights, inputs, labels.len());
        for (z, &label) in forward.logits().chunks_exact(classes).zip(labels) {
            eval.correct += (argmax(z) == label as usize) as u64;
            eval.loss += softmax_row(z, forward.logit_exp, label as usize, None);
            eval.total += 1;
        }
    }
    eval
}
