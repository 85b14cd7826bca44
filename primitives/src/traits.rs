//! The contracts between upow's pallets: training asks the jobs pallet what
//! to train and tells it what was verified; admission resolves author keys;
//! the staking pallet punishes fraud.

use alloc::vec::Vec;

use crate::{AuthorId, Hash, JobId, JobSpec, Liveness, TrainingProgress};

/// A job blocks may train now: an open paid job, or the house job.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ActiveJob {
    /// Its id.
    pub id: JobId,
    /// Model, hyper-parameters, dataset.
    pub spec: JobSpec,
    /// Seed of its initial weights.
    pub init_seed: Hash,
    /// Hash of its initial weights (computed once, when its seed was drawn).
    pub initial_weights: Hash,
    /// The cost of one of its steps in cost units
    /// (`upow_puzzle::REFERENCE_COST` per reference step), as its listed
    /// workload states it: what its ticket difficulty is scaled by.
    pub cost: u32,
    /// Its listed workload's liveness threshold: what every proven step of
    /// it must pass (docs/v3.md §2.3).
    pub liveness: Liveness,
    /// Price per verified step (zero for the house job).
    pub price_per_step: u128,
    /// Escrow left.
    pub budget_left: u128,
}

/// The job market (implemented by the jobs pallet): which jobs blocks
/// may train, and what happens to verified steps.
pub trait JobSchedule<AccountId> {
    /// `job`, if blocks may train it now: open (or the house job), and its
    /// spec a listed workload's.
    fn trainable(job: JobId) -> Option<ActiveJob>;
    /// Every job blocks may train now: open paid jobs best-paying first
    /// (ties: oldest first), then the house job.
    fn open() -> Vec<ActiveJob>;
    /// What a block pays for `steps` steps of `job` now: `price × steps`,
    /// capped by the budget left (zero for the house job and for a job
    /// blocks may not train). The one rule of a block's job payment:
    /// [`JobSchedule::on_progress`] reserves exactly this, and the runtime
    /// API reports it to miners.
    fn payment_for(job: JobId, steps: u32) -> u128;
    /// A block by `author` verified `steps` more steps of `job` (its new
    /// [`TrainingProgress`] is already recorded, see [`ProgressOf`]).
    /// Reserves the author's payment ([`JobSchedule::payment_for`]) from
    /// the escrow (paid when the block settles, see
    /// [`JobSchedule::on_settled`]) and returns it; stops the job's
    /// training if it reached its target or budget.
    fn on_progress(job: JobId, author: &AccountId, steps: u32) -> u128;
    /// Upper bound of the weight of [`JobSchedule::on_progress`].
    fn on_progress_weight() -> sp_weights::Weight;
    /// A block's `steps` of `job` passed their dispute window: pays
    /// `author` the `payment` reserved for them; completes a settling
    /// job whose last payment this was.
    fn on_settled(job: JobId, author: &AccountId, steps: u32, payment: u128);
    /// Upper bound of the weight of [`JobSchedule::on_settled`].
    fn on_settled_weight() -> sp_weights::Weight;
    /// A fraud proof rolled `job` back (its restored [`TrainingProgress`] is
    /// already recorded), discarding blocks whose reserved payments sum to
    /// `released`. All of it goes back into the budget, or to the poster if
    /// the job has ended: nothing of a discarded block is paid from the
    /// escrow (the authors of later discarded blocks are paid from the
    /// slash only, docs/protocol.md §8, P4). A settling job opens again.
    fn on_rolled_back(job: JobId, released: u128);
    /// Upper bound of the weight of [`JobSchedule::on_rolled_back`].
    fn on_rolled_back_weight() -> sp_weights::Weight;
    /// A job with a record (open, settling, ended or the house job):
    /// its spec and its poster (`None` for the house job). What fraud
    /// proofs are checked against.
    fn record(job: JobId) -> Option<(JobSpec, Option<AccountId>)>;
    /// Upper bound of the weight of [`JobSchedule::trainable`].
    fn trainable_weight() -> sp_weights::Weight;
    /// The block being executed is sealed by `sealing_ticket` (called
    /// first thing in the block, before any transaction): draws the initial
    /// weights of the jobs posted in the previous block from it
    /// (docs/v3.md §2.1). Returns the weight used.
    fn draw_initial_weights(sealing_ticket: &upow_puzzle::Ticket) -> sp_weights::Weight;
}

/// How far each job has been trained (implemented by the training pallet,
/// the one owner of [`TrainingProgress`]; the jobs pallet reads it to
/// decide completion and report steps).
pub trait ProgressOf {
    /// `job`'s progress (`None`: no block has trained it yet).
    fn progress(job: JobId) -> Option<TrainingProgress>;
    /// Upper bound of the weight of [`ProgressOf::progress`].
    fn progress_weight() -> sp_weights::Weight;
    /// Records `progress` for `job` (benchmarks of the jobs pallet set up
    /// a trained job with it).
    #[cfg(feature = "runtime-benchmarks")]
    fn set_progress(job: JobId, progress: TrainingProgress);
}

impl ProgressOf for () {
    fn progress(_job: JobId) -> Option<TrainingProgress> {
        None
    }
    fn progress_weight() -> sp_weights::Weight {
        sp_weights::Weight::zero()
    }
    #[cfg(feature = "runtime-benchmarks")]
    fn set_progress(_job: JobId, _progress: TrainingProgress) {}
}

/// What happens to a job's training state when its record is reaped
/// (implemented by the training pallet; the jobs pallet calls it).
pub trait OnJobReaped {
    /// Drops `job`'s training state.
    fn on_reaped(job: JobId);
    /// Upper bound of the weight of [`OnJobReaped::on_reaped`].
    fn on_reaped_weight() -> sp_weights::Weight;
}

impl OnJobReaped for () {
    fn on_reaped(_job: JobId) {}
    fn on_reaped_weight() -> sp_weights::Weight {
        sp_weights::Weight::zero()
    }
}

/// Admission of jobs by the cost of verifying and carrying their blocks
/// (implemented by the runtime from the benchmarked weights and block
/// limits; the jobs pallet calls it when a job is posted).
pub trait JobLimits {
    /// Whether blocks of `spec` fit the chain's per-block budgets.
    fn check(spec: &JobSpec) -> Result<(), JobLimitError>;
}

/// Why a job is too big for the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JobLimitError {
    /// Verifying one block would take more than its share of the block.
    VerificationTooHeavy,
    /// One block's proof would take more than its share of the block.
    ProofTooLarge,
}

impl JobLimits for () {
    fn check(_spec: &JobSpec) -> Result<(), JobLimitError> {
        Ok(())
    }
}

/// The punishment of a proven fraud (implemented by the staking pallet).
pub trait FraudPenalty<AccountId> {
    /// The whole bond of `who` (active and unbonding).
    fn bond_of(who: &AccountId) -> u128;
    /// Slashes the whole bond of `offender` and suspends it: pays
    /// `payouts` from it in order (each capped at what is left), the
    /// rest to the treasury. Returns the amount slashed.
    fn slash_for_fraud(offender: &AccountId, payouts: &[(AccountId, u128)]) -> u128;
    /// Upper bound of the weight of [`FraudPenalty::slash_for_fraud`]
    /// with `payouts` payouts.
    fn slash_for_fraud_weight(payouts: u32) -> sp_weights::Weight;
}

/// Taking back the reward of a block whose training a fraud proof
/// discarded (implemented by the rewards pallet, which remembers what it
/// minted to each recent block's author).
pub trait RewardClawback<AccountId, BlockNumber> {
    /// Burns what `author` was minted for authoring `block`, from its free
    /// balance as far as it goes, once. Nothing when `block` is older than
    /// the rewards pallet remembers or `author` did not author it.
    fn claw_back(block: BlockNumber, author: &AccountId) -> Clawback;
    /// Upper bound of the weight of [`RewardClawback::claw_back`].
    fn claw_back_weight() -> sp_weights::Weight;
}

/// What [`RewardClawback::claw_back`] took back of a block's reward.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Clawback {
    /// Burned from the author's free balance.
    pub recovered: u128,
    /// The rest of the reward, which the author had already spent (it
    /// comes off what the fraud game pays out of the offender's slashed
    /// bond).
    pub shortfall: u128,
}

impl<AccountId, BlockNumber> RewardClawback<AccountId, BlockNumber> for () {
    fn claw_back(_block: BlockNumber, _author: &AccountId) -> Clawback {
        Clawback::default()
    }
    fn claw_back_weight() -> sp_weights::Weight {
        sp_weights::Weight::zero()
    }
}

/// Admission of block authors (implemented by the staking pallet).
pub trait AuthorAdmission<AccountId> {
    /// The account of an admitted, bonded author key (`None`: may not author).
    fn account_of(author: &AuthorId) -> Option<AccountId>;
    /// Upper bound of the weight of [`AuthorAdmission::account_of`].
    fn account_of_weight() -> sp_weights::Weight;
}
