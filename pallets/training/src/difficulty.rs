//! Difficulty retargeting: pure functions, tested on their own.
//!
//! After every block the difficulty moves toward the value that would have
//! made the recent window of blocks take exactly the target time: damped (a
//! quarter of the way per block, so at most −25% per block) and clamped (at
//! most ×2 per block), so that one odd timestamp cannot swing it.

/// Fraction of the distance to the ideal difficulty moved per block (1/DAMP).
pub const DAMP: u128 = 4;
/// Largest factor the difficulty may change by in one block.
pub const CLAMP: u128 = 2;

/// The next difficulty after blocks took `elapsed_ms` for `blocks` blocks,
/// aiming at `target_ms` per block, never below `minimum`.
pub fn retarget(
    current: u128,
    elapsed_ms: u64,
    blocks: u32,
    target_ms: u64,
    minimum: u128,
) -> u128 {
    let current = current.max(minimum).max(1);
    if blocks == 0 {
        return current;
    }
    let expected = (target_ms as u128).saturating_mul(blocks as u128);
    let elapsed = (elapsed_ms as u128).max(1);
    // ideal = current · expected / elapsed, without overflowing u128.
    let ideal = mul_div(current, expected, elapsed);
    let damped = if ideal >= current {
        current.saturating_add((ideal - current) / DAMP)
    } else {
        current - (current - ideal) / DAMP
    };
    let upper = current.saturating_mul(CLAMP);
    let lower = (current / CLAMP).max(1);
    damped.clamp(lower, upper).max(minimum)
}

/// `a · b / c` (rounded down) in 256-bit intermediate precision,
/// saturating at `u128::MAX`; `c = 0` is treated as 1.
pub fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    sp_runtime::helpers_128bit::multiply_by_rational_with_rounding(
        a,
        b,
        c.max(1),
        sp_runtime::Rounding::Down,
    )
    .unwrap_or(u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_target_stays() {
        assert_eq!(retarget(1000, 40_000, 10, 4000, 1), 1000);
    }

    #[test]
    fn slow_blocks_lower_and_fast_blocks_raise_it() {
        // Twice too slow: ideal 500, damped by a quarter: 875.
        assert_eq!(retarget(1000, 80_000, 10, 4000, 1), 875);
        // Twice too fast: ideal 2000, damped: 1250.
        assert_eq!(retarget(1000, 20_000, 10, 4000, 1), 1250);
    }

    #[test]
    fn changes_are_clamped_and_bounded() {
        // Instant blocks: ideal is huge, clamped at ×2.
        assert_eq!(retarget(1000, 0, 10, 4000, 1), 2000);
        // Glacial blocks: damped to a quarter of the way down.
        assert_eq!(retarget(1000, u64::MAX, 10, 4000, 1), 750);
        assert_eq!(retarget(1, u64::MAX, 10, 4000, 1), 1);
        assert_eq!(retarget(10, u64::MAX, 10, 4000, 8), 8);
        assert_eq!(retarget(u128::MAX, 0, 10, 4000, 1), u128::MAX);
        assert_eq!(retarget(0, 40_000, 10, 4000, 0), 1);
        assert_eq!(retarget(1000, 1234, 0, 4000, 1), 1000);
    }

    #[test]
    fn converges_to_the_hash_rate() {
        // A miner doing 1000 tickets/s with 4 s blocks needs difficulty 4000.
        let mut d = 50u128;
        for _ in 0..200 {
            let block_ms = (d * 1000 / 1000) as u64; // d tickets at 1000/s = d ms
            d = retarget(d, block_ms * 10, 10, 4000, 1);
        }
        assert!((3900..=4100).contains(&d), "{d}");
    }

    #[test]
    fn mul_div_is_exact_when_it_fits() {
        assert_eq!(mul_div(u128::MAX, 2, 4), u128::MAX / 2);
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div(6, 7, 0), 42);
    }
}
