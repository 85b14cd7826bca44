//! The crate's one error type, with [`Degeneracy`]: which check of the
//! degeneracy rule a step failed (the reason [`Error::Degenerate`] gives).

use crate::hash::Hash;

/// Everything that can be wrong with a puzzle input: a job spec outside the
/// limits, bytes that do not decode, or a proof that does not verify.
///
/// No function of this crate panics on bad input; each returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The model has fewer than one or more than `MAX_LAYERS` weight layers.
    #[error("model must have 1..={max} weight layers, got {got}")]
    LayerCount {
        /// Weight layers in the spec.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// A layer width is zero or above `MAX_WIDTH`.
    #[error("layer dimension {index} is {width}, allowed 1..={max}")]
    Width {
        /// Index into the dimension list.
        index: usize,
        /// The offending width.
        width: u32,
        /// The limit.
        max: u32,
    },
    /// The model has fewer than two output classes.
    #[error("the output layer needs at least 2 classes, got {0}")]
    Classes(u32),
    /// The model has more parameters than `MAX_PARAMS`.
    #[error("model has {got} parameters, more than the limit {max}")]
    Params {
        /// Parameter count.
        got: u64,
        /// The limit.
        max: u64,
    },
    /// The batch size is not a power of two in `1..=MAX_BATCH` (for a job:
    /// `MIN_JOB_BATCH..=MAX_BATCH`).
    #[error("batch size must be a power of two up to {max} (a job's at least 16), got 2^{log2}")]
    Batch {
        /// log2 of the requested batch size.
        log2: u32,
        /// The limit.
        max: u32,
    },
    /// The learning-rate shift is above `MAX_LR_SHIFT`.
    #[error("learning-rate shift {got} above the limit {max}")]
    LrShift {
        /// Requested shift.
        got: u32,
        /// The limit.
        max: u32,
    },
    /// The job asks for zero steps.
    #[error("target step count must be at least 1")]
    ZeroSteps,
    /// An encoded weight set has the wrong length for its model.
    #[error("weights encoding is {got} bytes, the model needs {expected}")]
    WeightsLength {
        /// Bytes given.
        got: usize,
        /// Bytes the model needs.
        expected: usize,
    },
    /// A weight byte encodes -128, which the canonical encoding excludes.
    #[error("weight byte {offset} is -128, outside the symmetric int8 range")]
    WeightValue {
        /// Offset of the byte in the encoding.
        offset: usize,
    },
    /// An encoded sample has the wrong length for the dataset.
    #[error("sample encoding is {got} bytes, the dataset needs {expected}")]
    SampleLength {
        /// Bytes given.
        got: usize,
        /// Bytes expected (1 label byte + input bytes).
        expected: usize,
    },
    /// A sample's label is not a class of the model.
    #[error("sample label {label} is not below the class count {classes}")]
    Label {
        /// The label byte.
        label: u8,
        /// Classes of the model.
        classes: u32,
    },
    /// The dataset's sample shape does not match the model.
    #[error("dataset has {dataset} inputs per sample, the model takes {model}")]
    DatasetShape {
        /// Inputs per dataset sample.
        dataset: u32,
        /// Inputs of the model.
        model: u32,
    },
    /// A batch has the wrong number of samples.
    #[error("batch has {got} samples, the job's batch size is {expected}")]
    BatchSize {
        /// Samples given.
        got: usize,
        /// Samples expected.
        expected: usize,
    },
    /// A Merkle leaf index is outside its tree.
    #[error("leaf index {index} is outside a tree of {leaves} leaves")]
    LeafIndex {
        /// The index.
        index: u64,
        /// Leaves in the tree.
        leaves: u64,
    },
    /// A Merkle proof has the wrong number of siblings for its position.
    #[error("Merkle proof has {got} siblings, its position needs {expected}")]
    ProofLength {
        /// Siblings given.
        got: usize,
        /// Siblings needed.
        expected: usize,
    },
    /// A Merkle proof does not lead to the committed root.
    #[error("Merkle proof of {what} leaf {index} does not match the root")]
    ProofMismatch {
        /// Which tree: "trajectory" or "dataset".
        what: &'static str,
        /// Leaf index.
        index: u64,
    },
    /// The trajectory claim is empty (zero steps).
    #[error("a trajectory must contain at least one step")]
    EmptyTrajectory,
    /// A challenged step is not part of the claimed trajectory.
    #[error("step {index} is outside a trajectory of {steps} steps")]
    StepIndex {
        /// Step index.
        index: u32,
        /// Steps in the trajectory.
        steps: u32,
    },
    /// The trajectory does not start from the chain's current weights.
    #[error("trajectory starts from weights {got:02x?}, the chain holds {expected:02x?}")]
    StartMismatch {
        /// Leaf 0 of the trajectory.
        got: Hash,
        /// Current weights hash.
        expected: Hash,
    },
    /// A proven batch sample is not the one the seed selects.
    #[error("batch position {position} opens sample {got}, the seed selects {expected}")]
    SampleIndex {
        /// Position in the batch.
        position: usize,
        /// Index the opening names.
        got: u64,
        /// Index the seed selects.
        expected: u64,
    },
    /// Re-executing a step gave weights the trajectory does not commit to.
    #[error("step {index} re-executed to weights {computed:02x?}, not the trajectory's next leaf")]
    StepMismatch {
        /// Step index.
        index: u32,
        /// Hash of the recomputed weights.
        computed: Hash,
    },
    /// The ticket does not meet the difficulty target.
    #[error("ticket does not meet the difficulty target {difficulty}")]
    TicketAboveTarget {
        /// Difficulty at the parent.
        difficulty: u128,
    },
    /// The set of proven steps differs from the challenged set.
    #[error("proven steps {got:?} differ from the challenged steps {expected:?}")]
    ChallengeSet {
        /// Steps proven.
        got: alloc::vec::Vec<u32>,
        /// Steps challenged.
        expected: alloc::vec::Vec<u32>,
    },
    /// The final weights named by the claim are not the trajectory's last leaf.
    #[error("the claim's final weights are not the trajectory's last leaf")]
    FinalMismatch,
    /// The difficulty is zero.
    #[error("difficulty must be at least 1")]
    ZeroDifficulty,
    /// The claim has more steps than the difficulty allows
    /// ([`crate::pow::max_steps`]).
    #[error("a trajectory at this difficulty may have at most {max} steps, the claim has {steps}")]
    TooManySteps {
        /// Steps claimed.
        steps: u32,
        /// The bound at the block's difficulty.
        max: u32,
    },
    /// A proven step is degenerate: not real training work
    /// ([`crate::degeneracy`]).
    #[error("degenerate step: layer {layer} has {got}, at least {need} needed ({})", rule.describe())]
    Degenerate {
        /// Weight layer.
        layer: u8,
        /// Which rule.
        rule: Degeneracy,
        /// What the step has.
        got: u32,
        /// What the rule requires.
        need: u64,
    },
    /// Liveness thresholds out of range (in 1024 parts of a layer):
    /// non-zero weights outside `512..=1024` or live units outside
    /// `32..=1024` (below the degeneracy rule's own, or more than the whole
    /// layer), or active activations above `1024`.
    #[error(
        "liveness thresholds non-zero weights {nonzero_weights_per_1024}/1024, live units \
         {live_units_per_1024}/1024, active activations {active_per_1024}/1024: non-zero \
         weights must be 512..=1024, live units 32..=1024, active activations 0..=1024"
    )]
    Liveness {
        /// The non-zero-weights threshold given.
        nonzero_weights_per_1024: u16,
        /// The live-unit threshold given.
        live_units_per_1024: u16,
        /// The activation-density threshold given.
        active_per_1024: u16,
    },
    /// A trajectory's segment roots are not as many as its length needs
    /// ([`crate::segment::segment_count`]).
    #[error("{got} segment roots, a trajectory of {leaves} leaves has {expected}")]
    SegmentCount {
        /// Roots given.
        got: usize,
        /// Roots the trajectory has.
        expected: u64,
        /// Leaves of the trajectory.
        leaves: u64,
    },
    /// The segment roots do not fold to the claim's trajectory root.
    #[error("the segment roots do not fold to the trajectory root")]
    SegmentsMismatch,
    /// A fraud proof names a segment the trajectory does not have.
    #[error("segment {index} is outside a trajectory of {segments} segments")]
    SegmentIndex {
        /// Segment named.
        index: u32,
        /// Segments of the trajectory.
        segments: u64,
    },
    /// The segment holds no step to replay (segment 0 of one leaf: leaf 0
    /// is checked when the block is imported).
    #[error("segment {0} holds no step to replay")]
    NothingToReplay(u32),
    /// A fraud proof carries a different number of batches than the
    /// segment has steps.
    #[error("{got} batches for a segment of {expected} steps")]
    BatchCount {
        /// Batches given.
        got: usize,
        /// Steps replayed.
        expected: u64,
    },
    /// The replayed segment equals the committed one: the block is honest
    /// there.
    #[error("segment {0} replays to its committed root: no fraud")]
    NoFraud(u32),
    /// A malformed file (IDX dataset) or stream.
    #[error("malformed input: {0}")]
    Malformed(alloc::string::String),
}

/// Which check of the degeneracy rule ([`crate::degeneracy`]) a step
/// failed: the reason [`Error::Degenerate`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Degeneracy {
    /// Too few non-zero compute weights in the layer.
    SparseWeights,
    /// Too few units of the hidden layer fire on the batch.
    DeadLayer,
    /// Too few of the hidden layer's activations over the batch are non-zero.
    SparseActivations,
    /// Too few master weights changed in the layer.
    NoUpdate,
}

impl Degeneracy {
    /// The rule in words.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::SparseWeights => "too few non-zero weights",
            Self::DeadLayer => "too few live units",
            Self::SparseActivations => "too few non-zero activations",
            Self::NoUpdate => "too few weights changed",
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
