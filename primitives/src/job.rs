//! Jobs as the chain records them and reports them: their status, the work
//! a miner trains, what a dApp queries, the loss curve, the training
//! progress (one record, kept by the training pallet), the blocks still in
//! their dispute window, what a block pays, and what a job's poster holds
//! as its deposit.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

use crate::{
    AuthorId, Difficulty, Hash, JobId, JobSpec, Liveness, TrajectoryClaim, TrajectoryContext,
};

/// The deposit a paid job holds from its poster until its record is reaped
/// (docs/datasets.md §5): `base + per_byte · dataset.stored_bytes()` — the
/// job's record, and the dataset bytes every node is asked to keep for the
/// job's life and retention. `None` if it does not fit a `u128`. The one
/// rule: the jobs pallet holds it, `upow-cli job post` checks it before
/// signing.
pub fn job_deposit(
    base: u128,
    per_byte: u128,
    dataset: &upow_puzzle::DatasetCommitment,
) -> Option<u128> {
    per_byte
        .checked_mul(dataset.stored_bytes())?
        .checked_add(base)
}

/// Lifecycle of a job.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
    Debug,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum JobStatus {
    /// Open for mining: any block may train it (the house job always is).
    Open,
    /// Reached its target step count or loss.
    Completed,
    /// Stopped because its budget ran out.
    Exhausted,
    /// Cancelled by its poster; unspent budget refunded.
    Cancelled,
    /// No block trained it for the expiry period (e.g. nobody can get its
    /// dataset); unspent budget refunded.
    Expired,
    /// Displaced from a full market by a better-paying job; budget refunded.
    Evicted,
    /// Reached its target step count, loss or budget on steps that are
    /// still in their dispute window: no block trains it; it completes (or
    /// is exhausted) when its last payment settles, and opens again if a
    /// fraud proof rolls those steps back.
    Settling,
}

/// What a miner needs to train a block of one job: read at the parent block.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct Work {
    /// The job.
    pub job: JobId,
    /// Model, hyper-parameters and dataset of the job.
    pub spec: JobSpec,
    /// Seed of the job's initial weights.
    pub init_seed: Hash,
    /// `H(W_tip)`: trajectories start here.
    pub weights: Hash,
    /// Steps already applied to the job.
    pub steps: u64,
    /// The job's difficulty: what its tickets must meet (docs/puzzle.md §6).
    pub difficulty: Difficulty,
    /// Its workload's liveness threshold: every proven step must pass the
    /// degeneracy rule at it (docs/v3.md §2.3).
    pub liveness: Liveness,
    /// Price per verified step (zero for the house job).
    pub price_per_step: u128,
    /// Escrow left to pay steps with.
    pub budget_left: u128,
}

/// A job as dApps and miners see it.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct JobInfo {
    /// Who posted (and pays for) the job.
    pub poster: AuthorId,
    /// Model, hyper-parameters and dataset.
    pub spec: JobSpec,
    /// Seed of the initial weights: `None` in the block that posted the
    /// job, drawn from a later block's sealing ticket (docs/v3.md §2.1).
    pub init_seed: Option<Hash>,
    /// Price per verified step.
    pub price_per_step: u128,
    /// Escrow left.
    pub budget_left: u128,
    /// Storage deposit held until the job's record is reaped.
    pub deposit: u128,
    /// Step count at which the job completes.
    pub target_steps: u64,
    /// Optional loss (sixteenths of a bit, per sample) at which it completes.
    pub target_loss: Option<u64>,
    /// Where it stands.
    pub status: JobStatus,
    /// Steps applied so far.
    pub steps: u64,
    /// Current (or final) weights hash (`None` until the initial weights
    /// are drawn).
    pub weights: Option<Hash>,
    /// Mean per-sample loss of the last proven batch (sixteenths of a bit).
    pub last_loss: Option<u64>,
    /// Block in which it was posted.
    pub posted_at: u32,
    /// Last block that trained it (its posting block before that).
    pub last_progress: u32,
    /// Block in which it ended (completed, exhausted, cancelled, expired, evicted).
    pub ended_at: Option<u32>,
    /// Steps past their dispute window (`steps` counts the pending ones too).
    pub settled_steps: u64,
    /// Weights hash at `settled_steps` (`None` until the initial weights
    /// are drawn).
    pub settled_weights: Option<Hash>,
    /// Payments reserved for blocks still in their dispute window (held
    /// with the escrow, not in `budget_left`).
    pub pending_payment: u128,
}

/// One point of a job's loss curve: recorded for every block that trains it.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
    Debug,
)]
pub struct LossPoint {
    /// Block number.
    pub block: u32,
    /// Job steps after the block.
    pub steps: u64,
    /// Mean per-sample loss of the block's final proven batch (sixteenths of a bit).
    pub loss: u64,
}

/// A job's training progress: the one record of how far the chain has
/// trained a job. The training pallet keeps it (it verifies blocks, settles
/// them and rolls them back); the jobs pallet and the runtime API read it.
#[derive(
    Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct TrainingProgress {
    /// `H(W)` of the job's current weights.
    pub weights: Hash,
    /// Steps applied so far (settled or still disputable).
    pub steps: u64,
    /// Mean per-sample loss of the last verified batch (sixteenths of a bit).
    pub last_loss: Option<u64>,
    /// `H(W)` at the newest block of the job past the dispute window.
    pub settled_weights: Hash,
    /// Steps at the newest block of the job past the dispute window.
    pub settled_steps: u64,
}

impl TrainingProgress {
    /// A job no block has trained yet, at its initial weights.
    pub fn untrained(initial_weights: Hash) -> Self {
        Self {
            weights: initial_weights,
            steps: 0,
            last_loss: None,
            settled_weights: initial_weights,
            settled_steps: 0,
        }
    }

    /// Where a block that extends the job starts: the current weights and
    /// step count.
    pub fn tip(&self) -> upow_puzzle::JobProgress {
        upow_puzzle::JobProgress {
            weights: self.weights,
            steps: self.steps,
        }
    }
}

/// A block's trajectory while it is in its dispute window (the training
/// pallet's record, and what the runtime API reports): what an auditor
/// replays it from, what a fraud proof is checked against and what a valid
/// one undoes. `AccountId` is the author's account.
#[derive(
    Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
)]
pub struct DisputableBlock<AccountId> {
    /// The job it trained.
    pub job: JobId,
    /// The author's account (paid at settlement, slashed on fraud).
    pub author: AccountId,
    /// The author's key (the trajectory's context).
    pub author_key: AuthorId,
    /// The block's parent hash (the trajectory's context).
    pub parent: Hash,
    /// The block's salt (the trajectory's context).
    pub salt: u32,
    /// Steps claimed.
    pub steps: u32,
    /// Trajectory root.
    pub root: Hash,
    /// `H(W_n)`.
    pub final_weights: Hash,
    /// The job's progress at the parent: where the trajectory starts and
    /// where a rollback returns to.
    pub start: TrainingProgress,
    /// Payment reserved for the author (paid when the block settles).
    pub payment: u128,
}

impl<AccountId> DisputableBlock<AccountId> {
    /// The trajectory's context.
    pub fn context(&self) -> TrajectoryContext {
        TrajectoryContext {
            parent: self.parent,
            author: self.author_key,
            job: self.job,
            salt: self.salt,
        }
    }

    /// The block's trajectory claim.
    pub fn trajectory_claim(&self) -> TrajectoryClaim {
        TrajectoryClaim {
            steps: self.steps,
            root: self.root,
            final_weights: self.final_weights,
        }
    }
}

/// What a block pays its author, in the chain's smallest unit: computed by
/// one function of the runtime ([`crate::UpowApi::block_payment`]), which
/// the runtime pays by and miners predict their earnings with.
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, Debug, Default)]
pub struct BlockPayment {
    /// The job's payment for the block's steps (`price × steps`, capped by
    /// the budget left): reserved when the block is imported, paid when it
    /// settles (zero for the house job).
    pub job_payment: u128,
    /// The block reward minted to the author at once (its share of the
    /// era's reward, with the rounding dust of the validators' shares).
    pub author_reward: u128,
}
