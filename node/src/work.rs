//! The work of the next block at a parent: the jobs blocks may train (open
//! paid jobs and the house job), each with its current weights (from the
//! checkpoint store) and its difficulty; and which of them this node can
//! mine (it has the dataset, and its steps are not all degenerate).

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use sp_api::ProvideRuntimeApi;
use sp_core::H256;
use upow_primitives::{JobId, UpowApi, Work};
use upow_puzzle::{TrajectoryClaim, TrajectoryContext, TrajectoryProof, Weights};
use upow_runtime::opaque::Block;

use crate::checkpoints::{CheckpointStore, StoreError};

/// Why work is not available.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The runtime API call failed (unknown block, state pruned).
    #[error("runtime API at {0}: {1}")]
    Runtime(H256, String),
    /// The job is not open at this block (unknown, or ended).
    #[error("job {1} is not open at block {0}")]
    NoJob(H256, u64),
    /// No open job has a dataset this node holds.
    #[error("no open job at block {0} has a dataset this node holds (start the node with --dataset-dir)")]
    NoMinableJob(H256),
    /// The job's current weights are not in the checkpoint store.
    #[error("weights {0} of job {1} are not in the checkpoint store (still syncing?)")]
    MissingWeights(String, u64),
    /// The job's dataset is not in the checkpoint store.
    #[error("dataset {0} is not imported (start the node with --dataset-dir)")]
    MissingDataset(String),
    /// The checkpoint store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored weights do not decode for the job's model.
    #[error("stored weights of job {0}: {1}")]
    Weights(u64, upow_puzzle::Error),
}

/// How long a job this node found unminable is passed over by
/// [`WorkSource::pick_at`].
pub const UNMINABLE_PAUSE: Duration = Duration::from_secs(600);

/// Reads work from the chain and weights from the checkpoint store.
pub struct WorkSource<C> {
    client: Arc<C>,
    store: Arc<CheckpointStore>,
    /// Jobs found unminable (degenerate steps), and since when.
    unminable: Arc<Mutex<HashMap<JobId, Instant>>>,
}

impl<C> Clone for WorkSource<C> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            store: self.store.clone(),
            unminable: self.unminable.clone(),
        }
    }
}

impl<C> WorkSource<C>
where
    C: ProvideRuntimeApi<Block>,
    C::Api: UpowApi<Block>,
{
    /// A work source.
    pub fn new(client: Arc<C>, store: Arc<CheckpointStore>) -> Self {
        Self {
            client,
            store,
            unminable: Arc::default(),
        }
    }

    /// Passes over `job` in [`WorkSource::pick_at`] for [`UNMINABLE_PAUSE`]
    /// (its steps often come out degenerate, or draw samples outside its
    /// model's classes: it cannot make a block). The house job is never
    /// passed over: it is the last resort.
    pub fn mark_unminable(&self, job: JobId) {
        log::warn!(
            target: "upow::work",
            "job {job} cannot make a block; passing it over for {}s",
            UNMINABLE_PAUSE.as_secs()
        );
        self.unminable.lock().insert(job, Instant::now());
    }

    fn is_unminable(&self, job: JobId) -> bool {
        let mut unminable = self.unminable.lock();
        unminable.retain(|_, since| since.elapsed() < UNMINABLE_PAUSE);
        unminable.contains_key(&job)
    }

    /// The checkpoint store.
    pub fn store(&self) -> &Arc<CheckpointStore> {
        &self.store
    }

    /// The work of a block of `job` on `parent`.
    pub fn work_at(&self, parent: H256, job: JobId) -> Result<Work, WorkError> {
        let work = self
            .client
            .runtime_api()
            .work(parent, job)
            .map_err(|e| WorkError::Runtime(parent, e.to_string()))?
            .ok_or(WorkError::NoJob(parent, job))?;
        self.ensure_initial_weights(&work)?;
        Ok(work)
    }

    /// The work of every job open at `parent`, best-paying first, the house
    /// job last.
    pub fn open_work_at(&self, parent: H256) -> Result<Vec<Work>, WorkError> {
        self.client
            .runtime_api()
            .open_work(parent)
            .map_err(|e| WorkError::Runtime(parent, e.to_string()))
    }

    /// Whether this node holds the dataset of `work`: its root *and* its
    /// sample count and width (a job may name a served root with another
    /// sample count, which no batch of the real dataset would verify).
    pub fn has_dataset(&self, work: &Work) -> Result<bool, WorkError> {
        Ok(self
            .store
            .dataset(&work.spec.dataset.root)?
            .is_some_and(|d| d.commitment() == work.spec.dataset))
    }

    /// The job this node mines (and offers miners who do not choose) on
    /// `parent`: the best-paying open job whose dataset it holds and that
    /// its miner has not found unminable (the house job, at worst, which is
    /// listed last). A job whose dataset nobody has is never picked.
    pub fn pick_at(&self, parent: H256) -> Result<Work, WorkError> {
        let open = self.open_work_at(parent)?;
        let last = open.len().saturating_sub(1);
        for (i, work) in open.into_iter().enumerate() {
            if i < last && self.is_unminable(work.job) {
                continue;
            }
            if self.has_dataset(&work)? {
                self.ensure_initial_weights(&work)?;
                return Ok(work);
            }
        }
        Err(WorkError::NoMinableJob(parent))
    }

    /// A job that was never trained starts from its initial weights, which
    /// any node derives from the job's seed.
    fn ensure_initial_weights(&self, work: &Work) -> Result<(), WorkError> {
        if work.steps == 0 && !self.store.has_weights(&work.weights)? {
            let initial = Weights::initial(&work.spec.model, &work.init_seed);
            self.store.put_weights(&initial.hash(), &initial.encode())?;
        }
        Ok(())
    }

    /// The weights a block on `parent` starts from.
    pub fn weights(&self, work: &Work) -> Result<Weights, WorkError> {
        let bytes = self
            .store
            .weights(&work.weights)?
            .ok_or_else(|| WorkError::MissingWeights(hex::encode(work.weights), work.job))?;
        Weights::decode(&work.spec.model, &bytes).map_err(|e| WorkError::Weights(work.job, e))
    }

    /// Re-derives `W_n` of a block (whose trajectory is bound to `ctx`)
    /// from its proof.
    pub fn replay(
        &self,
        ctx: &TrajectoryContext,
        work: &Work,
        claim: &TrajectoryClaim,
        proof: &TrajectoryProof,
    ) -> Result<Weights, upow_puzzle::Error> {
        upow_puzzle::replay_final_step(&work.spec, work.liveness, ctx, work.steps, claim, proof)
    }
}
