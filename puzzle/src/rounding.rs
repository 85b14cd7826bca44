//! Integer rounding, the only place the puzzle turns wide integers into int8.
//!
//! `>>` is always an arithmetic (floor) shift of a two's-complement `i64`.
//! Every backend must reproduce these functions exactly; they are written on
//! scalars so that the candle and CUDA backends call or mirror them directly.

/// Largest magnitude of an int8 tensor value; `-128` is never produced.
pub const I8_MAX: i32 = 127;

/// Largest right shift applied by [`stochastic_round`] (keeps `x + r` in `i64`).
pub const MAX_SHIFT: u32 = 62;

/// Clamps to the symmetric int8 range `[-127, 127]`.
#[inline(always)]
pub fn clamp_i8(x: i64) -> i8 {
    x.clamp(-(I8_MAX as i64), I8_MAX as i64) as i8
}

/// Round-half-up: `(x + 2^(s-1)) >> s`, and `x` itself when `s = 0`.
/// `s` is capped at [`MAX_SHIFT`].
#[inline(always)]
pub fn round_half_up(x: i64, shift: u32) -> i64 {
    let s = shift.min(MAX_SHIFT);
    if s == 0 {
        x
    } else {
        (x + (1i64 << (s - 1))) >> s
    }
}

/// Stochastic rounding: `(x + r) >> s` where `r` is the top `s` bits of the
/// 64-bit `draw`; `x` itself when `s = 0`. `s` is capped at [`MAX_SHIFT`].
///
/// `E[(x + r) >> s] = x / 2^s`: rounding is unbiased, which is what lets
/// updates far below one weight unit still move the weights.
#[inline(always)]
pub fn stochastic_round(x: i64, shift: u32, draw: u64) -> i64 {
    let s = shift.min(MAX_SHIFT);
    if s == 0 {
        x
    } else {
        (x + (draw >> (64 - s)) as i64) >> s
    }
}

/// Number of significant bits of `x` (`bitlen(0) = 0`).
#[inline(always)]
pub fn bit_length(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// The dynamic shift that brings a tensor with largest magnitude `max_abs`
/// into int8: `max(0, bitlen(max_abs) − 7)`.
#[inline(always)]
pub fn dynamic_shift(max_abs: u64) -> u32 {
    bit_length(max_abs).saturating_sub(7)
}

/// The shift of a hidden layer's activations, from the sum of `relu(z)` over
/// the layer's `count` values: `dyn(ACTIVATION_HEADROOM · ⌊sum / count⌋)`.
/// The mean activation lands near `127 / 16`; the few values above 16× the
/// mean saturate at 127. (A max-based shift spends the int8 range on
/// outliers: measured 0.2–0.3 points worse, docs/benchmarks.md.)
#[inline]
pub fn activation_shift(relu_sum: u64, count: usize) -> u32 {
    if count == 0 {
        return 0;
    }
    dynamic_shift(ACTIVATION_HEADROOM * (relu_sum / count as u64))
}

/// `Σ max(z, 0)`, the input of [`activation_shift`].
pub fn relu_sum(z: &[i32]) -> u64 {
    z.iter().map(|&v| v.max(0) as u64).sum()
}

/// A hidden activation from its pre-activation: `min(RHU(relu(z), s), 127)`.
#[inline(always)]
pub fn requantize_activation(z: i64, shift: u32) -> i64 {
    round_half_up(z.max(0), shift).min(I8_MAX as i64)
}

/// An error value rounded to int8: `clamp(SR(x, s), ±127)`.
#[inline(always)]
pub fn round_error(x: i64, shift: u32, draw: u64) -> i64 {
    clamp_i8(stochastic_round(x, shift, draw)) as i64
}

/// Extra fractional bits of a master weight over its int8 compute copy.
pub const MASTER_BITS: u32 = 8;

/// Largest magnitude of a master weight: `127 · 256 + 127`, the largest value
/// whose compute copy [`compute_weight`] is still 127.
pub const MASTER_MAX: i16 = 32639;

/// The int8 compute copy of a master weight: `clamp(RHU(m, 8), ±127)`.
#[inline(always)]
pub fn compute_weight(master: i64) -> i64 {
    clamp_i8(round_half_up(master, MASTER_BITS)) as i64
}

/// A master weight after its update: `clamp(m − SR(g, s), ±MASTER_MAX)`.
#[inline(always)]
pub fn updated_weight(master: i64, grad: i64, shift: u32, draw: u64) -> i16 {
    (master - stochastic_round(grad, shift, draw)).clamp(-(MASTER_MAX as i64), MASTER_MAX as i64)
        as i16
}

/// How many times the mean activation fits below the int8 maximum.
pub const ACTIVATION_HEADROOM: u64 = 16;

/// Largest magnitude of a slice of `i32` (as `u64`, so `i32::MIN` is exact).
pub fn max_abs(values: &[i32]) -> u64 {
    values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0) as u64
}

/// The right shift that turns a gradient `G` (exponent `grad_exp`) into an
/// update of the master weights of a layer whose compute weights have
/// exponent `weight_exp` (masters: `weight_exp − MASTER_BITS`), at learning
/// rate `2^-lr_shift`: `clamp(lr_shift + weight_exp − 8 − grad_exp, 0, 62)`.
#[inline]
pub fn update_shift(lr_shift: u32, weight_exp: i32, grad_exp: i32) -> u32 {
    let s = lr_shift as i64 + weight_exp as i64 - MASTER_BITS as i64 - grad_exp as i64;
    s.clamp(0, MAX_SHIFT as i64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_up_floors_negative_halves_up() {
        assert_eq!(round_half_up(5, 1), 3);
        assert_eq!(round_half_up(-5, 1), -2);
        assert_eq!(round_half_up(4, 2), 1);
        assert_eq!(round_half_up(6, 2), 2);
        assert_eq!(round_half_up(-6, 2), -1);
        assert_eq!(round_half_up(7, 0), 7);
    }

    #[test]
    fn stochastic_round_bounds() {
        // r = 0 floors, r = max gives ceil for non-multiples.
        assert_eq!(stochastic_round(5, 2, 0), 1);
        assert_eq!(stochastic_round(5, 2, u64::MAX), 2);
        assert_eq!(stochastic_round(-5, 2, 0), -2);
        assert_eq!(stochastic_round(-5, 2, u64::MAX), -1);
        assert_eq!(stochastic_round(8, 2, u64::MAX), 2);
        assert_eq!(stochastic_round(-3, 0, u64::MAX), -3);
        // The largest shift stays in range.
        assert_eq!(stochastic_round(i32::MAX as i64, 62, u64::MAX), 1);
        assert_eq!(stochastic_round(i32::MAX as i64, 62, 0), 0);
        assert_eq!(stochastic_round(i32::MIN as i64, 62, 0), -1);
    }

    #[test]
    fn stochastic_round_is_unbiased() {
        let mut total = 0i64;
        let n = 1u64 << 14;
        for i in 0..n {
            total += stochastic_round(3, 3, crate::prng::draw(11, i));
        }
        // E = 3/8 per draw.
        let expected = (3 * n / 8) as i64;
        assert!((total - expected).abs() < 200, "{total} vs {expected}");
    }

    #[test]
    fn dynamic_shift_fits_int8() {
        assert_eq!(dynamic_shift(0), 0);
        assert_eq!(dynamic_shift(127), 0);
        assert_eq!(dynamic_shift(128), 1);
        assert_eq!(dynamic_shift(255), 1);
        assert_eq!(dynamic_shift(256), 2);
        for m in [1u64, 100, 1000, 1 << 20, (1 << 24) - 1] {
            let s = dynamic_shift(m);
            assert!(round_half_up(m as i64, s) <= 128);
        }
    }

    #[test]
    fn activation_shift_follows_the_mean() {
        assert_eq!(activation_shift(0, 0), 0);
        assert_eq!(activation_shift(relu_sum(&[-5, 0, 7]), 3), 0);
        // mean of relu = (0 + 1000 + 3000 + 0) / 4 = 1000; 16 000 has 14 bits.
        assert_eq!(activation_shift(relu_sum(&[-100, 1000, 3000, 0]), 4), 7);
        assert_eq!(requantize_activation(-9, 3), 0);
        assert_eq!(requantize_activation(1 << 20, 3), 127);
        assert_eq!(requantize_activation(12, 3), 2);
    }

    #[test]
    fn update_shift_clamps() {
        assert_eq!(update_shift(2, -9, -22), 7);
        assert_eq!(update_shift(0, -9, 0), 0);
        assert_eq!(compute_weight(MASTER_MAX as i64), 127);
        assert_eq!(compute_weight(-(MASTER_MAX as i64)), -127);
        assert_eq!(compute_weight(32767), 127);
        assert_eq!(updated_weight(MASTER_MAX as i64, -1000, 0, 0), MASTER_MAX);
        assert_eq!(updated_weight(0, 512, 1, 0), -256);
        assert_eq!(update_shift(8, 20, -60), MAX_SHIFT);
    }

    #[test]
    fn clamp_is_symmetric() {
        assert_eq!(clamp_i8(-1000), -127);
        assert_eq!(clamp_i8(128), 127);
        assert_eq!(clamp_i8(-128), -127);
    }
}
