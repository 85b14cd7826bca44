//! Base-2 fixed-point softmax cross-entropy: the loss, its gradient, and the
//! prediction, all in integers.
//!
//! Logits `z · 2^e` (nats) become `t = ((z · 2^(e+4)) · 47274) >> 15`, i.e.
//! sixteenths of a bit (47274 / 2^15 ≈ log2 e); `u = t − max t ≤ 0`;
//! `p = EXP2_LUT[u mod 16] >> (−⌊u/16⌋)` ≈ `2^(14 + u/16)`; probabilities are
//! `(p << 12) / Σp` (one division per class), and the gradient of the loss
//! with respect to the logits is `prob − 4096 · onehot` (exponent −12).

use crate::rounding::{bit_length, round_half_up};

/// `EXP2_LUT[f] = round(2^(14 + f/16))`.
pub const EXP2_LUT: [u64; 16] = [
    16384, 17109, 17867, 18658, 19484, 20347, 21247, 22188, 23170, 24196, 25268, 26386, 27554,
    28774, 30048, 31379,
];

/// `round(2^15 · log2 e)`.
pub const LOG2E_Q15: i64 = 47274;

/// Fractional bits of a probability (its exponent is `-PROB_BITS`).
pub const PROB_BITS: u32 = 12;

/// Largest magnitude of a logit in sixteenths of a nat (keeps every product
/// in `i64`; far beyond any logit a trained model produces).
const MAX_SIXTEENTHS: i64 = 1 << 40;

/// A logit `z · 2^e` in sixteenths of a bit (round-half-up).
#[inline]
pub fn sixteenth_bits(z: i32, e: i32) -> i64 {
    let s = e + 4;
    let sixteenth_nats = if s >= 0 {
        ((z as i64) << s.min(24)).clamp(-MAX_SIXTEENTHS, MAX_SIXTEENTHS)
    } else {
        round_half_up(z as i64, (-s) as u32)
    };
    (sixteenth_nats * LOG2E_Q15) >> 15
}

/// `log2(x)` in sixteenths (floor to the LUT grid), for `x ≥ 1`.
#[inline]
fn log2_sixteenths(x: u64) -> i64 {
    let k = bit_length(x) as i64 - 1;
    // Mantissa normalised to [2^14, 2^15).
    let mantissa = if k >= 14 {
        x >> (k - 14)
    } else {
        x << (14 - k)
    };
    let f = EXP2_LUT.iter().take_while(|&&v| v <= mantissa).count() as i64 - 1;
    16 * k + f
}

/// Softmax cross-entropy of one row of logits `z` (exponent `e`) with true
/// class `label`: writes the gradient (exponent −12) into `grad` when given,
/// and returns the loss in sixteenths of a bit (≥ 0).
pub fn softmax_row(z: &[i32], e: i32, label: usize, grad: Option<&mut [i32]>) -> u64 {
    // z has at most MAX_WIDTH entries; the max of the converted logits first.
    let mut t_max = i64::MIN;
    for &v in z {
        t_max = t_max.max(sixteenth_bits(v, e));
    }
    let mut sum = 0u64;
    let mut u_label = 0i64;
    let p_of = |v: i32| -> (u64, i64) {
        let u = sixteenth_bits(v, e) - t_max;
        let shift = (-(u >> 4)).min(63) as u32;
        (EXP2_LUT[(u & 15) as usize] >> shift, u)
    };
    for (j, &v) in z.iter().enumerate() {
        let (p, u) = p_of(v);
        sum += p;
        if j == label {
            u_label = u;
        }
    }
    if let Some(grad) = grad {
        for (j, (&v, g)) in z.iter().zip(grad.iter_mut()).enumerate() {
            let prob = ((p_of(v).0 << PROB_BITS) / sum) as i32;
            *g = prob - if j == label { 1 << PROB_BITS } else { 0 };
        }
    }
    // −log2(p_label / Σp) = log2 Σp − 14 − u_label / 16.
    (log2_sixteenths(sum) - 16 * 14 - u_label).max(0) as u64
}

/// Index of the largest logit (the first one on ties).
pub fn argmax(z: &[i32]) -> usize {
    let mut best = 0;
    for (j, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = j;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lut_is_exp2() {
        for (f, &v) in EXP2_LUT.iter().enumerate() {
            let exact = libm_exp2(14.0 + f as f64 / 16.0);
            assert!((v as f64 - exact).abs() <= 0.5, "{f}");
        }
    }

    fn libm_exp2(x: f64) -> f64 {
        // 2^x = e^(x ln 2), by series; enough for the test's tolerance.
        let y = x * core::f64::consts::LN_2;
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        for i in 1..80 {
            term *= y / i as f64;
            sum += term;
        }
        sum
    }

    #[test]
    fn uniform_logits_give_uniform_probabilities() {
        let z = [0i32; 4];
        let mut g = [0i32; 4];
        let loss = softmax_row(&z, -10, 2, Some(&mut g));
        assert_eq!(g, [1024, 1024, -3072, 1024]);
        // −log2(1/4) = 2 bits = 32 sixteenths.
        assert_eq!(loss, 32);
    }

    #[test]
    fn gradient_tracks_float_softmax() {
        let z = [300i32, -200, 50, 800, 0];
        let e = -8; // logits 1.17, -0.78, 0.195, 3.125, 0 nats
        let mut g = [0i32; 5];
        let loss = softmax_row(&z, e, 0, Some(&mut g));
        let real: [f64; 5] = core::array::from_fn(|j| z[j] as f64 / 256.0);
        let m = real.iter().cloned().fold(f64::MIN, f64::max);
        let exps: [f64; 5] =
            core::array::from_fn(|j| libm_exp2((real[j] - m) * core::f64::consts::LOG2_E));
        let total: f64 = exps.iter().sum();
        for j in 0..5 {
            let p = exps[j] / total - if j == 0 { 1.0 } else { 0.0 };
            assert!(
                (g[j] as f64 / 4096.0 - p).abs() < 0.01,
                "{j}: {} vs {p}",
                g[j]
            );
        }
        let ce_bits = -(exps[0] / total).log2();
        assert!(
            (loss as f64 / 16.0 - ce_bits).abs() < 0.1,
            "{loss} vs {ce_bits}"
        );
    }

    #[test]
    fn extreme_logits_do_not_overflow() {
        let z = [i32::MAX, i32::MIN, 0];
        let mut g = [0i32; 3];
        for e in [-40, -16, 0, 10, 30] {
            let loss = softmax_row(&z, e, 1, Some(&mut g));
            assert!(g.iter().all(|v| v.abs() <= 4096));
            assert!(loss > 0 || e == -40);
        }
        assert_eq!(argmax(&[1, 5, 5, 2]), 1);
    }
}
