//! Segments: how a trajectory tree is cut into stretches that one fraud
//! proof can replay each (docs/puzzle.md §13).
//!
//! A trajectory of `N = n + 1` leaves `H(W_0) … H(W_n)` is cut into
//! segments of `2^a` consecutive leaves (the last one the rest), `a =`
//! [`segment_log2`]: the smallest level with at most [`MAX_SEGMENTS`]
//! segments, but never past what one fraud proof may replay
//! ([`max_segment_log2`]: its bytes within [`MAX_FRAUD_PROOF_BYTES`], its
//! products within [`MAX_FRAUD_PROOF_MACS`]). A block body carries the
//! segments' roots ([`segment_roots`]: the nodes of level `a` of the
//! trajectory tree), which verification checks against the claim's root
//! with every block, and a fraud proof replays one segment
//! ([`SegmentSpan`]: its leaves and the steps a replay runs).

use alloc::vec::Vec;

use crate::{
    batch::batch_openings_len,
    cost::replay_macs,
    error::{Error, Result},
    hash::Hash,
    job::JobSpec,
    merkle::MerkleTree,
};

/// Segment roots a block carries while its segments may stay short
/// (32 KiB): segments grow past one leaf only beyond `MAX_SEGMENTS` leaves,
/// and never past [`max_segment_log2`] of the job.
pub const MAX_SEGMENTS: u64 = 1024;

/// Most bytes a fraud proof's replay may carry (the start weights and one
/// batch with dataset proofs per replayed step): a third of the Normal
/// class's 9 MiB of block length.
pub const MAX_FRAUD_PROOF_BYTES: u64 = 3 << 20;

/// Most multiply-accumulates a fraud proof's replay may take, counted as
/// [`replay_macs`] per replayed step: the bound a block's own verification
/// has (20% of the block weight at the measured `submit_trajectory`
/// weights, docs/protocol.md §4).
pub const MAX_FRAUD_PROOF_MACS: u64 = 800_000_000;

/// Whether a fraud proof replaying `steps` steps of `spec` fits
/// [`MAX_FRAUD_PROOF_BYTES`] (the start weights and one batch with dataset
/// proofs per step) and [`MAX_FRAUD_PROOF_MACS`].
fn replay_fits(spec: &JobSpec, steps: u64) -> bool {
    let params = spec.model.params() as u64;
    let step_macs = replay_macs(spec.hyper.batch() as u64, params);
    2 * params + steps * batch_openings_len(spec) <= MAX_FRAUD_PROOF_BYTES
        && steps * step_macs <= MAX_FRAUD_PROOF_MACS
}

/// The longest segments (`2^a` steps) whose fraud proof fits
/// [`MAX_FRAUD_PROOF_BYTES`] and [`MAX_FRAUD_PROOF_MACS`] for `spec`;
/// `0` (one step) when even one step does not (job admission rejects such
/// jobs, docs/protocol.md §4).
pub fn max_segment_log2(spec: &JobSpec) -> u32 {
    (0..31)
        .take_while(|&a| replay_fits(spec, 1u64 << (a + 1)))
        .count() as u32
}

/// Whether one replayed step of `spec` fits a fraud proof (what job
/// admission requires).
pub fn fraud_proof_fits(spec: &JobSpec) -> bool {
    replay_fits(spec, 1)
}

/// `a`, the level of the segment roots of a trajectory of `spec` with
/// `leaves` leaves: the smallest with `⌈leaves / 2^a⌉ ≤ MAX_SEGMENTS`, but
/// at most [`max_segment_log2`] (then there are more than `MAX_SEGMENTS`).
pub fn segment_log2(spec: &JobSpec, leaves: u64) -> u32 {
    let mut log2 = 0;
    while leaves.div_ceil(1u64 << log2) > MAX_SEGMENTS {
        log2 += 1;
    }
    log2.min(max_segment_log2(spec))
}

/// Segments of a trajectory of `spec` with `leaves` leaves.
pub fn segment_count(spec: &JobSpec, leaves: u64) -> u64 {
    leaves.div_ceil(1u64 << segment_log2(spec, leaves))
}

/// The segment roots of a trajectory of `spec` with these leaf hashes
/// (what the block body carries).
pub fn segment_roots(spec: &JobSpec, leaves: &[Hash]) -> Result<Vec<Hash>> {
    let size = 1usize << segment_log2(spec, leaves.len() as u64);
    leaves
        .chunks(size)
        .map(|chunk| Ok(MerkleTree::from_leaf_hashes(chunk.to_vec())?.root()))
        .collect()
}

/// Where a segment lies: its leaves `first_leaf..end_leaf`, and the steps a
/// replay runs (`first_step..end_leaf − 1`, producing leaves
/// `first_step + 1 ..end_leaf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSpan {
    /// `a` of the trajectory.
    pub log2: u32,
    /// First leaf of the segment.
    pub first_leaf: u64,
    /// One past its last leaf.
    pub end_leaf: u64,
    /// First step replayed: the step whose input is leaf 0 (segment 0) or
    /// the previous segment's last leaf.
    pub first_step: u64,
}

impl SegmentSpan {
    /// Segment `index` of a trajectory of `spec` with `leaves` leaves.
    pub fn of(spec: &JobSpec, index: u32, leaves: u64) -> Result<Self> {
        let log2 = segment_log2(spec, leaves);
        let segments = segment_count(spec, leaves);
        if u64::from(index) >= segments {
            return Err(Error::SegmentIndex { index, segments });
        }
        let first_leaf = u64::from(index) << log2;
        Ok(Self {
            log2,
            first_leaf,
            end_leaf: (first_leaf + (1u64 << log2)).min(leaves),
            first_step: first_leaf.saturating_sub(1),
        })
    }

    /// Steps a replay of the segment runs.
    pub fn steps(&self) -> u64 {
        self.end_leaf - 1 - self.first_step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        merkle::Frontier,
        test_support::{leaves, spec},
    };

    #[test]
    fn segments_grow_past_one_leaf_only_beyond_max_segments_and_within_a_fraud_proof() {
        let reference = spec(&[784, 128, 10], 6);
        let cap = max_segment_log2(&reference);
        // 784-128-10 at batch 64: (3 MiB − 203 KB) / 84 KB per step → 32 steps.
        assert_eq!(cap, 5);
        assert_eq!(segment_log2(&reference, 1), 0);
        assert_eq!(segment_log2(&reference, MAX_SEGMENTS), 0);
        assert_eq!(segment_log2(&reference, MAX_SEGMENTS + 1), 1);
        assert_eq!(segment_log2(&reference, 2 * MAX_SEGMENTS), 1);
        // Past the cap, more segments instead of longer ones.
        let huge = u32::MAX as u64 + 1;
        assert_eq!(segment_log2(&reference, huge), cap);
        assert_eq!(segment_count(&reference, huge), huge >> cap);
        // Every segment's fraud proof fits, whatever the job and length.
        for (dims, batch) in [
            (&[784u32, 16, 10][..], 4),
            (&[784, 128, 10][..], 6),
            (&[1024, 314, 10][..], 8),
        ] {
            let spec = spec(dims, batch);
            assert!(fraud_proof_fits(&spec));
            let steps = 1u64 << segment_log2(&spec, huge);
            let weights = 2 * spec.model.params() as u64;
            assert!(weights + steps * batch_openings_len(&spec) <= MAX_FRAUD_PROOF_BYTES);
            let step_macs = replay_macs(spec.hyper.batch() as u64, spec.model.params() as u64);
            assert!(steps * step_macs <= MAX_FRAUD_PROOF_MACS);
        }
        let span = SegmentSpan::of(&reference, 0, 5).unwrap();
        assert_eq!((span.first_leaf, span.end_leaf, span.steps()), (0, 1, 0));
        let span = SegmentSpan::of(&reference, 3, 5).unwrap();
        assert_eq!((span.first_step, span.steps()), (2, 1));
        assert!(SegmentSpan::of(&reference, 5, 5).is_err());
        let span = SegmentSpan::of(&reference, 1, 3 * MAX_SEGMENTS).unwrap();
        assert_eq!(span.log2, 2);
        assert_eq!((span.first_leaf, span.first_step, span.steps()), (4, 3, 4));
    }

    #[test]
    fn pushed_segment_roots_give_the_prefix_roots() {
        let spec = spec(&[784, 128, 10], 6);
        let all = leaves(3000);
        let log2 = segment_log2(&spec, 3000);
        let segments = segment_roots(&spec, &all).unwrap();
        for k in [1usize, 2, 5, 100] {
            let mut frontier = Frontier::new();
            let mut root = [0; 32];
            for s in &segments[..k] {
                root = frontier.push_node(log2, *s);
            }
            let prefix = k << log2;
            let expected = MerkleTree::from_leaf_hashes(all[..prefix].to_vec())
                .unwrap()
                .root();
            assert_eq!(root, expected);
            let next = frontier.push(all[prefix]);
            let expected = MerkleTree::from_leaf_hashes(all[..=prefix].to_vec())
                .unwrap()
                .root();
            assert_eq!(next, expected);
        }
    }
}
