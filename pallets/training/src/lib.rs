//! # Training pallet
//!
//! The consensus-critical half of upow's proof-of-work, inside the runtime.
//! Every block carries, in its pre-runtime digest, its author's claim (the
//! job, the number of steps, the trajectory root and the final weights hash)
//! and, as an inherent ([`Pallet::submit_trajectory`]), the proof: the
//! challenged steps' weights, their batches with dataset Merkle proofs, and
//! trajectory Merkle proofs. This pallet
//!
//! * re-executes the challenged steps with `upow-puzzle` (the normative
//!   integer reference, compiled to wasm here) and rejects the block if any
//!   differs — a block whose proof fails is invalid;
//! * accepts a trajectory of any job the jobs pallet says blocks may train
//!   ([`upow_primitives::traits::JobSchedule::trainable`]: an open paid job
//!   or the house job), at that job's difficulty — the chain's difficulty
//!   scaled by the job's step cost, so every block costs the same work
//!   (`upow_puzzle::job_difficulty`);
//! * keeps every job's current weights hash, step count and the last
//!   [`LOSS_CURVE_POINTS`] points of its per-block loss curve, and tells the
//!   jobs pallet how many steps were verified so it can pay the author;
//!   drops a job's state when the jobs pallet reaps it ([`OnJobReaped`]);
//! * resolves author keys to accounts through
//!   [`upow_primitives::traits::AuthorAdmission`] (only admitted, bonded
//!   authors may author) and implements [`FindAuthor`] for the rewards pallet;
//! * retargets the difficulty toward [`Config::TargetBlockTime`] after every
//!   block ([`difficulty`]);
//! * keeps every block's trajectory **disputable** for
//!   [`DisputeWindow`] blocks ([`Disputable`]): the author's payment
//!   is reserved, not paid, and anyone may prove the trajectory wrong with
//!   a fraud proof ([`Pallet::report_fraud`], `upow_puzzle::verify_fraud`).
//!   A valid proof slashes the author's whole bond (paying from it the
//!   authors of the discarded later blocks of the job and the reporter, at
//!   most half of it), claws back the author's rewards for its discarded
//!   blocks, suspends it, and rolls the job back to the bad block's start,
//!   discarding every later block of that job (their reserved payments go
//!   back to the job). A block past the window
//!   **settles**: its author is paid and the job's settled state advances.
//!
//! The node checks the cheap parts before execution (ticket, seal signature,
//! admission); this pallet checks everything again, so a block is valid iff
//! the runtime accepts it.
//!
//! ## Code layout
//!
//! The `pallet` module (config, storage, events, errors, hooks, calls) is
//! here; each call and hook delegates to one module per topic:
//! `verification` (a block's trajectory: the rule, its weight, the job's
//! new progress), `settlement` (blocks leaving their dispute window),
//! `fraud` (fraud proofs: the rollback, the slash and its split),
//! `queries` (what the runtime API reads) and `difficulty` (the retarget).
//! A job's [`TrainingProgress`] is kept here and nowhere else: the jobs
//! pallet reads it through [`upow_primitives::traits::ProgressOf`].
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod difficulty;
mod fraud;
#[cfg(test)]
mod mock;
mod queries;
mod settlement;
#[cfg(test)]
mod tests;
mod verification;
pub mod weights;

pub use fraud::{split_slash, SlashSplit};
pub use verification::{block_kilo_macs, proof_kilo_macs};

pub use weights::WeightInfo;

use frame_support::{
    traits::{FindAuthor, Get},
    weights::Weight,
    ConsensusEngineId,
};
use upow_primitives::{
    traits::{AuthorAdmission, FraudPenalty, OnJobReaped, ProgressOf, RewardClawback},
    AuthorId, Hash, JobId, LossPoint, PreDigest, TrainingProgress,
};
use upow_puzzle::{Error as PuzzleError, FraudProof, TrajectoryProof};

/// A block's trajectory in its dispute window, as this pallet stores it.
pub type DisputableBlockOf<T> =
    upow_primitives::DisputableBlock<<T as frame_system::Config>::AccountId>;

/// Points of a job's loss curve kept on chain (a ring: the newest ones);
/// every point is also in its block's `TrajectoryVerified` event.
pub const LOSS_CURVE_POINTS: u32 = 1024;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "upow::training";

/// Error of the trajectory inherent, reported by `check_inherents`.
#[derive(codec::Encode, Debug)]
#[cfg_attr(feature = "std", derive(codec::Decode))]
pub enum InherentError {
    /// The block carries no trajectory proof.
    Missing,
}

impl sp_inherents::IsFatalError for InherentError {
    fn is_fatal_error(&self) -> bool {
        true
    }
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;
    use frame_support::pallet_prelude::*;
    use frame_system::pallet_prelude::*;
    use sp_core::H256;
    use upow_primitives::traits::JobSchedule;

    /// Blocks the difficulty window spans.
    pub const WINDOW: u32 = 12;

    #[pallet::pallet]
    pub struct Pallet<T>(_);

    /// Configuration of the training pallet.
    #[pallet::config]
    pub trait Config: frame_system::Config<Hash = H256, RuntimeEvent: From<Event<Self>>> {
        /// The chain's clock (`pallet_timestamp`), in milliseconds.
        type Time: frame_support::traits::Time<Moment = u64>;
        /// Which job to train and what to do with verified steps (the jobs pallet).
        type Jobs: JobSchedule<Self::AccountId>;
        /// Which author keys may author blocks, and their accounts (the staking pallet).
        type Admission: AuthorAdmission<Self::AccountId>;
        /// Target time between blocks, in milliseconds.
        #[pallet::constant]
        type TargetBlockTime: Get<u64>;
        /// Lowest difficulty the retarget may reach.
        #[pallet::constant]
        type MinDifficulty: Get<u128>;
        /// Who pays for a proven fraud (the staking pallet).
        type Penalty: FraudPenalty<Self::AccountId>;
        /// Takes back the block rewards of the offender's discarded blocks
        /// (the rewards pallet).
        type Clawback: RewardClawback<Self::AccountId, BlockNumberFor<Self>>;
        /// The longest dispute window a genesis may set, and the window when
        /// it sets none: blocks during which a block's trajectory may be
        /// proven wrong (and its payment is held). Bounds the weight of
        /// [`Pallet::report_fraud`].
        #[pallet::constant]
        type MaxDisputeWindow: Get<u32>;
        /// The most of a fraudster's slashed bond that is paid out at all
        /// (to the authors of the discarded later blocks, then the
        /// reporter); the rest goes to the treasury. What a coalition of the
        /// offender with the poster, the reporter and later authors can get
        /// back, at most ([`split_slash`]).
        #[pallet::constant]
        type FraudPayoutCap: Get<sp_runtime::Perbill>;
        /// Share of the payable part of a fraudster's slashed bond — after
        /// the authors of the discarded blocks are paid — that goes to the
        /// reporter. Small: an offender that reports itself through another
        /// account gets it back.
        #[pallet::constant]
        type FraudReward: Get<sp_runtime::Perbill>;
        /// Weights of this pallet's calls.
        type WeightInfo: WeightInfo;
        /// Sets up jobs and authors for the benchmarks.
        #[cfg(feature = "runtime-benchmarks")]
        type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
    }

    /// Difficulty the next block must meet.
    #[pallet::storage]
    pub type Difficulty<T> = StorageValue<_, u128, ValueQuery, DefaultDifficulty>;

    /// Default difficulty before genesis sets one.
    pub struct DefaultDifficulty;
    impl Get<u128> for DefaultDifficulty {
        fn get() -> u128 {
            1
        }
    }

    /// Timestamps (ms) of the most recent blocks, oldest first (at most `WINDOW + 1`).
    #[pallet::storage]
    pub type RecentTimes<T> =
        StorageValue<_, BoundedVec<u64, ConstU32<{ WINDOW + 1 }>>, ValueQuery>;

    /// The training progress of every job trained so far: the one record
    /// of a job's weights, steps and loss (read by the jobs pallet through
    /// [`ProgressOf`]).
    #[pallet::storage]
    pub type Jobs<T> = StorageMap<_, Blake2_128Concat, JobId, TrainingProgress, OptionQuery>;

    /// Loss curve: one point per block that trained the job; point `i` in
    /// slot `i % LOSS_CURVE_POINTS` (the newest `LOSS_CURVE_POINTS` kept).
    #[pallet::storage]
    pub type LossCurve<T> =
        StorageDoubleMap<_, Blake2_128Concat, JobId, Twox64Concat, u32, LossPoint, OptionQuery>;

    /// Number of points ever recorded in each job's loss curve.
    #[pallet::storage]
    pub type LossPoints<T> = StorageMap<_, Blake2_128Concat, JobId, u32, ValueQuery>;

    /// Blocks during which a block's trajectory may be disputed (at most
    /// [`Config::MaxDisputeWindow`]; set at genesis).
    #[pallet::storage]
    pub type DisputeWindow<T: Config> = StorageValue<_, u32, ValueQuery, T::MaxDisputeWindow>;

    /// Blocks still in their dispute window, by number (one trajectory per
    /// block; removed when it settles or a fraud proof discards it).
    #[pallet::storage]
    pub type Disputable<T: Config> =
        StorageMap<_, Twox64Concat, BlockNumberFor<T>, DisputableBlockOf<T>, OptionQuery>;

    /// Whether the current block's trajectory was verified (cleared at finalization).
    #[pallet::storage]
    pub type Proven<T> = StorageValue<_, bool, ValueQuery>;

    /// Genesis: the initial difficulty.
    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// Difficulty of block 1.
        pub difficulty: u128,
        /// Dispute window in blocks, 1 ..= `MaxDisputeWindow` (`None`:
        /// `MaxDisputeWindow`).
        #[serde(default)]
        pub dispute_window: Option<u32>,
        #[serde(skip)]
        /// Unused.
        pub _config: core::marker::PhantomData<T>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            Difficulty::<T>::put(self.difficulty.max(T::MinDifficulty::get()).max(1));
            // Always stored: settlement reads it every block, and a later
            // change of `MaxDisputeWindow` must not move it.
            let max = T::MaxDisputeWindow::get().max(1);
            DisputeWindow::<T>::put(self.dispute_window.unwrap_or(max).clamp(1, max));
        }
    }

    /// Events of the training pallet.
    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A block's trajectory was verified and its weights adopted.
        TrajectoryVerified {
            /// The job.
            job: JobId,
            /// The author's account.
            author: T::AccountId,
            /// Steps the trajectory added.
            steps: u32,
            /// The job's steps after it.
            total_steps: u64,
            /// `H(W)` of the job's new weights.
            weights: Hash,
            /// Mean per-sample loss of the final step's batch (sixteenths of a bit).
            loss: u64,
            /// Payment reserved for the author, paid when the block settles.
            payment: u128,
        },
        /// A block passed its dispute window: its steps are settled and its
        /// author paid.
        TrajectorySettled {
            /// The block.
            block: BlockNumberFor<T>,
            /// The job.
            job: JobId,
            /// The author's account.
            author: T::AccountId,
            /// Steps settled.
            steps: u32,
            /// The job's settled steps now.
            settled_steps: u64,
        },
        /// A fraud proof showed a block's trajectory wrong: its author was
        /// slashed and suspended, the job rolled back to the block's start.
        FraudProven {
            /// The bad block.
            block: BlockNumberFor<T>,
            /// The job.
            job: JobId,
            /// The bad block's author.
            offender: T::AccountId,
            /// Who proved it.
            reporter: T::AccountId,
            /// The wrong segment.
            segment: u32,
            /// Amount slashed.
            slashed: u128,
            /// Blocks of the job discarded (the bad one and every later one).
            discarded: u32,
            /// The job's steps after the rollback.
            steps: u64,
        },
    }

    /// Why a trajectory is rejected (the block is then invalid).
    #[pallet::error]
    pub enum Error<T> {
        /// The header has no upow pre-runtime digest, or more than one.
        MissingDigest,
        /// The upow pre-runtime digest does not decode.
        MalformedDigest,
        /// A second trajectory in the same block.
        AlreadyProven,
        /// The claim names a job blocks may not train (unknown, ended, or
        /// its spec not a listed workload's).
        JobNotOpen,
        /// The author key is not admitted and bonded.
        AuthorNotAdmitted,
        /// The ticket does not meet the difficulty.
        TicketAboveTarget,
        /// The proven steps are not the challenged ones.
        ChallengeMismatch,
        /// The trajectory does not start from the job's current weights.
        StartMismatch,
        /// A re-executed step does not give the committed weights.
        StepMismatch,
        /// The final step does not end at the claimed weights, or the claim is empty.
        InvalidClaim,
        /// A trajectory Merkle proof is malformed or does not verify.
        BadTrajectoryProof,
        /// A batch sample is malformed, not the selected one, or its dataset proof fails.
        WrongSamples,
        /// Proven weights are malformed (length or range).
        MalformedWeights,
        /// The claim has more steps than the difficulty allows (4 · D).
        TooManySteps,
        /// A proven step is degenerate: not real training work
        /// (docs/puzzle.md §9).
        DegenerateStep,
        /// The body's segment roots are not the trajectory's (wrong count,
        /// or they do not fold to the claim's root).
        BadSegments,
        /// No block with this number is in its dispute window (never, or
        /// already settled or discarded).
        NotDisputable,
        /// The fraud proof's segment replays to the block's committed root:
        /// the block is honest there.
        NoFraud,
        /// The fraud proof names a segment the trajectory does not have, or
        /// one with no step to replay.
        BadFraudSegment,
        /// The fraud proof's start weights are not the block's (malformed,
        /// or not leaf 0 / the previous segment's last leaf).
        BadFraudStart,
        /// The fraud proof's batches are not the ones the seeds select, or
        /// not as many as the segment's steps.
        BadFraudBatches,
        /// The job of the disputed block has no record any more.
        UnknownJob,
    }

    impl<T> From<PuzzleError> for Error<T> {
        fn from(e: PuzzleError) -> Self {
            match e {
                PuzzleError::TicketAboveTarget { .. } | PuzzleError::ZeroDifficulty => {
                    Error::TicketAboveTarget
                }
                PuzzleError::ChallengeSet { .. } => Error::ChallengeMismatch,
                PuzzleError::StartMismatch { .. } => Error::StartMismatch,
                PuzzleError::StepMismatch { .. } => Error::StepMismatch,
                PuzzleError::ProofMismatch {
                    what: "dataset", ..
                }
                | PuzzleError::SampleLength { .. }
                | PuzzleError::Label { .. }
                | PuzzleError::SampleIndex { .. }
                | PuzzleError::BatchSize { .. } => Error::WrongSamples,
                PuzzleError::ProofMismatch { .. }
                | PuzzleError::ProofLength { .. }
                | PuzzleError::LeafIndex { .. } => Error::BadTrajectoryProof,
                PuzzleError::WeightsLength { .. } | PuzzleError::WeightValue { .. } => {
                    Error::MalformedWeights
                }
                PuzzleError::TooManySteps { .. } => Error::TooManySteps,
                PuzzleError::Degenerate { .. } => Error::DegenerateStep,
                PuzzleError::SegmentCount { .. } | PuzzleError::SegmentsMismatch => {
                    Error::BadSegments
                }
                _ => Error::InvalidClaim,
            }
        }
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(n: BlockNumberFor<T>) -> Weight {
            // Proven::take in on_finalize, RecentTimes and Difficulty read + written there.
            T::DbWeight::get()
                .reads_writes(3, 3)
                .saturating_add(Self::settle(n))
                .saturating_add(Self::draw_initial_weights())
        }

        fn on_finalize(_n: BlockNumberFor<T>) {
            // A block without a verified trajectory has no proof-of-work: it
            // is invalid. FRAME signals block invalidity by aborting
            // execution, as `pallet_timestamp` does for a missing timestamp;
            // honest nodes never build such a block (the inherent is
            // required, see `ProvideInherent::is_inherent_required`).
            assert!(
                Proven::<T>::take(),
                "a block must carry its trajectory proof"
            );
            Self::retarget(<T::Time as frame_support::traits::Time>::now());
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// The block's trajectory proof (inherent, exactly once per block).
        ///
        /// Verifies the claim of the block's pre-runtime digest with `proof`
        /// (ticket, challenges, re-execution of the challenged steps), adopts
        /// the final weights for the job, records the loss, and reports the
        /// verified steps to the jobs pallet.
        #[pallet::call_index(0)]
        #[pallet::weight((
            Pallet::<T>::trajectory_weight(proof_kilo_macs(proof)),
            DispatchClass::Mandatory
        ))]
        pub fn submit_trajectory(origin: OriginFor<T>, proof: TrajectoryProof) -> DispatchResult {
            ensure_none(origin)?;
            ensure!(!Proven::<T>::get(), Error::<T>::AlreadyProven);
            Self::do_submit_trajectory(proof)?;
            Proven::<T>::put(true);
            Ok(())
        }

        /// Proves that the trajectory of block `block` (still in its dispute
        /// window) is wrong: `proof` names the first segment whose honest
        /// replay does not reach the root the block committed
        /// (`upow_puzzle::verify_fraud`, docs/puzzle.md §13). Any signed
        /// origin; fee-free when valid, a wrong proof costs its fee.
        ///
        /// A valid proof discards the block and every later block of the same
        /// job (their reserved payments go back to the job; the escrow pays
        /// none of them), rolls the job back to the block's start, claws back
        /// the author's rewards for its discarded blocks, and slashes the
        /// author's whole bond and suspends it: of at most
        /// [`Config::FraudPayoutCap`] of the slash, less the clawed-back
        /// rewards the author had already spent, the authors of the
        /// discarded later blocks are paid what they were owed as far as it
        /// goes, then [`Config::FraudReward`] of the rest goes to the
        /// reporter; everything else goes to the treasury ([`split_slash`]).
        /// A step that draws a sample outside the model's classes proves
        /// its segment by itself (docs/puzzle.md §13).
        ///
        /// Emits [`Event::FraudProven`].
        #[pallet::call_index(1)]
        #[pallet::weight(Pallet::<T>::fraud_weight(proof))]
        pub fn report_fraud(
            origin: OriginFor<T>,
            block: BlockNumberFor<T>,
            proof: FraudProof,
        ) -> DispatchResultWithPostInfo {
            let reporter = ensure_signed(origin)?;
            Self::do_report_fraud(reporter, block, proof)?;
            Ok(Pays::No.into())
        }
    }

    #[pallet::inherent]
    impl<T: Config> ProvideInherent for Pallet<T> {
        type Call = Call<T>;
        type Error = InherentError;
        const INHERENT_IDENTIFIER: InherentIdentifier = upow_primitives::INHERENT_IDENTIFIER;

        fn create_inherent(data: &InherentData) -> Option<Self::Call> {
            data.get_data::<TrajectoryProof>(&Self::INHERENT_IDENTIFIER)
                .ok()
                .flatten()
                .map(|proof| Call::submit_trajectory { proof })
        }

        fn is_inherent_required(_: &InherentData) -> Result<Option<Self::Error>, Self::Error> {
            Ok(Some(InherentError::Missing))
        }

        fn is_inherent(call: &Self::Call) -> bool {
            matches!(call, Call::submit_trajectory { .. })
        }
    }

    impl<T: Config> Pallet<T> {
        /// Records the block's timestamp and sets the next difficulty.
        fn retarget(now: u64) {
            let mut window = RecentTimes::<T>::get().into_inner();
            window.push(now);
            if window.len() > (WINDOW + 1) as usize {
                window.remove(0);
            }
            Difficulty::<T>::put(difficulty::next_difficulty(
                Difficulty::<T>::get(),
                &window,
                T::TargetBlockTime::get(),
                T::MinDifficulty::get(),
            ));
            RecentTimes::<T>::put(BoundedVec::<u64, ConstU32<{ WINDOW + 1 }>>::truncate_from(
                window,
            ));
        }
    }
}

impl<T: Config> ProgressOf for Pallet<T> {
    fn progress(job: JobId) -> Option<TrainingProgress> {
        Jobs::<T>::get(job)
    }

    fn progress_weight() -> Weight {
        T::DbWeight::get().reads(1)
    }

    #[cfg(feature = "runtime-benchmarks")]
    fn set_progress(job: JobId, progress: TrainingProgress) {
        Jobs::<T>::insert(job, progress);
    }
}

impl<T: Config> OnJobReaped for Pallet<T> {
    fn on_reaped(job: JobId) {
        Jobs::<T>::remove(job);
        LossPoints::<T>::remove(job);
        // At most LOSS_CURVE_POINTS slots exist: one call removes them all.
        if LossCurve::<T>::clear_prefix(job, LOSS_CURVE_POINTS, None)
            .maybe_cursor
            .is_some()
        {
            frame_support::defensive!("a loss curve with more slots than LOSS_CURVE_POINTS");
        }
    }

    fn on_reaped_weight() -> Weight {
        T::DbWeight::get().reads_writes(1, u64::from(LOSS_CURVE_POINTS) + 2)
    }
}

impl<T: Config> FindAuthor<T::AccountId> for Pallet<T> {
    fn find_author<'a, I>(digests: I) -> Option<T::AccountId>
    where
        I: 'a + IntoIterator<Item = (ConsensusEngineId, &'a [u8])>,
    {
        // Exactly one upow pre-runtime digest: none, two or a malformed one
        // name no author.
        let digest = PreDigest::find_in(digests).ok()?;
        T::Admission::account_of(digest.author())
    }
}

/// What the benchmarks need the runtime to set up.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
    /// Opens a job with `spec` for mining; returns its id (the job's init
    /// seed is what the jobs pallet gives it).
    fn open_job(spec: upow_puzzle::JobSpec) -> JobId;
    /// Admits (and bonds) `author`; returns its account.
    fn admit_author(author: AuthorId) -> AccountId;
}

impl<T: Config> Pallet<T> {
    /// The author key of the current block, from its digest.
    pub fn author_key() -> Option<AuthorId> {
        PreDigest::find(&frame_system::Pallet::<T>::digest())
            .ok()
            .map(|d| *d.author())
    }
}
