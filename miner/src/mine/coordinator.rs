//! The coordinator: keeps a connection to the node (reconnecting with
//! backoff), follows new best blocks over the `chain_subscribeNewHeads`
//! subscription, prepares each new piece of work (weights and dataset from
//! memory, the local store or the node, verified), publishes it to the
//! devices, and submits their wins — signing a block only after checking
//! the node's template against the win ([`check_template`]) and the
//! on-disk signing record (never two blocks on one parent).

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use codec::{Decode, Encode};
use sp_core::{Bytes, H256};
use tokio::sync::mpsc;
use upow_primitives::{
    rpc::{error, ClaimJson, SubmitWork, Template, WorkResponse},
    Header, JobId, PowSeal, PreDigest, ENGINE_ID,
};
use upow_puzzle::{weights::hash_encoded, Dataset, DatasetCommitment, Hash, JobSpec, Weights};

use super::{
    client::{rpc_u128, Backoff, NodeClient, RpcError, Token},
    error::MineError,
    events::{CacheEntry, DatasetSource, Event, EventSink},
    keys::AuthorKey,
    metrics::Metrics,
    shutdown::Shutdown,
    store::{Discarded, SignPermit, Store},
    work::{Found, PreparedWork, SubmitOutcome, WorkBoard, WorkKey},
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
    budget_left: u128,
    block_reward: Option<u128>,
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

fn hex32(h: &Hash) -> String {
    format!("0x{}", hex::encode(h))
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
        let dataset = self.dataset(client, state, &spec).await?;
        let weights = self.weights(client, state, &spec, key.weights).await?;
        Ok(PreparedWork {
            generation: 0,
            parent: key.parent,
            number: work.number,
            job: work.job,
            spec,
            dataset,
            weights,
            weights_hash: key.weights,
            steps: work.steps,
            difficulty: key.difficulty,
        })
    }

    fn discarded(&self, discarded: Option<Discarded>) {
        let (what, hash) = match discarded {
            Some(Discarded::Weights(h)) => (CacheEntry::Weights, h),
            Some(Discarded::Dataset(h)) => (CacheEntry::Dataset, h),
            None => return,
        };
        self.metrics.cache_corrupt.inc();
        self.events.emit(Event::CacheCorrupt {
            what,
            hash: hex32(&hash),
        });
    }

    /// The job's dataset: memory, store, or the node (verified, stored).
    async fn dataset(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        spec: &JobSpec,
    ) -> Result<Arc<Dataset>, MineError> {
        let commitment = spec.dataset;
        // The whole commitment must match, not only the root: a job may name
        // a known root with another sample count or width.
        if let Some(d) = state.datasets.get(&commitment.root) {
            if d.commitment() == commitment {
                return Ok(d.clone());
            }
        }
        let store = self.store.clone();
        let (cached, discarded) = tokio::task::spawn_blocking(move || store.dataset(&commitment))
            .await
            .map_err(|e| MineError::Task(e.to_string()))??;
        self.discarded(discarded);
        let root = hex32(&commitment.root);
        let dataset = match cached {
            Some(d) => {
                self.events.emit(Event::Dataset {
                    root,
                    loaded: commitment.samples,
                    total: commitment.samples,
                    from: DatasetSource::Cache,
                });
                d
            }
            None => {
                let bytes = self.download_dataset(client, &commitment, &root).await?;
                let store = self.store.clone();
                let dataset = tokio::task::spawn_blocking(move || {
                    let dataset = Dataset::from_encoded(commitment.inputs, bytes)?;
                    if dataset.commitment() != commitment {
                        return Err(MineError::InvalidWork(
                            "the node's dataset does not match its commitment".into(),
                        ));
                    }
                    store.put_dataset(&dataset)?;
                    Ok(dataset)
                })
                .await
                .map_err(|e| MineError::Task(e.to_string()))??;
                self.events.emit(Event::Dataset {
                    root,
                    loaded: commitment.samples,
                    total: commitment.samples,
                    from: DatasetSource::Node,
                });
                dataset
            }
        };
        let dataset = Arc::new(dataset);
        // One dataset at a time is enough (jobs change rarely).
        state.datasets.clear();
        state.datasets.insert(commitment.root, dataset.clone());
        Ok(dataset)
    }

    /// A dataset's samples from the node, or — when it does not serve the
    /// dataset — from the first `--dataset-source` whose samples match the
    /// commitment. The caller checks the node's against the commitment.
    async fn download_dataset(
        &self,
        client: &NodeClient,
        commitment: &DatasetCommitment,
        root: &str,
    ) -> Result<Vec<u8>, MineError> {
        let events = &self.events;
        let progress = |loaded| {
            events.emit(Event::Dataset {
                root: root.to_string(),
                loaded,
                total: commitment.samples,
                from: DatasetSource::Node,
            })
        };
        let as_mine_error = |e: RpcError| match e {
            RpcError::Response { message, .. } => {
                MineError::InvalidWork(format!("dataset {message}"))
            }
            other => MineError::Rpc(other),
        };
        let first = client.download_dataset(commitment, progress).await;
        let not_served =
            matches!(&first, Err(e) if e.code() == Some(upow_primitives::rpc::error::NOT_FOUND));
        if !not_served || self.dataset_sources.is_empty() {
            return first.map_err(as_mine_error);
        }
        for source in &self.dataset_sources {
            let attempt = async {
                let other = NodeClient::connect(source, self.metrics.clone()).await?;
                other.download_dataset(commitment, progress).await
            };
            let bytes = match attempt.await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(target: "upow::mine", root, source = source.as_str(), error = %e, "dataset source failed");
                    continue;
                }
            };
            // Checked here, so a source that sends other samples is
            // passed over for the next one.
            let expected = *commitment;
            let (bytes, matches) = tokio::task::spawn_blocking(move || {
                let matches = Dataset::from_encoded(expected.inputs, bytes.clone())
                    .is_ok_and(|d| d.commitment() == expected);
                (bytes, matches)
            })
            .await
            .map_err(|e| MineError::Task(e.to_string()))?;
            if matches {
                tracing::info!(target: "upow::mine", root, source = source.as_str(), "dataset downloaded from another node");
                return Ok(bytes);
            }
            tracing::warn!(target: "upow::mine", root, source = source.as_str(), "dataset source sent samples that do not match the job's commitment");
        }
        first.map_err(as_mine_error)
    }

    /// Weights by hash: memory, store, or the node (verified, stored).
    async fn weights(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        spec: &JobSpec,
        hash: Hash,
    ) -> Result<Weights, MineError> {
        if let Some((_, w)) = state.weights.iter().find(|(h, _)| *h == hash) {
            return Ok(w.clone());
        }
        let (cached, discarded) = self.store.weights(&hash, &spec.model)?;
        self.discarded(discarded);
        let weights = match cached {
            Some(w) => w,
            None => {
                let bytes = client.weights(H256(hash)).await?;
                if hash_encoded(&bytes.0) != hash {
                    return Err(MineError::InvalidWork(format!(
                        "the node's weights do not hash to {}",
                        hex32(&hash)
                    )));
                }
                let weights = Weights::decode(&spec.model, &bytes.0)?;
                self.store.put_weights(&hash, &bytes.0)?;
                weights
            }
        };
        state.remember_weights(hash, weights.clone());
        Ok(weights)
    }

    /// Reads the job's price (on a job change) and the block reward.
    async fn update_terms(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        job: u64,
    ) -> Result<(), RpcError> {
        let terms = client.job(job).await.and_then(|info| {
            let price = rpc_u128("upow_job", "pricePerStep", info.price_per_step)?;
            let budget_left = rpc_u128("upow_job", "budgetLeft", info.budget_left)?;
            Ok((info, price, budget_left))
        });
        match terms {
            Ok((info, price, budget_left)) => {
                state.terms.budget_left = budget_left;
                if state.terms.job != Some(job) || state.terms.price_per_step != price {
                    self.events.emit(Event::Job {
                        job,
                        price_per_step: price,
                        budget_left,
                        target_steps: info.target_steps,
                        status: info.status,
                    });
                }
                state.terms.job = Some(job);
                state.terms.price_per_step = price;
            }
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => tracing::debug!("job {job}: {e}"),
        }
        let reward = match client.block_reward().await {
            Ok(Some(reward)) => Some(reward),
            // Before block 1 the schedule is not stored yet: unknown, quietly.
            Ok(None) => return Ok(()),
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => {
                tracing::debug!("block reward: {e}");
                None
            }
        };
        if reward != state.terms.block_reward || !state.terms.reward_reported {
            state.terms.reward_reported = true;
            self.events.emit(Event::Reward {
                block_reward: reward,
            });
        }
        state.terms.block_reward = reward;
        Ok(())
    }

    /// Asks the runtime whether each device key is admitted; a device whose
    /// key is not idles (its blocks would be rejected).
    async fn check_admission(
        &mut self,
        client: &NodeClient,
        state: &mut State,
    ) -> Result<(), RpcError> {
        for (i, key) in self.keys.iter().enumerate() {
            let admitted = match client.is_admitted(&key.public()).await {
                Ok(a) => a,
                Err(e) if e.is_connection() => return Err(e),
                Err(e) => {
                    // An older runtime without the call: assume yes; the
                    // node's verdict on a win tells.
                    tracing::debug!("admission of {}: {e}", key.ss58());
                    true
                }
            };
            if state.admission[i] != Some(admitted) {
                state.admission[i] = Some(admitted);
                self.events.emit(Event::Admission {
                    device: i,
                    author: key.ss58(),
                    admitted,
                });
            }
            self.admitted[i].store(admitted, Ordering::Release);
        }
        Ok(())
    }

    /// Submits a win: `upow_submitWork`, sign the pre-hash with the device's
    /// key, `upow_submitSeal`. `Err`: the connection is gone (the win is kept
    /// for the next session).
    async fn submit(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        found: Found,
    ) -> Result<(), RpcError> {
        let device = found.device;
        let block = found.number + 1;
        if !self.board.is_current(found.generation) {
            self.metrics.stale(device);
            self.events.emit(Event::Stale { device, block });
            let _ = found.reply.send(SubmitOutcome::Stale);
            return Ok(());
        }
        let Some(key) = self.keys.get(device) else {
            let _ = found.reply.send(SubmitOutcome::Stale);
            return Ok(());
        };
        let Some(genesis) = state.genesis else {
            state.pending = Some(found);
            return Err(RpcError::Response {
                method: "chain_getBlockHash",
                message: "no genesis hash yet".into(),
            });
        };
        let claim = found.mined.claim;
        let digest = PreDigest::new(found.author, found.job, found.mined.context.salt, claim);
        let signature = key.sign(&digest.submission_message(&genesis, &found.parent));
        let submission = SubmitWork {
            parent: H256(found.parent),
            author: H256(found.author),
            job: found.job,
            salt: found.mined.context.salt,
            claim: ClaimJson {
                steps: claim.steps,
                root: H256(claim.root),
                final_weights: H256(claim.final_weights),
            },
            proof: Bytes(found.mined.proof.encode()),
            signature: Bytes(signature.to_vec()),
        };
        let template = match client.submit_work(submission).await {
            Ok(template) => template,
            Err(e) => return self.rejected(state, found, e),
        };
        // Sign only what was checked, and never a second block on a parent.
        let refusal = match check_template(&template, &found) {
            Err(reason) => Some(reason),
            Ok(()) => match self.store.permit_signature(
                &found.author,
                &found.parent,
                block,
                &template.pre_hash.0,
            ) {
                Ok(SignPermit::Granted) => None,
                Ok(SignPermit::Refused { signed }) => Some(format!(
                    "already signed block 0x{} on this parent; a second one would be an equivocation",
                    hex::encode(signed)
                )),
                Err(e) => Some(format!("the signing record cannot be written ({e})")),
            },
        };
        if let Some(reason) = refusal {
            self.metrics.rejected(device, "refused");
            self.events.emit(Event::Rejected {
                device,
                block,
                code: None,
                message: format!("not signed: {reason}"),
            });
            let _ = found.reply.send(SubmitOutcome::Refused);
            return Ok(());
        }
        let signature = key.sign(&PowSeal::message(&genesis, &template.pre_hash.0));
        let sealed = client.submit_seal(template.pre_hash, signature).await;
        match sealed {
            Ok(hash) => {
                self.metrics.accepted(device);
                // The era of the new block (now the best one) is the reward
                // it paid.
                if let Ok(Some(reward)) = client.block_reward().await {
                    if state.terms.block_reward != Some(reward) || !state.terms.reward_reported {
                        state.terms.reward_reported = true;
                        self.events.emit(Event::Reward {
                            block_reward: Some(reward),
                        });
                    }
                    state.terms.block_reward = Some(reward);
                }
                let job_payment = state
                    .terms
                    .price_per_step
                    .saturating_mul(u128::from(claim.steps))
                    .min(state.terms.budget_left);
                self.events.emit(Event::Accepted {
                    device,
                    block,
                    hash: format!("{hash:?}"),
                    steps: claim.steps,
                    job_payment,
                    block_reward: state.terms.block_reward,
                });
                // The chain adopts the final weights: no need to fetch them.
                state.remember_weights(claim.final_weights, found.mined.final_weights.clone());
                let _ = found.reply.send(SubmitOutcome::Accepted { hash: hash.0 });
                Ok(())
            }
            Err(e) if e.is_connection() => {
                // Resubmitted after reconnecting: a new template, which the
                // signing record will refuse to sign (it may have been
                // imported): safe, if that block is then lost.
                state.pending = Some(found);
                Err(e)
            }
            Err(e) => {
                // Signed but not imported: this parent is done for us (a
                // second signature on it would be an equivocation).
                let (code, message) = node_error(&e);
                self.metrics.rejected(device, &code.to_string());
                self.events.emit(Event::Rejected {
                    device,
                    block,
                    code: Some(code),
                    message,
                });
                let _ = found.reply.send(SubmitOutcome::Refused);
                Ok(())
            }
        }
    }

    /// The node refused a win before anything was signed: the device keeps
    /// extending its trajectory (unless the work is stale). `Err`: the
    /// connection is gone (the win is kept for the next session).
    fn rejected(&self, state: &mut State, found: Found, e: RpcError) -> Result<(), RpcError> {
        if e.is_connection() {
            state.pending = Some(found);
            return Err(e);
        }
        let (code, message) = node_error(&e);
        self.metrics.rejected(found.device, &code.to_string());
        self.events.emit(Event::Rejected {
            device: found.device,
            block: found.number + 1,
            code: Some(code),
            message,
        });
        let _ = found.reply.send(SubmitOutcome::Rejected {
            code,
            message: e.to_string(),
        });
        Ok(())
    }
}

/// The JSON-RPC code and message of a failed call.
fn node_error(e: &RpcError) -> (i32, String) {
    match e {
        RpcError::Node { code, message, .. } => (*code, message.clone()),
        other => (error::INTERNAL, other.to_string()),
    }
}

/// Checks the node's template against the win before the author signs it:
/// the header decodes (every byte), hashes to the template's `pre_hash`,
/// is built on the win's parent at the next number, is not sealed, and
/// carries exactly the win's `pow_` pre-runtime digest (author, job, salt,
/// claim). A node that asks for anything else does not get a signature.
pub fn check_template(template: &Template, found: &Found) -> Result<(), String> {
    let mut bytes = &template.header.0[..];
    let header = Header::decode(&mut bytes)
        .map_err(|e| format!("the template's header does not decode: {e}"))?;
    if !bytes.is_empty() {
        return Err("the template's header has trailing bytes".into());
    }
    if header.hash() != template.pre_hash {
        return Err(format!(
            "the template's header hashes to {:?}, not to its preHash {:?}",
            header.hash(),
            template.pre_hash
        ));
    }
    if header.parent_hash.0 != found.parent || header.number != found.number + 1 {
        return Err(format!(
            "the template is block #{} on {:?}, the win is for #{} on 0x{}",
            header.number,
            header.parent_hash,
            found.number + 1,
            hex::encode(found.parent)
        ));
    }
    let sealed = header
        .digest
        .logs()
        .iter()
        .any(|item| item.as_seal().is_some_and(|(id, _)| id == ENGINE_ID));
    if sealed {
        return Err("the template is already sealed".into());
    }
    let expected = PreDigest::new(
        found.author,
        found.job,
        found.mined.context.salt,
        found.mined.claim,
    );
    match PreDigest::find(&header.digest) {
        Ok(digest) if digest == expected => Ok(()),
        Ok(_) => Err("the template's pow_ digest is not the win's claim".into()),
        Err(e) => Err(format!("the template's pow_ digest: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_runtime::traits::Header as _;
    use std::sync::mpsc as sync_mpsc;
    use upow_puzzle::{mining::ReferenceMiner, Hyperparams, Model, TrajectoryContext, Weights};

    /// A real win (on a tiny job) and the template an honest node builds
    /// for it.
    fn win() -> (Found, Header) {
        let model = Model::new(&[8, 6, 3]).unwrap();
        let labels: Vec<u8> = (0..40).map(|i| (i % 3) as u8).collect();
        let pixels: Vec<u8> = (0..40 * 8).map(|i| (i * 53 % 256) as u8).collect();
        let dataset = Dataset::new(8, &labels, &pixels).unwrap();
        let spec = JobSpec::new(
            model.clone(),
            Hyperparams::new(4, 2, 100).unwrap(),
            dataset.commitment(),
        )
        .unwrap();
        let ctx = TrajectoryContext {
            parent: [4; 32],
            author: [5; 32],
            job: 2,
            salt: 0,
        };
        let mined = ReferenceMiner::new(
            &spec,
            &dataset,
            ctx,
            Weights::initial(&model, &[1; 32]),
            0,
            8,
        )
        .run(3, 100_000)
        .unwrap()
        .unwrap();
        let digest = PreDigest::new([5; 32], 2, mined.context.salt, mined.claim);
        let header = Header::new(
            10,
            Default::default(),
            Default::default(),
            H256([4; 32]),
            sp_runtime::Digest {
                logs: vec![digest.to_digest_item()],
            },
        );
        let (reply, _verdict) = sync_mpsc::sync_channel(1);
        let found = Found {
            device: 0,
            generation: 1,
            parent: [4; 32],
            number: 9,
            job: 2,
            author: [5; 32],
            mined,
            reply,
        };
        (found, header)
    }

    fn template(header: &Header) -> Template {
        Template {
            pre_hash: header.hash(),
            header: Bytes(header.encode()),
        }
    }

    #[test]
    fn only_the_wins_own_block_is_signed() {
        let (found, header) = win();
        assert_eq!(check_template(&template(&header), &found), Ok(()));

        // Whatever a node changes, the miner does not sign it.
        let refused = |t: Template, what: &str| {
            let verdict = check_template(&t, &found);
            assert!(verdict.is_err(), "{what} was accepted");
            eprintln!("{what}: {}", verdict.unwrap_err());
        };
        let mut other_hash = template(&header);
        other_hash.pre_hash = H256([9; 32]);
        refused(other_hash, "a preHash of another header");
        let mut garbage = template(&header);
        garbage.header = Bytes(vec![1, 2, 3]);
        refused(garbage, "an undecodable header");
        let mut trailing = template(&header);
        trailing.header.0.push(0);
        refused(trailing, "trailing bytes");
        let mut moved = header.clone();
        moved.parent_hash = H256([8; 32]);
        refused(template(&moved), "another parent");
        let mut later = header.clone();
        later.number = 11;
        refused(template(&later), "another number");
        let mut sealed = header.clone();
        sealed
            .digest
            .push(sp_runtime::DigestItem::Seal(ENGINE_ID, vec![2; 65]));
        refused(template(&sealed), "an already sealed header");
        let mut claims = found.mined.claim;
        claims.steps += 1;
        for (what, digest) in [
            (
                "another author",
                PreDigest::new([6; 32], 2, found.mined.context.salt, found.mined.claim),
            ),
            (
                "another job",
                PreDigest::new([5; 32], 3, found.mined.context.salt, found.mined.claim),
            ),
            (
                "another salt",
                PreDigest::new([5; 32], 2, found.mined.context.salt + 1, found.mined.claim),
            ),
            (
                "another claim",
                PreDigest::new([5; 32], 2, found.mined.context.salt, claims),
            ),
        ] {
            let mut h = header.clone();
            h.digest = sp_runtime::Digest {
                logs: vec![digest.to_digest_item()],
            };
            refused(template(&h), what);
        }
        let mut twice = header.clone();
        twice.digest.push(twice.digest.logs()[0].clone());
        refused(template(&twice), "two digests");
    }
}
