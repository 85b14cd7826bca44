//! Configuration of every pallet of the runtime.

use frame_support::{
    derive_impl, parameter_types,
    traits::{ConstU128, ConstU32, ConstU64, ConstU8, Contains, VariantCountOf},
    weights::{
        constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
        IdentityFee, Weight,
    },
    PalletId,
};
use frame_system::{limits::BlockLength, limits::BlockWeights, EnsureRoot};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_runtime::{
    traits::{AccountIdConversion, One},
    Perbill,
};
use sp_version::RuntimeVersion;

use super::{
    AccountId, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, Runtime,
    RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin, RuntimeTask,
    Staking, System, Timestamp, Training, DAYS, EXISTENTIAL_DEPOSIT, MILLI_UNIT, MINUTES,
    TARGET_BLOCK_TIME_MS, UNIT, VERSION,
};

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);
/// 12 MiB blocks: well below the 16 MiB a peer's block response may carry
/// (`sc_network::MAX_RESPONSE_SIZE`), so every block can be synced.
pub const MAX_BLOCK_LENGTH: u32 = 12 * 1024 * 1024;
/// The most a job's trajectory proof may take of a block: a quarter, so
/// that transactions always have the rest of the normal class's 75%.
pub const MAX_PROOF_LENGTH: u64 = MAX_BLOCK_LENGTH as u64 / 4;
/// The most of a block's weight verifying a job's trajectory may take: with
/// the block's own overhead it stays within the 25% that the normal
/// class's 75% leaves, so a full block of transactions still fits.
pub const MAX_TRAJECTORY_SHARE: Perbill = Perbill::from_percent(20);

parameter_types! {
    /// Blocks whose hashes `frame_system` keeps.
    pub const BlockHashCount: BlockNumber = 2400;
    /// The runtime version.
    pub const Version: RuntimeVersion = VERSION;
    /// Two seconds of compute per block; the trajectory proof is a mandatory inherent.
    pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
        Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
        NORMAL_DISPATCH_RATIO,
    );
    /// Block length limits (transactions get 75%).
    pub RuntimeBlockLength: BlockLength = BlockLength::builder()
        .max_length(MAX_BLOCK_LENGTH)
        .modify_max_length_for_class(frame_support::dispatch::DispatchClass::Normal, |max| {
            *max = NORMAL_DISPATCH_RATIO * MAX_BLOCK_LENGTH
        })
        .build();
    /// SS58 address prefix (generic Substrate).
    pub const SS58Prefix: u8 = 42;
}

/// The calls no signed origin may make. `NodeAuthorization::claim_node`
/// would let any account own a node id that is not (yet) well-known, and the
/// connections it then adds survive that id's listing by governance: the
/// well-known node would accept the claimer's nodes. Owners are set by root
/// only (docs/reliability.md §Permissioned network). Root is not filtered.
pub struct BaseCallFilter;

impl Contains<RuntimeCall> for BaseCallFilter {
    fn contains(call: &RuntimeCall) -> bool {
        !matches!(
            call,
            RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::claim_node { .. })
        )
    }
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type BaseCallFilter = BaseCallFilter;
    type Block = Block;
    type BlockWeights = RuntimeBlockWeights;
    type BlockLength = RuntimeBlockLength;
    type AccountId = AccountId;
    type Nonce = Nonce;
    type Hash = Hash;
    type BlockHashCount = BlockHashCount;
    type DbWeight = RocksDbWeight;
    type Version = Version;
    type AccountData = pallet_balances::AccountData<Balance>;
    type SS58Prefix = SS58Prefix;
    type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
    type Moment = u64;
    type OnTimestampSet = ();
    /// PoW blocks may come fast; timestamps only need to increase.
    type MinimumPeriod = ConstU64<1>;
    type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
    type MaxLocks = ConstU32<50>;
    type MaxReserves = ();
    type ReserveIdentifier = [u8; 8];
    type Balance = Balance;
    type RuntimeEvent = RuntimeEvent;
    type DustRemoval = ();
    type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
    type AccountStore = System;
    type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
    type FreezeIdentifier = RuntimeFreezeReason;
    type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
    type RuntimeHoldReason = RuntimeHoldReason;
    type RuntimeFreezeReason = RuntimeFreezeReason;
    type DoneSlashHandler = ();
}

parameter_types! {
    /// Fees do not adjust with congestion (yet).
    pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type OnChargeTransaction = FungibleAdapter<Balances, ()>;
    type OperationalFeeMultiplier = ConstU8<5>;
    type WeightToFee = IdentityFee<Balance>;
    type LengthToFee = IdentityFee<Balance>;
    type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
    type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeCall = RuntimeCall;
    type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

impl pallet_node_authorization::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    /// Validators, miners' nodes and RPC nodes together: up to 127 (the
    /// pallet admits fewer than this bound).
    type MaxWellKnownNodes = ConstU32<128>;
    /// A libp2p peer id is 38 bytes (ed25519 key); room for other key types.
    type MaxPeerIdLength = ConstU32<128>;
    type AddOrigin = EnsureRoot<AccountId>;
    type RemoveOrigin = EnsureRoot<AccountId>;
    type SwapOrigin = EnsureRoot<AccountId>;
    type ResetOrigin = EnsureRoot<AccountId>;
    /// The pallet ships no benchmarks: its fixed weights (50 ms of compute
    /// per call, over-estimates of a few storage reads and writes).
    type WeightInfo = ();
}

parameter_types! {
    /// Most validators: GRANDPA's authority set, the staking pallet's
    /// admitted validators and the validators the rewards pallet pays are
    /// bounded by this one constant, so none of them can outgrow another.
    pub const MaxValidators: u32 = 32;
}

impl pallet_grandpa::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type WeightInfo = ();
    type MaxAuthorities = MaxValidators;
    type MaxNominators = ConstU32<0>;
    type MaxSetIdSessionEntries = ConstU64<0>;
    type KeyOwnerProof = sp_core::Void;
    type EquivocationReportSystem = ();
}

parameter_types! {
    /// Lowest difficulty (one ticket in one wins).
    pub const MinDifficulty: u128 = 1;
    /// Target block time in milliseconds.
    pub const TargetBlockTime: u64 = TARGET_BLOCK_TIME_MS;
}

/// Admission of jobs by the measured cost of one of their blocks
/// (docs/protocol.md §4): verifying its trajectory (the benchmarked weight
/// of `submit_trajectory` for the job's largest proof) must take at most
/// [`MAX_TRAJECTORY_SHARE`] of the block's weight, and its proof at most
/// [`MAX_PROOF_LENGTH`] bytes.
pub struct JobLimits;

impl upow_primitives::traits::JobLimits for JobLimits {
    fn check(spec: &upow_puzzle::JobSpec) -> Result<(), upow_primitives::traits::JobLimitError> {
        use upow_primitives::traits::JobLimitError;
        let kilo_macs = pallet_upow_training::block_kilo_macs(spec);
        let weight = Training::trajectory_weight(kilo_macs);
        let budget = MAX_TRAJECTORY_SHARE * RuntimeBlockWeights::get().max_block;
        if weight.any_gt(budget) {
            return Err(JobLimitError::VerificationTooHeavy);
        }
        if upow_puzzle::max_proof_len(spec) > MAX_PROOF_LENGTH {
            return Err(JobLimitError::ProofTooLarge);
        }
        Ok(())
    }
}

parameter_types! {
    /// Blocks a trajectory stays disputable (and its payment held) when the
    /// genesis names no shorter window: 20 minutes, time for auditors to
    /// replay every block (docs/operations.md) and for a fraud proof to be
    /// included.
    pub const MaxDisputeWindow: u32 = 20 * MINUTES;
    /// Share of the payable part of a fraudster's slashed bond, after the
    /// authors of discarded blocks are paid, that goes to the fraud proof's
    /// reporter. Small, so that an offender reporting itself through
    /// another account recovers little.
    pub const FraudReward: Perbill = Perbill::from_percent(10);
    /// The most of a fraudster's slashed bond that is paid out at all
    /// (half): a coalition of the offender with its job's poster, the
    /// reporter and later authors ends at least half a bond down
    /// (docs/protocol.md §8, P4). The rest goes to the treasury.
    pub const FraudPayoutCap: Perbill = Perbill::from_percent(50);
}

impl pallet_upow_training::Config for Runtime {
    type Time = Timestamp;
    type Jobs = crate::Jobs;
    type Admission = Staking;
    type TargetBlockTime = TargetBlockTime;
    type MinDifficulty = MinDifficulty;
    type Penalty = Staking;
    type Clawback = crate::Rewards;
    type MaxDisputeWindow = MaxDisputeWindow;
    type FraudPayoutCap = FraudPayoutCap;
    type FraudReward = FraudReward;
    type WeightInfo = pallet_upow_training::weights::SubstrateWeight<Runtime>;
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = crate::benchmarks::TrainingHelper;
}

parameter_types! {
    /// Most paid jobs open at once (a better price evicts the cheapest).
    pub const MaxOpenJobs: u32 = 32;
    /// Lowest price a job may pay per verified step.
    pub const MinPricePerStep: Balance = MILLI_UNIT;
    /// Storage deposit of a job (its records here and in the training
    /// pallet, up to 1024 loss points), returned when it is reaped.
    pub const JobDeposit: Balance = 10 * UNIT;
    /// What a block spends at most drawing the initial weights of jobs
    /// posted earlier (in `on_initialize`; at least one job is drawn per
    /// block): 1% of the block.
    pub MaxDrawWeight: Weight = Perbill::from_percent(1) * RuntimeBlockWeights::get().max_block;
    /// Deposit per byte of a job's dataset, held with [`JobDeposit`]: 1
    /// UPOW per MiB that every node is asked to store for the job's life
    /// and retention (docs/datasets.md §5; Fashion-MNIST's training set,
    /// 47 MB, holds 44.9 UPOW).
    pub const DatasetDepositPerByte: Balance = UNIT / 1_048_576;
    /// Blocks after a job ends before anyone may reap it.
    pub const JobRetention: BlockNumber = 7 * DAYS;
    /// Blocks without a verified step after which an open job expires
    /// (when the genesis names no other period).
    pub const DefaultJobExpiry: BlockNumber = 10 * MINUTES;
}

impl pallet_upow_jobs::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type MaxOpen = MaxOpenJobs;
    type MinPricePerStep = MinPricePerStep;
    type JobDeposit = JobDeposit;
    type MaxDrawWeight = MaxDrawWeight;
    type DatasetDepositPerByte = DatasetDepositPerByte;
    type RetentionPeriod = JobRetention;
    type DefaultExpiry = DefaultJobExpiry;
    type Limits = JobLimits;
    type OnReaped = Training;
    type Progress = Training;
    type WeightInfo = pallet_upow_jobs::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
    /// Bond an author or validator must hold.
    pub const MinBond: Balance = 100 * UNIT;
    /// Blocks between unbonding and withdrawing (one day).
    pub const UnbondingDelay: BlockNumber = DAYS;
    /// Share of the bond an equivocating author loses.
    pub const SlashFraction: Perbill = Perbill::from_percent(50);
    /// Where slashed funds go.
    pub TreasuryAccount: AccountId = PalletId(*b"upow/trs").into_account_truncating();
}

impl pallet_upow_staking::Config for Runtime {
    type Currency = Balances;
    type RuntimeHoldReason = RuntimeHoldReason;
    type AdmitOrigin = EnsureRoot<AccountId>;
    type MinBond = MinBond;
    type UnbondingDelay = UnbondingDelay;
    type MaxUnbondingChunks = ConstU32<16>;
    type MaxValidators = MaxValidators;
    type SlashFraction = SlashFraction;
    type Treasury = TreasuryAccount;
    type OnValidatorSetChange = GrandpaAuthorities;
    type WeightInfo = pallet_upow_staking::weights::SubstrateWeight<Runtime>;
}

/// Schedules a GRANDPA authority-set change when the staking pallet's
/// active validator set changes.
pub struct GrandpaAuthorities;

impl pallet_upow_staking::OnValidatorSetChange for GrandpaAuthorities {
    fn new_set(keys: alloc::vec::Vec<[u8; 32]>) -> bool {
        let authorities = keys
            .into_iter()
            .map(|k| {
                (
                    sp_consensus_grandpa::AuthorityId::from(sp_core::ed25519::Public::from_raw(k)),
                    1,
                )
            })
            .collect();
        match pallet_grandpa::Pallet::<Runtime>::schedule_change(authorities, 0, None) {
            Ok(()) => true,
            Err(e) => {
                log::info!(target: "upow::runtime", "GRANDPA authority change deferred: {e:?}");
                false
            }
        }
    }
}

parameter_types! {
    /// Reward of a block in era 0.
    pub const InitialReward: Balance = 10 * UNIT;
    /// Blocks per emission era (about 30 days).
    pub const BlocksPerEra: BlockNumber = 30 * DAYS;
    /// Each era's reward is this much smaller than the last one's.
    pub const DecayPerEra: Perbill = Perbill::from_percent(10);
    /// Share of each block reward that goes to the validators.
    pub const ValidatorShare: Perbill = Perbill::from_percent(20);
    /// Blocks whose author's reward a fraud proof can claw back: the
    /// longest dispute window and the block a proof arrives in.
    pub const RewardHistory: BlockNumber = MaxDisputeWindow::get() + 1;
}

// A fraud proof arrives at most `MaxDisputeWindow` blocks after the block
// it proves: the reward of that block must still be remembered.
const _: () = assert!(RewardHistory::get() > MaxDisputeWindow::get());

impl pallet_upow_rewards::Config for Runtime {
    type Currency = Balances;
    type FindAuthor = Training;
    type Validators = pallet_upow_staking::ActiveValidatorAccounts<Runtime>;
    type MaxValidators = MaxValidators;
    type InitialReward = InitialReward;
    type BlocksPerEra = BlocksPerEra;
    type DecayPerEra = DecayPerEra;
    type ValidatorShare = ValidatorShare;
    type RewardHistory = RewardHistory;
    type WeightInfo = pallet_upow_rewards::weights::SubstrateWeight<Runtime>;
    #[cfg(feature = "runtime-benchmarks")]
    type BenchmarkHelper = crate::benchmarks::RewardsHelper;
}
