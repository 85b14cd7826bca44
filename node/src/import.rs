//! The block import wrapper that keeps the checkpoint store in step with the
//! chain: after a block is imported (so executed and verified by the
//! runtime), it replays the block's final training step to recover `W_n` —
//! the runtime only keeps its hash — and stores it, unless the store already
//! holds `W_n` (the node mined the block itself).

use std::{sync::Arc, time::Instant};

use codec::Encode;
use sc_consensus::{BlockCheckParams, BlockImport, BlockImportParams, ImportResult};
use sp_api::ProvideRuntimeApi;
use sp_consensus::Error as ConsensusError;
use sp_core::H256;
use sp_runtime::traits::{Block as BlockT, Header as HeaderT};
use upow_primitives::{PreDigest, UpowApi};
use upow_runtime::opaque::Block;

use crate::{
    checkpoints::BlockRecord,
    metrics::{observe, NodeMetrics},
    work::{WorkError, WorkSource},
};

/// Log target of the checkpoint import.
const LOG_TARGET: &str = "upow::checkpoints";

/// Wraps an inner block import; see the module docs.
pub struct CheckpointImport<I, C> {
    inner: I,
    work: WorkSource<C>,
    metrics: Option<Arc<NodeMetrics>>,
}

impl<I: Clone, C> Clone for CheckpointImport<I, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            work: self.work.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<I, C> CheckpointImport<I, C> {
    /// Wraps `inner`.
    pub fn new(inner: I, work: WorkSource<C>, metrics: Option<Arc<NodeMetrics>>) -> Self {
        Self {
            inner,
            work,
            metrics,
        }
    }
}

/// Why a block's weights could not be derived (logged; the block stays imported).
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    /// The header has no valid upow digest.
    #[error("digest: {0}")]
    Digest(upow_primitives::DigestError),
    /// The body has no trajectory inherent.
    #[error("the body carries no trajectory proof")]
    NoProof,
    /// Reading the parent's work failed.
    #[error(transparent)]
    Work(#[from] WorkError),
    /// Replaying the final step failed.
    #[error("replaying the final step: {0}")]
    Replay(upow_puzzle::Error),
}

impl<I, C> CheckpointImport<I, C>
where
    C: ProvideRuntimeApi<Block>,
    C::Api: UpowApi<Block>,
{
    fn derive(
        &self,
        hash: H256,
        header: &<Block as BlockT>::Header,
        body: &[<Block as BlockT>::Extrinsic],
    ) -> Result<(), DeriveError> {
        let digest = PreDigest::find(header.digest()).map_err(DeriveError::Digest)?;
        let parent = *header.parent_hash();
        let work = self.work.work_at(parent, digest.job())?;
        let store = self.work.store();
        // The runtime accepted the block, so its final step yields the
        // claimed weights. The node that mined it already stored them (and a
        // block seen on another fork shares them): replay only when missing.
        let claimed = digest.claim().final_weights;
        let _writes = store.lock_writes();
        if !store.has_weights(&claimed).map_err(WorkError::from)? {
            let proof = upow_runtime::trajectory_proof(body).ok_or(DeriveError::NoProof)?;
            let weights = self
                .work
                .replay(&digest.context(parent.0), &work, digest.claim(), &proof)
                .map_err(DeriveError::Replay)?;
            store
                .put_weights(&weights.hash(), &weights.encode())
                .map_err(WorkError::from)?;
        }
        store
            .record_block(
                hash,
                BlockRecord {
                    number: *header.number(),
                    job: work.job,
                    weights: claimed,
                },
            )
            .map_err(WorkError::from)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<I, C> BlockImport<Block> for CheckpointImport<I, C>
where
    I: BlockImport<Block> + Send + Sync,
    I::Error: Into<ConsensusError>,
    C: ProvideRuntimeApi<Block> + Send + Sync,
    C::Api: UpowApi<Block>,
{
    type Error = ConsensusError;

    async fn check_block(
        &self,
        block: BlockCheckParams<Block>,
    ) -> Result<ImportResult, Self::Error> {
        self.inner.check_block(block).await.map_err(Into::into)
    }

    async fn import_block(
        &self,
        block: BlockImportParams<Block>,
    ) -> Result<ImportResult, Self::Error> {
        let hash = block.post_hash();
        let header = block.header.clone();
        let body = block.body.clone();
        let started = Instant::now();
        let result = self.inner.import_block(block).await.map_err(Into::into)?;
        observe(&self.metrics, |m| &m.execution, started);
        if let (ImportResult::Imported(_), Some(body)) = (&result, body) {
            if let Some(m) = &self.metrics {
                m.body_bytes.observe(body.encoded_size() as f64);
            }
            let started = Instant::now();
            let derived = self.derive(hash, &header, &body);
            observe(&self.metrics, |m| &m.replay, started);
            if let Err(e) = derived {
                log::warn!(target: LOG_TARGET, "weights of block #{} ({hash}) not stored: {e}", header.number());
            }
        }
        Ok(result)
    }
}
