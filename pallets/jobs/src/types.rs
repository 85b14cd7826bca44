//! The pallet's storage and genesis types: a [`Job`], its escrow and
//! deposit as stored in [`Jobs`](crate::Jobs), the bound on its encoding,
//! and the readable forms of jobs in a genesis config ([`GenesisJobSpec`],
//! [`GenesisHouseJob`], [`GenesisPaidJob`]).

use crate::Config;
use alloc::vec::Vec;
use codec::{Decode, Encode};
use frame_support::{pallet_prelude::MaxEncodedLen, traits::fungible};
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::traits::UniqueSaturatedInto;
use upow_primitives::{Hash, JobInfo, JobStatus, TrainingProgress};
use upow_puzzle::{model::MAX_LAYERS, DatasetCommitment, Hyperparams, JobSpec, Liveness, Model};

/// The balance type of [`Config::Currency`].
pub type BalanceOf<T> =
    <<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// A job as stored in [`Jobs`](crate::Jobs) for a runtime `T`.
pub type JobOf<T> = Job<
    <T as frame_system::Config>::AccountId,
    BalanceOf<T>,
    frame_system::pallet_prelude::BlockNumberFor<T>,
>;

/// Most bytes of a SCALE-encoded [`JobSpec`]: the model's dimension list (a
/// one-byte compact length and at most `MAX_LAYERS + 1` `u32`s), the
/// hyper-parameters (two bytes and a `u64`) and the dataset commitment (root,
/// `u64` samples, `u32` inputs). Specs outside the limits do not decode.
pub const MAX_SPEC_ENCODED_LEN: usize = 1 + 4 * (MAX_LAYERS + 1) + (1 + 1 + 8) + (32 + 8 + 4);

/// A job's initial weights `W_0`: the seed they are drawn from
/// (`Weights::initial(model, seed)`, docs/puzzle.md §2) and their hash.
#[derive(Clone, Copy, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
pub struct InitialWeights {
    /// The seed: the house job's from genesis, a paid job's
    /// `upow_puzzle::lane::run_seed(job, sealing ticket of the block after
    /// its posting)`.
    pub seed: Hash,
    /// `H(W_0)`, computed once when the seed is drawn.
    pub weights: Hash,
}

impl InitialWeights {
    /// The initial weights of `model` drawn from `seed`.
    pub fn draw(model: &Model, seed: Hash) -> Self {
        Self {
            seed,
            weights: upow_puzzle::Weights::initial(model, &seed).hash(),
        }
    }
}

/// A training job, its escrow and its deposit.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct Job<AccountId, Balance, BlockNumber> {
    /// Who posted (and pays for) the job.
    pub poster: AccountId,
    /// Model, hyper-parameters and dataset.
    pub spec: JobSpec,
    /// The job's initial weights: `None` in the block that posted it,
    /// drawn from a later block's sealing ticket (normally the next's)
    /// ([`Pallet::draw_initial_weights`](crate::Pallet::draw_initial_weights),
    /// docs/v3.md §2.1), so no poster chooses them.
    pub initial: Option<InitialWeights>,
    /// Paid to the block author per verified step (zero for the house job).
    pub price_per_step: Balance,
    /// Escrow left to pay for steps not yet trained.
    pub budget_left: Balance,
    /// Payments reserved for blocks still in their dispute window: held
    /// with the escrow (the job holds `budget_left + pending`) until each
    /// block settles (paid) or a fraud proof discards it (back to the
    /// budget, or to the poster once the job has ended).
    pub pending: Balance,
    /// Storage deposit, held until the record is reaped (zero for the house job).
    pub deposit: Balance,
    /// Optional mean loss per sample (sixteenths of a bit) at which it completes.
    pub target_loss: Option<u64>,
    /// Where it stands. (How far it has been trained — steps, loss,
    /// weights — is the training pallet's record, read through
    /// [`Config::Progress`](crate::Config::Progress).)
    pub status: JobStatus,
    /// Block in which it was posted.
    pub posted_at: BlockNumber,
    /// Last block that trained it (`posted_at` before the first): what the
    /// expiry counts from.
    pub last_progress: BlockNumber,
    /// Block in which it ended; what the retention period counts from.
    pub ended_at: Option<BlockNumber>,
}

impl<AccountId: MaxEncodedLen, Balance: MaxEncodedLen, BlockNumber: MaxEncodedLen> MaxEncodedLen
    for Job<AccountId, Balance, BlockNumber>
{
    fn max_encoded_len() -> usize {
        AccountId::max_encoded_len()
            .saturating_add(MAX_SPEC_ENCODED_LEN)
            .saturating_add(Option::<InitialWeights>::max_encoded_len())
            .saturating_add(Balance::max_encoded_len().saturating_mul(4))
            .saturating_add(Option::<u64>::max_encoded_len())
            .saturating_add(JobStatus::max_encoded_len())
            .saturating_add(BlockNumber::max_encoded_len().saturating_mul(3))
            .saturating_add(1)
    }
}

impl<AccountId, Balance, BlockNumber> Job<AccountId, Balance, BlockNumber> {
    /// The step count at which the job completes (its planned steps).
    pub fn target_steps(&self) -> u64 {
        self.spec.hyper.total_steps()
    }

    /// The completion rule: the job has reached its planned steps, or its
    /// last batch loss is at or below its target loss. Decided here only,
    /// from the training pallet's record of its progress (`None`: never
    /// trained).
    pub fn target_reached(&self, progress: Option<&TrainingProgress>) -> bool {
        let Some(progress) = progress else {
            return false;
        };
        progress.steps >= self.target_steps()
            || self
                .target_loss
                .zip(progress.last_loss)
                .is_some_and(|(target, loss)| loss <= target)
    }

    /// The payment rule of a block: `price × steps`, capped by the budget
    /// left (what [`JobSchedule::payment_for`] reports and
    /// [`JobSchedule::on_progress`] reserves).
    ///
    /// [`JobSchedule::payment_for`]: upow_primitives::traits::JobSchedule::payment_for
    /// [`JobSchedule::on_progress`]: upow_primitives::traits::JobSchedule::on_progress
    pub fn payment_for(&self, steps: u32) -> Balance
    where
        Balance: sp_runtime::traits::AtLeast32BitUnsigned + Copy,
    {
        self.price_per_step
            .saturating_mul(steps.into())
            .min(self.budget_left)
    }

    /// Whether the job is open (its escrow is held and blocks may train it).
    pub fn is_live(&self) -> bool {
        self.status == JobStatus::Open
    }

    /// Whether the job is in the market: open, or settling its last
    /// blocks (it keeps its place so that a rollback can open it again).
    pub fn in_market(&self) -> bool {
        matches!(self.status, JobStatus::Open | JobStatus::Settling)
    }

    /// The job as the runtime API reports it: this record with the
    /// training pallet's record of its `progress` (`None`: never trained),
    /// and the poster's key (supplied by the runtime).
    pub fn info(
        &self,
        poster: upow_primitives::AuthorId,
        progress: Option<&TrainingProgress>,
    ) -> JobInfo
    where
        Balance: UniqueSaturatedInto<u128> + Copy,
        BlockNumber: UniqueSaturatedInto<u32> + Copy,
    {
        let untrained = self
            .initial
            .map(|initial| TrainingProgress::untrained(initial.weights));
        let progress = progress.or(untrained.as_ref());
        JobInfo {
            poster,
            spec: self.spec.clone(),
            init_seed: self.initial.map(|initial| initial.seed),
            price_per_step: self.price_per_step.unique_saturated_into(),
            budget_left: self.budget_left.unique_saturated_into(),
            deposit: self.deposit.unique_saturated_into(),
            target_steps: self.target_steps(),
            target_loss: self.target_loss,
            status: self.status,
            steps: progress.map_or(0, |p| p.steps),
            weights: progress.map(|p| p.weights),
            last_loss: progress.and_then(|p| p.last_loss),
            posted_at: self.posted_at.unique_saturated_into(),
            last_progress: self.last_progress.unique_saturated_into(),
            ended_at: self.ended_at.map(|b| b.unique_saturated_into()),
            settled_steps: progress.map_or(0, |p| p.settled_steps),
            settled_weights: progress.map(|p| p.settled_weights),
            pending_payment: self.pending.unique_saturated_into(),
        }
    }
}

/// The id of a listed workload (docs/v3.md §2.1).
pub type WorkloadId = u32;

/// A workload of the catalogue (docs/v3.md §2.1): a spec governance vouches
/// for and the measured cost of one of its steps.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct Workload<BlockNumber> {
    /// Model, hyper-parameters (planned steps included) and dataset: a job
    /// is a run of this workload only if its spec is exactly this.
    pub spec: JobSpec,
    /// The cost of one step in cost units (`upow_puzzle::REFERENCE_COST`
    /// per reference step), measured on the platform that runs it fastest:
    /// what its jobs' ticket difficulty is scaled by.
    pub cost: u32,
    /// The largest label of its dataset, as governance publishes it with
    /// the listing: below the model's class count, so no sample a job of
    /// it draws is outside the classes (docs/v3.md §8.5; the fraud rule
    /// of docs/puzzle.md §13 stays behind it, since a published range is
    /// the publisher's word, not the data's).
    pub max_label: u8,
    /// The live units and non-zero activations every proven step of its
    /// jobs needs in each hidden layer (docs/v3.md §2.3), set with its cost
    /// from its shortcut table: at least the degeneracy rule's own.
    pub liveness: Liveness,
    /// Block in which it was listed.
    pub listed_at: BlockNumber,
    /// Block from which it is delisted: its jobs are no longer trainable.
    pub delisted_at: Option<BlockNumber>,
}

impl<BlockNumber> Workload<BlockNumber> {
    /// Whether jobs of this workload may be posted and trained.
    pub fn is_listed(&self) -> bool {
        self.delisted_at.is_none()
    }
}

impl<BlockNumber: MaxEncodedLen> MaxEncodedLen for Workload<BlockNumber> {
    fn max_encoded_len() -> usize {
        MAX_SPEC_ENCODED_LEN
            .saturating_add(u32::max_encoded_len())
            .saturating_add(u8::max_encoded_len())
            .saturating_add(Liveness::max_encoded_len())
            .saturating_add(BlockNumber::max_encoded_len())
            .saturating_add(Option::<BlockNumber>::max_encoded_len())
    }
}

/// A workload in a genesis config: listed when the chain is built.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisWorkload {
    /// Its spec.
    pub spec: GenesisJobSpec,
    /// The cost of one step in cost units.
    pub cost: u32,
    /// The largest label of its dataset.
    pub max_label: u8,
    /// Its non-zero-weights threshold, in 1/1024 of each layer's compute
    /// weights (`upow_puzzle::Liveness`, 512 ..= 1024).
    pub min_nonzero_per_1024: u16,
    /// Its live-unit threshold, in 1/1024 of each hidden layer's units
    /// (`upow_puzzle::Liveness`, 32 ..= 1024).
    pub min_live_per_1024: u16,
    /// Its activation-density threshold, in 1/1024 of each hidden layer's
    /// activations over a batch (`upow_puzzle::Liveness`, 0 ..= 1024).
    pub min_active_per_1024: u16,
}

/// A [`JobSpec`] in a genesis config (readable JSON; hashes as `0x…` hex).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisJobSpec {
    /// Model dimensions `[inputs, hidden…, classes]`.
    pub dims: Vec<u32>,
    /// log2 of the batch size.
    pub batch_log2: u32,
    /// Base learning-rate shift.
    pub lr_shift: u32,
    /// Planned steps.
    pub total_steps: u64,
    /// Merkle root of the dataset.
    pub dataset_root: H256,
    /// Samples in the dataset.
    pub samples: u64,
    /// Input bytes per sample.
    pub inputs: u32,
}

impl GenesisJobSpec {
    /// The validated spec (the same checks as decoding and [`JobSpec::new`]).
    pub fn to_spec(&self) -> Result<JobSpec, upow_puzzle::Error> {
        let model = Model::new(&self.dims)?;
        let hyper = Hyperparams::new(self.batch_log2, self.lr_shift, self.total_steps)?;
        let dataset = DatasetCommitment {
            root: self.dataset_root.to_fixed_bytes(),
            samples: self.samples,
            inputs: self.inputs,
        };
        JobSpec::new(model, hyper, dataset)
    }
}

impl From<&JobSpec> for GenesisJobSpec {
    fn from(spec: &JobSpec) -> Self {
        Self {
            dims: spec.model.dims().to_vec(),
            batch_log2: spec.hyper.batch_log2(),
            lr_shift: spec.hyper.lr_shift(),
            total_steps: spec.hyper.total_steps(),
            dataset_root: H256(spec.dataset.root),
            samples: spec.dataset.samples,
            inputs: spec.dataset.inputs,
        }
    }
}

/// The house job of a genesis config.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisHouseJob<AccountId> {
    /// Its nominal poster (pays nothing, receives nothing).
    pub poster: AccountId,
    /// What it trains.
    pub spec: GenesisJobSpec,
    /// Seed of its initial weights.
    pub init_seed: H256,
}

/// A paid job of a genesis config, posted as by [`Pallet::post_job`](crate::Pallet::post_job).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisPaidJob<AccountId, Balance> {
    /// Who posts it (needs the budget in free balance at genesis).
    pub poster: AccountId,
    /// What it trains.
    pub spec: GenesisJobSpec,
    /// Price per verified step.
    pub price_per_step: Balance,
    /// Budget escrowed.
    pub budget: Balance,
    /// Optional target loss.
    pub target_loss: Option<u64>,
}
