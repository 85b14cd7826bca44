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
//! * **dense weights:** every layer has at least `⌈len / MIN_DENSITY_INV⌉`
//!   non-zero compute weights, and at least its workload's [`Liveness`]
//!   fraction of them (docs/v3.md §2.3: zero weights are products a kernel
//!   on sparse weights skips, and pre-activations known to be zero);
//! * **a live network:** every hidden layer has at least
//!   `⌈width / MIN_LIVE_INV⌉` units that fire for some row of the batch, and
//!   at least its workload's [`Liveness`] fraction of them (docs/v3.md
//!   §2.3: a listed workload sets it from its shortcut table, so weights
//!   crafted with most units dead cannot make its steps cheap);
//! * **active activations:** every hidden layer has at least its workload's
//!   [`Liveness`] fraction of non-zero activations over the batch (none for
//!   the rule alone), so units crafted to fire only on rarely lit inputs —
//!   live, but with most activations zero and known in advance — are
//!   bounded too;
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
    /// Non-zero activations of each hidden layer over the batch, out of
    /// `rows × width`.
    pub active_activations: Vec<u32>,
    /// Rows of the step's batch.
    pub rows: u32,
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

/// A workload's liveness thresholds (docs/v3.md §2.3), in
/// `1/`[`Liveness::DENOMINATOR`] parts:
///
/// * **non-zero weights:** the fraction of each layer's compute weights
///   that must be non-zero; never below the degeneracy rule's own
///   `1/MIN_DENSITY_INV`, at most all. Zero weights bound what a kernel
///   can skip in the forward pass (the products of zero weights, and the
///   pre-activations they make known to be zero): at most `(1 − ν) · k /
///   k̄` of the first layer's forward work, `k̄` the mean lit inputs of a
///   row;
/// * **live units:** the fraction of each hidden layer's units that must
///   fire for some row of a step's batch; never below the degeneracy
///   rule's own `1/MIN_LIVE_INV`, at most the whole layer;
/// * **active activations:** the fraction of each hidden layer's
///   activations over the whole batch (`rows × width` values) that must be
///   non-zero; `0` asks for nothing beyond the live units. It stops weights
///   crafted so that units fire only on rarely lit inputs: such units are
///   live, but most of their activations are zero and known to be zero
///   before the step is computed.
///
/// Governance lists each workload with all three, set from its shortcut table
/// so that no crafted-weights step is worth more than `ρ_max` of an honest
/// one and every honest step measured stays above them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Liveness {
    nonzero_weights_per_1024: u16,
    live_units_per_1024: u16,
    active_per_1024: u16,
}

impl Liveness {
    /// The denominator of a threshold: `1024` parts of a layer.
    pub const DENOMINATOR: u16 = 1024;
    /// The degeneracy rule's own thresholds: `1/MIN_DENSITY_INV` (512/1024)
    /// of the weights non-zero, `1/MIN_LIVE_INV` (32/1024) of the units
    /// live, no activation density: what a step must pass whatever its
    /// workload.
    pub const MINIMUM: Self = Self {
        nonzero_weights_per_1024: (Self::DENOMINATOR as u64 / MIN_DENSITY_INV) as u16,
        live_units_per_1024: (Self::DENOMINATOR as u64 / MIN_LIVE_INV) as u16,
        active_per_1024: 0,
    };

    /// Thresholds of `nonzero_weights_per_1024 / 1024` of each layer's
    /// compute weights non-zero and `live_units_per_1024 / 1024` of each
    /// hidden layer's units live (each between [`Liveness::MINIMUM`]'s and
    /// the whole layer), and `active_per_1024 / 1024` of its activations
    /// non-zero (at most all).
    pub fn new(
        nonzero_weights_per_1024: u16,
        live_units_per_1024: u16,
        active_per_1024: u16,
    ) -> Result<Self> {
        Self::checked(
            nonzero_weights_per_1024,
            live_units_per_1024,
            active_per_1024,
        )
        .ok_or(Error::Liveness {
            nonzero_weights_per_1024,
            live_units_per_1024,
            active_per_1024,
        })
    }

    /// [`Liveness::new`] for constants: `None` out of range.
    pub const fn checked(
        nonzero_weights_per_1024: u16,
        live_units_per_1024: u16,
        active_per_1024: u16,
    ) -> Option<Self> {
        let nonzero_ok = nonzero_weights_per_1024 >= Self::MINIMUM.nonzero_weights_per_1024
            && nonzero_weights_per_1024 <= Self::DENOMINATOR;
        let live_ok = live_units_per_1024 >= Self::MINIMUM.live_units_per_1024
            && live_units_per_1024 <= Self::DENOMINATOR;
        if !nonzero_ok || !live_ok || active_per_1024 > Self::DENOMINATOR {
            return None;
        }
        Some(Self {
            nonzero_weights_per_1024,
            live_units_per_1024,
            active_per_1024,
        })
    }

    /// The non-zero-weights threshold in `1/1024` of a layer's weights.
    pub fn nonzero_weights_per_1024(&self) -> u16 {
        self.nonzero_weights_per_1024
    }

    /// The live-unit threshold in `1/1024` of a layer's width.
    pub fn live_units_per_1024(&self) -> u16 {
        self.live_units_per_1024
    }

    /// The activation-density threshold in `1/1024` of a layer's
    /// activations.
    pub fn active_per_1024(&self) -> u16 {
        self.active_per_1024
    }

    /// The non-zero compute weights a layer of `len` weights needs:
    /// `max(1, ⌈len / MIN_DENSITY_INV⌉, ⌈len · nonzero_weights_per_1024 / 1024⌉)`.
    pub fn required_nonzero_weights(&self, len: u64) -> u64 {
        let workload = len
            .saturating_mul(u64::from(self.nonzero_weights_per_1024))
            .div_ceil(u64::from(Self::DENOMINATOR));
        required(len, MIN_DENSITY_INV).max(workload)
    }

    /// The live units a hidden layer of `width` units needs:
    /// `max(1, ⌈width / MIN_LIVE_INV⌉, ⌈width · live_units_per_1024 / 1024⌉)`.
    pub fn required_live_units(&self, width: u64) -> u64 {
        let workload = width
            .saturating_mul(u64::from(self.live_units_per_1024))
            .div_ceil(u64::from(Self::DENOMINATOR));
        required(width, MIN_LIVE_INV).max(workload)
    }

    /// The non-zero activations a hidden layer of `width` units needs over
    /// a batch of `rows`: `⌈rows · width · active_per_1024 / 1024⌉` (0 when
    /// the workload asks for no density).
    pub fn required_active_activations(&self, rows: u64, width: u64) -> u64 {
        rows.saturating_mul(width)
            .saturating_mul(u64::from(self.active_per_1024))
            .div_ceil(u64::from(Self::DENOMINATOR))
    }
}

impl core::fmt::Display for Liveness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "non-zero weights {}/{d}, live units {}/{d}, active activations {}/{d}",
            self.nonzero_weights_per_1024,
            self.live_units_per_1024,
            self.active_per_1024,
            d = Self::DENOMINATOR
        )
    }
}

/// Checks a step's [`StepStats`] against the degeneracy rule, with the
/// liveness thresholds of the step's workload (`liveness`;
/// [`Liveness::MINIMUM`] is the rule alone).
pub fn validate_step(model: &Model, liveness: Liveness, stats: &StepStats) -> Result<()> {
    let layers = model.layers();
    let shape_ok = stats.nonzero_weights.len() == layers
        && stats.changed_weights.len() == layers
        && stats.live_units.len() == layers - 1
        && stats.active_activations.len() == layers - 1
        && stats.rows > 0;
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
        let need = liveness.required_nonzero_weights(len);
        if u64::from(stats.nonzero_weights[l]) < need {
            return Err(fail(
                l,
                Degeneracy::SparseWeights,
                stats.nonzero_weights[l],
                need,
            ));
        }
        if l + 1 < layers {
            let need = liveness.required_live_units(n as u64);
            if u64::from(stats.live_units[l]) < need {
                return Err(fail(l, Degeneracy::DeadLayer, stats.live_units[l], need));
            }
            let need = liveness.required_active_activations(u64::from(stats.rows), n as u64);
            if u64::from(stats.active_activations[l]) < need {
                return Err(fail(
                    l,
                    Degeneracy::SparseActivations,
                    stats.active_activations[l],
                    need,
                ));
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

#[cfg(feature = "scale")]
mod scale {
    use super::*;
    use codec::{Decode, Encode, Input, Output};

    impl Encode for Liveness {
        fn size_hint(&self) -> usize {
            6
        }
        fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
            self.nonzero_weights_per_1024.encode_to(dest);
            self.live_units_per_1024.encode_to(dest);
            self.active_per_1024.encode_to(dest);
        }
    }

    impl Decode for Liveness {
        fn decode<I: Input>(input: &mut I) -> core::result::Result<Self, codec::Error> {
            let nonzero_weights_per_1024 = u16::decode(input)?;
            let live_units_per_1024 = u16::decode(input)?;
            let active_per_1024 = u16::decode(input)?;
            Liveness::new(
                nonzero_weights_per_1024,
                live_units_per_1024,
                active_per_1024,
            )
            .map_err(|_| {
                "liveness thresholds outside non-zero weights 512..=1024, live units 32..=1024, \
                 active activations 0..=1024"
                    .into()
            })
        }
    }

    impl codec::DecodeWithMemTracking for Liveness {}

    impl codec::MaxEncodedLen for Liveness {
        fn max_encoded_len() -> usize {
            3 * u16::max_encoded_len()
        }
    }

    impl scale_info::TypeInfo for Liveness {
        type Identity = Self;
        fn type_info() -> scale_info::Type {
            scale_info::Type::builder()
                .path(scale_info::Path::new("Liveness", module_path!()))
                .docs(&[
                    "Liveness thresholds of a workload, in 1/1024 parts: non-zero compute \
                     weights (of each layer's, 512..=1024), live units (of a hidden layer's \
                     width, 32..=1024) and non-zero activations (of rows × width, 0..=1024).",
                ])
                .composite(
                    scale_info::build::Fields::named()
                        .field(|f| {
                            f.ty::<u16>()
                                .name("nonzero_weights_per_1024")
                                .type_name("u16")
                        })
                        .field(|f| f.ty::<u16>().name("live_units_per_1024").type_name("u16"))
                        .field(|f| f.ty::<u16>().name("active_per_1024").type_name("u16")),
                )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, Hyperparams, Seed, TrainingStep, Weights};

    /// Statistics of a 2-layer model's step on 16 rows, every activation
    /// of the live units non-zero.
    fn stats(nonzero: [u32; 2], live: u32, changed: [u32; 2]) -> StepStats {
        StepStats {
            nonzero_weights: nonzero.to_vec(),
            live_units: alloc::vec![live],
            active_activations: alloc::vec![16 * live],
            changed_weights: changed.to_vec(),
            rows: 16,
        }
    }

    #[test]
    fn thresholds_are_inclusive_per_layer() {
        // 64-32-4: layer 0 has 2048 weights, layer 1 has 128; 32 hidden units.
        let model = Model::new(&[64, 32, 4]).unwrap();
        let ok = stats([1024, 64], 1, [8, 1]);
        assert_eq!(validate_step(&model, Liveness::MINIMUM, &ok), Ok(()));
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
                validate_step(&model, Liveness::MINIMUM, &s),
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
            validate_step(&model, Liveness::MINIMUM, &wrong_shape),
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
            validate_step(&model, Liveness::MINIMUM, &out.stats),
            Err(Error::Degenerate {
                rule: Degeneracy::SparseWeights,
                ..
            })
        ));
        let initial = Weights::initial(&model, &[1; 32]);
        let out = step.run(&initial, &batch, &Seed([3; 32]), 0).unwrap();
        assert_eq!(validate_step(&model, Liveness::MINIMUM, &out.stats), Ok(()));
    }

    #[test]
    fn liveness_thresholds_are_bounded_by_the_rule_and_the_layer() {
        assert_eq!(Liveness::MINIMUM.nonzero_weights_per_1024(), 512);
        assert_eq!(Liveness::MINIMUM.live_units_per_1024(), 32);
        assert_eq!(Liveness::MINIMUM.active_per_1024(), 0);
        assert_eq!(Liveness::new(512, 32, 0), Ok(Liveness::MINIMUM));
        let refused = |nonzero_weights_per_1024, live_units_per_1024, active_per_1024| {
            Liveness::new(
                nonzero_weights_per_1024,
                live_units_per_1024,
                active_per_1024,
            ) == Err(Error::Liveness {
                nonzero_weights_per_1024,
                live_units_per_1024,
                active_per_1024,
            })
        };
        assert!(refused(512, 31, 0) && refused(512, 0, 0) && refused(512, 1025, 0));
        assert!(refused(512, 683, 1025) && refused(512, 683, u16::MAX));
        assert!(refused(511, 683, 0) && refused(0, 683, 0) && refused(1025, 683, 0));
        assert!(Liveness::new(1024, 1024, 1024).is_ok());
        // 128 units: §9 needs 4; half of them 64; 2/3 rounds up; all 128.
        let need = |per: u16| Liveness::new(512, per, 0).unwrap().required_live_units(128);
        assert_eq!(
            [need(32), need(512), need(683), need(1024)],
            [4, 64, 86, 128]
        );
        // Narrow layers: never fewer than one unit, never below §9's ⌈w/32⌉.
        assert_eq!(Liveness::MINIMUM.required_live_units(1), 1);
        assert_eq!(need(33), 5);
    }

    #[test]
    fn a_workloads_threshold_refuses_what_the_rule_alone_admits() {
        // 64-32-4: §9 alone needs 1 live unit of 32; a workload listed at
        // one half needs 16.
        let model = Model::new(&[64, 32, 4]).unwrap();
        let half = Liveness::new(512, 512, 0).unwrap();
        assert_eq!(
            validate_step(&model, Liveness::MINIMUM, &stats([1024, 64], 1, [8, 1])),
            Ok(())
        );
        assert_eq!(
            validate_step(&model, half, &stats([1024, 64], 15, [8, 1])),
            Err(Error::Degenerate {
                layer: 0,
                rule: Degeneracy::DeadLayer,
                got: 15,
                need: 16
            })
        );
        assert_eq!(
            validate_step(&model, half, &stats([1024, 64], 16, [8, 1])),
            Ok(())
        );
    }

    #[test]
    fn a_density_threshold_refuses_live_units_that_rarely_fire() {
        // 64-32-4 on 16 rows (512 activations): all 32 units live, but each
        // fires on one row only (32 activations, 1/16). A workload asking
        // for a quarter of the activations (128) refuses it; §9 alone and
        // the live-unit threshold at its whole width admit it.
        let model = Model::new(&[64, 32, 4]).unwrap();
        let rare = StepStats {
            active_activations: alloc::vec![32],
            ..stats([1024, 64], 32, [8, 1])
        };
        assert_eq!(validate_step(&model, Liveness::MINIMUM, &rare), Ok(()));
        let all_live = Liveness::new(512, 1024, 0).unwrap();
        assert_eq!(validate_step(&model, all_live, &rare), Ok(()));
        let quarter = Liveness::new(512, 1024, 256).unwrap();
        assert_eq!(
            validate_step(&model, quarter, &rare),
            Err(Error::Degenerate {
                layer: 0,
                rule: Degeneracy::SparseActivations,
                got: 32,
                need: 128
            })
        );
        let dense_enough = StepStats {
            active_activations: alloc::vec![128],
            ..rare
        };
        assert_eq!(validate_step(&model, quarter, &dense_enough), Ok(()));
    }

    #[test]
    fn the_reference_step_counts_every_non_zero_activation() {
        // The count the rule reads is the forward pass's, value by value.
        let model = Model::new(&[16, 8, 6, 4]).unwrap();
        let hyper = Hyperparams::new(4, 2, 100).unwrap();
        let inputs: Vec<u8> = (0..16 * 16u32).map(|i| (i * 53 % 251) as u8).collect();
        let weights = Weights::initial(&model, &[5; 32]);
        let forward = crate::step::Forward::run(&model, &weights, &inputs, 16);
        let batch = Batch {
            inputs,
            labels: (0..16u8).map(|i| i % 4).collect(),
        };
        let out = TrainingStep::new(&model, &hyper)
            .run(&weights, &batch, &Seed([9; 32]), 0)
            .unwrap();
        let counted: Vec<u32> = forward.activations[1..]
            .iter()
            .map(|a| a.iter().filter(|&&v| v != 0).count() as u32)
            .collect();
        assert_eq!(out.stats.active_activations, counted);
        assert_eq!(out.stats.rows, 16);
        assert!(counted.iter().all(|&c| c > 0 && c < 16 * 8));
    }

    proptest::proptest! {
        /// Every threshold, hidden width and live count: a step passes
        /// exactly when `live / width ≥ λ / 1024` and `live / width ≥ 1/32`
        /// with at least one unit live — checked by cross-multiplying, not
        /// by the implementation's rounding.
        #[test]
        fn a_step_passes_exactly_at_its_workloads_threshold(
            per_1024 in 32u16..=1024,
            width in 1u32..=512,
            live_per_width in 0.0f64..=1.0,
        ) {
            let model = Model::new(&[4, width, 2]).unwrap();
            let live = (live_per_width * f64::from(width)).round() as u32;
            let liveness = Liveness::new(512, per_1024, 0).unwrap();
            let step = StepStats {
                nonzero_weights: alloc::vec![4 * width, 2 * width],
                live_units: alloc::vec![live],
                active_activations: alloc::vec![live],
                changed_weights: alloc::vec![4 * width, 2 * width],
                rows: 1,
            };
            let (live, width) = (u64::from(live), u64::from(width));
            let passes = live >= 1
                && live * 1024 >= width * u64::from(per_1024)
                && live * MIN_LIVE_INV >= width;
            let verdict = validate_step(&model, liveness, &step);
            proptest::prop_assert_eq!(verdict.is_ok(), passes, "{:?}", verdict);
        }

        /// Every density threshold, batch, width and count of non-zero
        /// activations: a step passes exactly when
        /// `active / (rows · width) ≥ α / 1024`, cross-multiplied.
        #[test]
        fn a_step_passes_exactly_at_its_workloads_density_threshold(
            active_per_1024 in 0u16..=1024,
            rows_log2 in 0u32..=10,
            width in 1u32..=512,
            active_fraction in 0.0f64..=1.0,
        ) {
            let model = Model::new(&[4, width, 2]).unwrap();
            let rows = 1u32 << rows_log2;
            let values = u64::from(rows) * u64::from(width);
            let active = (active_fraction * values as f64).round() as u32;
            let liveness = Liveness::new(512, 32, active_per_1024).unwrap();
            let step = StepStats {
                nonzero_weights: alloc::vec![4 * width, 2 * width],
                live_units: alloc::vec![width],
                active_activations: alloc::vec![active],
                changed_weights: alloc::vec![4 * width, 2 * width],
                rows,
            };
            let passes = u64::from(active) * 1024 >= values * u64::from(active_per_1024);
            let verdict = validate_step(&model, liveness, &step);
            proptest::prop_assert_eq!(verdict.is_ok(), passes, "{:?}", verdict);
        }
    }
}
