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
use upow_primitives::{Difficulty, JobId, PowSeal, PreDigest, UpowApi};
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
    difficulties: Arc<Mutex<HashMap<H256, Difficulty>>>,
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

/// Why a seal is rejected, before any runtime call is made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The header carries no valid upow pre-runtime digest.
    #[error("bad pre-runtime digest: {0}")]
    Digest(String),
    /// The seal bytes do not decode.
    #[error("malformed seal")]
    MalformedSeal,
    /// The seal is not the author's signature of the pre-seal hash on this chain.
    #[error("seal signature is not by author {0}")]
    BadSignature(String),
    /// The claimed job is not open at the parent.
    #[error("job {0} is not open")]
    JobNotOpen(JobId),
    /// The claim is outside its bounds (no steps, more than 4 · D).
    #[error("claim rejected: {0}")]
    Claim(upow_puzzle::Error),
    /// The ticket does not meet the difficulty.
    #[error("ticket does not meet difficulty {0}")]
    TicketAboveTarget(Difficulty),
}

/// The first half of the seal rule (then [`check_ticket`]; both cheap, run
/// before the body is looked at), which needs no chain state: the
/// digest and the seal decode, and the seal is the digest's author's
/// signature of `PowSeal::message(genesis, pre_hash)`.
pub fn check_signature(
    genesis: H256,
    pre_hash: &H256,
    pre_digest: Option<&[u8]>,
    seal: &[u8],
) -> Result<PreDigest, SealError> {
    let digest = PreDigest::decode_all(pre_digest.unwrap_or_default())
        .map_err(|e| SealError::Digest(e.to_string()))?;
    let seal = PowSeal::decode_all(seal).map_err(|_| SealError::MalformedSeal)?;
    if !seal.verify(&genesis.0, &pre_hash.0, digest.author()) {
        return Err(SealError::BadSignature(hex::encode(digest.author())));
    }
    Ok(digest)
}

/// The second half: the claim is within the bounds of the job's
/// `difficulty` and its ticket meets it.
pub fn check_ticket(
    parent: H256,
    digest: &PreDigest,
    difficulty: Difficulty,
) -> Result<(), SealError> {
    upow_puzzle::validate_claim_bounds(difficulty, digest.claim()).map_err(SealError::Claim)?;
    let ticket = digest
        .claim()
        .ticket(&digest.context(parent.0))
        .map_err(SealError::Claim)?;
    if !ticket.meets(difficulty) {
        return Err(SealError::TicketAboveTarget(difficulty));
    }
    Ok(())
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
    type Difficulty = Difficulty;

    fn difficulty(&self, parent: <Block as BlockT>::Hash) -> Result<Difficulty, PowError<Block>> {
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
        _chain_difficulty: Difficulty,
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
        let digest = match check_signature(genesis, pre_hash, pre_digest, seal) {
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
        if let Err(e) = check_ticket(parent, &digest, difficulty) {
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
        let mut unsealed = header.clone();
        let seal = match unsealed.digest_mut().pop() {
            Some(sp_runtime::DigestItem::Seal(id, seal)) if id == upow_primitives::ENGINE_ID => {
                seal
            }
            _ => return Err(PrecheckError::Unsealed(hash).to_string()),
        };
        // As the block import reads it: the one `pow_` pre-runtime item.
        let mut ours = unsealed
            .digest()
            .logs()
            .iter()
            .filter_map(|item| match item {
                sp_runtime::DigestItem::PreRuntime(id, bytes)
                    if *id == upow_primitives::ENGINE_ID =>
                {
                    Some(bytes.as_slice())
                }
                _ => None,
            });
        let pre_digest = ours.next();
        if ours.next().is_some() {
            return Err(format!(
                "block {hash}: {}",
                upow_primitives::DigestError::Multiple
            ));
        }
        let parent = *unsealed.parent_hash();
        let sealed = self
            .check(&BlockId::Hash(parent), &unsealed.hash(), pre_digest, &seal)
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
    /// The last digest item is not a upow seal.
    #[error("block {0} is not sealed")]
    Unsealed(H256),
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

#[cfg(test)]
mod tests {
    use super::*;
    use codec::Encode;
    use sp_core::{sr25519, Pair};
    use upow_primitives::TrajectoryClaim;

    const GENESIS: H256 = H256::repeat_byte(0x6e);

    fn digest(author: [u8; 32], steps: u32) -> PreDigest {
        PreDigest::new(
            author,
            0,
            0,
            TrajectoryClaim {
                steps,
                root: [1; 32],
                final_weights: [2; 32],
            },
        )
    }

    fn sealed(pair: &sr25519::Pair, genesis: H256, pre_hash: &H256) -> Vec<u8> {
        PowSeal::V2 {
            signature: pair.sign(&PowSeal::message(&genesis.0, &pre_hash.0)).0,
        }
        .encode()
    }

    #[test]
    fn valid_seal_passes_and_tampering_fails() {
        let pair = sr25519::Pair::from_string("//Alice", None).unwrap();
        let d = digest(pair.public().0, 3).encode();
        let pre_hash = H256::repeat_byte(3);
        let parent = H256::repeat_byte(4);
        let seal = sealed(&pair, GENESIS, &pre_hash);
        let check = |pre: &H256, d: Option<&[u8]>, seal: &[u8], difficulty| {
            check_signature(GENESIS, pre, d, seal)
                .and_then(|digest| check_ticket(parent, &digest, difficulty).map(|()| digest))
        };
        assert!(check(&pre_hash, Some(&d), &seal, 1).is_ok());
        // Another message.
        assert!(matches!(
            check(&H256::repeat_byte(5), Some(&d), &seal, 1),
            Err(SealError::BadSignature(_))
        ));
        // Another signer.
        let bob = sr25519::Pair::from_string("//Bob", None).unwrap();
        assert!(matches!(
            check(&pre_hash, Some(&d), &sealed(&bob, GENESIS, &pre_hash), 1),
            Err(SealError::BadSignature(_))
        ));
        // Signed for another chain.
        assert!(matches!(
            check(
                &pre_hash,
                Some(&d),
                &sealed(&pair, H256::zero(), &pre_hash),
                1
            ),
            Err(SealError::BadSignature(_))
        ));
        // Malformed inputs.
        assert_eq!(
            check(&pre_hash, Some(&d), &[1, 2], 1),
            Err(SealError::MalformedSeal)
        );
        assert!(matches!(
            check(&pre_hash, None, &seal, 1),
            Err(SealError::Digest(_))
        ));
        assert!(matches!(
            check(&pre_hash, Some(&[9, 9]), &seal, 1),
            Err(SealError::Digest(_))
        ));
        // More steps than 4 · D: refused before the ticket is looked at.
        let long = digest(pair.public().0, 5).encode();
        assert!(matches!(
            check(
                &pre_hash,
                Some(&long),
                &sealed(&pair, GENESIS, &pre_hash),
                1
            ),
            Err(SealError::Claim(upow_puzzle::Error::TooManySteps {
                steps: 5,
                max: 4
            }))
        ));
        // Ticket far above target.
        assert_eq!(
            check(&pre_hash, Some(&d), &seal, u128::MAX),
            Err(SealError::TicketAboveTarget(u128::MAX))
        );
    }
}
