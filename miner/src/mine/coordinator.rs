//! The coordinator: keeps a connection to the node (reconnecting with
//! backoff), follows new best blocks over the `chain_subscribeNewHeads`
//! subscription, prepares each new piece of work and publishes it to the
//! devices on the [`WorkBoard`], and hands their wins to the submission.
//! This file holds the session loop and the state kept across sessions;
//! the parts it calls are in:
//!
//! * `fetch` (coordinator/fetch.rs): the work's dataset and weights,
//!   from memory, the local store or the node (verified, stored);
//! * `terms` (coordinator/terms.rs): the job's terms and the block reward
//!   (for earnings), and the device keys' admission;
//! * `submit` (coordinator/submit.rs): a win's submission — the node's
//!   template checked ([`check_template`]), the signing record, the seal,
//!   the verdict.

mod fetch;
mod submit;
mod terms;

pub use submit::check_template;

use std::{
    collections::{HashMap, VecDeque},
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use codec::Decode;
use tokio::sync::mpsc;
use upow_primitives::{rpc::WorkResponse, signing::SigningRecord, JobId};
use upow_puzzle::{Dataset, Hash, JobSpec, Liveness, Weights};

use super::{
    board::{PreparedWork, WorkBoard, WorkKey},
    client::{Backoff, NodeClient, RpcError, Token},
    device::{Found, SubmitOutcome},
    error::MineError,
    events::{Event, EventSink},
    keys::AuthorKey,
    metrics::Metrics,
    shutdown::Shutdown,
    store::Store,
};

/// Weights kept in memory (the current ones, the last wins' final ones).
const WEIGHTS_IN_MEMORY: usize = 8;
/// Pause before asking again when the node has no work or preparing failed.
const RETRY: Duration = Duration::from_secs(3);

/// What the coordinator needs.
pub struct Coordinator {
    /// `--node`.
    pub node: String,
    /// The device keys, by device position.
    pub keys: Vec<AuthorKey>,
    /// Per device: admitted? (read by the device threads).
    pub admitted: Vec<Arc<AtomicBool>>,
    /// The work board.
    pub board: Arc<WorkBoard>,
    /// The cache.
    pub store: Arc<Store>,
    /// What each key signed (never two blocks on one parent).
    pub signing: SigningRecord,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Events.
    pub events: EventSink,
    /// Stop signal.
    pub shutdown: Shutdown,
    /// Wins from the devices.
    pub found: mpsc::UnboundedReceiver<Found>,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
    /// The one job to mine (`None`: the node's pick).
    pub job: Option<JobId>,
    /// Other nodes to download datasets from (`--dataset-source`).
    pub dataset_sources: Vec<String>,
}

/// How a session with the node ended.
enum SessionEnd {
    Shutdown,
    Disconnected(String),
}

/// The job's terms, for earnings.
#[derive(Clone, Copy, Default)]
struct Terms {
    job: Option<u64>,
    price_per_step: u128,
    author_reward: Option<u128>,
    reward_reported: bool,
}

/// State across sessions.
struct State {
    datasets: HashMap<Hash, Arc<Dataset>>,
    weights: VecDeque<(Hash, Weights)>,
    terms: Terms,
    admission: Vec<Option<bool>>,
    token: Option<Token>,
    /// The genesis hash of the node's chain (asked at each connection).
    genesis: Option<Hash>,
    /// A win whose submission the connection cut: submitted after
    /// reconnecting if its work is still current.
    pending: Option<Found>,
}

impl State {
    fn remember_weights(&mut self, hash: Hash, weights: Weights) {
        if self.weights.iter().any(|(h, _)| *h == hash) {
            return;
        }
        if self.weights.len() >= WEIGHTS_IN_MEMORY {
            self.weights.pop_front();
        }
        self.weights.push_back((hash, weights));
    }
}

impl Coordinator {
    /// Runs until shutdown.
    pub async fn run(mut self) {
        let mut backoff = Backoff::new(Duration::from_millis(250), self.max_backoff);
        let mut state = State {
            datasets: HashMap::new(),
            weights: VecDeque::new(),
            terms: Terms::default(),
            admission: vec![None; self.keys.len()],
            token: None,
            genesis: None,
            pending: None,
        };
        while !self.shutdown.is_triggered() {
            let connected = tokio::select! {
                _ = self.shutdown.wait() => break,
                c = NodeClient::connect(&self.node, self.metrics.clone()) => c,
            };
            let reason = match connected {
                Ok(client) => {
                    self.metrics.connections.inc();
                    self.metrics.connected.set(1);
                    self.events.emit(Event::Connected {
                        node: self.node.clone(),
                    });
                    // Ctrl-C also interrupts a call in flight (a stalled
                    // node would otherwise hold the exit up to the timeout).
                    let shutdown = self.shutdown.clone();
                    let end = tokio::select! {
                        _ = shutdown.wait() => SessionEnd::Shutdown,
                        end = self.session(&client, &mut state, &mut backoff) => end,
                    };
                    self.metrics.connected.set(0);
                    match end {
                        SessionEnd::Shutdown => break,
                        SessionEnd::Disconnected(reason) => reason,
                    }
                }
                Err(e) => e.to_string(),
            };
            let delay = backoff.next_delay_jittered();
            self.events.emit(Event::Disconnected {
                reason,
                retry_in_ms: delay.as_millis() as u64,
            });
            // Wins found meanwhile wait in the channel: submitted after
            // reconnecting if their work is still current, else answered
            // stale.
            tokio::select! {
                _ = self.shutdown.wait() => break,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        // Devices waiting on a verdict see the channel close.
        self.found.close();
        while let Ok(found) = self.found.try_recv() {
            let _ = found.reply.send(SubmitOutcome::Stale);
        }
    }

    async fn session(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        backoff: &mut Backoff,
    ) -> SessionEnd {
        let mut heads = match client.subscribe_heads().await {
            Ok(heads) => heads,
            Err(e) => return SessionEnd::Disconnected(e.to_string()),
        };
        backoff.reset();
        if state.token.is_none() {
            match client.token().await {
                Ok(token) => {
                    self.events.emit(Event::Chain {
                        token: token.symbol.clone(),
                        decimals: token.decimals,
                    });
                    state.token = Some(token);
                }
                Err(e) if e.is_connection() => return SessionEnd::Disconnected(e.to_string()),
                Err(e) => tracing::debug!("no chain properties: {e}"),
            }
        }
        match client.genesis_hash().await {
            Ok(genesis) => state.genesis = Some(genesis.0),
            Err(e) => return SessionEnd::Disconnected(e.to_string()),
        }
        let mut retry = match self.refresh(client, state).await {
            Ok(retry) => retry,
            Err(e) => return SessionEnd::Disconnected(e.to_string()),
        };
        if let Some(found) = state.pending.take() {
            if let Err(e) = self.submit(client, state, found).await {
                return SessionEnd::Disconnected(e.to_string());
            }
        }
        let mut devices_gone = false;
        loop {
            let wait = retry.unwrap_or(Duration::from_secs(3600));
            let event = tokio::select! {
                _ = self.shutdown.wait() => return SessionEnd::Shutdown,
                _ = client.closed() => return SessionEnd::Disconnected("connection closed".into()),
                head = heads.next() => match head {
                    None => return SessionEnd::Disconnected("the new-heads subscription ended".into()),
                    Some(Err(e)) => {
                        tracing::debug!("undecodable head notification: {e}");
                        None
                    }
                    Some(Ok(_)) => None,
                },
                found = self.found.recv(), if !devices_gone => {
                    devices_gone = found.is_none();
                    found
                }
                _ = tokio::time::sleep(wait) => None,
            };
            if let Some(found) = event {
                if let Err(e) = self.submit(client, state, found).await {
                    return SessionEnd::Disconnected(e.to_string());
                }
            }
            // A new head, a retry, or after a submission: is there new work?
            retry = match self.refresh(client, state).await {
                Ok(retry) => retry,
                Err(e) => return SessionEnd::Disconnected(e.to_string()),
            };
        }
    }

    /// Asks for work and publishes it if new. `Ok(Some(delay))`: ask again
    /// after `delay` (no work, or it could not be prepared); `Err`: the
    /// connection is gone.
    async fn refresh(
        &mut self,
        client: &NodeClient,
        state: &mut State,
    ) -> Result<Option<Duration>, RpcError> {
        let work = match client.work(self.job).await {
            Ok(work) => work,
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => {
                self.board.clear();
                self.events.emit(Event::NoWork {
                    reason: e.to_string(),
                });
                return Ok(Some(RETRY));
            }
        };
        let key = match WorkKey::of(&work) {
            Ok(key) => key,
            Err(e) => {
                self.events.emit(Event::NoWork {
                    reason: e.to_string(),
                });
                return Ok(Some(RETRY));
            }
        };
        if !self.board.is_new(&key) {
            return Ok(None);
        }
        let prepared = match self.prepare(client, state, &work, key).await {
            Ok(prepared) => prepared,
            Err(MineError::Rpc(e)) if e.is_connection() => return Err(e),
            Err(e) => {
                self.board.clear();
                self.events.emit(Event::NoWork {
                    reason: format!("cannot prepare the work: {e}"),
                });
                return Ok(Some(RETRY));
            }
        };
        self.update_terms(client, state, work.job).await?;
        self.check_admission(client, state).await?;
        self.metrics.best_block.set(i64::from(work.number));
        self.metrics.difficulty.set(key.difficulty as f64);
        self.metrics.job.set(work.job as i64);
        self.events.emit(Event::Work {
            block: work.number + 1,
            parent: format!("{:?}", work.parent),
            job: work.job,
            model: work.model.clone(),
            batch: work.batch,
            job_steps: work.steps,
            difficulty: key.difficulty,
        });
        self.board.publish(prepared);
        Ok(None)
    }

    async fn prepare(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        work: &WorkResponse,
        key: WorkKey,
    ) -> Result<PreparedWork, MineError> {
        if key.difficulty == 0 {
            return Err(MineError::InvalidWork("difficulty 0".into()));
        }
        let spec = JobSpec::decode(&mut &work.spec.0[..])
            .map_err(|e| MineError::InvalidWork(format!("job spec does not decode: {e}")))?;
        if spec.dataset.root != work.dataset_root.0 {
            return Err(MineError::InvalidWork(
                "the job spec names another dataset".into(),
            ));
        }
        let liveness = Liveness::new(
            work.min_nonzero_per_1024,
            work.min_live_per_1024,
            work.min_active_per_1024,
        )
        .map_err(|e| MineError::InvalidWork(e.to_string()))?;
        let dataset = self.dataset(client, state, &spec).await?;
        let weights = self.weights(client, state, &spec, key.weights).await?;
        Ok(PreparedWork {
            generation: 0,
            parent: key.parent,
            number: work.number,
            job: work.job,
            spec,
            liveness,
            dataset,
            weights,
            weights_hash: key.weights,
            steps: work.steps,
            difficulty: key.difficulty,
        })
    }
}
