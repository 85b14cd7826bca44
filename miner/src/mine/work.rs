//! Work and the devices that mine it.
//!
//! The coordinator publishes each new piece of work on the [`WorkBoard`]
//! under a new *generation*; every device thread runs a trajectory on the
//! current generation and checks, after every step, that it is still
//! current (one atomic load), so a new best block switches all devices
//! within one step. A win is proven on the device thread (snapshots +
//! recomputation, then a full self-check with the reference verifier) and
//! handed to the coordinator as a [`Found`]; wins of a superseded
//! generation are dropped unsubmitted.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc as sync_mpsc, Arc, Condvar, Mutex,
    },
    thread::JoinHandle,
    time::Duration,
};

use tokio::sync::mpsc;
use upow_primitives::{rpc::WorkResponse, AuthorId, JobId};
use upow_puzzle::{
    challenged_steps, max_steps,
    mining::{prove, select_batch, Mined, Snapshots},
    verify_trajectory, Dataset, Hash, Hyperparams, JobProgress, JobSpec, Model, Trajectory,
    TrajectoryContext, Weights,
};

use super::{
    client::{rpc_u128, Backoff, RpcError},
    error::MineError,
    events::{DeviceState, DeviceStats, Event, EventSink},
    metrics::DeviceMetrics,
    shutdown::Shutdown,
};
use crate::backend::{self, BackendKind, StepBackend};

/// Smallest snapshot interval: a device's weights are copied to the host
/// at most every this many steps.
pub const MIN_SNAPSHOT_INTERVAL: u32 = 8;
/// Largest snapshot interval.
pub const MAX_SNAPSHOT_INTERVAL: u32 = 1 << 20;
/// A challenged step at most this far past its snapshot is recomputed
/// with the reference step; further ones on the device's backend.
const REFERENCE_RECOMPUTE: u32 = 16;

/// Work ready to mine: the node's work with its weights and dataset.
#[derive(Clone, Debug)]
pub struct PreparedWork {
    /// Set by [`WorkBoard::publish`].
    pub generation: u64,
    /// The parent block.
    pub parent: Hash,
    /// The parent's number.
    pub number: u32,
    /// The job.
    pub job: JobId,
    /// Its spec.
    pub spec: JobSpec,
    /// Its training set (verified against the spec's commitment).
    pub dataset: Arc<Dataset>,
    /// `W_0` (verified against `weights_hash`).
    pub weights: Weights,
    /// `H(W_0)`.
    pub weights_hash: Hash,
    /// Steps the job already has.
    pub steps: u64,
    /// The difficulty to meet.
    pub difficulty: u128,
}

impl PreparedWork {
    /// What identifies this work.
    pub fn key(&self) -> WorkKey {
        WorkKey {
            parent: self.parent,
            job: self.job,
            weights: self.weights_hash,
            steps: self.steps,
            difficulty: self.difficulty,
        }
    }
}

/// What makes two pieces of work the same: a miner switches exactly when
/// this changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkKey {
    /// Parent block.
    pub parent: Hash,
    /// Job.
    pub job: JobId,
    /// Start weights.
    pub weights: Hash,
    /// Job steps.
    pub steps: u64,
    /// Difficulty.
    pub difficulty: u128,
}

impl WorkKey {
    /// The key of the node's work (an error if its difficulty does not
    /// fit in 128 bits).
    pub fn of(work: &WorkResponse) -> Result<Self, RpcError> {
        Ok(Self {
            parent: work.parent.0,
            job: work.job,
            weights: work.weights.0,
            steps: work.steps,
            difficulty: rpc_u128("upow_getWork", "difficulty", work.difficulty)?,
        })
    }
}

#[derive(Default)]
struct BoardState {
    work: Option<Arc<PreparedWork>>,
}

/// The current work, shared by the coordinator and the device threads.
#[derive(Default)]
pub struct WorkBoard {
    state: Mutex<BoardState>,
    changed: Condvar,
    generation: AtomicU64,
}

impl WorkBoard {
    /// An empty board (generation 0, no work).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether `generation` is still the current one.
    pub fn is_current(&self, generation: u64) -> bool {
        self.generation() == generation
    }

    /// The current work.
    pub fn current(&self) -> Option<Arc<PreparedWork>> {
        self.lock().work.clone()
    }

    /// Whether the node's work `key` differs from the current work (then it
    /// must be prepared and published).
    pub fn is_new(&self, key: &WorkKey) -> bool {
        self.lock().work.as_ref().map(|w| w.key()) != Some(*key)
    }

    /// Publishes new work under a new generation (returned); every device
    /// drops what it was doing.
    pub fn publish(&self, mut work: PreparedWork) -> u64 {
        let mut state = self.lock();
        let generation = self.generation() + 1;
        work.generation = generation;
        state.work = Some(Arc::new(work));
        self.generation.store(generation, Ordering::Release);
        self.changed.notify_all();
        generation
    }

    /// Withdraws the work (the node has none): devices idle.
    pub fn clear(&self) {
        let mut state = self.lock();
        if state.work.take().is_some() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            self.changed.notify_all();
        }
    }

    /// The current work if its generation is above `done`, waiting up to
    /// `timeout` for one.
    pub fn wait_newer(&self, done: u64, timeout: Duration) -> Option<Arc<PreparedWork>> {
        let state = self.lock();
        let ready = |s: &mut BoardState| !matches!(&s.work, Some(w) if w.generation > done);
        let (state, _) = self
            .changed
            .wait_timeout_while(state, timeout, ready)
            .unwrap_or_else(|e| e.into_inner());
        state.work.clone().filter(|w| w.generation > done)
    }
}

/// The node's verdict on a win.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Imported as block `hash`.
    Accepted {
        /// The block hash.
        hash: Hash,
    },
    /// Refused by the node.
    Rejected {
        /// JSON-RPC error code.
        code: i32,
        /// The node's message.
        message: String,
    },
    /// Not submitted: new work arrived first.
    Stale,
    /// Not signed, or signed but not imported: the miner signs no other
    /// block on this parent (the node's template was not the win, or the
    /// author already signed a block there).
    Refused,
}

/// A proven win, from a device to the coordinator.
#[derive(Debug)]
pub struct Found {
    /// Device position.
    pub device: usize,
    /// Generation of the work it was mined on.
    pub generation: u64,
    /// The parent block.
    pub parent: Hash,
    /// The parent's number.
    pub number: u32,
    /// The job.
    pub job: JobId,
    /// The author (the device's key).
    pub author: AuthorId,
    /// Claim, proof and final weights.
    pub mined: Mined,
    /// Where the verdict goes.
    pub reply: sync_mpsc::SyncSender<SubmitOutcome>,
}

/// Snapshot interval for a trajectory at `difficulty`: keeps the
/// snapshots of a trajectory four times the expected length (`4 ·
/// difficulty` steps) within `budget` bytes, but never below
/// [`MIN_SNAPSHOT_INTERVAL`].
pub fn snapshot_interval(difficulty: u128, weight_bytes: usize, budget: usize) -> u32 {
    let need = difficulty
        .saturating_mul(4)
        .saturating_mul(weight_bytes as u128);
    let interval = need.div_ceil(budget.max(1) as u128);
    interval.clamp(
        u128::from(MIN_SNAPSHOT_INTERVAL),
        u128::from(MAX_SNAPSHOT_INTERVAL),
    ) as u32
}

/// One mining device.
#[derive(Clone, Debug)]
pub struct Device {
    /// Position in `--devices` (its index everywhere in the miner).
    pub index: usize,
    /// The backend's device number (the GPU for CUDA).
    pub ordinal: usize,
    /// The backend.
    pub kind: BackendKind,
    /// "cpu#0", "cuda:1".
    pub label: String,
    /// The author key it mines as.
    pub author: AuthorId,
    /// Fixed snapshot interval (`None`: from the difficulty and memory).
    pub snapshot_interval: Option<u32>,
    /// Memory for snapshots, bytes.
    pub snapshot_memory: usize,
}

/// What a device shares with the rest of the miner.
#[derive(Clone)]
pub struct DeviceLink {
    /// The work.
    pub board: Arc<WorkBoard>,
    /// Wins go here.
    pub found: mpsc::UnboundedSender<Found>,
    /// Stop signal.
    pub shutdown: Shutdown,
    /// Live counters for the view.
    pub stats: Arc<DeviceStats>,
    /// Prometheus counters.
    pub metrics: DeviceMetrics,
    /// Events.
    pub events: EventSink,
    /// Whether the device's key is admitted (kept by the coordinator).
    pub admitted: Arc<AtomicBool>,
}

/// Starts a device's thread. It runs until shutdown; failures are
/// reported and retried after a growing pause, without affecting other
/// devices.
pub fn spawn(device: Device, link: DeviceLink) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("upow-{}", device.label))
        .spawn(move || supervise(&device, &link))
}

fn supervise(device: &Device, link: &DeviceLink) {
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
    loop {
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| mine_loop(device, link)));
        let error = match result {
            Ok(Ok(())) => break,
            Ok(Err(e)) => e.to_string(),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                format!("panicked: {message}")
            }
        };
        if link.shutdown.is_triggered() {
            break;
        }
        link.stats.set_state(DeviceState::Failed);
        link.metrics.failures.inc();
        let delay = backoff.next_delay();
        link.events.emit(Event::DeviceFailed {
            device: device.index,
            error,
            retry_in_ms: delay.as_millis() as u64,
        });
        if !link.shutdown.sleep(delay) {
            break;
        }
    }
    link.stats.set_state(DeviceState::Stopped);
}

/// How one piece of work ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Done with this generation (won and submitted, or the win was stale).
    Finished,
    /// Newer work (or lost admission): look again.
    Switched,
    /// Shutting down.
    Shutdown,
}

/// A backend and the shapes it was built for.
struct Loaded {
    model: Model,
    hyper: Hyperparams,
    backend: Box<dyn StepBackend>,
}

fn mine_loop(device: &Device, link: &DeviceLink) -> Result<(), MineError> {
    let mut loaded: Option<Loaded> = None;
    let mut done = 0u64;
    link.stats.set_state(DeviceState::Waiting);
    loop {
        if link.shutdown.is_triggered() {
            return Ok(());
        }
        if !link.admitted.load(Ordering::Acquire) {
            link.stats.set_state(DeviceState::NotAdmitted);
            link.shutdown.sleep(Duration::from_millis(250));
            continue;
        }
        let Some(work) = link.board.wait_newer(done, Duration::from_millis(250)) else {
            link.stats.set_state(DeviceState::Waiting);
            continue;
        };
        if !link.admitted.load(Ordering::Acquire) {
            // Admission is checked right before work is published.
            continue;
        }
        let backend = match loaded.take() {
            Some(l) if l.model == work.spec.model && l.hyper == work.spec.hyper => {
                let mut l = l;
                l.backend.load(&work.weights)?;
                l
            }
            _ => {
                link.stats.set_state(DeviceState::Starting);
                let backend = backend::create(
                    device.kind,
                    device.ordinal,
                    &work.spec.model,
                    &work.spec.hyper,
                    &work.weights,
                )?;
                link.events.emit(Event::DeviceReady {
                    device: device.index,
                    backend: backend.name(),
                });
                Loaded {
                    model: work.spec.model.clone(),
                    hyper: work.spec.hyper,
                    backend,
                }
            }
        };
        let loaded = loaded.insert(backend);
        match mine_work(device, link, loaded.backend.as_mut(), &work)? {
            Outcome::Finished => done = work.generation,
            Outcome::Switched => {}
            Outcome::Shutdown => return Ok(()),
        }
        link.stats.set_state(DeviceState::Waiting);
    }
}

/// A trajectory being mined on a device: the puzzle's trajectory and the
/// snapshots of its weights.
struct Mining {
    trajectory: Trajectory,
    snapshots: Snapshots,
    /// `H(W_i)` of the backend's current weights.
    current: Hash,
}

impl Mining {
    /// A trajectory of `work` with `salt`, from its start weights.
    fn start(device: &Device, work: &PreparedWork, salt: u32, interval: u32) -> Self {
        let ctx = TrajectoryContext {
            parent: work.parent,
            author: device.author,
            job: work.job,
            salt,
        };
        Self {
            trajectory: Trajectory::start(ctx, work.weights_hash),
            snapshots: Snapshots::new(work.weights.clone(), interval),
            current: work.weights_hash,
        }
    }

    fn salt(&self) -> u32 {
        self.trajectory.context().salt
    }
}

/// Mines `work` from its start weights (already loaded in `backend`). A
/// trajectory that reaches the step bound (`4 · D`) without a winning
/// ticket, or whose proof has a degenerate step, is abandoned and a new one
/// starts from `W_0` with the next salt (docs/puzzle.md §6, §9).
fn mine_work(
    device: &Device,
    link: &DeviceLink,
    backend: &mut dyn StepBackend,
    work: &PreparedWork,
) -> Result<Outcome, MineError> {
    let interval = device.snapshot_interval.unwrap_or_else(|| {
        snapshot_interval(
            work.difficulty,
            work.spec.model.params() * 2,
            device.snapshot_memory,
        )
    });
    let bound = max_steps(work.difficulty);
    let mut mining = Mining::start(device, work, 0, interval);
    link.stats.trajectory.store(0, Ordering::Relaxed);
    link.stats.set_state(DeviceState::Mining);
    loop {
        if link.shutdown.is_triggered() {
            return Ok(Outcome::Shutdown);
        }
        if !link.board.is_current(work.generation) || !link.admitted.load(Ordering::Relaxed) {
            return Ok(Outcome::Switched);
        }
        if mining.trajectory.steps() >= bound {
            let salt = mining.salt().wrapping_add(1);
            mining = Mining::start(device, work, salt, interval);
            backend.load(&work.weights)?;
            link.stats.trajectory.store(0, Ordering::Relaxed);
        }
        let index = mining.trajectory.steps();
        let seed = mining.trajectory.next_seed();
        let batch = select_batch(&work.spec, &work.dataset, &seed)?;
        let report = backend.step(&batch, &seed, work.steps + u64::from(index))?;
        mining.current = report.weights_hash;
        let ticket = mining.trajectory.push(mining.current);
        link.metrics.steps.inc();
        link.metrics.tickets.inc();
        link.stats.steps.fetch_add(1, Ordering::Relaxed);
        link.stats
            .trajectory
            .store(u64::from(index) + 1, Ordering::Relaxed);
        if mining.snapshots.wants(index + 1) {
            mining.snapshots.save(index + 1, backend.weights()?);
        }
        if !ticket.meets(work.difficulty) {
            continue;
        }

        link.metrics.found.inc();
        link.stats.set_state(DeviceState::Proving);
        let Some(mined) = prove_win(device, backend, &mining, work)? else {
            // A challenged step is degenerate: this trajectory can never
            // make a valid block. Start another.
            let salt = mining.salt().wrapping_add(1);
            mining = Mining::start(device, work, salt, interval);
            backend.load(&work.weights)?;
            link.stats.set_state(DeviceState::Mining);
            continue;
        };
        link.events.emit(Event::Found {
            device: device.index,
            block: work.number + 1,
            steps: mined.claim.steps,
            ticket: format!("0x{}", hex::encode(mined.ticket.0)),
        });
        let (reply, verdict) = sync_mpsc::sync_channel(1);
        let found = Found {
            device: device.index,
            generation: work.generation,
            parent: work.parent,
            number: work.number,
            job: work.job,
            author: device.author,
            mined,
            reply,
        };
        if link.found.send(found).is_err() {
            return Ok(Outcome::Shutdown);
        }
        link.stats.set_state(DeviceState::Submitting);
        loop {
            match verdict.recv_timeout(Duration::from_millis(100)) {
                Ok(SubmitOutcome::Rejected { code, .. })
                    if code != upow_primitives::rpc::error::STALE =>
                {
                    // Refused before anything was signed: keep extending
                    // the trajectory, a later ticket wins again (on the
                    // same parent).
                    link.stats.set_state(DeviceState::Mining);
                    break;
                }
                Ok(_) => return Ok(Outcome::Finished),
                Err(sync_mpsc::RecvTimeoutError::Timeout) => {
                    if link.shutdown.is_triggered() {
                        return Ok(Outcome::Shutdown);
                    }
                    if !link.board.is_current(work.generation) {
                        return Ok(Outcome::Switched);
                    }
                }
                Err(sync_mpsc::RecvTimeoutError::Disconnected) => return Ok(Outcome::Finished),
            }
        }
    }
}

/// Proves a won trajectory and checks the proof with the reference
/// verifier, exactly as every node will: a faulty device (or backend bug)
/// is caught here instead of being rejected by the node. `None`: the proof
/// is sound but proves a degenerate step (docs/puzzle.md §9), so no block
/// can be made of this trajectory.
fn prove_win(
    device: &Device,
    backend: &mut dyn StepBackend,
    mining: &Mining,
    work: &PreparedWork,
) -> Result<Option<Mined>, MineError> {
    let trajectory = &mining.trajectory;
    let snapshots = &mining.snapshots;
    let ctx = *trajectory.context();
    let final_weights = backend.weights()?;
    if final_weights.hash() != mining.current {
        return Err(MineError::SelfCheck {
            device: device.label.clone(),
            reason: "the backend's weights do not hash to the hash it reported".into(),
        });
    }
    let interval = snapshots.interval();
    let claim = trajectory
        .claim(mining.current)
        .ok_or(upow_puzzle::Error::EmptyTrajectory)?;
    let challenged = challenged_steps(&claim.ticket(&ctx)?, claim.steps);
    let far = challenged
        .iter()
        .any(|i| i % interval > REFERENCE_RECOMPUTE);
    let mined = if !far || device.kind == BackendKind::Reference {
        // Every challenged step is close to a snapshot: the reference step
        // recomputes it quickly.
        prove(
            trajectory,
            snapshots,
            &work.spec,
            &work.dataset,
            work.steps,
            final_weights,
        )?
    } else {
        // Far from a snapshot: recompute on the (fast) backend from the
        // snapshot before it; the self-check below catches any mismatch.
        let mut at: HashMap<u32, Weights> = HashMap::new();
        for &i in &challenged {
            let (base, weights) = snapshots.before(i)?;
            let mut weights = weights.clone();
            if base < i {
                backend.load(&weights)?;
                for (offset, seed) in trajectory.seeds(base, i)?.iter().enumerate() {
                    let batch = select_batch(&work.spec, &work.dataset, seed)?;
                    let global = work.steps + u64::from(base) + offset as u64;
                    backend.step(&batch, seed, global)?;
                }
                weights = backend.weights()?;
            }
            at.insert(i, weights);
        }
        backend.load(&final_weights)?;
        let proof = trajectory.prove(&claim, &work.spec, &work.dataset, |i| {
            at.get(&i).cloned().ok_or(upow_puzzle::Error::StepIndex {
                index: i,
                steps: claim.steps,
            })
        })?;
        Mined {
            context: ctx,
            ticket: claim.ticket(&ctx)?,
            claim,
            proof,
            final_weights,
        }
    };
    let verdict = verify_trajectory(
        &work.spec,
        &ctx,
        &JobProgress {
            weights: work.weights_hash,
            steps: work.steps,
        },
        work.difficulty,
        &mined.claim,
        &mined.proof,
    );
    match verdict {
        Ok(_) => Ok(Some(mined)),
        Err(upow_puzzle::Error::Degenerate { .. }) => Ok(None),
        Err(e) => Err(MineError::SelfCheck {
            device: device.label.clone(),
            reason: format!("the proof fails verification: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::{events, metrics::Metrics};
    use upow_primitives::rpc::error;

    fn job() -> (JobSpec, Arc<Dataset>, Weights) {
        let model = Model::new(&[8, 6, 3]).unwrap();
        let labels: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
        let pixels: Vec<u8> = (0..40 * 8).map(|i| (i * 53 % 256) as u8).collect();
        let dataset = Dataset::new(8, &labels, &pixels).unwrap();
        let hyper = Hyperparams::new(4, 2, 1000).unwrap();
        let spec = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
        let weights = Weights::initial(&model, &[3; 32]);
        (spec, Arc::new(dataset), weights)
    }

    fn work(parent: u8, difficulty: u128) -> PreparedWork {
        let (spec, dataset, weights) = job();
        PreparedWork {
            generation: 0,
            parent: [parent; 32],
            number: parent as u32,
            job: 0,
            spec,
            dataset,
            weights_hash: weights.hash(),
            weights,
            steps: 10,
            difficulty,
        }
    }

    struct Rig {
        board: Arc<WorkBoard>,
        found: mpsc::UnboundedReceiver<Found>,
        events: mpsc::UnboundedReceiver<Event>,
        shutdown: Shutdown,
        stats: Vec<Arc<DeviceStats>>,
        threads: Vec<JoinHandle<()>>,
    }

    impl Rig {
        fn start(devices: &[(BackendKind, usize)]) -> Self {
            Self::with_interval(devices, 8)
        }

        fn with_interval(devices: &[(BackendKind, usize)], interval: u32) -> Self {
            let board = Arc::new(WorkBoard::new());
            let (found_tx, found) = mpsc::unbounded_channel();
            let (sink, events) = events::channel();
            let shutdown = Shutdown::new();
            let labels: Vec<String> = (0..devices.len()).map(|i| format!("dev{i}")).collect();
            let metrics = Metrics::new(&labels).unwrap();
            let mut stats = Vec::new();
            let mut threads = Vec::new();
            for (i, (kind, ordinal)) in devices.iter().enumerate() {
                let s = Arc::new(DeviceStats::default());
                stats.push(s.clone());
                let device = Device {
                    index: i,
                    ordinal: *ordinal,
                    kind: *kind,
                    label: labels[i].clone(),
                    author: [i as u8 + 1; 32],
                    snapshot_interval: Some(interval),
                    snapshot_memory: 1 << 20,
                };
                let link = DeviceLink {
                    board: board.clone(),
                    found: found_tx.clone(),
                    shutdown: shutdown.clone(),
                    stats: s,
                    metrics: metrics.device(i),
                    events: sink.clone(),
                    admitted: Arc::new(AtomicBool::new(true)),
                };
                threads.push(spawn(device, link).unwrap());
            }
            Rig {
                board,
                found,
                events,
                shutdown,
                stats,
                threads,
            }
        }

        fn next_found(&mut self) -> Found {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(found) = self.found.try_recv() {
                    return found;
                }
                assert!(std::time::Instant::now() < deadline, "no win in 60 s");
                std::thread::sleep(Duration::from_millis(5));
            }
        }

        fn stop(self) {
            self.shutdown.trigger();
            let started = std::time::Instant::now();
            for t in self.threads {
                t.join().unwrap();
            }
            assert!(started.elapsed() < Duration::from_secs(2));
        }
    }

    fn verify(found: &Found, work: &PreparedWork) {
        let ctx = found.mined.context;
        assert_eq!(
            (ctx.parent, ctx.author, ctx.job),
            (found.parent, found.author, found.job)
        );
        verify_trajectory(
            &work.spec,
            &ctx,
            &JobProgress {
                weights: work.weights_hash,
                steps: work.steps,
            },
            work.difficulty,
            &found.mined.claim,
            &found.mined.proof,
        )
        .unwrap();
    }

    #[test]
    fn the_board_bumps_generations_and_wakes_waiters() {
        let board = Arc::new(WorkBoard::new());
        assert!(board.wait_newer(0, Duration::from_millis(10)).is_none());
        let w = work(1, 5);
        assert!(board.is_new(&w.key()));
        let g1 = board.publish(w.clone());
        assert!(!board.is_new(&w.key()));
        assert!(board.is_current(g1));
        assert_eq!(board.wait_newer(0, Duration::ZERO).unwrap().generation, g1);
        assert!(board.wait_newer(g1, Duration::from_millis(10)).is_none());

        // A waiter is woken by a publish.
        let b = board.clone();
        let waiter = std::thread::spawn(move || b.wait_newer(g1, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        let g2 = board.publish(work(2, 5));
        assert_eq!(waiter.join().unwrap().unwrap().generation, g2);
        assert!(!board.is_current(g1));

        // Same parent, other difficulty: new work.
        let mut other = w.clone();
        other.difficulty = 6;
        assert!(board.is_new(&other.key()));

        board.clear();
        assert!(!board.is_current(g2));
        assert!(board.current().is_none());
        let g = board.generation();
        board.clear();
        assert_eq!(board.generation(), g, "clearing nothing changes nothing");
    }

    #[test]
    fn snapshot_intervals_follow_difficulty_and_memory() {
        let bytes = 101_632 * 2;
        assert_eq!(
            snapshot_interval(500, bytes, 512 << 20),
            MIN_SNAPSHOT_INTERVAL
        );
        let i = snapshot_interval(10_000_000, bytes, 512 << 20);
        assert!(
            4 * 10_000_000 / i as u128 * bytes as u128 <= 512 << 20,
            "{i}"
        );
        assert_eq!(
            snapshot_interval(u128::MAX, bytes, 1),
            MAX_SNAPSHOT_INTERVAL
        );
    }

    #[test]
    fn a_device_mines_proves_and_waits_for_new_work_after_acceptance() {
        let mut rig = Rig::start(&[(BackendKind::Reference, 0)]);
        let w = work(1, 3);
        let g = rig.board.publish(w.clone());
        let found = rig.next_found();
        assert_eq!(
            (found.generation, found.parent, found.device),
            (g, [1; 32], 0)
        );
        verify(&found, &w);
        found
            .reply
            .send(SubmitOutcome::Accepted { hash: [9; 32] })
            .unwrap();
        // Done with this generation: no second win on it.
        std::thread::sleep(Duration::from_millis(300));
        assert!(rig.found.try_recv().is_err());
        // New work is mined at once.
        let w2 = work(2, 3);
        let g2 = rig.board.publish(w2.clone());
        let found = rig.next_found();
        assert_eq!((found.generation, found.parent), (g2, [2; 32]));
        verify(&found, &w2);
        rig.stop();
    }

    #[test]
    fn a_rejected_win_extends_the_trajectory() {
        let mut rig = Rig::start(&[(BackendKind::Reference, 0)]);
        let w = work(1, 4);
        rig.board.publish(w.clone());
        let first = rig.next_found();
        first
            .reply
            .send(SubmitOutcome::Rejected {
                code: error::REJECTED,
                message: "test".into(),
            })
            .unwrap();
        let second = rig.next_found();
        // The same trajectory, longer (or, past the step bound, another
        // salt's).
        let same = second.mined.context.salt == first.mined.context.salt;
        assert!(!same || second.mined.claim.steps > first.mined.claim.steps);
        assert_ne!(second.mined.claim, first.mined.claim);
        verify(&second, &w);
        second
            .reply
            .send(SubmitOutcome::Rejected {
                code: error::STALE,
                message: "stale".into(),
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            rig.found.try_recv().is_err(),
            "a stale verdict ends the work"
        );
        rig.stop();
    }

    #[test]
    fn new_work_switches_a_running_trajectory_within_a_step() {
        let mut rig = Rig::start(&[(BackendKind::Reference, 0)]);
        // Practically never wins.
        let g1 = rig.board.publish(work(1, u128::MAX));
        while rig.stats[0].trajectory.load(Ordering::Relaxed) < 5 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let w2 = work(2, 1);
        let g2 = rig.board.publish(w2.clone());
        let found = rig.next_found();
        assert_ne!(found.generation, g1);
        assert_eq!((found.generation, found.parent), (g2, [2; 32]));
        // At difficulty 1 the first step wins: the trajectory restarted.
        assert_eq!(found.mined.claim.steps, 1);
        verify(&found, &w2);
        rig.stop();
    }

    #[test]
    fn a_failing_device_is_reported_and_the_others_keep_mining() {
        // CUDA device 999 exists nowhere (and without the feature the
        // backend is not even built): it fails, device 0 mines.
        let mut rig = Rig::start(&[(BackendKind::Reference, 0), (BackendKind::Cuda, 999)]);
        let w = work(1, 2);
        rig.board.publish(w.clone());
        let found = rig.next_found();
        assert_eq!(found.device, 0);
        verify(&found, &w);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let failure = loop {
            match rig.events.try_recv() {
                Ok(Event::DeviceFailed { device, error, .. }) => break (device, error),
                Ok(_) => {}
                Err(_) => {
                    assert!(std::time::Instant::now() < deadline, "no failure reported");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        };
        assert_eq!(failure.0, 1, "{failure:?}");
        assert_eq!(rig.stats[1].state(), DeviceState::Failed);
        rig.stop();
    }

    #[test]
    fn challenges_far_from_a_snapshot_are_recomputed_on_the_backend() {
        // Only W_0 is kept (interval 1000): every challenged step past 16 is
        // recomputed on the candle CPU backend, then self-checked.
        let mut rig = Rig::with_interval(&[(BackendKind::Cpu, 0)], 1000);
        let w = work(1, 300);
        rig.board.publish(w.clone());
        let reject = |found: &Found| {
            found
                .reply
                .send(SubmitOutcome::Rejected {
                    code: error::REJECTED,
                    message: "test".into(),
                })
                .unwrap()
        };
        // Rejections extend the trajectory until a win is long enough; each
        // extension also shows the backend was put back at W_n.
        let mut found = rig.next_found();
        let mut far = 0;
        for _ in 0..20 {
            verify(&found, &w);
            if found.mined.claim.steps > REFERENCE_RECOMPUTE + 1 {
                far += 1;
                if far == 2 {
                    break;
                }
            }
            reject(&found);
            let next = rig.next_found();
            let same = next.mined.context.salt == found.mined.context.salt;
            assert!(!same || next.mined.claim.steps > found.mined.claim.steps);
            found = next;
        }
        assert_eq!(far, 2, "no long trajectory in 20 wins");
        rig.stop();
    }

    #[test]
    fn one_key_on_two_devices_mines_the_same_trajectory_two_keys_do_not() {
        let (spec, dataset, weights) = job();
        let mine_as = |author: u8| {
            let ctx = TrajectoryContext {
                parent: [1; 32],
                author: [author; 32],
                job: 0,
                salt: 0,
            };
            let mut miner = upow_puzzle::mining::ReferenceMiner::new(
                &spec,
                &dataset,
                ctx,
                weights.clone(),
                0,
                8,
            );
            miner.run(4, 10_000).unwrap().unwrap().claim
        };
        // Same (parent, author, job, W_0): step for step the same work.
        assert_eq!(mine_as(1), mine_as(1));
        assert_ne!(mine_as(1), mine_as(2));
    }
}
