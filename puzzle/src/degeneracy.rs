//! The degeneracy rule: a proven step must be real training work.
//!
//! The step has fixed points and near-free inputs. All-zero master weights
//! map to themselves for every seed (a dead hidden layer back-propagates no
//! error), so a trajectory that reaches them "re-executes correctly" at no
//! cost; weights that are mostly zero, or a hidden layer whose units are
//! dead for the whole batch, let a sparse implementation skip most of the
//! products. A ticket must cost a real step (docs/puzzle.md §6), so every
//! proven step must pass [`validate_step`]:
//!
//! * **dense input weights:** every layer has at least
//!   `⌈len / MIN_DENSITY_INV⌉` non-zero compute weights;
//! * **a live network:** every hidden layer has at least
//!   `⌈width / MIN_LIVE_INV⌉` units that fire for some row of the batch;
//! * **it trains:** every layer has at least `⌈len / MIN_CHANGED_INV⌉`
//!   master weights changed by the step.
//!
//! The thresholds sit several times below what honest training shows on
//! jobs of the admitted batch sizes (≥ [`crate::model::MIN_JOB_BATCH_LOG2`];
//! measured on Fashion-MNIST, docs/benchmarks.md §Degeneracy): an honest
//! step practically never fails them (a miner that hits one restarts its
//! trajectory), while the fixed points and trivially sparse inputs always
//! do. What an attacker can still save on weights that pass is measured in
//! the same section; reaching such weights takes an unproven jump, which is
//! what fraud proofs are for.

use alloc::vec::Vec;

use crate::{
    error::{Degeneracy, Error, Result},
    model::Model,
};

/// What one step did, counted by [`crate::TrainingStep::run`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepStats {
    /// Non-zero compute weights of each layer before the step.
    pub nonzero_weights: Vec<u32>,
    /// Units of each hidden layer that fire for at least one row of the batch.
    pub live_units: Vec<u32>,
    /// Master weights of each layer the step changed.
    pub changed_weights: Vec<u32>,
}

/// A layer needs at least one non-zero compute weight in this many.
pub const MIN_DENSITY_INV: u64 = 2;
/// A hidden layer needs at least one live unit in this many.
pub const MIN_LIVE_INV: u64 = 32;
/// A layer needs at least one changed master weight in this many.
pub const MIN_CHANGED_INV: u64 = 256;

/// `⌈count / inv⌉`, at least 1.
fn required(count: u64, inv: u64) -> u64 {
    count.div_ceil(inv).max(1)
}

/// Checks a step's [`StepStats`] against the degeneracy rule.
pub fn validate_step(model: &Model, stats: &StepStats) -> Result<()> {
    let layers = model.layers();
    let shape_ok = stats.nonzero_weights.len() == layers
        && stats.changed_weights.len() == layers
        && stats.live_units.len() == layers - 1;
    if !shape_ok {
        return Err(Error::Malformed("step statistics of another model".into()));
    }
    let fail = |layer: usize, rule: Degeneracy, got: u32, need: u64| Error::Degenerate {
        layer: layer as u8,
        rule,
        got,
        need,
    };
    for l in 0..layers {
        let (k, n) = model.shape(l);
        let len = (k * n) as u64;
        let need = required(len, MIN_DENSITY_INV);
        if u64::from(stats.nonzero_weights[l]) < need {
            return Err(fail(
                l,
                Degeneracy::SparseWeights,
                stats.nonzero_weights[l],
                need,
            ));
        }
        if l + 1 < layers {
            let need = required(n as u64, MIN_LIVE_INV);
            if u64::from(stats.live_units[l]) < need {
                return Err(fail(l, Degeneracy::DeadLayer, stats.live_units[l], need));
            }
        }
        let need = required(len, MIN_CHANGED_INV);
        if u64::from(stats.changed_weights[l]) < need {
            return Err(fail(
                l,
                Degeneracy::NoUpdate,
                stats.changed_weights[l],
                need,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, Hyperparams, Seed, TrainingStep, Weights};

    fn stats(nonzero: [u32; 2], live: u32, changed: [u32; 2]) -> StepStats {
        StepStats {
            nonzero_weights: nonzero.to_vec(),
            live_units: alloc::vec![live],
            changed_weights: changed.to_vec(),
        }
    }

    #[test]
    fn thresholds_are_inclusive_per_layer() {
        // 64-32-4: layer 0 has 2048 weights, layer 1 has 128; 32 hidden units.
        let model = Model::new(&[64, 32, 4]).unwrap();
        let ok = stats([1024, 64], 1, [8, 1]);
        assert_eq!(validate_step(&model, &ok), Ok(()));
        let cases = [
            (
                stats([1023, 64], 1, [8, 1]),
                0,
                Degeneracy::SparseWeights,
                1023,
                1024,
            ),
            (
                stats([1024, 63], 1, [8, 1]),
                1,
                Degeneracy::SparseWeights,
                63,
                64,
            ),
            (stats([1024, 64], 0, [8, 1]), 0, Degeneracy::DeadLayer, 0, 1),
            (stats([1024, 64], 1, [7, 1]), 0, Degeneracy::NoUpdate, 7, 8),
            (stats([1024, 64], 1, [8, 0]), 1, Degeneracy::NoUpdate, 0, 1),
        ];
        for (s, layer, rule, got, need) in cases {
            assert_eq!(
                validate_step(&model, &s),
                Err(Error::Degenerate {
                    layer,
                    rule,
                    got,
                    need
                })
            );
        }
        let wrong_shape = StepStats::default();
        assert!(matches!(
            validate_step(&model, &wrong_shape),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn the_all_zero_fixed_point_is_degenerate_and_initial_weights_are_not() {
        let model = Model::new(&[16, 8, 4]).unwrap();
        let hyper = Hyperparams::new(4, 2, 100).unwrap();
        let batch = Batch {
            inputs: (0..16 * 16u32).map(|i| (i * 37 % 256) as u8).collect(),
            labels: (0..16u8).map(|i| i % 4).collect(),
        };
        let step = TrainingStep::new(&model, &hyper);
        let zero = Weights::zeros(&model);
        let out = step.run(&zero, &batch, &Seed([3; 32]), 0).unwrap();
        assert_eq!(out.weights, zero, "all-zero weights are a fixed point");
        assert!(matches!(
            validate_step(&model, &out.stats),
            Err(Error::Degenerate {
                rule: Degeneracy::SparseWeights,
                ..
            })
        ));
        let initial = Weights::initial(&model, &[1; 32]);
        let out = step.run(&initial, &batch, &Seed([3; 32]), 0).unwrap();
        assert_eq!(validate_step(&model, &out.stats), Ok(()));
    }
}
