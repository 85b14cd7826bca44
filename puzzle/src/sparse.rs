//! The host's fastest honest step: [`TrainingStep::run`]'s bits, skipping
//! every product, draw and update that is zero whatever its operands.
//!
//! docs/v3.md §2.2 prices a listed workload by the project's own fastest
//! kernel, so an honest speed-up that any miner could write must be in the
//! shipped miner, not left to an attacker. The reference step already skips
//! zero inputs and zero activations in its products; this kernel also skips
//!
//! * the back-propagated error of units whose pre-activation is `≤ 0` (the
//!   reference computes it, then zeroes it),
//! * zero error entries in the weight gradient `aᵀ · err` (dead units and
//!   errors that round to zero: often most of a hidden layer's errors),
//! * the stochastic-rounding draw of every zero error and every zero
//!   gradient (`SR(0) = 0` whatever the draw, docs/puzzle.md §3), so a
//!   weight whose gradient is zero is not touched.
//!
//! Nothing here is normative: [`TrainingStep::run`] is. The step is tested
//! bit for bit against it (`tests/sparse.rs`, random models, data and
//! sparsity), and `cargo bench -p upow-miner --bench shortcuts` times it
//! beside the reference, candle and the attacker's shortcuts.

use alloc::vec::Vec;

use crate::{
    batch::Batch,
    error::Result,
    model::{Hyperparams, Model},
    pow::Seed,
    prng::{derive_key, draw, Purpose},
    rounding::{dynamic_shift, max_abs, round_error, update_shift, updated_weight},
    step::{StepOutcome, StepStart},
    weights::Weights,
};

/// The step of a job, computed by the sparse kernel.
#[derive(Clone, Copy, Debug)]
pub struct SparseStep<'a> {
    model: &'a Model,
    hyper: &'a Hyperparams,
}

impl<'a> SparseStep<'a> {
    /// The step of a job.
    pub fn new(model: &'a Model, hyper: &'a Hyperparams) -> Self {
        Self { model, hyper }
    }

    /// What [`crate::TrainingStep::run`] returns for the same arguments.
    pub fn run(
        &self,
        weights: &Weights,
        batch: &Batch,
        seed: &Seed,
        global_step: u64,
    ) -> Result<StepOutcome> {
        let model = self.model;
        let layers = model.layers();
        let mut start = StepStart::run(model, self.hyper, weights, batch, seed)?;
        let (mut err, mut err_exp) = (core::mem::take(&mut start.err), start.err_exp);
        let forward = &start.forward;

        let lr_shift = self.hyper.lr_shift_at(global_step);
        let mut next = weights.clone();
        let mut changed_weights = alloc::vec![0u32; layers];
        for l in (0..layers).rev() {
            let (k, n) = model.shape(l);
            let error_rows = SparseRows::new(&err, n);
            let mut g = alloc::vec![0i32; k * n];
            gradient(&forward.activations[l], &error_rows, &mut g, k, n);
            let g_exp = forward.activation_exps[l] + err_exp;

            let propagated = if l > 0 {
                let w = weights.compute_layer(l);
                let d = back_propagate(&error_rows, &w, &forward.preactivations[l - 1], k, n);
                Some(round_sparse(
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
                if gv != 0 {
                    let updated = updated_weight(*w as i64, gv as i64, shift, draw(key, i as u64));
                    changed += (updated != *w) as u32;
                    *w = updated;
                }
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

/// A row-major `rows × width` error tensor with, per row, its non-zero
/// entries (column, value): the rows of a hidden layer's error are mostly
/// zeros (dead units, errors rounded to zero).
struct SparseRows<'e> {
    dense: &'e [i16],
    width: usize,
    /// `(column, value)` of the non-zero entries, row after row.
    entries: Vec<(u32, i16)>,
    /// Where each row's entries start in `entries` (`rows + 1` offsets).
    starts: Vec<usize>,
}

impl<'e> SparseRows<'e> {
    fn new(dense: &'e [i16], width: usize) -> Self {
        let mut entries = Vec::new();
        let mut starts = Vec::with_capacity(dense.len() / width.max(1) + 1);
        starts.push(0);
        for row in dense.chunks_exact(width) {
            entries.extend(
                row.iter()
                    .enumerate()
                    .filter(|(_, &v)| v != 0)
                    .map(|(j, &v)| (j as u32, v)),
            );
            starts.push(entries.len());
        }
        Self {
            dense,
            width,
            entries,
            starts,
        }
    }

    fn dense_row(&self, row: usize) -> &[i16] {
        &self.dense[row * self.width..(row + 1) * self.width]
    }

    fn sparse_row(&self, row: usize) -> &[(u32, i16)] {
        &self.entries[self.starts[row]..self.starts[row + 1]]
    }

    /// Whether a row is sparse enough that walking its entries beats the
    /// dense row (one gather-scatter per entry against a vector lane per
    /// column).
    fn is_sparse(&self, row: usize) -> bool {
        4 * self.sparse_row(row).len() < self.width
    }
}

/// `g[k×n] += aᵀ · err` for `a[rows×k]`: zero activations and zero errors
/// contribute nothing and are skipped.
fn gradient(a: &[i16], err: &SparseRows<'_>, g: &mut [i32], k: usize, n: usize) {
    for (row, a_row) in a.chunks_exact(k).enumerate() {
        if err.sparse_row(row).is_empty() {
            continue;
        }
        if err.is_sparse(row) {
            let entries = err.sparse_row(row);
            for (&x, g_row) in a_row.iter().zip(g.chunks_exact_mut(n)) {
                if x != 0 {
                    for &(j, e) in entries {
                        g_row[j as usize] += (x * e) as i32;
                    }
                }
            }
        } else {
            let e_row = err.dense_row(row);
            for (&x, g_row) in a_row.iter().zip(g.chunks_exact_mut(n)) {
                if x != 0 {
                    for (o, &e) in g_row.iter_mut().zip(e_row) {
                        *o += (x * e) as i32;
                    }
                }
            }
        }
    }
}

/// The error entering the layer below, `err · wᵀ` for `w[k×n]`, computed
/// only where the layer below's pre-activation `z[rows×k]` is positive (the
/// ReLU's derivative is zero elsewhere).
fn back_propagate(err: &SparseRows<'_>, w: &[i16], z: &[i32], k: usize, n: usize) -> Vec<i32> {
    let mut d = alloc::vec![0i32; z.len()];
    for (row, (d_row, z_row)) in d.chunks_exact_mut(k).zip(z.chunks_exact(k)).enumerate() {
        let entries = err.sparse_row(row);
        if entries.is_empty() {
            continue;
        }
        let sparse = err.is_sparse(row);
        let e_row = err.dense_row(row);
        for ((v, &zv), w_row) in d_row.iter_mut().zip(z_row).zip(w.chunks_exact(n)) {
            if zv > 0 {
                *v = if sparse {
                    entries
                        .iter()
                        .map(|&(j, e)| e as i32 * w_row[j as usize] as i32)
                        .sum()
                } else {
                    e_row
                        .iter()
                        .zip(w_row)
                        .map(|(&e, &x)| e as i32 * x as i32)
                        .sum()
                };
            }
        }
    }
    d
}

/// The reference's error rounding (`clamp(SR(v, s), ±127)` with the tensor's
/// dynamic shift), drawing only for non-zero values: `SR(0) = 0` for every
/// draw.
fn round_sparse(values: &[i32], exp: i32, key: u64) -> (Vec<i16>, i32) {
    let s = dynamic_shift(max_abs(values));
    let rounded = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v == 0 {
                0
            } else {
                round_error(v as i64, s, draw(key, i as u64)) as i16
            }
        })
        .collect();
    (rounded, exp + s as i32)
}
