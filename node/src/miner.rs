//! The built-in CPU miner (`--mine`): trains the scheduled job with the
//! reference step on one thread and authors a block whenever a ticket wins,
//! so a dev chain runs without the separate `upow-miner`.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_consensus::{Environment, SyncOracle};
use sp_core::H256;
use sp_keystore::KeystorePtr;
use tokio::sync::mpsc;
use upow_primitives::{AuthorId, PreDigest, UpowApi};
use upow_puzzle::{mining::ReferenceMiner, TrajectoryContext, TrajectoryProof};
use upow_runtime::opaque::Block;

use crate::{
    authorship::{AuthorError, BlockAuthor, Win},
    work::{WorkError, WorkSource},
};

/// Log target of the built-in miner.
pub const LOG_TARGET: &str = "upow::miner";

/// Steps between checks for a new best block.
const CHUNK: u32 = 32;
/// Steps between kept snapshots of the weights (a challenged step is
/// recomputed from the one before it).
const SNAPSHOT_INTERVAL: u32 = 64;

/// A won trajectory on its way to become a block: the digest it will
/// carry, its proof and `W_n`.
struct Found {
    parent: H256,
    digest: PreDigest,
    proof: TrajectoryProof,
    final_weights: upow_puzzle::Weights,
}

/// The mining thread, stopped and joined when dropped.
///
/// The thread holds the client and the checkpoint store; whoever drops the
/// last handle closes their RocksDB databases. Left running at shutdown (it
/// was never joined), it could do so while the process was already exiting
/// and tearing down RocksDB's statics — the suspected cause of the reported
/// `pthread lock: Invalid argument` SIGABRTs (docs/reliability.md §Clean
/// shutdown). Joined here, the thread is gone before the task manager
/// finishes shutting down.
struct MinerThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for MinerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                log::error!(target: LOG_TARGET, "the mining thread panicked");
            }
        }
    }
}

/// Starts the miner thread and returns the task that authors its blocks
/// (to spawn). Dropping that task (node shutdown) stops the thread and
/// waits for it: it stops between two chunks of steps, or after the
/// weights or dataset load in progress.
pub fn start<C, E, S>(
    client: Arc<C>,
    work: WorkSource<C>,
    author: Arc<BlockAuthor<C, E>>,
    keystore: KeystorePtr,
    sync: Arc<S>,
    author_key: AuthorId,
) -> impl std::future::Future<Output = ()>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: UpowApi<Block>,
    E: Environment<Block> + Send + 'static,
    E::Error: std::fmt::Display,
    S: SyncOracle + Send + Sync + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Found>();
    let thread_client = client.clone();
    let store = work.store().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("upow-miner".into())
        .spawn(move || mine(thread_client, work, sync, author_key, tx, &thread_stop));
    let thread = MinerThread {
        stop,
        handle: match spawned {
            Ok(handle) => Some(handle),
            Err(e) => {
                log::error!(target: LOG_TARGET, "cannot start the mining thread: {e}");
                None
            }
        },
    };
    async move {
        // Owned by the task: dropped (stopped and joined) with it.
        let _thread = thread;
        while let Some(found) = rx.recv().await {
            // The miner knows W_n already: store it now, so the next
            // trajectory can start as soon as the block is imported.
            let bytes = found.final_weights.encode();
            if let Err(e) = store.put_weights(&found.final_weights.hash(), &bytes) {
                log::warn!(target: LOG_TARGET, "mined weights not stored: {e}");
            }
            let win = Win {
                parent: found.parent,
                digest: found.digest,
                proof: found.proof,
            };
            match author.author_with_keystore(&keystore, win).await {
                Ok(_) => {}
                Err(e @ AuthorError::StaleParent(_)) => {
                    log::debug!(target: LOG_TARGET, "mined block dropped: {e}")
                }
                Err(e) => log::warn!(target: LOG_TARGET, "mined block not imported: {e}"),
            }
        }
    }
}

/// Degenerate steps (or steps outside the model's classes) on one parent
/// after which the built-in miner passes a job over (honest jobs at batch
/// ≥ 16: none in thousands of steps of every measured model,
/// docs/benchmarks.md §Degeneracy).
const MAX_DEGENERATE_STEPS: u32 = 64;

fn mine<C, S>(
    client: Arc<C>,
    work: WorkSource<C>,
    sync: Arc<S>,
    author: AuthorId,
    found: mpsc::UnboundedSender<Found>,
    stop: &AtomicBool,
) where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
    C::Api: UpowApi<Block>,
    S: SyncOracle,
{
    let mut last_report = Instant::now();
    let mut steps_since_report = 0u64;
    let mut last_problem = String::new();
    let stopped = || stop.load(Ordering::Acquire) || found.is_closed();
    while !stopped() {
        if sync.is_major_syncing() {
            nap(Duration::from_millis(500), &stopped);
            continue;
        }
        let parent = client.info().best_hash;
        let prepared = work.pick_at(parent).and_then(|w| {
            let weights = work.weights(&w)?;
            let dataset = work
                .store()
                .dataset(&w.spec.dataset.root)?
                .ok_or_else(|| WorkError::MissingDataset(hex::encode(w.spec.dataset.root)))?;
            Ok((w, weights, dataset))
        });
        let (job_work, weights, dataset) = match prepared {
            Ok(p) => p,
            Err(e) => {
                // Weights of a block just imported are stored right after
                // its import: retry soon before calling it a problem.
                let transient = matches!(e, WorkError::MissingWeights(..));
                let problem = e.to_string();
                if problem != last_problem && !(transient && last_problem.is_empty()) {
                    log::warn!(target: LOG_TARGET, "not mining: {problem}");
                }
                last_problem = problem;
                let pause = if transient {
                    Duration::from_millis(50)
                } else {
                    Duration::from_secs(1)
                };
                nap(pause, &stopped);
                continue;
            }
        };
        last_problem.clear();
        let ctx = TrajectoryContext {
            parent: parent.0,
            author,
            job: job_work.job,
            salt: 0,
        };
        let mut miner = ReferenceMiner::new(
            &job_work.spec,
            job_work.liveness,
            &dataset,
            ctx,
            weights,
            job_work.steps,
            SNAPSHOT_INTERVAL,
        );
        loop {
            let before = miner.steps();
            let result = miner.run(job_work.difficulty, CHUNK);
            steps_since_report += (miner.steps() - before) as u64;
            if last_report.elapsed() >= Duration::from_secs(10) {
                let rate = steps_since_report as f64 / last_report.elapsed().as_secs_f64();
                log::info!(
                    target: LOG_TARGET,
                    "⛏  job {} on #{}: {rate:.0} steps/s, difficulty {}",
                    job_work.job,
                    client.info().best_number,
                    job_work.difficulty
                );
                last_report = Instant::now();
                steps_since_report = 0;
            }
            match result {
                Ok(Some(mined)) => {
                    log::info!(
                        target: LOG_TARGET,
                        "🎫 winning ticket after {} steps on {parent}",
                        mined.claim.steps
                    );
                    let sent = found.send(Found {
                        parent,
                        digest: PreDigest::of_trajectory(&mined.context, mined.claim),
                        proof: mined.proof,
                        final_weights: mined.final_weights,
                    });
                    if sent.is_err() {
                        return;
                    }
                    wait_for_new_best(client.as_ref(), parent, &stopped);
                    break;
                }
                // A job whose steps often come out degenerate, or draw
                // samples outside its model's classes, cannot make a block:
                // mine another (the house job at worst).
                Ok(None)
                    if miner.degenerate_steps() >= MAX_DEGENERATE_STEPS
                        || miner.outside_class_steps() >= MAX_DEGENERATE_STEPS =>
                {
                    log::info!(
                        target: LOG_TARGET,
                        "job {}: {} degenerate steps, {} steps outside its model's classes",
                        job_work.job,
                        miner.degenerate_steps(),
                        miner.outside_class_steps()
                    );
                    work.mark_unminable(job_work.job);
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    log::error!(target: LOG_TARGET, "mining step failed: {e}");
                    nap(Duration::from_secs(1), &stopped);
                    break;
                }
            }
            if stopped() || client.info().best_hash != parent {
                break;
            }
        }
    }
}

/// Sleeps `duration`, or less once `stopped` says so (checked every 50 ms).
fn nap(duration: Duration, stopped: &impl Fn() -> bool) {
    let end = Instant::now() + duration;
    while !stopped() {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// After a win, waits (briefly) for the block to become the best one, so
/// the miner does not compete with its own block.
fn wait_for_new_best<C: HeaderBackend<Block>>(
    client: &C,
    parent: H256,
    stopped: &impl Fn() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.info().best_hash == parent && Instant::now() < deadline && !stopped() {
        std::thread::sleep(Duration::from_millis(20));
    }
}
