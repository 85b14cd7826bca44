//! Seeds, tickets and the difficulty target: what makes a step a lottery
//! ticket of the proof-of-work.

use crate::hash::{tag, Hash, Hasher};

/// Who is mining on what: the fields every seed and ticket of a trajectory
/// is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TrajectoryContext {
    /// Hash of the parent block.
    pub parent: Hash,
    /// The author's public key (sr25519, 32 bytes).
    pub author: [u8; 32],
    /// The job being trained.
    pub job: u64,
    /// The author's free choice, to start an independent trajectory from
    /// the same weights: a miner whose trajectory reaches [`max_steps`]
    /// without a winning ticket starts again with another salt.
    pub salt: u32,
}

/// How many times the difficulty a trajectory may be long: a claim of more
/// than `STEP_BOUND · D` steps is invalid (docs/protocol.md §Threats: with
/// [`crate::trajectory::CHALLENGES`] = 2 challenges, faking a fraction `f`
/// of the steps earns `f · κ · (1 − f)^k ≤ 4 · 4/27 < 1` of a step per step
/// faked, so it never pays).
pub const STEP_BOUND: u32 = 4;

/// The most steps a trajectory may claim at `difficulty`:
/// `min(STEP_BOUND · difficulty, u32::MAX)`; 0 at difficulty 0.
pub fn max_steps(difficulty: u128) -> u32 {
    u32::try_from(difficulty.saturating_mul(STEP_BOUND as u128)).unwrap_or(u32::MAX)
}

/// Multiply-accumulates of one step of the reference job (784-128-10 at
/// batch 64, [`crate::cost::step_macs`]).
pub const REFERENCE_STEP_MACS: u64 = 13_090_816;

/// The cost of one step of the reference workload (the house workload), in
/// *cost units*: the unit a listed workload's step cost is stated in
/// (docs/v3.md §2.1). A workload listed at `c` units has steps that take
/// `c / 2^16` of a reference step on the platform that runs it fastest.
pub const REFERENCE_COST: u32 = 1 << 16;

/// The reference (house) workload's liveness thresholds (docs/v3.md §2.3):
/// fifteen sixteenths of every layer's compute weights non-zero (960/1024:
/// a kernel on its zero weights saves at most 2/16 of the forward pass,
/// `ρ ≤ 1.06`; honest weights never came below 97.3%), two thirds of its
/// hidden units live on every proven step (683/1024) and an eighth of its
/// hidden activations non-zero (128/1024). Its shortcut
/// table puts steps on weights crafted with more units dead at `ρ ≤ 1.20`
/// for both attackers measured (2.4 and 3.8 at the degeneracy rule's own
/// 1/32); the density threshold refuses the sparsest weights crafted with
/// units that fire only on rarely lit inputs (their bound at 1/8 stays
/// above `ρ_max`: docs/v3.md §2.3, step 2e). Honest training never came
/// below 71.1% live units nor 15.9% active activations at batch 64 over
/// the whole 40-epoch plan (docs/benchmarks.md §Degeneracy).
pub const REFERENCE_LIVENESS: crate::Liveness = match crate::Liveness::checked(960, 683, 128) {
    Some(liveness) => liveness,
    None => panic!("the house liveness thresholds are in range"),
};

/// The ticket difficulty of a listed workload whose steps cost `cost` cost
/// units when the chain's difficulty is `difficulty` (in reference steps):
/// `max(1, ⌈difficulty · REFERENCE_COST / max(cost, 1)⌉)` (saturating).
/// Rounded up, so rounding never gives a workload more fork weight per unit
/// of work than the reference (at `D = 12` a workload of 8 reference steps
/// would otherwise draw at 1, not 1.5).
/// Every block then costs the same expected work whichever listed workload
/// it trains, so the retarget does not jump when miners move between jobs,
/// and a workload with cheap steps does not draw every miner to it. The
/// cost comes from the chain's catalogue, where it was measured; nothing a
/// poster chooses enters it (docs/puzzle.md §6).
pub fn job_difficulty(difficulty: u128, cost: u32) -> u128 {
    let scaled = difficulty
        .saturating_mul(REFERENCE_COST as u128)
        .div_ceil(cost.max(1) as u128);
    scaled.max(1)
}

/// The seed of step `i`: picks its batch and all its rounding bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Seed(pub Hash);

impl Seed {
    /// `H("upow/seed/v2" ‖ parent ‖ author ‖ job:u64le ‖ salt:u32le ‖ i:u32le ‖ R_i)`,
    /// where `R_i` is the trajectory root over `H(W_0) … H(W_i)` (the
    /// *running* root, `i + 1` leaves).
    ///
    /// Binding the seed to everything before the step means that changing
    /// any earlier leaf changes the step's batch and rounding bits, so its
    /// output must be computed again: no ticket can be re-drawn without
    /// running a step (docs/puzzle.md §6).
    pub fn derive(ctx: &TrajectoryContext, index: u32, running_root: &Hash) -> Self {
        let mut hasher = Hasher::new(tag::SEED);
        hasher
            .update(&ctx.parent)
            .update(&ctx.author)
            .update(&ctx.job.to_le_bytes())
            .update(&ctx.salt.to_le_bytes())
            .update(&index.to_le_bytes())
            .update(running_root);
        Self(hasher.finish())
    }
}

/// The ticket of step `i`: a lottery draw bound to the trajectory so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket(pub Hash);

impl Ticket {
    /// `H("upow/ticket/v2" ‖ parent ‖ author ‖ job:u64le ‖ salt:u32le ‖ i:u32le ‖ R_{i+1})`,
    /// where `R_{i+1}` is the trajectory root over `H(W_0) … H(W_{i+1})`.
    ///
    /// The root contains `H(W_{i+1})`, the output of step `i`, whose seed
    /// came from `R_i`: a ticket exists only after its step has run. The
    /// challenges are drawn from the winning ticket, so they cannot be
    /// re-drawn without a new step either.
    pub fn derive(ctx: &TrajectoryContext, index: u32, root: &Hash) -> Self {
        let mut hasher = Hasher::new(tag::TICKET);
        hasher
            .update(&ctx.parent)
            .update(&ctx.author)
            .update(&ctx.job.to_le_bytes())
            .update(&ctx.salt.to_le_bytes())
            .update(&index.to_le_bytes())
            .update(root);
        Self(hasher.finish())
    }

    /// Whether the ticket wins at `difficulty`: read as a 256-bit big-endian
    /// integer, `ticket · difficulty < 2^256`. One ticket in `difficulty`
    /// wins on average; difficulty 0 never wins.
    pub fn meets(&self, difficulty: u128) -> bool {
        meets_difficulty(&self.0, difficulty)
    }
}

/// `hash · difficulty < 2^256` (hash big-endian).
pub fn meets_difficulty(hash: &Hash, difficulty: u128) -> bool {
    if difficulty == 0 {
        return false;
    }
    // Little-endian 64-bit limbs of the big-endian hash.
    let limb = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash[32 - 8 * (i + 1)..32 - 8 * i]);
        u64::from_be_bytes(bytes)
    };
    let a = [limb(0), limb(1), limb(2), limb(3)];
    let b = [difficulty as u64, (difficulty >> 64) as u64];
    let mut product = [0u64; 6];
    for i in 0..4 {
        let mut carry = 0u128;
        for j in 0..2 {
            let t = a[i] as u128 * b[j] as u128 + product[i + j] as u128 + carry;
            product[i + j] = t as u64;
            carry = t >> 64;
        }
        product[i + 2] = carry as u64;
    }
    product[4] == 0 && product[5] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difficulty_target_edges() {
        let zero = [0u8; 32];
        let max = [0xffu8; 32];
        assert!(meets_difficulty(&zero, u128::MAX));
        assert!(!meets_difficulty(&zero, 0));
        assert!(meets_difficulty(&max, 1));
        assert!(!meets_difficulty(&max, 2));
        // 2^255 · 2 = 2^256 overflows; 2^255 − 1 (0x7f ff…) · 2 does not.
        let mut half = [0u8; 32];
        half[0] = 0x80;
        assert!(!meets_difficulty(&half, 2));
        let mut below_half = [0xffu8; 32];
        below_half[0] = 0x7f;
        assert!(meets_difficulty(&below_half, 2));
        // 2^128 · (2^128 − 1) < 2^256.
        let mut two_128 = [0u8; 32];
        two_128[15] = 1;
        assert!(meets_difficulty(&two_128, u128::MAX));
        two_128[15] = 2;
        assert!(!meets_difficulty(&two_128, u128::MAX));
    }

    #[test]
    fn step_bound_is_four_times_the_difficulty_and_saturates() {
        assert_eq!(max_steps(0), 0);
        assert_eq!(max_steps(1), 4);
        assert_eq!(max_steps(5_000), 20_000);
        assert_eq!(max_steps(u32::MAX as u128 / 4), u32::MAX - 3);
        assert_eq!(max_steps(u32::MAX as u128), u32::MAX);
        assert_eq!(max_steps(u128::MAX), u32::MAX);
    }

    #[test]
    fn job_difficulty_scales_with_the_listed_cost() {
        assert_eq!(job_difficulty(1000, REFERENCE_COST), 1000);
        assert_eq!(job_difficulty(1000, 2 * REFERENCE_COST), 500);
        assert_eq!(job_difficulty(1000, REFERENCE_COST / 4), 4000);
        assert_eq!(job_difficulty(1, 100 * REFERENCE_COST), 1);
        // Rounds up, never below 1.
        assert_eq!(job_difficulty(1000, 3 * REFERENCE_COST), 334);
        assert_eq!(job_difficulty(12, 8 * REFERENCE_COST), 2);
        assert_eq!(job_difficulty(0, REFERENCE_COST), 1);
        // Saturates instead of overflowing; a zero cost counts as one unit.
        assert_eq!(job_difficulty(u128::MAX, 1), u128::MAX);
        assert_eq!(job_difficulty(5, 0), 5 * REFERENCE_COST as u128);
    }

    #[test]
    fn rounding_never_gives_more_weight_per_unit_of_work_than_the_reference() {
        // A block is worth D whichever workload it trains, and costs
        // D_job · cost / 2^16 reference steps of expected work: at least D.
        for d in [1u128, 2, 3, 7, 12, 100, 1_000, 65_537, 1 << 40] {
            for cost in [
                1u32,
                2,
                3,
                1_000,
                21_845,
                65_535,
                65_536,
                65_537,
                8 << 16,
                u32::MAX,
            ] {
                let work = job_difficulty(d, cost) * u128::from(cost);
                assert!(work >= d * u128::from(REFERENCE_COST), "D {d}, cost {cost}");
                // And by less than one step of the workload.
                assert!(
                    work < d * u128::from(REFERENCE_COST) + u128::from(cost)
                        || job_difficulty(d, cost) == 1,
                    "D {d}, cost {cost}"
                );
            }
        }
    }

    #[test]
    fn win_rate_follows_difficulty() {
        let ctx = TrajectoryContext {
            parent: [1; 32],
            author: [2; 32],
            job: 0,
            salt: 0,
        };
        let wins = (0..20_000u32)
            .filter(|i| Ticket::derive(&ctx, *i, &[0; 32]).meets(100))
            .count();
        assert!((150..=250).contains(&wins), "{wins}");
    }
}
