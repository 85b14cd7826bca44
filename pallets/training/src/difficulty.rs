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

/// The difficulty after a block, from the timestamps of the recent window
/// of blocks (oldest first, the new block's last): [`retarget`] over the
/// window's span. Timestamps strictly increase (`pallet_timestamp`) and lie
/// at most 30 s in the future of every importing node's clock, so a miner
/// can only compress the interval before its own block or stretch it by
/// ≤ 30 s; with every block costing `D` real steps (docs/puzzle.md §6), a
/// minority doing that moves the long-run difficulty by ≤ ~10%
/// (`minority_timestamp_games_barely_move_the_difficulty`).
pub fn next_difficulty(current: u128, window: &[u64], target_ms: u64, minimum: u128) -> u128 {
    match (window.first(), window.last()) {
        (Some(first), Some(last)) => retarget(
            current,
            last.saturating_sub(*first),
            (window.len() as u32).saturating_sub(1),
            target_ms,
            minimum,
        ),
        _ => current.max(minimum).max(1),
    }
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

    /// A network whose honest miners do `rate` steps per ms in total, and a
    /// minority with `share` of them that sets its blocks' timestamps to
    /// move the difficulty: `prev + 1 ms` (compress) or `now + 30 s`
    /// (stretch, the most any node accepts). Every block costs `D` real
    /// steps (exponential block times). Returns the geometric mean of `D`
    /// over the second half of `blocks`, relative to the same run without
    /// the minority's games.
    fn simulate(share: f64, strategy: &str, blocks: usize) -> f64 {
        let run = |share: f64| {
            let target = 4000u64;
            let rate = 1.0f64; // steps per ms
            let mut d = (rate * target as f64) as u128;
            let (mut now, mut window) = (0.0f64, vec![0u64]);
            let mut log_sum = 0.0;
            for i in 0..blocks {
                let u =
                    (upow_puzzle::prng::draw(7, 2 * i as u64) >> 11) as f64 / (1u64 << 53) as f64;
                now += -(1.0 - u).ln() * d as f64 / rate;
                let v = (upow_puzzle::prng::draw(7, 2 * i as u64 + 1) >> 11) as f64
                    / (1u64 << 53) as f64;
                let prev = *window.last().unwrap();
                let ts = match (v < share, strategy) {
                    (true, "compress") => prev + 1,
                    (true, "stretch") => (now as u64 + 30_000).max(prev + 1),
                    _ => (now as u64).max(prev + 1),
                };
                window.push(ts);
                if window.len() > 13 {
                    window.remove(0);
                }
                d = next_difficulty(d, &window, target, 1);
                if i >= blocks / 2 {
                    log_sum += (d as f64).ln();
                }
            }
            (log_sum / (blocks - blocks / 2) as f64).exp()
        };
        run(share) / run(0.0)
    }

    #[test]
    fn minority_timestamp_games_barely_move_the_difficulty() {
        // v1's pump (forged blocks with 1 ms timestamps) is impossible: each
        // block now costs D real steps. What is left to a minority is to
        // skew the timestamps of the blocks it does win.
        for share in [0.1, 0.3, 0.45] {
            for strategy in ["compress", "stretch"] {
                let moved = simulate(share, strategy, 20_000);
                assert!(
                    (0.85..1.15).contains(&moved),
                    "{strategy} at {share}: D moved ×{moved:.3}"
                );
            }
        }
    }

    #[test]
    fn the_window_rule_uses_the_span_of_the_window() {
        assert_eq!(next_difficulty(1000, &[0, 4000, 8000], 4000, 1), 1000);
        // Four times too slow: ideal 250, a quarter of the way down.
        assert_eq!(next_difficulty(1000, &[0, 16_000], 4000, 1), 813);
        assert_eq!(next_difficulty(1000, &[5], 4000, 1), 1000);
        assert_eq!(next_difficulty(1000, &[], 4000, 2000), 2000);
    }

    #[test]
    fn mul_div_is_exact_when_it_fits() {
        assert_eq!(mul_div(u128::MAX, 2, 4), u128::MAX / 2);
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div(6, 7, 0), 42);
    }
}
