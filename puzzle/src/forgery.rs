//! Forged trajectories, for the tests that attack the verifier.
//!
//! A forger commits to leaves of its choice (hashes of weights it never
//! computed, filler) and opens the challenged steps with whatever weights
//! it knows. The puzzle's own tests and the runtime's build the attacks of
//! docs/protocol.md §8 with this one builder; nothing here is needed to
//! mine or verify, so it is compiled only with the crate's feature
//! `forgery`, which only those tests enable (never the runtime's wasm).

use alloc::{collections::BTreeMap, vec::Vec};

use crate::{
    dataset::Dataset,
    error::Result,
    hash::Hash,
    job::JobSpec,
    merkle::{Frontier, MerkleTree},
    pow::{Seed, Ticket, TrajectoryContext},
    segment::segment_roots,
    trajectory::{challenged_steps, StepProof, TrajectoryClaim, TrajectoryProof},
    weights::Weights,
};

/// A forged trajectory: arbitrary leaf hashes (leaf `i` is `leaf(H(W_i))`
/// for an honest trajectory), with the weights the forger knows for some
/// of them.
#[derive(Clone, Debug)]
pub struct Forgery {
    /// Leaf hashes `0 ..= n`.
    pub leaves: Vec<Hash>,
    /// Weights the forger can open, by leaf index.
    pub known: BTreeMap<u32, Weights>,
}

impl Forgery {
    /// Steps claimed (`leaves − 1`).
    pub fn steps(&self) -> u32 {
        self.leaves.len().saturating_sub(1) as u32
    }

    /// The root over the leaves.
    pub fn root(&self) -> Result<Hash> {
        Ok(MerkleTree::from_leaf_hashes(self.leaves.clone())?.root())
    }

    /// The ticket of the claim over these leaves.
    pub fn ticket(&self, ctx: &TrajectoryContext) -> Result<Ticket> {
        Ok(Ticket::derive(
            ctx,
            self.steps().saturating_sub(1),
            &self.root()?,
        ))
    }

    /// The seed step `index` gets from the running root of these leaves.
    pub fn seed(&self, ctx: &TrajectoryContext, index: u32) -> Seed {
        let mut frontier = Frontier::new();
        let mut root = [0; 32];
        for leaf in self.leaves.iter().take(index as usize + 1) {
            root = frontier.push(*leaf);
        }
        Seed::derive(ctx, index, &root)
    }

    /// The claim and the best proof the forger can build: the weights it
    /// knows where it has them, `fallback` elsewhere, and the batches the
    /// seeds of its own leaves select. `final_weights` is the known `W_n`'s
    /// hash, or `[0xee; 32]`.
    pub fn prove(
        &self,
        ctx: &TrajectoryContext,
        spec: &JobSpec,
        dataset: &Dataset,
        fallback: &Weights,
    ) -> Result<(TrajectoryClaim, TrajectoryProof)> {
        let tree = MerkleTree::from_leaf_hashes(self.leaves.clone())?;
        let n = self.steps();
        let claim = TrajectoryClaim {
            steps: n,
            root: tree.root(),
            final_weights: self.known.get(&n).map_or([0xee; 32], Weights::hash),
        };
        let ticket = claim.ticket(ctx)?;
        let mut steps = Vec::new();
        for index in challenged_steps(&ticket, n) {
            let weights = self.known.get(&index).unwrap_or(fallback);
            steps.push(StepProof::open(
                &tree,
                index,
                weights,
                &self.seed(ctx, index),
                spec.hyper.batch(),
                dataset,
            )?);
        }
        let proof = TrajectoryProof {
            start: tree.proof(0)?,
            steps,
            segments: segment_roots(spec, &self.leaves)?,
        };
        Ok((claim, proof))
    }
}
