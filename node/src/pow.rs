//! The proof-of-work algorithm the node checks before importing a block:
//! the ticket, the author's seal signature and the author's admission. The
//! trajectory proof in the body is checked by the runtime when the block is
//! executed (`pallet_upow_training`).

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use sc_consensus_pow::{Error as PowError, PowAlgorithm};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_consensus_pow::Seal;
use sp_core::H256;
use sp_runtime::{generic::BlockId, traits::Block as BlockT};
use upow_primitives::{
    seal::{check_signature, check_ticket, split_seal, SealError},
    ChainDifficulty, Difficulty, JobId, UpowApi,
};
use upow_runtime::opaque::Block;

use crate::metrics::{observe, NodeMetrics};

/// Log target of consensus checks.
pub const LOG_TARGET: &str = "upow::pow";

/// How many parents' difficulties (and jobs' difficulties at a parent) are
/// cached (each import asks twice).
const DIFFICULTY_CACHE: usize = 256;

/// Cached job difficulties by (parent, job); `None`: not open there.
type JobDifficulties = HashMap<(H256, JobId), Option<Difficulty>>;

/// upow's [`PowAlgorithm`]: a block is sealed when its author's trajectory
/// ticket meets the difficulty at its parent, the seal is the author's
/// signature over the pre-seal header hash, and the author is admitted.
pub struct UpowAlgorithm<C> {
    client: Arc<C>,
    difficulties: Arc<Mutex<HashMap<H256, ChainDifficulty>>>,
    job_difficulties: Arc<Mutex<JobDifficulties>>,
    metrics: Option<Arc<NodeMetrics>>,
}

impl<C> Clone for UpowAlgorithm<C> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            difficulties: self.difficulties.clone(),
            job_difficulties: self.job_difficulties.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<C> UpowAlgorithm<C> {
    /// An algorithm reading difficulty and admission from `client`.
    pub fn new(client: Arc<C>, metrics: Option<Arc<NodeMetrics>>) -> Self {
        Self {
            client,
            difficulties: Arc::new(Mutex::new(HashMap::new())),
            job_difficulties: Arc::new(Mutex::new(HashMap::new())),
            metrics,
        }
    }
}

impl<C> UpowAlgorithm<C>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
    C::Api: UpowApi<Block>,
{
    /// The difficulty of the next block of `job` on `parent` (`None`: the
    /// job is not open there), cached.
    pub fn job_difficulty(
        &self,
        parent: H256,
        job: JobId,
    ) -> Result<Option<Difficulty>, PowError<Block>> {
        if let Some(d) = self.job_difficulties.lock().get(&(parent, job)) {
            return Ok(*d);
        }
        let d = self
            .client
            .runtime_api()
            .job_difficulty(parent, job)
            .map_err(|e| {
                PowError::Environment(format!("difficulty of job {job} at {parent}: {e}"))
            })?;
        let mut cache = self.job_difficulties.lock();
        if cache.len() >= DIFFICULTY_CACHE {
            cache.clear();
        }
        cache.insert((parent, job), d);
        Ok(d)
    }

    fn parent_hash(&self, parent: &BlockId<Block>) -> Result<H256, PowError<Block>> {
        match parent {
            BlockId::Hash(h) => Ok(*h),
            BlockId::Number(n) => self
                .client
                .hash(*n)
                .map_err(PowError::Client)?
                .ok_or_else(|| PowError::Other(format!("unknown parent block #{n}"))),
        }
    }
}

impl<C> PowAlgorithm<Block> for UpowAlgorithm<C>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync,
    C::Api: UpowApi<Block>,
{
    type Difficulty = ChainDifficulty;

    fn difficulty(
        &self,
        parent: <Block as BlockT>::Hash,
    ) -> Result<ChainDifficulty, PowError<Block>> {
        if let Some(d) = self.difficulties.lock().get(&parent) {
            return Ok(*d);
        }
        let d = self
            .client
            .runtime_api()
            .difficulty(parent)
            .map_err(|e| PowError::Environment(format!("difficulty at {parent}: {e}")))?;
        let mut cache = self.difficulties.lock();
        if cache.len() >= DIFFICULTY_CACHE {
            cache.clear();
        }
        cache.insert(parent, d);
        Ok(d)
    }

    /// The seal rule. `_chain_difficulty` is the chain's difficulty (what
    /// fork choice adds up); the ticket must meet the claimed job's own
    /// difficulty, which [`UpowAlgorithm::job_difficulty`] reads.
    fn verify(
        &self,
        parent: &BlockId<Block>,
        pre_hash: &H256,
        pre_digest: Option<&[u8]>,
        seal: &Seal,
        _chain_difficulty: ChainDifficulty,
    ) -> Result<bool, PowError<Block>> {
        let started = std::time::Instant::now();
        let result = self.check(parent, pre_hash, pre_digest, seal);
        observe(&self.metrics, |m| &m.seal_check, started);
        result
    }
}

impl<C> UpowAlgorithm<C>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
    C::Api: UpowApi<Block>,
{
    fn check(
        &self,
        parent: &BlockId<Block>,
        pre_hash: &H256,
        pre_digest: Option<&[u8]>,
        seal: &Seal,
    ) -> Result<bool, PowError<Block>> {
        let parent = self.parent_hash(parent)?;
        let genesis = self.client.info().genesis_hash;
        // The signature first: a forged seal costs one signature check, no
        // runtime call.
        let digest = match check_signature(&genesis.0, &pre_hash.0, pre_digest, seal) {
            Ok(d) => d,
            Err(e) => {
                log::warn!(target: LOG_TARGET, "rejecting block on {parent}: {e}");
                return Ok(false);
            }
        };
        let job = digest.job();
        let Some(difficulty) = self.job_difficulty(parent, job)? else {
            log::warn!(target: LOG_TARGET, "rejecting block on {parent}: {}", SealError::JobNotOpen(job));
            return Ok(false);
        };
        if let Err(e) = check_ticket(&parent.0, &digest, difficulty) {
            log::warn!(target: LOG_TARGET, "rejecting block on {parent}: {e}");
            return Ok(false);
        }
        let admitted = self
            .client
            .runtime_api()
            .is_admitted(parent, *digest.author())
            .map_err(|e| PowError::Environment(format!("admission at {parent}: {e}")))?;
        if !admitted {
            log::warn!(
                target: LOG_TARGET,
                "rejecting block on {parent}: author {} is not admitted",
                hex::encode(digest.author())
            );
        }
        Ok(admitted)
    }
}

impl<C> UpowAlgorithm<C>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
    C::Api: UpowApi<Block>,
{
    /// The checks a sealed block gets before its body is decoded or
    /// executed, whether it comes from the network ([`SealFirstVerifier`])
    /// or from `upow_submitBlock`: the body's length, one `pow_`
    /// pre-runtime item and a seal, then the seal rule ([`PowAlgorithm`]'s
    /// `check`: signature, the job's difficulty and the ticket, admission).
    pub fn precheck(
        &self,
        header: &<Block as BlockT>::Header,
        body: Option<&[<Block as BlockT>::Extrinsic]>,
    ) -> Result<(), String> {
        use sp_runtime::traits::Header as _;
        let hash = header.hash();
        if let Some(body) = body {
            validate_body_length(hash, body).map_err(|e| e.to_string())?;
        }
        let parts = split_seal(header).map_err(|e| format!("block {hash}: {e}"))?;
        let unsealed = parts.unsealed;
        let parent = *unsealed.parent_hash();
        let sealed = self
            .check(
                &BlockId::Hash(parent),
                &unsealed.hash(),
                parts.pre_digest.as_deref(),
                &parts.seal,
            )
            .map_err(|e| e.to_string())?;
        if !sealed {
            return Err(PrecheckError::InvalidSeal(hash).to_string());
        }
        Ok(())
    }
}

/// The import queue's verifier: the cheap checks before a block's body is
/// executed. sc-consensus-pow's own verifier only moves the seal out of the
/// header; its block import runs `check_inherents` (the runtime, on the
/// whole body) before it checks the seal. This verifier first refuses a
/// body longer than the runtime's block length, then runs the seal rule
/// ([`UpowAlgorithm::precheck`]: digest, signature, claim bounds, ticket,
/// admission), so that a block with a forged seal costs its receiver one
/// signature check, never a body execution.
pub struct SealFirstVerifier<C> {
    algorithm: UpowAlgorithm<C>,
    inner: sc_consensus_pow::PowVerifier<Block, UpowAlgorithm<C>>,
}

impl<C> SealFirstVerifier<C> {
    /// The verifier of the import queue.
    pub fn new(algorithm: UpowAlgorithm<C>) -> Self {
        Self {
            inner: sc_consensus_pow::PowVerifier::new(algorithm.clone()),
            algorithm,
        }
    }
}

/// Why a block was refused before its body was looked at.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrecheckError {
    /// The body is longer than a block may be.
    #[error("block {hash}: body of {len} bytes exceeds the block length {max}")]
    BodyTooLong {
        /// The block.
        hash: H256,
        /// Its body's encoded length.
        len: usize,
        /// The runtime's block length.
        max: usize,
    },
    /// The seal rule failed (the reason is logged by the algorithm).
    #[error("block {0}: invalid seal")]
    InvalidSeal(H256),
}

/// The shape rule of a body: at most the runtime's block length
/// ([`upow_runtime::configs::MAX_BLOCK_LENGTH`]).
pub fn validate_body_length(
    hash: H256,
    body: &[<Block as BlockT>::Extrinsic],
) -> Result<(), PrecheckError> {
    let len = codec::Encode::encoded_size(body);
    let max = upow_runtime::configs::MAX_BLOCK_LENGTH as usize;
    if len > max {
        return Err(PrecheckError::BodyTooLong { hash, len, max });
    }
    Ok(())
}

#[async_trait::async_trait]
impl<C> sc_consensus::Verifier<Block> for SealFirstVerifier<C>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: UpowApi<Block>,
{
    async fn verify(
        &self,
        block: sc_consensus::BlockImportParams<Block>,
    ) -> Result<sc_consensus::BlockImportParams<Block>, String> {
        self.algorithm
            .precheck(&block.header, block.body.as_deref())?;
        self.inner.verify(block).await
    }
}
