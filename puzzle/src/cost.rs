//! What a step costs, in multiply-accumulates: the one home of the two
//! counts the protocol prices work by (docs/puzzle.md §6 and §11).
//!
//! * [`step_macs`], the products one training step performs: the unit
//!   in which a job's difficulty is scaled ([`crate::pow::job_difficulty`];
//!   the reference job's is [`crate::pow::REFERENCE_STEP_MACS`]).
//! * [`replay_macs`], the verifier's upper bound of re-executing one step,
//!   read from a proof's sizes: what a block's verification and a fraud
//!   proof's replay are weighed and bounded by
//!   ([`crate::segment::MAX_FRAUD_PROOF_MACS`]).
//!
//! * [`nominal_cost`], the first count stated in cost units
//!   ([`crate::pow::REFERENCE_COST`] per reference step): what version 2
//!   priced every job at, and the figure a workload may be listed at
//!   before its cost is measured. Consensus never computes it: a job's
//!   difficulty comes from the cost its workload is *listed* at
//!   ([`crate::pow::job_difficulty`], docs/v3.md §2).
//!
//! For 784-128-10 at batch 64 the first is 13 090 816 and the second
//! 19 513 344: the step does not propagate the error into the input layer,
//! the bound counts it anyway.

use crate::model::Model;

/// Multiply-accumulates of one step of `model` at batch `batch`:
/// `B · (2 · P + Σ_{l ≥ 1} d_l · d_{l+1})` (docs/puzzle.md §6) — the
/// forward products and the weight gradients of every layer, and the error
/// propagation into every layer but the first. Saturating.
pub fn step_macs(model: &Model, batch: usize) -> u64 {
    let params = model.params() as u64;
    let (inputs, first_width) = model.shape(0);
    let first_layer = (inputs as u64).saturating_mul(first_width as u64);
    // Σ_{l ≥ 1} d_l · d_{l+1} = P − d_0 · d_1.
    let propagated = params.saturating_sub(first_layer);
    (batch as u64).saturating_mul(params.saturating_mul(2).saturating_add(propagated))
}

/// [`step_macs`] in cost units: `⌈REFERENCE_COST · step_macs /
/// REFERENCE_STEP_MACS⌉`, at least 1, saturating at `u32::MAX`. The
/// reference model at batch 64 is exactly [`crate::pow::REFERENCE_COST`].
/// A count, not a measurement: a poster's data can make a step far cheaper
/// than its products (docs/v3.md §2.2), which is why only the catalogue's
/// figure prices consensus.
pub fn nominal_cost(model: &Model, batch: usize) -> u32 {
    let units = (step_macs(model, batch) as u128)
        .saturating_mul(crate::pow::REFERENCE_COST as u128)
        .div_ceil(crate::pow::REFERENCE_STEP_MACS as u128);
    u32::try_from(units.max(1)).unwrap_or(u32::MAX)
}

/// The verifier's upper bound of the multiply-accumulates of re-executing
/// one step of `batch` samples on `params` weights: `3 · B · P` — three
/// products of every layer (docs/puzzle.md §11), computed from sizes a
/// proof carries (its batch's samples, its weights' length). Saturating.
pub fn replay_macs(batch: u64, params: u64) -> u64 {
    3u64.saturating_mul(batch).saturating_mul(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_macs_count_forward_gradient_and_inner_error_products() {
        let reference = Model::new(&[784, 128, 10]).unwrap();
        assert_eq!(step_macs(&reference, 64), 13_090_816);
        assert_eq!(
            step_macs(&reference, 64),
            64 * (2 * (784 * 128 + 128 * 10) + 128 * 10)
        );
        // One layer: forward and gradient only.
        let linear = Model::new(&[784, 10]).unwrap();
        assert_eq!(step_macs(&linear, 16), 16 * 2 * 7840);
        let deep = Model::new(&[784, 256, 128, 10]).unwrap();
        assert_eq!(
            step_macs(&deep, 64),
            64 * (3 * (784 * 256 + 256 * 128 + 1280) - 784 * 256)
        );
        assert_eq!(step_macs(&reference, usize::MAX), u64::MAX);
    }

    #[test]
    fn nominal_cost_is_the_step_count_in_reference_units_rounded_up() {
        let reference = Model::new(&[784, 128, 10]).unwrap();
        assert_eq!(nominal_cost(&reference, 64), crate::pow::REFERENCE_COST);
        assert_eq!(
            nominal_cost(&reference, 128),
            2 * crate::pow::REFERENCE_COST
        );
        assert_eq!(nominal_cost(&reference, 16), crate::pow::REFERENCE_COST / 4);
        // 16 · 2 · 7840 = 250 880 products: 1 255.97 units, rounded up.
        let linear = Model::new(&[784, 10]).unwrap();
        assert_eq!(nominal_cost(&linear, 16), 1_256);
        let tiny = Model::new(&[1, 2]).unwrap();
        assert_eq!(nominal_cost(&tiny, 16), 1);
        assert_eq!(nominal_cost(&reference, usize::MAX), u32::MAX);
    }

    #[test]
    fn replay_macs_are_three_products_of_every_layer() {
        assert_eq!(replay_macs(64, 784 * 128 + 1280), 19_513_344);
        assert_eq!(replay_macs(1, 1), 3);
        assert_eq!(replay_macs(0, 1 << 20), 0);
        assert_eq!(replay_macs(u64::MAX / 2, 2), u64::MAX);
    }
}
