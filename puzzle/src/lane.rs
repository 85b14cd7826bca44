//! Lanes, anchors, shares and segments: the encodings of protocol
//! version 3 (docs/v3.md §3–§7), built step by step beside version 2.
//!
//! A **lane** is a run trained by one miner at a time. Its trajectory is a
//! sequence of leaves; every step binds an **anchor** (a recent block) in
//! its seed, its ticket and the leaf it produces, so a new block re-draws
//! nothing already computed. The steps are cut into **segments**, each
//! ending on a **share** (a ticket that meets the lane's share difficulty)
//! or committed first and challenged later; a segment's leaf 0 is the
//! lane's tip, and its running roots are over its own leaves.
//!
//! This module holds what every implementation must agree on byte for byte
//! — the leaf, seed, ticket, segment claim and commitment, the run seed,
//! the difficulties of a lane — and the builder of a segment being mined
//! ([`SegmentBuilder`]). docs/v3.md's vectors block is checked against it
//! (`tests/vectors_v3.rs`).

use crate::{
    hash::{hash_parts, Hash, Hasher},
    merkle::Frontier,
    pow::{Seed, Ticket},
    trajectory::challenged_steps,
};
use alloc::vec::Vec;

/// Identifies a lane.
pub type LaneId = u64;

/// Identifies a run (a workload and its initialisation seed).
pub type RunId = u64;

/// Shares per sealing ticket: a lane's share difficulty is its sealing
/// difficulty divided by `SHARES_PER_SEAL` (docs/v3.md §5).
pub const SHARES_PER_SEAL: u128 = 4;

/// Domain-separation tags of version 3 (docs/v3.md §4–§8).
pub mod tag {
    /// A step's seed.
    pub const SEED: &[u8] = b"upow/seed/v3";
    /// A step's ticket.
    pub const TICKET: &[u8] = b"upow/ticket/v3";
    /// A leaf: a step's output weights hash, its pre-activations hash and
    /// its anchor.
    pub const LEAF: &[u8] = b"upow/leaf/v3";
    /// A run's first tip leaf.
    pub const RUN_START: &[u8] = b"upow/run-start/v3";
    /// A run's initialisation seed.
    pub const RUN_SEED: &[u8] = b"upow/run-seed/v3";
    /// The challenges of a committed segment.
    pub const COMMIT_CHALLENGE: &[u8] = b"upow/commit-challenge/v3";
    /// What a lane's holder signs to land a segment.
    pub const SEGMENT: &[u8] = b"upow/segment/v3";
    /// The hash of a segment commitment.
    pub const COMMITMENT: &[u8] = b"upow/commitment/v3";
}

/// The block a step is bound to: its number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct Anchor {
    /// The block's number.
    pub number: u32,
    /// The block's hash.
    pub hash: Hash,
}

impl Anchor {
    /// Its bytes in seeds, tickets and leaves: `u32le(number) ‖ hash`.
    pub fn bytes(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..4].copy_from_slice(&self.number.to_le_bytes());
        out[4..].copy_from_slice(&self.hash);
        out
    }
}

/// Who mines a lane: every seed and ticket of its segments is bound to
/// these (docs/v3.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LaneContext {
    /// The lane.
    pub lane: LaneId,
    /// Its holder's author key (sr25519, 32 bytes).
    pub author: [u8; 32],
}

impl LaneContext {
    /// `seed = H("upow/seed/v3" ‖ u64le(lane) ‖ author ‖ u64le(t) ‖ anchor ‖ R_i)`:
    /// the seed of the step at global step `t`, anchored to `anchor`, with
    /// `R_i` the running root over the segment's leaves before it.
    pub fn seed(&self, global_step: u64, anchor: &Anchor, running_root: &Hash) -> Seed {
        Seed(self.bound(tag::SEED, global_step, anchor, running_root))
    }

    /// `ticket = H("upow/ticket/v3" ‖ u64le(lane) ‖ author ‖ u64le(t) ‖ anchor ‖ R_{i+1})`:
    /// the ticket of the step at global step `t`, with `R_{i+1}` the running
    /// root over the segment's leaves including the step's own.
    pub fn ticket(&self, global_step: u64, anchor: &Anchor, root: &Hash) -> Ticket {
        Ticket(self.bound(tag::TICKET, global_step, anchor, root))
    }

    fn bound(&self, tag: &[u8], global_step: u64, anchor: &Anchor, root: &Hash) -> Hash {
        let mut hasher = Hasher::new(tag);
        hasher
            .update(&self.lane.to_le_bytes())
            .update(&self.author)
            .update(&global_step.to_le_bytes())
            .update(&anchor.bytes())
            .update(root);
        hasher.finish()
    }
}

/// `H("upow/leaf/v3" ‖ H(W) ‖ H(Z) ‖ anchor)`: the leaf of a step that
/// produced weights `weights` (by hash) from pre-activations
/// `preactivations` (by hash, [`crate::preactivations_hash`]) anchored to
/// `anchor`. The value a segment's Merkle tree hashes as its leaf
/// (puzzle.md §7's `leaf(·)` of these 32 bytes). With the pre-activations
/// in the leaf, a step that skips any of them cannot give its leaf
/// (docs/v3.md §2.3).
pub fn step_leaf(weights: &Hash, preactivations: &Hash, anchor: &Anchor) -> Hash {
    hash_parts(tag::LEAF, &[weights, preactivations, &anchor.bytes()])
}

/// `H("upow/run-start/v3" ‖ u64le(run) ‖ H(W_0))`: a new run's first tip
/// leaf.
pub fn run_start_leaf(run: RunId, initial_weights: &Hash) -> Hash {
    hash_parts(tag::RUN_START, &[&run.to_le_bytes(), initial_weights])
}

/// `H("upow/run-seed/v3" ‖ u64le(run) ‖ sealing ticket)`: the seed of a
/// run's initial weights, bound to the sealing ticket of the block that
/// created it (docs/v3.md §2.1).
pub fn run_seed(run: RunId, sealing_ticket: &Ticket) -> Hash {
    hash_parts(tag::RUN_SEED, &[&run.to_le_bytes(), &sealing_ticket.0])
}

/// `⌊T · D / 2^256⌋` for a ticket `T` (a 256-bit big-endian integer) and a
/// chain difficulty `D`: the quotient every share and seal rule compares,
/// computed exactly (a 384-bit product). `T · D < 2^256 · M` exactly when
/// this is below `M`.
pub fn ticket_quotient(ticket: &Ticket, chain_difficulty: u128) -> u128 {
    // Little-endian 64-bit limbs of the big-endian ticket, and of D.
    let t: [u64; 4] = core::array::from_fn(|i| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&ticket.0[32 - 8 * (i + 1)..32 - 8 * i]);
        u64::from_be_bytes(bytes)
    });
    let d = [chain_difficulty as u64, (chain_difficulty >> 64) as u64];
    let mut product = [0u64; 6];
    for (i, &ti) in t.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &dj) in d.iter().enumerate() {
            let cell = u128::from(ti) * u128::from(dj) + u128::from(product[i + j]) + carry;
            product[i + j] = cell as u64;
            carry = cell >> 64;
        }
        let mut k = i + d.len();
        while carry > 0 && k < product.len() {
            let cell = u128::from(product[k]) + carry;
            product[k] = cell as u64;
            carry = cell >> 64;
            k += 1;
        }
    }
    u128::from(product[4]) | (u128::from(product[5]) << 64)
}

/// The share rule (docs/v3.md §5): `T · D < 2^256 · cost · S` — one ticket
/// in `D / (S · cost)` of a workload of `cost` cost units per step at chain
/// difficulty `D` (cost units). No division is rounded.
pub fn is_share(ticket: &Ticket, chain_difficulty: u128, cost: u128) -> bool {
    ticket_quotient(ticket, chain_difficulty) < cost.saturating_mul(SHARES_PER_SEAL)
}

/// The seal rule (docs/v3.md §5): `T · D < 2^256 · cost` — one ticket in
/// `D / cost`; every seal is a share.
pub fn is_seal(ticket: &Ticket, chain_difficulty: u128, cost: u128) -> bool {
    ticket_quotient(ticket, chain_difficulty) < cost
}

/// What a segment claims (docs/v3.md §5): `steps` steps of `lane` from its
/// tip at global step `start`, committed by `root` over `steps + 1`
/// leaves (leaf 0 the tip), ending at weights `final_weights`. The sealing
/// segment's claim is in the block's pre-runtime digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct SegmentClaim {
    /// The lane.
    pub lane: LaneId,
    /// Global step of leaf 0 (the lane's tip).
    pub start: u64,
    /// Steps in the segment (≥ 1).
    pub steps: u32,
    /// Merkle root over the segment's leaves.
    pub root: Hash,
    /// `H(W_steps)`.
    pub final_weights: Hash,
}

impl SegmentClaim {
    /// Leaves of the segment's tree.
    pub fn leaves(&self) -> u64 {
        u64::from(self.steps) + 1
    }
}

/// A segment that ends without a share, committed before its challenges
/// exist (docs/v3.md §7): the same fields as its claim.
pub type SegmentCommitment = SegmentClaim;

/// `H("upow/commitment/v3" ‖ SCALE(commitment))`: what a committed
/// segment's challenges are bound to, from its SCALE encoding.
pub fn commitment_hash(encoded_commitment: &[u8]) -> Hash {
    hash_parts(tag::COMMITMENT, &[encoded_commitment])
}

/// What a lane's holder signs to land a segment:
/// `"upow/segment/v3" ‖ genesis ‖ SCALE(claim)`.
pub fn segment_message(genesis: &Hash, encoded_claim: &[u8]) -> Vec<u8> {
    [tag::SEGMENT, genesis, encoded_claim].concat()
}

/// The challenged steps of a committed segment: drawn from the sealing
/// ticket of the block after the one that landed the commitment,
/// `challenged_steps(H("upow/commit-challenge/v3" ‖ ticket ‖
/// commitment_hash), steps)` ([`commitment_hash`]).
pub fn commit_challenges(sealing_ticket: &Ticket, commitment_hash: &Hash, steps: u32) -> Vec<u32> {
    let draw = hash_parts(tag::COMMIT_CHALLENGE, &[&sealing_ticket.0, commitment_hash]);
    challenged_steps(&Ticket(draw), steps)
}

/// A segment being mined: its leaves from the lane's tip, the running root,
/// the anchors of its steps.
#[derive(Clone, Debug)]
pub struct SegmentBuilder {
    ctx: LaneContext,
    start: u64,
    leaves: Vec<Hash>,
    anchors: Vec<Anchor>,
    frontier: Frontier,
    root: Hash,
}

impl SegmentBuilder {
    /// Starts at the lane's tip leaf (leaf 0), at global step `start`.
    pub fn start(ctx: LaneContext, start: u64, tip_leaf: Hash) -> Self {
        let leaf = crate::merkle::leaf_hash(&tip_leaf);
        let mut frontier = Frontier::new();
        let root = frontier.push(leaf);
        Self {
            ctx,
            start,
            leaves: alloc::vec![leaf],
            anchors: Vec::new(),
            frontier,
            root,
        }
    }

    /// Steps so far.
    pub fn steps(&self) -> u32 {
        (self.leaves.len() - 1) as u32
    }

    /// The global step of the next step.
    pub fn next_global_step(&self) -> u64 {
        self.start + u64::from(self.steps())
    }

    /// The seed of the next step, anchored to `anchor`.
    pub fn next_seed(&self, anchor: &Anchor) -> Seed {
        self.ctx.seed(self.next_global_step(), anchor, &self.root)
    }

    /// Records that the next step, anchored to `anchor`, produced weights
    /// with hash `weights` from pre-activations with hash `preactivations`;
    /// returns its ticket.
    pub fn push(&mut self, weights: &Hash, preactivations: &Hash, anchor: Anchor) -> Ticket {
        let global = self.next_global_step();
        let leaf = crate::merkle::leaf_hash(&step_leaf(weights, preactivations, &anchor));
        self.leaves.push(leaf);
        self.anchors.push(anchor);
        self.root = self.frontier.push(leaf);
        self.ctx.ticket(global, &anchor, &self.root)
    }

    /// The anchors of the steps so far, in order.
    pub fn anchors(&self) -> &[Anchor] {
        &self.anchors
    }

    /// The claim of the segment so far (`None` before its first step).
    pub fn claim(&self, final_weights: Hash) -> Option<SegmentClaim> {
        let steps = self.steps();
        (steps > 0).then_some(SegmentClaim {
            lane: self.ctx.lane,
            start: self.start,
            steps,
            root: self.root,
            final_weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> LaneContext {
        LaneContext {
            lane: 3,
            author: [2; 32],
        }
    }

    fn anchor(n: u32) -> Anchor {
        Anchor {
            number: n,
            hash: [n as u8; 32],
        }
    }

    #[test]
    fn the_last_ticket_is_the_claims_and_every_input_moves_it() {
        let mut b = SegmentBuilder::start(ctx(), 100, [9; 32]);
        let mut last = None;
        for i in 1..=5u8 {
            last = Some(b.push(&[i; 32], &[i + 100; 32], anchor(7 + u32::from(i / 3))));
        }
        let claim = b.claim([5; 32]).unwrap();
        assert_eq!(claim.steps, 5);
        assert_eq!(claim.start, 100);
        let ticket = ctx().ticket(104, &anchor(8), &claim.root);
        assert_eq!(Some(ticket), last);
        // Another anchor, step, lane or author: another ticket.
        assert_ne!(ctx().ticket(104, &anchor(9), &claim.root), ticket);
        assert_ne!(ctx().ticket(105, &anchor(8), &claim.root), ticket);
        let other_lane = LaneContext { lane: 4, ..ctx() };
        assert_ne!(other_lane.ticket(104, &anchor(8), &claim.root), ticket);
        let other_author = LaneContext {
            author: [1; 32],
            ..ctx()
        };
        assert_ne!(other_author.ticket(104, &anchor(8), &claim.root), ticket);
    }

    #[test]
    fn a_changed_anchor_changes_the_seed_and_the_leaf() {
        let b = SegmentBuilder::start(ctx(), 0, [9; 32]);
        assert_ne!(b.next_seed(&anchor(1)), b.next_seed(&anchor(2)));
        assert_ne!(
            step_leaf(&[1; 32], &[3; 32], &anchor(1)),
            step_leaf(&[1; 32], &[3; 32], &anchor(2))
        );
        let same_number = Anchor {
            number: 1,
            hash: [7; 32],
        };
        assert_ne!(b.next_seed(&anchor(1)), b.next_seed(&same_number));
    }

    #[test]
    fn other_pre_activations_give_another_leaf_and_ticket() {
        assert_ne!(
            step_leaf(&[1; 32], &[3; 32], &anchor(1)),
            step_leaf(&[1; 32], &[4; 32], &anchor(1))
        );
        let mut a = SegmentBuilder::start(ctx(), 0, [9; 32]);
        let mut b = a.clone();
        assert_ne!(
            a.push(&[1; 32], &[3; 32], anchor(1)),
            b.push(&[1; 32], &[4; 32], anchor(1))
        );
    }

    #[test]
    fn the_quotient_agrees_with_version_2s_target_and_is_exact() {
        use crate::pow::meets_difficulty;
        // T · D < 2^256 exactly when the quotient is 0: version 2's rule.
        for i in 0u64..2000 {
            let t = crate::hash::hash_parts(b"test", &[&i.to_le_bytes()]);
            for d in [1u128, 2, 3, 1000, 1 << 40, u128::MAX / 3, u128::MAX] {
                let q = ticket_quotient(&Ticket(t), d);
                assert_eq!(q == 0, meets_difficulty(&t, d), "{i} {d}");
            }
        }
        // Known values: T = 2^255 (top bit) times D = 6 is 3 · 2^256.
        let mut half = [0u8; 32];
        half[0] = 0x80;
        assert_eq!(ticket_quotient(&Ticket(half), 6), 3);
        assert_eq!(
            ticket_quotient(&Ticket([0xff; 32]), u128::MAX),
            u128::MAX - 1
        );
        assert_eq!(ticket_quotient(&Ticket([0; 32]), u128::MAX), 0);
        // A share at S times the seal's odds; every seal is a share.
        assert!(is_share(&Ticket(half), 6, 1) && !is_seal(&Ticket(half), 6, 1));
        assert!(is_seal(&Ticket(half), 6, 4) && is_share(&Ticket(half), 6, 4));
    }

    #[test]
    fn commit_challenges_include_the_last_step_and_follow_the_ticket() {
        let a = commit_challenges(&Ticket([1; 32]), &[2; 32], 100);
        assert_eq!(*a.last().unwrap(), 99);
        assert_ne!(a, commit_challenges(&Ticket([3; 32]), &[2; 32], 100));
        assert_ne!(a, commit_challenges(&Ticket([1; 32]), &[4; 32], 100));
    }
}
