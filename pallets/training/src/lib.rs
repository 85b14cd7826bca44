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
//!   A valid proof slashes the author's whole bond (paying the authors of
//!   the discarded later blocks of the job, the reporter and the poster),
//!   suspends it, and rolls the job back to the bad block's start,
//!   discarding every later block of that job. A block past the window
//!   **settles**: its author is paid and the job's settled state advances.
//!
//! The node checks the cheap parts before execution (ticket, seal signature,
//! admission); this pallet checks everything again, so a block is valid iff
//! the runtime accepts it.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod difficulty;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use weights::WeightInfo;

use alloc::vec::Vec;
use frame_support::{
    traits::{FindAuthor, Get},
    weights::Weight,
    ConsensusEngineId,
};
use upow_primitives::{
    traits::{ActiveJob, AuthorAdmission, FraudPenalty, OnJobReaped},
    AuthorId, Difficulty as DifficultyValue, Hash, JobId, LossPoint, PreDigest, Work,
};
use upow_puzzle::{
    Error as PuzzleError, FraudProof, JobProgress, JobSpec, TrajectoryClaim, TrajectoryContext,
    TrajectoryProof,
};

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
    use sp_runtime::traits::Saturating;
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
        /// The longest dispute window a genesis may set, and the window when
        /// it sets none: blocks during which a block's trajectory may be
        /// proven wrong (and its payment is held). Bounds the weight of
        /// [`Pallet::report_fraud`].
        #[pallet::constant]
        type MaxDisputeWindow: Get<u32>;
        /// Share of a fraudster's slashed bond — after the authors of the
        /// discarded blocks are paid — that goes to the reporter (the rest
        /// to the job's poster, or the treasury for the house job). Small:
        /// an offender that reports itself through another account gets it
        /// back.
        #[pallet::constant]
        type FraudReward: Get<sp_runtime::Perbill>;
        /// Weights of this pallet's calls.
        type WeightInfo: WeightInfo;
        /// Sets up jobs and authors for the benchmarks.
        #[cfg(feature = "runtime-benchmarks")]
        type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
    }

    /// A job's training state on chain.
    #[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
    pub struct JobState {
        /// `H(W)` of the job's current weights.
        pub weights: Hash,
        /// Steps applied so far.
        pub steps: u64,
        /// Mean per-sample loss of the last verified batch (sixteenths of a bit).
        pub last_loss: Option<u64>,
        /// `H(W)` at the newest block of the job past the dispute window.
        pub settled_weights: Hash,
        /// Steps at the newest block of the job past the dispute window.
        pub settled_steps: u64,
    }

    /// A block's trajectory while it may be disputed: what a fraud proof is
    /// checked against, and what a valid one undoes.
    #[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
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
        /// The job's state at the parent: where a rollback returns to.
        pub start: JobState,
        /// Payment reserved for the author.
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

        /// The block's claim.
        pub fn claim(&self) -> TrajectoryClaim {
            TrajectoryClaim {
                steps: self.steps,
                root: self.root,
                final_weights: self.final_weights,
            }
        }
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

    /// Training state of every job trained so far.
    #[pallet::storage]
    pub type Jobs<T> = StorageMap<_, Blake2_128Concat, JobId, JobState, OptionQuery>;

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
        StorageMap<_, Twox64Concat, BlockNumberFor<T>, DisputableBlock<T::AccountId>, OptionQuery>;

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
        /// The claim names a job blocks may not train (unknown, or ended).
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
            let digest = frame_system::Pallet::<T>::digest();
            let claim = PreDigest::find(&digest).map_err(|e| match e {
                upow_primitives::DigestError::Malformed => Error::<T>::MalformedDigest,
                _ => Error::<T>::MissingDigest,
            })?;
            let job = T::Jobs::trainable(claim.job()).ok_or(Error::<T>::JobNotOpen)?;
            let author =
                T::Admission::account_of(claim.author()).ok_or(Error::<T>::AuthorNotAdmitted)?;
            let state = Self::state_of(&job);
            let parent = frame_system::Pallet::<T>::parent_hash();
            let verified = upow_puzzle::verify_trajectory(
                &job.spec,
                &claim.context(parent.0),
                &JobProgress {
                    weights: state.weights,
                    steps: state.steps,
                },
                Self::difficulty_of(&job.spec),
                claim.claim(),
                &proof,
            )
            .map_err(|e| {
                log::warn!(target: LOG_TARGET, "rejected trajectory of job {}: {e}", job.id);
                Error::<T>::from(e)
            })?;

            let batch = job.spec.hyper.batch() as u64;
            let loss = verified.final_loss() / batch.max(1);
            let total_steps = state.steps.saturating_add(verified.steps as u64);
            Jobs::<T>::insert(
                job.id,
                JobState {
                    weights: verified.final_weights,
                    steps: total_steps,
                    last_loss: Some(loss),
                    ..state.clone()
                },
            );
            let index = LossPoints::<T>::get(job.id);
            let block: u32 = sp_runtime::traits::UniqueSaturatedInto::unique_saturated_into(
                frame_system::Pallet::<T>::block_number(),
            );
            LossCurve::<T>::insert(
                job.id,
                index % LOSS_CURVE_POINTS,
                LossPoint {
                    block,
                    steps: total_steps,
                    loss,
                },
            );
            LossPoints::<T>::insert(job.id, index.saturating_add(1));
            Proven::<T>::put(true);

            let payment = T::Jobs::on_progress(job.id, &author, verified.steps, total_steps, loss);
            let claimed = claim.claim();
            Disputable::<T>::insert(
                frame_system::Pallet::<T>::block_number(),
                DisputableBlock {
                    job: job.id,
                    author: author.clone(),
                    author_key: *claim.author(),
                    parent: parent.0,
                    salt: claim.context(parent.0).salt,
                    steps: claimed.steps,
                    root: claimed.root,
                    final_weights: claimed.final_weights,
                    start: state,
                    payment,
                },
            );
            Self::deposit_event(Event::TrajectoryVerified {
                job: job.id,
                author,
                steps: verified.steps,
                total_steps,
                weights: verified.final_weights,
                loss,
                payment,
            });
            Ok(())
        }

        /// Proves that the trajectory of block `block` (still in its dispute
        /// window) is wrong: `proof` names the first segment whose honest
        /// replay does not reach the root the block committed
        /// (`upow_puzzle::verify_fraud`, docs/puzzle.md §13). Any signed
        /// origin; fee-free when valid, a wrong proof costs its fee.
        ///
        /// A valid proof discards the block and every later block of the same
        /// job (their reserved payments go back to the job; none is paid),
        /// rolls the job back to the block's start, and slashes the author's
        /// whole bond and suspends it: from the slash the authors of the
        /// discarded later blocks are paid what they were owed, then
        /// [`Config::FraudReward`] of the rest goes to the reporter and the
        /// remainder to the job's poster (the treasury for the house job).
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
            let disputed = Disputable::<T>::get(block).ok_or(Error::<T>::NotDisputable)?;
            let (spec, poster) = T::Jobs::record(disputed.job).ok_or(Error::<T>::UnknownJob)?;
            let verdict = upow_puzzle::verify_fraud(
                &spec,
                &disputed.context(),
                &JobProgress {
                    weights: disputed.start.weights,
                    steps: disputed.start.steps,
                },
                &disputed.claim(),
                &proof,
            )
            .map_err(|e| {
                log::info!(target: LOG_TARGET, "rejected fraud proof against block {block:?}: {e}");
                fraud_error::<T>(e)
            })?;

            let job = disputed.job;
            let (discarded, released, compensation) =
                Self::discard_from(block, job, &disputed.author);
            Jobs::<T>::mutate(job, |state| {
                let settled = state.as_ref().map(|s| (s.settled_weights, s.settled_steps));
                let (settled_weights, settled_steps) = settled
                    .unwrap_or((disputed.start.settled_weights, disputed.start.settled_steps));
                *state = Some(JobState {
                    settled_weights,
                    settled_steps,
                    ..disputed.start.clone()
                });
            });
            // The authors of the discarded later blocks did real work: the
            // slash pays them first; what it cannot cover (a small or
            // already slashed bond) their reserved payments still pay.
            let bond = T::Penalty::bond_of(&disputed.author);
            let (from_slash, from_escrow) = split_compensation(bond, compensation);
            T::Jobs::on_rolled_back(
                job,
                disputed.start.steps,
                disputed.start.last_loss,
                released,
                &from_escrow,
            );
            let owed = from_slash
                .iter()
                .fold(0u128, |sum, (_, due)| sum.saturating_add(*due));
            let rest = bond.saturating_sub(owed);
            // The offender reporting itself earns nothing; the poster's
            // share of its own job's fraud goes to the treasury.
            let reward = if reporter == disputed.author {
                0
            } else {
                T::FraudReward::get().mul_floor(rest)
            };
            let mut payouts = from_slash;
            payouts.push((reporter.clone(), reward));
            if let Some(poster) = poster.filter(|p| p != &disputed.author) {
                payouts.push((poster, rest.saturating_sub(reward)));
            }
            let slashed = T::Penalty::slash_for_fraud(&disputed.author, &payouts);
            log::warn!(
                target: LOG_TARGET,
                "fraud proven against block {block:?} (job {job}, segment {}): {discarded} blocks discarded, {slashed} slashed",
                verdict.segment
            );
            Self::deposit_event(Event::FraudProven {
                block,
                job,
                offender: disputed.author,
                reporter,
                segment: verdict.segment,
                slashed,
                discarded,
                steps: disputed.start.steps,
            });
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
        /// The training state of a job (its initial weights if never trained).
        pub fn state_of(job: &ActiveJob) -> JobState {
            Jobs::<T>::get(job.id).unwrap_or(JobState {
                weights: job.initial_weights,
                steps: 0,
                last_loss: None,
                settled_weights: job.initial_weights,
                settled_steps: 0,
            })
        }

        /// Settles the block that leaves its dispute window at `now`: pays
        /// its author and advances its job's settled state. Returns the
        /// weight used.
        fn settle(now: BlockNumberFor<T>) -> Weight {
            let window: BlockNumberFor<T> = DisputeWindow::<T>::get().into();
            let db = T::DbWeight::get();
            if now <= window {
                return Weight::zero();
            }
            let block = now.saturating_sub(window);
            let Some(settled) = Disputable::<T>::take(block) else {
                return db.reads(1);
            };
            let settled_steps = settled.start.steps.saturating_add(settled.steps.into());
            Jobs::<T>::mutate(settled.job, |state| {
                if let Some(state) = state {
                    state.settled_weights = settled.final_weights;
                    state.settled_steps = settled_steps;
                }
            });
            T::Jobs::on_settled(settled.job, &settled.author, settled.steps, settled.payment);
            Self::deposit_event(Event::TrajectorySettled {
                block,
                job: settled.job,
                author: settled.author,
                steps: settled.steps,
                settled_steps,
            });
            db.reads_writes(2, 2)
                .saturating_add(T::Jobs::on_settled_weight())
        }

        /// Removes the disputable records of `job` from block `from` to the
        /// current one. Returns how many, the sum of their reserved
        /// payments, and what the authors other than `offender` were owed.
        fn discard_from(
            from: BlockNumberFor<T>,
            job: JobId,
            offender: &T::AccountId,
        ) -> (u32, u128, Vec<(T::AccountId, u128)>) {
            let now = frame_system::Pallet::<T>::block_number();
            let mut discarded = 0u32;
            let mut released = 0u128;
            let mut owed = Vec::new();
            let mut block = from;
            while block <= now {
                if let Some(record) = Disputable::<T>::get(block).filter(|r| r.job == job) {
                    Disputable::<T>::remove(block);
                    discarded = discarded.saturating_add(1);
                    released = released.saturating_add(record.payment);
                    if &record.author != offender && record.payment > 0 {
                        owed.push((record.author, record.payment));
                    }
                }
                block = block.saturating_add(1u32.into());
            }
            (discarded, released, owed)
        }

        /// The weight of [`Pallet::report_fraud`] with `proof`: the
        /// benchmarked call for its replay's multiply-accumulates (one
        /// block's record, rollback and slash included), plus a scan of the
        /// whole dispute window, the rollback and a slash with a payout per
        /// discarded block (upper bounds).
        pub fn fraud_weight(proof: &FraudProof) -> Weight {
            let params = proof.weights.len() as u64 / 2;
            let macs = proof
                .batches
                .iter()
                .map(|batch| {
                    3u64.saturating_mul(batch.len() as u64)
                        .saturating_mul(params)
                })
                .fold(0u64, u64::saturating_add);
            let kilo_macs = u32::try_from(macs / 1000).unwrap_or(u32::MAX);
            let window = u64::from(T::MaxDisputeWindow::get()).saturating_add(1);
            T::WeightInfo::report_fraud(kilo_macs)
                .saturating_add(T::DbWeight::get().reads_writes(window, window))
                .saturating_add(T::Jobs::on_rolled_back_weight())
                .saturating_add(T::Penalty::slash_for_fraud_weight(
                    T::MaxDisputeWindow::get().saturating_add(3),
                ))
        }

        /// `H(W)` at the start of every block in its dispute window: where a
        /// fraud proof may roll a job back to, so nodes keep these weights.
        pub fn disputable_weights() -> Vec<(JobId, Hash)> {
            Disputable::<T>::iter_values()
                .map(|record| (record.job, record.start.weights))
                .collect()
        }

        /// The difficulty of the next block of a job of `spec`.
        pub fn difficulty_of(spec: &JobSpec) -> DifficultyValue {
            upow_puzzle::job_difficulty(Difficulty::<T>::get(), spec.step_macs())
        }

        /// The weight of verifying a block's trajectory of `kilo_macs`
        /// thousand multiply-accumulates (see [`proof_kilo_macs`]), with the
        /// lookups and the payment that go with it.
        pub fn trajectory_weight(kilo_macs: u32) -> Weight {
            T::WeightInfo::submit_trajectory(kilo_macs)
                .saturating_add(T::Jobs::on_progress_weight())
                .saturating_add(T::Jobs::trainable_weight())
                .saturating_add(T::Admission::account_of_weight())
        }

        fn work_of(job: ActiveJob) -> Work {
            let state = Self::state_of(&job);
            Work {
                job: job.id,
                difficulty: Self::difficulty_of(&job.spec),
                spec: job.spec,
                init_seed: job.init_seed,
                weights: state.weights,
                steps: state.steps,
                price_per_step: job.price_per_step,
                budget_left: job.budget_left,
            }
        }

        /// The work of the next block of `job`, if blocks may train it (for
        /// the runtime API).
        pub fn work(job: JobId) -> Option<Work> {
            T::Jobs::trainable(job).map(Self::work_of)
        }

        /// The work of every job blocks may train, best-paying first (for
        /// the runtime API).
        pub fn open_work() -> Vec<Work> {
            T::Jobs::open().into_iter().map(Self::work_of).collect()
        }

        /// The difficulty of the next block of `job`, if blocks may train it.
        pub fn job_difficulty(job: JobId) -> Option<DifficultyValue> {
            T::Jobs::trainable(job).map(|job| Self::difficulty_of(&job.spec))
        }

        /// The weights hash of every job this pallet has trained (reaped
        /// jobs are dropped): what nodes keep serving.
        pub fn trained_weights() -> Vec<(JobId, Hash)> {
            Jobs::<T>::iter()
                .map(|(id, state)| (id, state.weights))
                .collect()
        }

        /// `count` points of a job's loss curve from index `from`, of those
        /// still kept (the newest `LOSS_CURVE_POINTS`; for the runtime API).
        pub fn loss_curve(job: JobId, from: u32, count: u32) -> Vec<LossPoint> {
            let total = LossPoints::<T>::get(job);
            let first_kept = total.saturating_sub(LOSS_CURVE_POINTS);
            let start = from.max(first_kept);
            let end = from.saturating_add(count.min(1024)).min(total);
            (start..end)
                .filter_map(|i| LossCurve::<T>::get(job, i % LOSS_CURVE_POINTS))
                .collect()
        }

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

/// Splits what the authors of discarded blocks are owed between the slash
/// (`bond`, in order, as far as it goes) and their reserved payments (the
/// rest).
#[allow(clippy::type_complexity)]
fn split_compensation<AccountId: Clone>(
    bond: u128,
    owed: Vec<(AccountId, u128)>,
) -> (Vec<(AccountId, u128)>, Vec<(AccountId, u128)>) {
    let mut left = bond;
    let mut from_slash = Vec::new();
    let mut from_escrow = Vec::new();
    for (author, due) in owed {
        let covered = due.min(left);
        left = left.saturating_sub(covered);
        if covered > 0 {
            from_slash.push((author.clone(), covered));
        }
        if due > covered {
            from_escrow.push((author, due.saturating_sub(covered)));
        }
    }
    (from_slash, from_escrow)
}

#[cfg(test)]
#[test]
fn compensation_comes_from_the_slash_first_then_from_the_reservations() {
    let owed = alloc::vec![(1u64, 30u128), (2, 50), (3, 20)];
    let (slash, escrow) = split_compensation(60, owed.clone());
    assert_eq!(slash, alloc::vec![(1, 30), (2, 30)]);
    assert_eq!(escrow, alloc::vec![(2, 20), (3, 20)]);
    let (slash, escrow) = split_compensation(0, owed.clone());
    assert!(slash.is_empty());
    assert_eq!(escrow, owed);
    let (slash, escrow) = split_compensation(1000, owed.clone());
    assert_eq!(slash, owed);
    assert!(escrow.is_empty());
}

/// The training pallet's error for a rejected fraud proof.
fn fraud_error<T>(e: PuzzleError) -> Error<T> {
    match e {
        PuzzleError::NoFraud(_) => Error::NoFraud,
        PuzzleError::SegmentCount { .. } | PuzzleError::SegmentsMismatch => Error::BadSegments,
        PuzzleError::SegmentIndex { .. } | PuzzleError::NothingToReplay(_) => {
            Error::BadFraudSegment
        }
        PuzzleError::ProofMismatch {
            what: "dataset", ..
        }
        | PuzzleError::SampleLength { .. }
        | PuzzleError::Label { .. }
        | PuzzleError::SampleIndex { .. }
        | PuzzleError::BatchSize { .. }
        | PuzzleError::BatchCount { .. } => Error::BadFraudBatches,
        _ => Error::BadFraudStart,
    }
}

/// Thousands of multiply-accumulates the proof asks the runtime to
/// re-execute — three products of batch × parameters per proven step (an
/// upper bound of the step's cost, read from the proof's sizes) — the
/// driver of the call's weight. Job admission uses the same count for the
/// largest proof of a job ([`block_kilo_macs`]).
pub fn proof_kilo_macs(proof: &TrajectoryProof) -> u32 {
    let macs = proof
        .steps
        .iter()
        .map(|s| {
            3u64.saturating_mul(s.samples.len() as u64)
                .saturating_mul(s.weights.len() as u64 / 2)
        })
        .fold(0u64, u64::saturating_add);
    u32::try_from(macs / 1000).unwrap_or(u32::MAX)
}

/// [`proof_kilo_macs`] of a block of `spec`: `CHALLENGES + 1` proven steps
/// of `3 · B · P` multiply-accumulates each.
pub fn block_kilo_macs(spec: &JobSpec) -> u32 {
    let steps = u64::from(upow_puzzle::trajectory::CHALLENGES) + 1;
    let macs = steps
        .saturating_mul(3)
        .saturating_mul(spec.hyper.batch() as u64)
        .saturating_mul(spec.model.params() as u64);
    u32::try_from(macs / 1000).unwrap_or(u32::MAX)
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
