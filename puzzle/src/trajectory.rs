//! Trajectories: the Merkle commitment to `H(W_0) … H(W_n)`, the claim a
//! block carries, the challenged steps, and the proof a winner assembles.

use alloc::vec::Vec;

use crate::{
    batch::{batch_indices, batch_openings_len, COMPACT_PREFIX_LEN},
    dataset::{Dataset, SampleOpening},
    error::{Error, Result},
    hash::{le_u64, tag, Hash, Hasher},
    job::JobSpec,
    merkle::{leaf_hash, Frontier, MerkleProof, MerkleTree},
    pow::{Seed, Ticket, TrajectoryContext},
    prng::below,
    segment::{segment_roots, MAX_SEGMENTS},
    weights::Weights,
};

/// Steps challenged at random, besides the final step (always proven).
pub const CHALLENGES: u8 = 2;

/// What a block claims about its trajectory (carried in the pre-runtime
/// digest): `steps` steps from the chain's weights, committed by `root` over
/// `steps + 1` leaves, ending at `final_weights`.
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
pub struct TrajectoryClaim {
    /// Steps in the trajectory (≥ 1).
    pub steps: u32,
    /// Merkle root over `H(W_0) … H(W_steps)`.
    pub root: Hash,
    /// `H(W_steps)`, the weights the chain adopts.
    pub final_weights: Hash,
}

impl TrajectoryClaim {
    /// The winning ticket: that of the final step.
    pub fn ticket(&self, ctx: &TrajectoryContext) -> Result<Ticket> {
        if self.steps == 0 {
            return Err(Error::EmptyTrajectory);
        }
        Ok(Ticket::derive(ctx, self.steps - 1, &self.root))
    }

    /// Leaves of the trajectory tree.
    pub fn leaves(&self) -> u64 {
        self.steps as u64 + 1
    }
}

/// The steps a winner must prove, ascending and distinct: `CHALLENGES` draws
/// `below(le_u64(H("upow/challenge/v1" ‖ ticket ‖ j)), steps − 1)` among the
/// non-final steps, and the final step `steps − 1`.
pub fn challenged_steps(ticket: &Ticket, steps: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(CHALLENGES as usize + 1);
    if steps == 0 {
        return out;
    }
    if steps > 1 {
        for j in 0..CHALLENGES {
            let mut hasher = Hasher::new(tag::CHALLENGE);
            hasher.update(&ticket.0).update(&[j]);
            out.push(below(le_u64(&hasher.finish()), (steps - 1) as u64) as u32);
        }
    }
    out.push(steps - 1);
    out.sort_unstable();
    out.dedup();
    out
}

/// An upper bound of the SCALE-encoded length of a block's
/// [`TrajectoryProof`] for `spec`, whatever the trajectory's length (at most
/// 2^32 leaves) and challenges: `CHALLENGES + 1` openings, each with the
/// weights (2 bytes per parameter), two trajectory proofs of at most 32
/// siblings and `B` samples with their dataset proofs, and the proof of
/// leaf 0, and at most [`MAX_SEGMENTS`] segment roots. Every compact length
/// prefix is counted as 5 bytes. What job admission compares with the
/// block's length budget.
pub fn max_proof_len(spec: &JobSpec) -> u64 {
    const TRAJECTORY_SIBLINGS: u64 = 32;
    let merkle = |siblings: u64| COMPACT_PREFIX_LEN + 32 * siblings;
    let weights = 2 * spec.model.params() as u64;
    let step = 4
        + COMPACT_PREFIX_LEN
        + weights
        + 2 * merkle(TRAJECTORY_SIBLINGS)
        + batch_openings_len(spec);
    let segments = COMPACT_PREFIX_LEN + 32 * MAX_SEGMENTS;
    merkle(TRAJECTORY_SIBLINGS) + COMPACT_PREFIX_LEN + (u64::from(CHALLENGES) + 1) * step + segments
}

/// The opening of one challenged step `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct StepProof {
    /// Step index `i`.
    pub index: u32,
    /// `W_i`, canonically encoded.
    pub weights: Vec<u8>,
    /// Proof of leaf `i` (`H(W_i)`).
    pub before: MerkleProof,
    /// Proof of leaf `i + 1` (`H(W_{i+1})`, recomputed by the verifier).
    pub after: MerkleProof,
    /// The batch the seed selects, in batch order.
    pub samples: Vec<SampleOpening>,
}

impl StepProof {
    /// Opens step `index` of the trajectory whose leaves `tree` holds: its
    /// input weights `weights` (`W_index`), the Merkle proofs of leaves
    /// `index` and `index + 1`, and the `batch` samples `seed` selects
    /// from `dataset`, each with its dataset proof.
    pub(crate) fn open(
        tree: &MerkleTree,
        index: u32,
        weights: &Weights,
        seed: &Seed,
        batch: usize,
        dataset: &Dataset,
    ) -> Result<Self> {
        let samples = batch_indices(seed, batch, dataset.len() as u64)
            .into_iter()
            .map(|i| dataset.open(i))
            .collect::<Result<Vec<_>>>()?;
        Ok(StepProof {
            index,
            weights: weights.encode(),
            before: tree.proof(index as u64)?,
            after: tree.proof(index as u64 + 1)?,
            samples,
        })
    }
}

/// Everything a block body carries to prove its trajectory claim.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct TrajectoryProof {
    /// Proof that leaf 0 is the chain's current weights hash.
    pub start: MerkleProof,
    /// Openings of the challenged steps, ascending.
    pub steps: Vec<StepProof>,
    /// The trajectory tree's segment roots, what replayers compare with
    /// ([`crate::segment`]; they fold to the claim's root).
    pub segments: Vec<Hash>,
}

/// A trajectory being mined: its leaves and its running root.
#[derive(Clone, Debug)]
pub struct Trajectory {
    ctx: TrajectoryContext,
    leaves: Vec<Hash>,
    frontier: Frontier,
    /// `R_i`: the root over the leaves so far.
    root: Hash,
}

impl Trajectory {
    /// Starts at the chain's weights `W_0` (by hash).
    pub fn start(ctx: TrajectoryContext, start_weights: Hash) -> Self {
        let leaf = leaf_hash(&start_weights);
        let mut frontier = Frontier::new();
        let root = frontier.push(leaf);
        Self {
            ctx,
            leaves: alloc::vec![leaf],
            frontier,
            root,
        }
    }

    /// The context the trajectory is bound to.
    pub fn context(&self) -> &TrajectoryContext {
        &self.ctx
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        (self.leaves.len() - 1) as u32
    }

    /// The seed of the next step (from the running root `R_i`).
    pub fn next_seed(&self) -> Seed {
        Seed::derive(&self.ctx, self.steps(), &self.root)
    }

    /// Records that the next step produced weights with hash `weights`, and
    /// returns that step's ticket.
    pub fn push(&mut self, weights: Hash) -> Ticket {
        let index = self.steps();
        let leaf = leaf_hash(&weights);
        self.leaves.push(leaf);
        self.root = self.frontier.push(leaf);
        Ticket::derive(&self.ctx, index, &self.root)
    }

    /// The claim of the trajectory so far (`None` before the first step).
    pub fn claim(&self, final_weights: Hash) -> Option<TrajectoryClaim> {
        let steps = self.steps();
        (steps > 0).then_some(TrajectoryClaim {
            steps,
            root: self.root,
            final_weights,
        })
    }

    /// The seeds of the steps `from..to` (`to ≤ steps() + 1`), recomputed
    /// from the leaves: what recomputing a stretch of the trajectory from a
    /// snapshot needs.
    pub fn seeds(&self, from: u32, to: u32) -> Result<Vec<Seed>> {
        if from > to || to as usize > self.leaves.len() {
            return Err(Error::StepIndex {
                index: to,
                steps: self.steps(),
            });
        }
        let mut frontier = Frontier::new();
        for leaf in &self.leaves[..from as usize] {
            frontier.push(*leaf);
        }
        let seeds = (from..to)
            .map(|index| {
                let running = frontier.push(self.leaves[index as usize]);
                Seed::derive(&self.ctx, index, &running)
            })
            .collect();
        Ok(seeds)
    }

    /// Assembles the proof of the claim for a job of `spec`: `weights_at(i)`
    /// must return `W_i` for each challenged step `i`; the batches come from
    /// `dataset`.
    pub fn prove(
        &self,
        claim: &TrajectoryClaim,
        spec: &JobSpec,
        dataset: &Dataset,
        mut weights_at: impl FnMut(u32) -> Result<Weights>,
    ) -> Result<TrajectoryProof> {
        let tree = MerkleTree::from_leaf_hashes(self.leaves.clone())?;
        let ticket = claim.ticket(&self.ctx)?;
        let mut steps = Vec::new();
        for index in challenged_steps(&ticket, claim.steps) {
            let weights = weights_at(index)?;
            let [seed] = self.seeds(index, index + 1)?[..] else {
                return Err(Error::StepIndex {
                    index,
                    steps: claim.steps,
                });
            };
            steps.push(StepProof::open(
                &tree,
                index,
                &weights,
                &seed,
                spec.hyper.batch(),
                dataset,
            )?);
        }
        Ok(TrajectoryProof {
            start: tree.proof(0)?,
            steps,
            segments: segment_roots(spec, &self.leaves)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_sorted_distinct_and_include_the_final_step() {
        for steps in 1..50u32 {
            for t in 0..20u8 {
                let c = challenged_steps(&Ticket([t; 32]), steps);
                assert_eq!(*c.last().unwrap(), steps - 1);
                assert!(c.windows(2).all(|w| w[0] < w[1]));
                assert!(c.len() <= CHALLENGES as usize + 1);
            }
        }
        assert!(challenged_steps(&Ticket([0; 32]), 0).is_empty());
        assert_eq!(challenged_steps(&Ticket([0; 32]), 1), [0]);
    }

    #[test]
    fn incremental_ticket_matches_claim() {
        let ctx = TrajectoryContext {
            parent: [4; 32],
            author: [5; 32],
            job: 9,
            salt: 1,
        };
        let mut t = Trajectory::start(ctx, [0; 32]);
        let mut last = None;
        for i in 1..=13u8 {
            last = Some(t.push([i; 32]));
        }
        let claim = t.claim([13; 32]).unwrap();
        assert_eq!(claim.steps, 13);
        assert_eq!(claim.ticket(&ctx).unwrap(), last.unwrap());
    }

    #[test]
    fn recomputed_seeds_equal_the_running_seeds() {
        let ctx = TrajectoryContext {
            parent: [4; 32],
            author: [5; 32],
            job: 9,
            salt: 0,
        };
        let mut t = Trajectory::start(ctx, [0; 32]);
        let mut running = Vec::new();
        for i in 1..=20u8 {
            running.push(t.next_seed());
            t.push([i; 32]);
        }
        running.push(t.next_seed());
        assert_eq!(t.seeds(0, 21).unwrap(), running);
        assert_eq!(t.seeds(7, 12).unwrap(), running[7..12]);
        assert!(t.seeds(0, 22).is_err());
        assert!(t.seeds(5, 4).is_err());
        // Another salt is another trajectory.
        let other = Trajectory::start(TrajectoryContext { salt: 1, ..ctx }, [0; 32]);
        assert_ne!(other.next_seed(), running[0]);
    }
}
