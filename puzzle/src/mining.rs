//! Mining a trajectory: **the one mining loop** ([`TrajectoryMiner`]) that
//! the node's built-in miner and `upow-miner` both run, over any
//! [`StepBackend`] (the reference step here; candle CPU and CUDA in the
//! miner): stepping until a ticket wins, keeping snapshots of the weights,
//! restarting at the step bound or on a degenerate step, and proving and
//! checking a win.
//!
//! Miners cannot keep every `W_i` (a block at difficulty 4 000 would hold
//! 4 000 weight sets), so they keep a *snapshot* every
//! [`Snapshots::interval`] steps and recompute a challenged `W_i` from the
//! snapshot before it (bit-identical on every backend). (The node's store
//! of adopted weights is another thing: its checkpoint store.)
//!
//! A trajectory may not grow past [`max_steps`] at the block's difficulty;
//! one that gets there without a winning ticket is abandoned and a new one
//! starts from `W_0` with the next salt. So is one known to hold a
//! degenerate step (docs/puzzle.md §9): at the step when the backend
//! reports the step's statistics (the reference does), else when the won
//! trajectory's proof is checked — one policy, as early as the backend
//! allows — and one whose next step draws a sample outside the model's
//! classes (that step has no honest output, docs/puzzle.md §13).

use alloc::{collections::BTreeMap, vec::Vec};

use crate::{
    batch::{select_batch, Batch},
    dataset::Dataset,
    degeneracy::{validate_step, Liveness, StepStats},
    error::{Error, Result},
    hash::Hash,
    job::{JobProgress, JobSpec},
    model::{Hyperparams, Model},
    pow::{max_steps, Seed, Ticket, TrajectoryContext},
    sparse::SparseStep,
    step::TrainingStep,
    trajectory::{challenged_steps, Trajectory, TrajectoryClaim, TrajectoryProof},
    verify::verify_trajectory,
    weights::Weights,
};

/// Weights saved every `interval` steps of a trajectory (always `W_0`).
#[derive(Clone, Debug)]
pub struct Snapshots {
    interval: u32,
    saved: Vec<(u32, Weights)>,
}

impl Snapshots {
    /// Starts with `W_0`; `interval` ≥ 1.
    pub fn new(start: Weights, interval: u32) -> Self {
        Self {
            interval: interval.max(1),
            saved: alloc::vec![(0, start)],
        }
    }

    /// Steps between snapshots.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// Whether `W_index` should be saved.
    pub fn wants(&self, index: u32) -> bool {
        index.is_multiple_of(self.interval)
    }

    /// Saves `W_index` (call when [`Snapshots::wants`] says so).
    pub fn save(&mut self, index: u32, weights: Weights) {
        self.saved.push((index, weights));
    }

    /// The last snapshot at or before `index`: `(its index, its weights)`.
    pub fn before(&self, index: u32) -> Result<(u32, &Weights)> {
        self.saved
            .iter()
            .rev()
            .find(|(i, _)| *i <= index)
            .map(|(i, w)| (*i, w))
            .ok_or(Error::StepIndex { index, steps: 0 })
    }

    /// Recomputes `W_index` of `trajectory` from the last snapshot at or
    /// before it, with the reference step.
    pub fn weights_at(
        &self,
        index: u32,
        job: &JobSpec,
        trajectory: &Trajectory,
        first_step: u64,
        dataset: &Dataset,
    ) -> Result<Weights> {
        let (at, weights) = self.before(index)?;
        let mut weights = weights.clone();
        let step = TrainingStep::new(&job.model, &job.hyper);
        for (offset, seed) in trajectory.seeds(at, index)?.iter().enumerate() {
            let batch = select_batch(job, dataset, seed)?;
            let global = first_step + u64::from(at) + offset as u64;
            weights = step.run(&weights, &batch, seed, global)?.weights;
        }
        Ok(weights)
    }
}

/// A won trajectory, ready to go into a block.
#[derive(Clone, Debug)]
pub struct Mined {
    /// The context the claim is bound to (its salt goes into the digest).
    pub context: TrajectoryContext,
    /// The claim for the pre-runtime digest.
    pub claim: TrajectoryClaim,
    /// The proof for the block body.
    pub proof: TrajectoryProof,
    /// `W_n`, the weights the chain adopts.
    pub final_weights: Weights,
    /// The winning ticket.
    pub ticket: Ticket,
}

/// Proves a won trajectory from its snapshots.
pub fn prove(
    trajectory: &Trajectory,
    snapshots: &Snapshots,
    job: &JobSpec,
    dataset: &Dataset,
    first_step: u64,
    final_weights: Weights,
) -> Result<Mined> {
    let claim = trajectory
        .claim(final_weights.hash())
        .ok_or(Error::EmptyTrajectory)?;
    let proof = trajectory.prove(&claim, job, dataset, |i| {
        snapshots.weights_at(i, job, trajectory, first_step, dataset)
    })?;
    let ticket = claim.ticket(trajectory.context())?;
    Ok(Mined {
        context: *trajectory.context(),
        claim,
        proof,
        final_weights,
        ticket,
    })
}

/// What one step of a [`StepBackend`] reports back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// Hash of the weights after the step.
    pub weights_hash: Hash,
    /// Batch loss before the update (sixteenths of a bit, summed over rows).
    pub loss: u64,
    /// The step's statistics (docs/puzzle.md §9), when the backend computes
    /// them (the reference does; device backends need not).
    pub stats: Option<StepStats>,
}

/// One device's implementation of the training step. It keeps the current
/// weights (on its device) between steps. Every backend must give the bits
/// of [`TrainingStep::run`] (tested in the miner).
pub trait StepBackend {
    /// Its errors; a puzzle error converts into one.
    type Error: From<Error>;
    /// Short name for logs and metrics ("reference", "cpu", "cuda:0").
    fn name(&self) -> alloc::string::String;
    /// Replaces the current weights.
    fn load(&mut self, weights: &Weights) -> core::result::Result<(), Self::Error>;
    /// Runs one step on `batch` from the current weights, in place.
    fn step(
        &mut self,
        batch: &Batch,
        seed: &Seed,
        global_step: u64,
    ) -> core::result::Result<StepReport, Self::Error>;
    /// The current weights (copied to the host).
    fn weights(&self) -> core::result::Result<Weights, Self::Error>;
}

/// Which host implementation of the step a [`ReferenceBackend`] runs; both
/// give the bits of [`TrainingStep::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKernel {
    /// [`TrainingStep::run`] itself, the normative step.
    Reference,
    /// [`SparseStep::run`]: the same bits, skipping zero errors, zero
    /// gradients and dead units' back-propagation.
    Sparse,
}

impl HostKernel {
    /// Short name for logs, metrics and tables.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Sparse => "sparse",
        }
    }
}

/// A host step ([`TrainingStep::run`], or [`SparseStep::run`] which gives
/// its bits) as a backend; it reports the step's statistics.
#[derive(Clone, Debug)]
pub struct ReferenceBackend {
    kernel: HostKernel,
    model: Model,
    hyper: Hyperparams,
    weights: Weights,
}

impl ReferenceBackend {
    /// A backend for `model` and `hyper` running the normative step,
    /// holding `weights`.
    pub fn new(model: Model, hyper: Hyperparams, weights: Weights) -> Self {
        Self::with_kernel(HostKernel::Reference, model, hyper, weights)
    }

    /// A backend running `kernel`.
    pub fn with_kernel(
        kernel: HostKernel,
        model: Model,
        hyper: Hyperparams,
        weights: Weights,
    ) -> Self {
        Self {
            kernel,
            model,
            hyper,
            weights,
        }
    }
}

impl StepBackend for ReferenceBackend {
    type Error = Error;

    fn name(&self) -> alloc::string::String {
        self.kernel.name().into()
    }

    fn load(&mut self, weights: &Weights) -> Result<()> {
        self.weights = weights.clone();
        Ok(())
    }

    fn step(&mut self, batch: &Batch, seed: &Seed, global_step: u64) -> Result<StepReport> {
        let outcome = match self.kernel {
            HostKernel::Reference => TrainingStep::new(&self.model, &self.hyper).run(
                &self.weights,
                batch,
                seed,
                global_step,
            ),
            HostKernel::Sparse => SparseStep::new(&self.model, &self.hyper).run(
                &self.weights,
                batch,
                seed,
                global_step,
            ),
        }?;
        self.weights = outcome.weights;
        Ok(StepReport {
            weights_hash: self.weights.hash(),
            loss: outcome.loss,
            stats: Some(outcome.stats),
        })
    }

    fn weights(&self) -> Result<Weights> {
        Ok(self.weights.clone())
    }
}

/// Why the mining loop abandoned a trajectory and started another from
/// `W_0` with the next salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// It reached [`max_steps`] without a winning ticket (docs/puzzle.md §6).
    StepBound,
    /// It holds a degenerate step (docs/puzzle.md §9): known at the step
    /// when the backend reports statistics, else when the won trajectory's
    /// proof is checked. A block of it would be invalid.
    Degenerate,
    /// Its next step draws a sample whose label is not a class of the
    /// model (docs/puzzle.md §1, §13): that step has no honest output, and
    /// a trajectory through it can make no block.
    OutsideClasses,
}

/// What one call of [`TrajectoryMiner::step`] did.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum MiningProgress {
    /// A step ran; its ticket did not win.
    Stepped,
    /// A step's ticket won: the proven trajectory.
    Won(Mined),
    /// The trajectory was abandoned and a new one started.
    Restarted(Restart),
}

/// Why mining failed (a backend fault, not a property of the job).
#[derive(Debug)]
pub enum MiningError<E> {
    /// The backend failed.
    Backend(E),
    /// The backend's weights do not hash to the hash it reported.
    WeightsMismatch,
    /// The won trajectory's proof fails verification (a backend that does
    /// not give the reference's bits): the verifier's error.
    ProofRejected(Error),
}

impl<E: core::fmt::Display> core::fmt::Display for MiningError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Backend(e) => write!(f, "{e}"),
            Self::WeightsMismatch => {
                f.write_str("the backend's weights do not hash to the hash it reported")
            }
            Self::ProofRejected(e) => write!(f, "the proof fails verification: {e}"),
        }
    }
}

/// A challenged step at most this far past its snapshot is recomputed with
/// the reference step; further ones on the backend (from the snapshot).
pub const REFERENCE_RECOMPUTE: u32 = 16;

/// **The mining loop**, one step at a time, on any [`StepBackend`]: the
/// node's built-in miner and `upow-miner` both run it. It keeps the
/// trajectory and its snapshots, restarts with the next salt at the step
/// bound or on a degenerate step, and proves a win and checks the proof as
/// every node will before it returns it.
#[derive(Clone, Debug)]
pub struct TrajectoryMiner<'a> {
    job: &'a JobSpec,
    liveness: Liveness,
    dataset: &'a Dataset,
    start: Weights,
    first_step: u64,
    difficulty: u128,
    interval: u32,
    trajectory: Trajectory,
    snapshots: Snapshots,
    current: Hash,
    degenerate: u32,
    outside_classes: u32,
}

impl<'a> TrajectoryMiner<'a> {
    /// Starts mining `job` (a step of which must pass the degeneracy rule at
    /// `liveness`, its workload's threshold) from `start` (`H(start)` must be
    /// the chain's weights hash) with the job at `first_step` steps, at
    /// `difficulty`, keeping a snapshot every `snapshot_interval` steps;
    /// `ctx.salt` is the first salt tried. The backend must hold `start`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job: &'a JobSpec,
        liveness: Liveness,
        dataset: &'a Dataset,
        ctx: TrajectoryContext,
        start: Weights,
        first_step: u64,
        difficulty: u128,
        snapshot_interval: u32,
    ) -> Self {
        let hash = start.hash();
        Self {
            job,
            liveness,
            dataset,
            trajectory: Trajectory::start(ctx, hash),
            snapshots: Snapshots::new(start.clone(), snapshot_interval),
            current: hash,
            start,
            first_step,
            difficulty,
            interval: snapshot_interval.max(1),
            degenerate: 0,
            outside_classes: 0,
        }
    }

    /// The current trajectory.
    pub fn trajectory(&self) -> &Trajectory {
        &self.trajectory
    }

    /// Steps of the current trajectory.
    pub fn steps(&self) -> u32 {
        self.trajectory.steps()
    }

    /// The salt of the current trajectory.
    pub fn salt(&self) -> u32 {
        self.trajectory.context().salt
    }

    /// The difficulty its tickets must meet.
    pub fn difficulty(&self) -> u128 {
        self.difficulty
    }

    /// Changes the difficulty (the step bound follows).
    pub fn set_difficulty(&mut self, difficulty: u128) {
        self.difficulty = difficulty;
    }

    /// Trajectories abandoned for a degenerate step (at the job's liveness
    /// threshold). On a healthy job this stays 0 (never seen at batch ≥ 16
    /// at the degeneracy rule alone, nor for the house workload at its
    /// threshold: docs/benchmarks.md §Degeneracy); a job where it grows
    /// cannot make a block, and a miner should move on.
    pub fn degenerate_restarts(&self) -> u32 {
        self.degenerate
    }

    /// Trajectories abandoned at a step that draws a sample outside the
    /// model's classes ([`Restart::OutsideClasses`]). Nonzero only on a job
    /// whose dataset holds such labels; where it grows, a miner should
    /// move on.
    pub fn outside_class_restarts(&self) -> u32 {
        self.outside_classes
    }

    /// Runs one step on `backend` (which holds the trajectory's current
    /// weights) and says what came of it.
    pub fn step<B: StepBackend + ?Sized>(
        &mut self,
        backend: &mut B,
    ) -> core::result::Result<MiningProgress, MiningError<B::Error>> {
        if self.trajectory.steps() >= max_steps(self.difficulty) {
            return self.restart(backend, Restart::StepBound);
        }
        let index = self.trajectory.steps();
        let seed = self.trajectory.next_seed();
        let batch = match select_batch(self.job, self.dataset, &seed) {
            Err(Error::Label { .. }) => return self.restart(backend, Restart::OutsideClasses),
            batch => batch.map_err(|e| MiningError::Backend(e.into()))?,
        };
        let report = backend
            .step(&batch, &seed, self.first_step + u64::from(index))
            .map_err(MiningError::Backend)?;
        if let Some(stats) = &report.stats {
            if validate_step(&self.job.model, self.liveness, stats).is_err() {
                return self.restart(backend, Restart::Degenerate);
            }
        }
        self.current = report.weights_hash;
        let ticket = self.trajectory.push(self.current);
        if self.snapshots.wants(index + 1) {
            let weights = backend.weights().map_err(MiningError::Backend)?;
            self.snapshots.save(index + 1, weights);
        }
        if !ticket.meets(self.difficulty) {
            return Ok(MiningProgress::Stepped);
        }
        match self.prove(backend)? {
            Some(mined) => Ok(MiningProgress::Won(mined)),
            None => self.restart(backend, Restart::Degenerate),
        }
    }

    /// Abandons the current trajectory and starts an independent one from
    /// `W_0` with the next salt.
    fn restart<B: StepBackend + ?Sized>(
        &mut self,
        backend: &mut B,
        why: Restart,
    ) -> core::result::Result<MiningProgress, MiningError<B::Error>> {
        match why {
            Restart::Degenerate => self.degenerate = self.degenerate.saturating_add(1),
            Restart::OutsideClasses => {
                self.outside_classes = self.outside_classes.saturating_add(1)
            }
            Restart::StepBound => {}
        }
        let mut ctx = *self.trajectory.context();
        ctx.salt = ctx.salt.wrapping_add(1);
        self.trajectory = Trajectory::start(ctx, self.start.hash());
        self.snapshots = Snapshots::new(self.start.clone(), self.interval);
        self.current = self.start.hash();
        backend.load(&self.start).map_err(MiningError::Backend)?;
        Ok(MiningProgress::Restarted(why))
    }

    /// Proves the current trajectory (its last step won) and checks the
    /// proof with the reference verifier, exactly as every node will: a
    /// faulty backend is caught here instead of by the node. `None`: the
    /// proof is sound but proves a degenerate step, so no block can be made
    /// of this trajectory. Challenged steps near a snapshot are recomputed
    /// with the reference step, far ones on the backend (which then holds
    /// the final weights again).
    pub fn prove<B: StepBackend + ?Sized>(
        &self,
        backend: &mut B,
    ) -> core::result::Result<Option<Mined>, MiningError<B::Error>> {
        let trajectory = &self.trajectory;
        let ctx = *trajectory.context();
        let final_weights = backend.weights().map_err(MiningError::Backend)?;
        if final_weights.hash() != self.current {
            return Err(MiningError::WeightsMismatch);
        }
        let puzzle = |e: Error| MiningError::Backend(e.into());
        let claim = trajectory
            .claim(self.current)
            .ok_or(Error::EmptyTrajectory)
            .map_err(puzzle)?;
        let ticket = claim.ticket(&ctx).map_err(puzzle)?;
        let challenged = challenged_steps(&ticket, claim.steps);
        let mut at: BTreeMap<u32, Weights> = BTreeMap::new();
        // Whether the backend was moved off the final weights.
        let mut moved = false;
        for &i in &challenged {
            let (base, snapshot) = self.snapshots.before(i).map_err(puzzle)?;
            let weights = if i - base <= REFERENCE_RECOMPUTE {
                self.snapshots
                    .weights_at(i, self.job, trajectory, self.first_step, self.dataset)
                    .map_err(puzzle)?
            } else {
                moved = true;
                backend.load(snapshot).map_err(MiningError::Backend)?;
                for (offset, seed) in trajectory
                    .seeds(base, i)
                    .map_err(puzzle)?
                    .iter()
                    .enumerate()
                {
                    let batch = select_batch(self.job, self.dataset, seed).map_err(puzzle)?;
                    let global = self.first_step + u64::from(base) + offset as u64;
                    backend
                        .step(&batch, seed, global)
                        .map_err(MiningError::Backend)?;
                }
                backend.weights().map_err(MiningError::Backend)?
            };
            at.insert(i, weights);
        }
        if moved {
            backend.load(&final_weights).map_err(MiningError::Backend)?;
        }
        let proof = trajectory
            .prove(&claim, self.job, self.dataset, |i| {
                at.get(&i).cloned().ok_or(Error::StepIndex {
                    index: i,
                    steps: claim.steps,
                })
            })
            .map_err(puzzle)?;
        let verdict = verify_trajectory(
            self.job,
            self.liveness,
            &ctx,
            &JobProgress {
                weights: self.start.hash(),
                steps: self.first_step,
            },
            self.difficulty,
            &claim,
            &proof,
        );
        match verdict {
            Ok(_) => Ok(Some(Mined {
                context: ctx,
                claim,
                proof,
                final_weights,
                ticket,
            })),
            Err(Error::Degenerate { .. }) => Ok(None),
            Err(e) => Err(MiningError::ProofRejected(e)),
        }
    }
}

/// [`TrajectoryMiner`] on the [`ReferenceBackend`], on the calling thread:
/// the node's built-in miner, and tests.
#[derive(Clone, Debug)]
pub struct ReferenceMiner<'a> {
    miner: TrajectoryMiner<'a>,
    backend: ReferenceBackend,
}

impl<'a> ReferenceMiner<'a> {
    /// Starts mining `job` (its steps checked at its workload's `liveness`)
    /// from `start` (`H(start)` must be the chain's weights hash) with the
    /// job at `first_step` steps; `ctx.salt` is the first salt tried.
    pub fn new(
        job: &'a JobSpec,
        liveness: Liveness,
        dataset: &'a Dataset,
        ctx: TrajectoryContext,
        start: Weights,
        first_step: u64,
        snapshot_interval: u32,
    ) -> Self {
        let backend = ReferenceBackend::new(job.model.clone(), job.hyper, start.clone());
        Self {
            miner: TrajectoryMiner::new(
                job,
                liveness,
                dataset,
                ctx,
                start,
                first_step,
                1,
                snapshot_interval,
            ),
            backend,
        }
    }

    /// Steps of the current trajectory.
    pub fn steps(&self) -> u32 {
        self.miner.steps()
    }

    /// The salt of the current trajectory.
    pub fn salt(&self) -> u32 {
        self.miner.salt()
    }

    /// Degenerate steps this miner took, each of which restarted the
    /// trajectory (the reference reports every step's statistics).
    pub fn degenerate_steps(&self) -> u32 {
        self.miner.degenerate_restarts()
    }

    /// Steps this miner could not take because their batch drew a sample
    /// outside the model's classes, each of which restarted the trajectory.
    pub fn outside_class_steps(&self) -> u32 {
        self.miner.outside_class_restarts()
    }

    /// Runs up to `max_steps` steps; returns the proof as soon as a ticket
    /// wins at `difficulty`, `None` if none did.
    pub fn run(&mut self, difficulty: u128, max_steps: u32) -> Result<Option<Mined>> {
        self.miner.set_difficulty(difficulty);
        for _ in 0..max_steps {
            match self.miner.step(&mut self.backend) {
                Ok(MiningProgress::Won(mined)) => return Ok(Some(mined)),
                Ok(_) => {}
                Err(MiningError::Backend(e) | MiningError::ProofRejected(e)) => return Err(e),
                Err(MiningError::WeightsMismatch) => return Err(Error::FinalMismatch),
            }
        }
        Ok(None)
    }
}
