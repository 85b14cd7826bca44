//! Fraud proofs: proving that a block's trajectory contains a step that is
//! not the training step of its input (docs/puzzle.md §13).
//!
//! Spot checks bound a block's *work*, not its *content*: an author may
//! insert one unproven jump (a planted model) that the `CHALLENGES + 1`
//! checks miss. Every trajectory is deterministic given its start weights,
//! the dataset and the block's claim, so anyone can replay it; what a
//! replayer needs from the block is where the author's leaves diverge from
//! its own. For that the block body carries the trajectory tree's
//! **segment roots** ([`crate::segment`]): the nodes of the level
//! `a = segment_log2(spec, n + 1)` of the tree over `H(W_0) … H(W_n)`,
//! each the root over `2^a` consecutive leaves (the last one over the
//! rest). They fold to the claim's root ([`validate_segments`], checked
//! with every block), so they are the author's own leaves, in
//! `32 · ⌈(n + 1) / 2^a⌉` bytes ([`crate::segment::MAX_SEGMENTS`] roots at
//! most while the segments may grow; segments never grow past what one
//! fraud proof can replay, [`crate::segment::max_segment_log2`]).
//!
//! A **fraud proof** names the first segment `k` whose root an honest
//! replay does not reach and carries what replaying it needs: the weights
//! it starts from (`W_0` for segment 0, else the last leaf of segment
//! `k − 1`, proven against that segment's root) and the batches of the
//! replayed steps with their dataset proofs. The verifier takes the
//! running roots from the committed roots of segments `0 … k − 1` and the
//! leaves it computes itself, so it replays exactly what an honest author
//! computed from that point: an honest block's segment replays to its root
//! ([`Error::NoFraud`]), and a segment with any wrong leaf does not.
//! Replays never apply the degeneracy rule (it binds proven steps only), so
//! a degenerate honest step can neither hide a jump nor be reported. A step
//! whose batch draws a sample outside the model's classes has no honest
//! replay at all: no honest author computes it, so the proof of its
//! segment ends at that step and holds by itself ([`FraudReason::Label`]),
//! and no segment of any dataset is unprovable.
//!
//! [`verify_fraud`] is what the runtime runs for a fraud proof;
//! [`audit_trajectory`] is what auditors run for every block: the honest
//! replay, which returns the final weights or the fraud proof of the first
//! wrong segment.

use alloc::vec::Vec;

use crate::{
    batch::{batch_indices, select_batch, Batch},
    dataset::{Dataset, SampleOpening},
    error::{Error, Result},
    hash::Hash,
    job::{JobProgress, JobSpec},
    merkle::{leaf_hash, Frontier, MerkleProof, MerkleTree},
    pow::{Seed, TrajectoryContext},
    segment::{segment_count, SegmentSpan},
    step::TrainingStep,
    trajectory::TrajectoryClaim,
    verify::validate_segments,
    weights::{hash_encoded, Weights},
};

/// A proof that segment `segment` of a block's trajectory is not the
/// replay of its input.
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
pub struct FraudProof {
    /// The first segment an honest replay does not reach.
    pub segment: u32,
    /// The block's segment roots (as its body carries them).
    pub segments: Vec<Hash>,
    /// The weights the replay starts from, canonically encoded: `W_0` for
    /// segment 0, else the last leaf of segment `segment − 1`.
    pub weights: Vec<u8>,
    /// Proof of that leaf in segment `segment − 1`'s tree (empty for
    /// segment 0).
    pub start: MerkleProof,
    /// The batches of the replayed steps in step order, each in batch order
    /// with its dataset proofs.
    pub batches: Vec<Vec<SampleOpening>>,
}

/// What a valid fraud proof established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FraudVerdict {
    /// The wrong segment.
    pub segment: u32,
    /// Steps replayed (the last one only selected, for
    /// [`FraudReason::Label`]).
    pub steps: u64,
    /// Why the segment is wrong.
    pub reason: FraudReason,
}

/// Why a segment is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FraudReason {
    /// The honest replay reaches this root; the block committed another.
    Root(Hash),
    /// The segment's step `step` (its index `i` in the trajectory) draws a
    /// sample whose label is not a class of the model: no honest author
    /// computes that step.
    Label {
        /// The step.
        step: u64,
        /// The sample's label.
        label: u8,
    },
}

/// Verifies a fraud proof against a block's claim, its context and the
/// job's state at its parent (`progress`): the segment roots are the
/// block's, the start weights are the block's (leaf 0, or proven in the
/// previous segment), the batches are the ones the seeds select, and the
/// honest replay of the segment does **not** reach the committed root —
/// or a step of the segment draws a sample outside the model's classes
/// (the proof then carries the batches up to that step's only). Every other
/// outcome is a typed error; [`Error::NoFraud`] for an honest segment.
pub fn verify_fraud(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    progress: &JobProgress,
    claim: &TrajectoryClaim,
    proof: &FraudProof,
) -> Result<FraudVerdict> {
    validate_segments(job, claim, &proof.segments)?;
    let span = SegmentSpan::of(job, proof.segment, claim.leaves())?;
    if span.steps() == 0 {
        return Err(Error::NothingToReplay(proof.segment));
    }
    if proof.batches.is_empty() || proof.batches.len() as u64 > span.steps() {
        return Err(Error::BatchCount {
            got: proof.batches.len(),
            expected: span.steps(),
        });
    }
    let weights = Weights::decode(&job.model, &proof.weights)?;
    let mut prefix = Frontier::new();
    for root in &proof.segments[..proof.segment as usize] {
        prefix.push_node(span.log2, *root);
    }
    let mut replay = Replay::at(job, ctx, progress, prefix, span, &weights)?;
    if span.first_leaf > 0 {
        let previous = proof.segments[proof.segment as usize - 1];
        let size = 1u64 << span.log2;
        let root =
            proof
                .start
                .root_from(leaf_hash(&hash_encoded(&proof.weights)), size - 1, size)?;
        if root != previous {
            return Err(Error::ProofMismatch {
                what: "segment",
                index: span.first_step,
            });
        }
    }
    for (replayed, openings) in proof.batches.iter().enumerate() {
        let indices = batch_indices(&replay.seed(), job.hyper.batch(), job.dataset.samples);
        let batch = match Batch::from_openings(&job.model, &job.dataset, &indices, openings) {
            Err(Error::Label { label, .. }) if replayed + 1 == proof.batches.len() => {
                return Ok(FraudVerdict {
                    segment: proof.segment,
                    steps: replayed as u64 + 1,
                    reason: FraudReason::Label {
                        step: replay.next_step,
                        label,
                    },
                });
            }
            result => result?,
        };
        replay.step(&batch)?;
    }
    if proof.batches.len() as u64 != span.steps() {
        // Fewer batches than steps only for a step outside the classes.
        return Err(Error::BatchCount {
            got: proof.batches.len(),
            expected: span.steps(),
        });
    }
    let computed = replay.segment_root()?;
    if computed == proof.segments[proof.segment as usize] {
        return Err(Error::NoFraud(proof.segment));
    }
    Ok(FraudVerdict {
        segment: proof.segment,
        steps: span.steps(),
        reason: FraudReason::Root(computed),
    })
}

/// The outcome of auditing a block.
#[derive(Clone, Debug)]
pub enum Audit {
    /// Every segment replays to its root; `W_n`.
    Honest(Weights),
    /// The proof of the first wrong segment.
    Fraud(FraudProof),
}

/// Replays a block's whole trajectory from `start` (`W_0`, whose hash must
/// be `progress.weights`) with the reference step, segment by segment, and
/// compares each segment root with the block's. Returns `W_n`, or the
/// fraud proof of the first segment that differs. `on_step` is called
/// after every replayed step (progress and metrics).
#[allow(clippy::too_many_arguments)]
pub fn audit_trajectory(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    progress: &JobProgress,
    start: &Weights,
    claim: &TrajectoryClaim,
    segments: &[Hash],
    dataset: &Dataset,
    on_step: impl FnMut(),
) -> Result<Audit> {
    let block = Block {
        job,
        ctx,
        progress,
        claim,
        segments,
    };
    replay_segments(&block, start, dataset, None, on_step)
}

/// The fraud proof of segment `segment` of a block, whether or not the
/// segment is wrong (an honest segment's proof is refused with
/// [`Error::NoFraud`]): what tests of wrong fraud proofs submit.
#[allow(clippy::too_many_arguments)]
pub fn open_segment(
    job: &JobSpec,
    ctx: &TrajectoryContext,
    progress: &JobProgress,
    start: &Weights,
    claim: &TrajectoryClaim,
    segments: &[Hash],
    dataset: &Dataset,
    segment: u32,
) -> Result<FraudProof> {
    let block = Block {
        job,
        ctx,
        progress,
        claim,
        segments,
    };
    match replay_segments(&block, start, dataset, Some(segment), || {})? {
        Audit::Fraud(proof) => Ok(proof),
        Audit::Honest(_) => Err(Error::SegmentIndex {
            index: segment,
            segments: segments.len() as u64,
        }),
    }
}

/// What a replay checks a block against.
struct Block<'a> {
    job: &'a JobSpec,
    ctx: &'a TrajectoryContext,
    progress: &'a JobProgress,
    claim: &'a TrajectoryClaim,
    segments: &'a [Hash],
}

/// Replays a block's segments in order from `start` and opens the first
/// that differs from the block's root — or segment `open` if given,
/// whatever it replays to.
fn replay_segments(
    block: &Block<'_>,
    start: &Weights,
    dataset: &Dataset,
    open: Option<u32>,
    mut on_step: impl FnMut(),
) -> Result<Audit> {
    let Block {
        job,
        ctx,
        progress,
        claim,
        segments,
    } = *block;
    validate_segments(job, claim, segments)?;
    let leaves = claim.leaves();
    let mut weights = start.clone();
    let mut previous_leaves: Vec<Hash> = Vec::new();
    // The committed roots of the segments replayed so far (equal to the
    // replay's own, or the replay would have stopped).
    let mut prefix = Frontier::new();
    for index in 0..segment_count(job, leaves) as u32 {
        let span = SegmentSpan::of(job, index, leaves)?;
        let input = weights.clone();
        let mut replay = Replay::at(job, ctx, progress, prefix.clone(), span, &input)?;
        let mut seeds = Vec::with_capacity(span.steps() as usize);
        let mut outside_classes = None;
        for _ in 0..span.steps() {
            let seed = replay.seed();
            seeds.push(seed);
            match select_batch(job, dataset, &seed) {
                // No honest author computes this step: the segment is
                // wrong, and its proof ends here.
                Err(e @ Error::Label { .. }) => {
                    outside_classes = Some(e);
                    break;
                }
                batch => replay.step(&batch?)?,
            }
            on_step();
        }
        if let Some(e) = &outside_classes {
            // Nothing after this step can be replayed.
            if open.is_some_and(|open| open != index) {
                return Err(e.clone());
            }
        }
        let wrong = outside_classes.is_some() || replay.segment_root()? != segments[index as usize];
        if open.map_or(wrong, |open| open == index) {
            let start_proof = if index == 0 {
                MerkleProof::default()
            } else {
                MerkleTree::from_leaf_hashes(previous_leaves)?.proof((1u64 << span.log2) - 1)?
            };
            let batches = seeds
                .iter()
                .map(|seed| {
                    batch_indices(seed, job.hyper.batch(), dataset.len() as u64)
                        .into_iter()
                        .map(|i| dataset.open(i))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Audit::Fraud(FraudProof {
                segment: index,
                segments: segments.to_vec(),
                weights: input.encode(),
                start: start_proof,
                batches,
            }));
        }
        prefix.push_node(span.log2, segments[index as usize]);
        weights = replay.weights;
        previous_leaves = replay.leaves;
    }
    Ok(Audit::Honest(weights))
}

/// The honest replay of one segment: its running root (from the committed
/// roots before it and the leaves computed so far), the current weights and
/// the segment's leaves.
struct Replay<'a> {
    job: &'a JobSpec,
    ctx: &'a TrajectoryContext,
    first_global_step: u64,
    next_step: u64,
    frontier: Frontier,
    root: Hash,
    weights: Weights,
    leaves: Vec<Hash>,
}

impl<'a> Replay<'a> {
    /// Positions the replay at the first step of `span` with `weights` as
    /// that step's input (for segment 0 they must be the chain's weights).
    /// `prefix` holds the committed roots of the segments before `span`,
    /// pushed as nodes of height `span.log2` (empty for segment 0).
    fn at(
        job: &'a JobSpec,
        ctx: &'a TrajectoryContext,
        progress: &JobProgress,
        prefix: Frontier,
        span: SegmentSpan,
        weights: &Weights,
    ) -> Result<Self> {
        let mut frontier = prefix;
        let mut leaves = Vec::with_capacity(1usize << span.log2);
        let root = if span.first_leaf == 0 {
            let hash = weights.hash();
            if hash != progress.weights {
                return Err(Error::StartMismatch {
                    got: hash,
                    expected: progress.weights,
                });
            }
            let leaf = leaf_hash(&hash);
            leaves.push(leaf);
            frontier.push(leaf)
        } else {
            frontier.root().ok_or(Error::NothingToReplay(0))?
        };
        Ok(Self {
            job,
            ctx,
            first_global_step: progress.steps,
            next_step: span.first_step,
            frontier,
            root,
            weights: weights.clone(),
            leaves,
        })
    }

    /// The seed of the next step.
    fn seed(&self) -> Seed {
        Seed::derive(self.ctx, self.next_step as u32, &self.root)
    }

    /// Runs the next step on `batch` (the one [`Replay::seed`] selects).
    fn step(&mut self, batch: &Batch) -> Result<()> {
        let seed = self.seed();
        let global = self.first_global_step.saturating_add(self.next_step);
        self.weights = TrainingStep::new(&self.job.model, &self.job.hyper)
            .run(&self.weights, batch, &seed, global)?
            .weights;
        let leaf = leaf_hash(&self.weights.hash());
        self.leaves.push(leaf);
        self.root = self.frontier.push(leaf);
        self.next_step += 1;
        Ok(())
    }

    /// The root over the segment's leaves computed so far.
    fn segment_root(&self) -> Result<Hash> {
        Ok(MerkleTree::from_leaf_hashes(self.leaves.clone())?.root())
    }
}
