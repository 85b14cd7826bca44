//! The devices: one mining thread per device, and what it hands back.
//!
//! Every device thread ([`spawn`]) runs a trajectory on the current
//! generation of the [`WorkBoard`] and switches within one step when a new
//! generation is published, running the puzzle's one mining loop
//! ([`TrajectoryMiner`]). A win is proven on the device thread
//! (snapshots + recomputation, then a full self-check with the reference
//! verifier) and handed to the coordinator as a [`Found`], which answers
//! with a [`SubmitOutcome`]; wins of a superseded generation are dropped
//! unsubmitted. A device that fails is reported and restarted after a
//! growing pause, without affecting the others.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc as sync_mpsc, Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use tokio::sync::mpsc;
use upow_primitives::{AuthorId, JobId};
use upow_puzzle::{
    mining::{Mined, MiningError, MiningProgress, TrajectoryMiner},
    Hash, Hyperparams, Model, TrajectoryContext,
};

use super::{
    board::{PreparedWork, WorkBoard},
    client::Backoff,
    error::MineError,
    events::{DeviceState, DeviceStats, Event, EventSink},
    metrics::DeviceMetrics,
    shutdown::Shutdown,
};
use crate::{
    backend::{self, BackendKind, DynBackend, StepBackend},
    error::BackendError,
};

/// Smallest snapshot interval: a device's weights are copied to the host
/// at most every this many steps.
pub const MIN_SNAPSHOT_INTERVAL: u32 = 8;
/// Largest snapshot interval.
pub const MAX_SNAPSHOT_INTERVAL: u32 = 1 << 20;

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
    backend: DynBackend,
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

/// Mines `work` from its start weights (already loaded in `backend`) with
/// the puzzle's one mining loop, [`TrajectoryMiner`]: it restarts a
/// trajectory at the step bound or on a degenerate step (docs/puzzle.md
/// §6, §9) and proves and self-checks a win before this hands it on.
fn mine_work(
    device: &Device,
    link: &DeviceLink,
    backend: &mut (dyn StepBackend<Error = BackendError> + Send),
    work: &PreparedWork,
) -> Result<Outcome, MineError> {
    let interval = device.snapshot_interval.unwrap_or_else(|| {
        snapshot_interval(
            work.difficulty,
            work.spec.model.params() * 2,
            device.snapshot_memory,
        )
    });
    let ctx = TrajectoryContext {
        parent: work.parent,
        author: device.author,
        job: work.job,
        salt: 0,
    };
    let mut miner = TrajectoryMiner::new(
        &work.spec,
        work.liveness,
        &work.dataset,
        ctx,
        work.weights.clone(),
        work.steps,
        work.difficulty,
        interval,
    );
    link.stats.trajectory.store(0, Ordering::Relaxed);
    link.stats.set_state(DeviceState::Mining);
    loop {
        if link.shutdown.is_triggered() {
            return Ok(Outcome::Shutdown);
        }
        if !link.board.is_current(work.generation) || !link.admitted.load(Ordering::Relaxed) {
            return Ok(Outcome::Switched);
        }
        let mined = match miner.step(backend).map_err(|e| mining_error(device, e))? {
            MiningProgress::Stepped => {
                count_step(link, miner.steps());
                continue;
            }
            MiningProgress::Restarted(_) => {
                link.stats.trajectory.store(0, Ordering::Relaxed);
                continue;
            }
            MiningProgress::Won(mined) => {
                count_step(link, miner.steps());
                mined
            }
        };
        link.metrics.found.inc();
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

/// Counts one step (and its ticket) of a trajectory now `steps` long.
fn count_step(link: &DeviceLink, steps: u32) {
    link.metrics.steps.inc();
    link.metrics.tickets.inc();
    link.stats.steps.fetch_add(1, Ordering::Relaxed);
    link.stats
        .trajectory
        .store(u64::from(steps), Ordering::Relaxed);
}

/// A mining-loop failure as the miner reports it: a backend fault as
/// itself, a proof that fails the reference verifier as a failed
/// self-check of the device.
fn mining_error(device: &Device, error: MiningError<BackendError>) -> MineError {
    match error {
        MiningError::Backend(e) => e.into(),
        MiningError::WeightsMismatch | MiningError::ProofRejected(_) => MineError::SelfCheck {
            device: device.label.clone(),
            reason: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::{
        board::tests::{job, work},
        events,
        metrics::Metrics,
    };
    use upow_primitives::rpc::error;
    use upow_puzzle::{mining::REFERENCE_RECOMPUTE, verify_trajectory, JobProgress};

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
            work.liveness,
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
                upow_puzzle::Liveness::MINIMUM,
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
