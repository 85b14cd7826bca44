//! `upow-miner audit`: replays the trajectory of every block still in its
//! dispute window and proves the wrong ones (docs/operations.md §Auditors,
//! docs/puzzle.md §13).
//!
//! Each round asks the node which blocks are disputable
//! (`upow_disputableBlocks`), reads each new one's claim, start and segment
//! roots (`upow_disputable`), fetches its start weights and dataset (the
//! miner's cache first), and replays it with the reference step
//! (`upow_puzzle::audit_trajectory`). An honest block's final weights go
//! to the cache (the next block of the job starts from them); a wrong one
//! is reported at once: a `Training::report_fraud` transaction signed by
//! the auditor's key (fee-free when valid; the key earns the reporter's
//! share of the slash). Blocks can be filtered by job and sampled at a
//! rate. Progress is logged per block and exported as Prometheus metrics
//! (`upow_auditor_*`).
//!
//! The transaction is built with subxt from the runtime metadata the node
//! serves (audit/report.rs): the miner links no runtime or pallet, and a
//! runtime upgrade that moves the call or changes the extensions is
//! followed without rebuilding the auditor.

pub mod report;

pub use report::{fraud_report, ChainInfo, ReportError};

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use codec::Decode;
use prometheus::{IntCounter, IntGauge, Registry};
use sp_core::H256;
use upow_primitives::{rpc::DisputableJson, JobId};
use upow_puzzle::{
    audit_trajectory, Audit, Dataset, FraudProof, Hash, JobProgress, JobSpec, TrajectoryClaim,
    TrajectoryContext, Weights,
};

use crate::mine::{
    client::{self, Backoff, NodeClient},
    keys::AuthorKey,
    metrics::{self, Metrics},
    store::Store,
    MineError, Shutdown,
};

/// What `upow-miner audit` runs.
#[derive(Debug)]
pub struct AuditConfig {
    /// The node (`ws://host:port`).
    pub node: String,
    /// Only this job's blocks (`None`: every job).
    pub job: Option<JobId>,
    /// Share of the blocks to replay, 0 < rate ≤ 1, drawn with a secret of
    /// this process (an author cannot grind its block hash out of the
    /// sample).
    pub rate: f64,
    /// `(index, count)`: replay only the blocks of shard `index` of
    /// `count` (by block hash), so that `count` auditors split the chain's
    /// blocks between them. `(0, 1)`: every block.
    pub shard: (u64, u64),
    /// Signs the fraud reports (and receives the reporter's reward).
    pub key: AuthorKey,
    /// Cache of weights and datasets (shared with `mine`).
    pub data_dir: PathBuf,
    /// Where to serve Prometheus metrics.
    pub metrics: Option<SocketAddr>,
    /// Pause between rounds when no block is waiting.
    pub poll: Duration,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
    /// Stop after the first round (tests, cron).
    pub once: bool,
}

/// What an audit run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditTotals {
    /// Blocks replayed.
    pub blocks: u64,
    /// Steps replayed.
    pub steps: u64,
    /// Blocks found wrong.
    pub frauds: u64,
    /// Fraud reports the node accepted into its pool.
    pub reports: u64,
}

/// The auditor's Prometheus metrics (`upow_auditor_*`).
struct AuditMetrics {
    blocks: IntCounter,
    steps: IntCounter,
    frauds: IntCounter,
    reports: IntCounter,
    lag: IntGauge,
    steps_per_second: prometheus::Gauge,
}

impl AuditMetrics {
    fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let lag = IntGauge::new(
            "upow_auditor_lag_blocks",
            "Blocks between the best block and the last block audited.",
        )?;
        registry.register(Box::new(lag.clone()))?;
        let steps_per_second = prometheus::Gauge::new(
            "upow_auditor_steps_per_second",
            "Replay speed of the last audited block.",
        )?;
        registry.register(Box::new(steps_per_second.clone()))?;
        Ok(Self {
            blocks: counter("upow_auditor_blocks_total", "Blocks replayed.")?,
            steps: counter("upow_auditor_steps_total", "Steps replayed.")?,
            frauds: counter("upow_auditor_frauds_total", "Blocks found wrong.")?,
            reports: counter(
                "upow_auditor_reports_total",
                "Fraud reports submitted to the node.",
            )?,
            lag,
            steps_per_second,
        })
    }
}

/// Audits until `shutdown` triggers (or after one round with `once`).
pub async fn run(config: AuditConfig, shutdown: Shutdown) -> Result<AuditTotals, MineError> {
    if !(config.rate > 0.0 && config.rate <= 1.0) {
        return Err(MineError::Config(format!(
            "the audit rate must be in (0, 1], got {}",
            config.rate
        )));
    }
    if config.shard.1 == 0 || config.shard.0 >= config.shard.1 {
        return Err(MineError::Config(format!(
            "shard {}/{}: the index must be below the count",
            config.shard.0, config.shard.1
        )));
    }
    let metrics = Arc::new(Metrics::new(&[])?);
    let audit_metrics =
        AuditMetrics::register(metrics.registry()).map_err(metrics::MetricsError::from)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|source| MineError::Io {
        what: format!("creating {}", config.data_dir.display()),
        source,
    })?;
    let store = Arc::new(Store::open(&config.data_dir.join("cache"))?);
    if let Some(addr) = config.metrics {
        metrics::spawn_server(addr, metrics.clone(), shutdown.clone()).await?;
    }
    tracing::info!(
        target: "upow::audit",
        node = %client::websocket_url(&config.node),
        reporter = %config.key.ss58(),
        rate = config.rate,
        job = ?config.job,
        "auditing"
    );
    // A per-process secret for sampling (sr25519 signatures are randomized).
    let sample_secret = sp_crypto_hashing::blake2_256(&config.key.sign(b"upow/audit/sample"));
    let mut auditor = Auditor {
        config: &config,
        sample_secret,
        store,
        metrics: audit_metrics,
        audited: BTreeSet::new(),
        datasets: HashMap::new(),
        totals: AuditTotals::default(),
    };
    let mut backoff = Backoff::new(Duration::from_millis(500), config.max_backoff);
    while !shutdown.is_triggered() {
        let client = match NodeClient::connect(&config.node, metrics.clone()).await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(target: "upow::audit", "{e}");
                if shutdown.sleep(backoff.next_delay_jittered()) || config.once {
                    break;
                }
                continue;
            }
        };
        backoff.reset();
        match auditor.follow(&client, &shutdown).await {
            Ok(()) => break,
            Err(MineError::Rpc(e)) if e.is_connection() => {
                tracing::warn!(target: "upow::audit", "{e}; reconnecting");
            }
            Err(e) => return Err(e),
        }
    }
    tracing::info!(target: "upow::audit", totals = ?auditor.totals, "audit stopped");
    Ok(auditor.totals)
}

/// The audit loop's state.
struct Auditor<'a> {
    config: &'a AuditConfig,
    sample_secret: [u8; 32],
    store: Arc<Store>,
    metrics: AuditMetrics,
    /// Blocks done, by (number, hash): a reorg's new block is audited too.
    audited: BTreeSet<(u32, H256)>,
    datasets: HashMap<Hash, Arc<Dataset>>,
    totals: AuditTotals,
}

impl Auditor<'_> {
    /// Rounds until shutdown (or one with `once`).
    async fn follow(&mut self, client: &NodeClient, shutdown: &Shutdown) -> Result<(), MineError> {
        loop {
            let best = client.best_number().await?;
            let mut last = None;
            for number in client.disputable_blocks().await? {
                if shutdown.is_triggered() {
                    return Ok(());
                }
                let block = match client.disputable(number).await {
                    Ok(Some(block)) => block,
                    Ok(None) => continue,
                    Err(e) if e.is_connection() => return Err(e.into()),
                    Err(e) => {
                        // A reorg under the query (STALE) and the like:
                        // try again next round.
                        tracing::debug!(target: "upow::audit", block = number, "{e}");
                        continue;
                    }
                };
                if !self.audited.insert((number, block.hash)) {
                    continue;
                }
                last = Some(number);
                if self.config.job.is_some_and(|job| job != block.job)
                    || !sampled(
                        &self.sample_secret,
                        &block.hash,
                        self.config.rate,
                        self.config.shard,
                    )
                {
                    continue;
                }
                match self.audit(client, &block).await {
                    Ok(()) => {}
                    Err(MineError::Rpc(e)) if e.is_connection() => {
                        self.audited.remove(&(number, block.hash));
                        return Err(e.into());
                    }
                    Err(e) => {
                        // One block's trouble (its dataset not served, a
                        // report refused) must not stop the audit of the
                        // others: retried next round.
                        tracing::warn!(target: "upow::audit", block = number, "{e}; retrying next round");
                        self.audited.remove(&(number, block.hash));
                    }
                }
                self.metrics.lag.set(i64::from(best.saturating_sub(number)));
            }
            if last.is_none() {
                self.metrics.lag.set(0);
            }
            // Forget blocks far below the window (bounded memory).
            let floor = best.saturating_sub(1 << 16);
            self.audited.retain(|(n, _)| *n >= floor);
            if self.config.once || shutdown.sleep(self.config.poll) {
                return Ok(());
            }
        }
    }

    /// Replays one block; reports it if it is wrong.
    async fn audit(
        &mut self,
        client: &NodeClient,
        block: &DisputableJson,
    ) -> Result<(), MineError> {
        let spec = JobSpec::decode(&mut &block.spec.0[..])
            .map_err(|e| MineError::InvalidWork(format!("block {}: spec: {e}", block.number)))?;
        let dataset = self.dataset(client, &spec).await?;
        let start = self.weights(client, &spec, block.start_weights.0).await?;
        let ctx = TrajectoryContext {
            parent: block.parent.0,
            author: block.author.0,
            job: block.job,
            salt: block.salt,
        };
        let progress = JobProgress {
            weights: block.start_weights.0,
            steps: block.start_steps,
        };
        let claim = TrajectoryClaim {
            steps: block.steps,
            root: block.root.0,
            final_weights: block.final_weights.0,
        };
        let segments: Vec<Hash> = block.segments.iter().map(|s| s.0).collect();
        let replayed = Arc::new(AtomicU64::new(0));
        let counter = replayed.clone();
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            audit_trajectory(
                &spec,
                &ctx,
                &progress,
                &start,
                &claim,
                &segments,
                &dataset,
                || {
                    counter.fetch_add(1, Ordering::Relaxed);
                },
            )
        })
        .await
        .map_err(|e| MineError::Task(e.to_string()))??;
        let steps = replayed.load(Ordering::Relaxed);
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        self.totals.blocks += 1;
        self.totals.steps += steps;
        self.metrics.blocks.inc();
        self.metrics.steps.inc_by(steps);
        self.metrics.steps_per_second.set(steps as f64 / seconds);
        match outcome {
            Audit::Honest(last) => {
                tracing::info!(
                    target: "upow::audit",
                    block = block.number,
                    job = block.job,
                    steps,
                    steps_per_second = format!("{:.0}", steps as f64 / seconds),
                    "honest"
                );
                self.store.put_weights(&last.hash(), &last.encode())?;
                Ok(())
            }
            Audit::Fraud(proof) => {
                self.totals.frauds += 1;
                self.metrics.frauds.inc();
                tracing::warn!(
                    target: "upow::audit",
                    block = block.number,
                    job = block.job,
                    author = %block.author,
                    segment = proof.segment,
                    "fraud: the trajectory is not the replay of its start; reporting"
                );
                let hash = self.report(client, block.number, proof).await?;
                self.totals.reports += 1;
                self.metrics.reports.inc();
                tracing::warn!(target: "upow::audit", block = block.number, extrinsic = %hash, "fraud proof submitted");
                Ok(())
            }
        }
    }

    /// Signs and submits `Training::report_fraud(number, proof)`.
    async fn report(
        &self,
        client: &NodeClient,
        number: u32,
        proof: FraudProof,
    ) -> Result<H256, MineError> {
        let genesis = client.genesis_hash().await?;
        let (spec_version, transaction_version) = client.runtime_version().await?;
        let metadata = client.metadata().await?;
        let nonce = client.next_nonce(&self.config.key.ss58()).await?;
        let chain = ChainInfo {
            genesis,
            spec_version,
            transaction_version,
            metadata,
        };
        let extrinsic = fraud_report(&self.config.key, number, &proof, nonce, &chain)?;
        Ok(client.submit_extrinsic(extrinsic).await?)
    }

    /// The dataset `spec` names: memory, cache, or the node (verified and
    /// cached).
    async fn dataset(
        &mut self,
        client: &NodeClient,
        spec: &JobSpec,
    ) -> Result<Arc<Dataset>, MineError> {
        let commitment = spec.dataset;
        if let Some(d) = self
            .datasets
            .get(&commitment.root)
            .filter(|d| d.commitment() == commitment)
        {
            return Ok(d.clone());
        }
        let dataset = match self.store.dataset(&commitment)?.0 {
            Some(d) => d,
            None => {
                tracing::info!(target: "upow::audit", root = %H256(commitment.root), samples = commitment.samples, "fetching the dataset");
                let bytes = client.download_dataset(&commitment, |_| {}).await?;
                let dataset = Dataset::from_encoded(commitment.inputs, bytes)?;
                if dataset.commitment() != commitment {
                    return Err(MineError::InvalidWork(
                        "the node's dataset does not match its commitment".into(),
                    ));
                }
                self.store.put_dataset(&dataset)?;
                dataset
            }
        };
        let dataset = Arc::new(dataset);
        self.datasets.clear();
        self.datasets.insert(commitment.root, dataset.clone());
        Ok(dataset)
    }

    /// Weights `hash` of `spec`'s model: cache, or the node (checked).
    async fn weights(
        &self,
        client: &NodeClient,
        spec: &JobSpec,
        hash: Hash,
    ) -> Result<Weights, MineError> {
        if let (Some(w), _) = self.store.weights(&hash, &spec.model)? {
            return Ok(w);
        }
        let bytes = client.weights(H256(hash)).await?;
        let weights = Weights::decode(&spec.model, &bytes.0)?;
        if weights.hash() != hash {
            return Err(MineError::InvalidWork(format!(
                "the node's weights {} hash to {}",
                H256(hash),
                H256(weights.hash())
            )));
        }
        self.store.put_weights(&hash, &bytes.0)?;
        Ok(weights)
    }
}

/// Whether a block is in this auditor's sample: in its shard (the block
/// hash's first eight bytes modulo the shard count: `count` cooperating
/// auditors with shards `0/count … count−1/count` split every block
/// between them) and, at `rate`, drawn with the auditor's `secret`
/// (`H(secret ‖ hash)` below `rate · 2^64`), so that an author grinding its
/// block hash cannot know whether this auditor will replay it.
fn sampled(secret: &[u8; 32], hash: &H256, rate: f64, (index, count): (u64, u64)) -> bool {
    let word = |bytes: &[u8]| {
        let mut head = [0u8; 8];
        head.copy_from_slice(&bytes[..8]);
        u64::from_le_bytes(head)
    };
    if word(&hash.0) % count.max(1) != index {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let mut input = secret.to_vec();
    input.extend_from_slice(&hash.0);
    (word(&sp_crypto_hashing::blake2_256(&input)) as f64) < rate * (u64::MAX as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_takes_about_the_rate_and_shards_split_the_blocks() {
        let hashes: Vec<H256> = (0..4000u32)
            .map(|i| H256(sp_crypto_hashing::blake2_256(&i.to_le_bytes())))
            .collect();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert!(hashes.iter().all(|h| sampled(&a, h, 1.0, (0, 1))));
        let taken: Vec<bool> = hashes
            .iter()
            .map(|h| sampled(&a, h, 0.25, (0, 1)))
            .collect();
        let count = taken.iter().filter(|t| **t).count();
        assert!((800..1200).contains(&count), "{count}");
        // Another secret draws another sample.
        let other: Vec<bool> = hashes
            .iter()
            .map(|h| sampled(&b, h, 0.25, (0, 1)))
            .collect();
        assert_ne!(taken, other);
        // Three shards take every block exactly once.
        for h in &hashes {
            let shards = (0..3).filter(|&i| sampled(&a, h, 1.0, (i, 3))).count();
            assert_eq!(shards, 1);
        }
    }
}
