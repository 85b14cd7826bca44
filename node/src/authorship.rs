//! Turning a won trajectory into a block: build it on the parent with the
//! claim in the pre-runtime digest and the proof as inherent, have the author
//! sign the pre-seal hash, seal and import it.
//!
//! Two phases, because the author's key may live outside the node (the
//! external miner signs): [`BlockAuthor::prepare`] returns the header of a
//! template it keeps (the miner checks it and recomputes its hash before
//! signing); [`BlockAuthor::seal`] imports it with the author's signature
//! of [`PowSeal::message`]. The built-in miner does both with the node's
//! keystore ([`BlockAuthor::author_with_keystore`]), and never signs two
//! blocks on one parent — not even across restarts or a wiped database
//! ([`upow_primitives::signing::SigningRecord`], kept beside the keystore) —
//! nor a block on a parent that is no longer the best: two signed blocks on
//! one parent are an equivocation the staking pallet slashes.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use codec::Encode;
use futures::lock::Mutex as AsyncMutex;
use parking_lot::Mutex;
use sc_consensus::{
    BlockImport, BlockImportParams, BoxBlockImport, ForkChoiceStrategy, StateAction, StorageChanges,
};
use sc_consensus_pow::{PowAlgorithm, PowIntermediate, INTERMEDIATE_KEY};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_consensus::{BlockOrigin, Environment, ProposeArgs, Proposer};
use sp_core::{sr25519, H256};
use sp_inherents::InherentDataProvider;
use sp_keystore::KeystorePtr;
use sp_runtime::{
    traits::{Block as BlockT, Header as HeaderT},
    Digest, DigestItem,
};
use upow_primitives::{
    signing::{SignPermit, SigningRecord},
    AuthorId, PowSeal, PreDigest, ProofInherentDataProvider, UpowApi, AUTHOR_KEY_TYPE, ENGINE_ID,
};
use upow_puzzle::{JobProgress, TrajectoryProof};
use upow_runtime::opaque::Block;

use crate::{
    metrics::{observe, NodeMetrics},
    pow::UpowAlgorithm,
    work::WorkSource,
};

/// Log target of block authoring.
pub const LOG_TARGET: &str = "upow::author";

/// Templates kept waiting for a signature at most: one per author on the
/// best parent (each holds a built block, up to 12 MiB with its storage
/// changes: at most ~200 MiB together).
const MAX_PENDING: usize = 16;
/// Longest time to build a block.
const BUILD_TIME: Duration = Duration::from_secs(4);

/// Why a block could not be built or sealed. Each message says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    /// The parent block is unknown.
    #[error("unknown parent block {0}")]
    UnknownParent(H256),
    /// Work at the parent is not available.
    #[error(transparent)]
    Work(#[from] crate::work::WorkError),
    /// The author is not admitted at the parent.
    #[error("author {0} is not admitted and bonded")]
    NotAdmitted(String),
    /// The trajectory does not verify (ticket, challenges, steps).
    #[error("trajectory rejected: {0}")]
    Trajectory(upow_puzzle::Error),
    /// The block template is unknown (expired, or already sealed).
    #[error("unknown block template {0}")]
    UnknownTemplate(H256),
    /// The seal is not the author's signature of the template.
    #[error("the signature is not the author's signature of template {0}")]
    BadSignature(H256),
    /// A submission is not signed by its author
    /// ([`PreDigest::verify_submission`]).
    #[error("the submission is not signed by author {0} (sign PreDigest::submission_message(genesis, parent))")]
    BadSubmissionSignature(String),
    /// The node has no key for the author.
    #[error("the keystore has no upow author key {0}")]
    NoKey(String),
    /// The parent is no longer the best block: sealing there could only
    /// make a stale block.
    #[error("parent {0} is no longer the best block")]
    StaleParent(H256),
    /// This author already sealed another block on this parent; a second
    /// one would be an equivocation.
    #[error("author {author} already sealed block {sealed} on parent {parent}")]
    AlreadySealed {
        /// The author key.
        author: String,
        /// The parent.
        parent: H256,
        /// Pre-seal hash of the block sealed before.
        sealed: H256,
    },
    /// The block is older than the signing record's history: nothing is
    /// signed.
    #[error("block {number} is below the signing record's history (newest signed: {newest})")]
    BelowSigningHistory {
        /// The block's number.
        number: u32,
        /// The newest block the record holds.
        newest: u32,
    },
    /// The signing record cannot be read or written: nothing is signed.
    #[error("{0}")]
    SigningRecord(String),
    /// A submitted block has no upow seal.
    #[error("block {0} is not sealed")]
    Unsealed(H256),
    /// A submitted block failed verification or execution.
    #[error("block rejected: {0}")]
    Rejected(String),
    /// Building or importing the block failed.
    #[error("{0}")]
    Client(String),
}

struct Template {
    difficulty: u128,
    block: Block,
    changes: sp_state_machine::StorageChanges<sp_runtime::traits::HashingFor<Block>>,
}

/// The templates waiting for their author's signature, bounded: an author
/// has at most one per parent (a newer submission replaces the older: the
/// author can sign only one block there), templates on a parent that is no
/// longer the best are dropped when a new one arrives, and beyond
/// [`MAX_PENDING`] the oldest goes.
struct Templates<T> {
    by_hash: HashMap<H256, Pending<T>>,
    next_serial: u64,
}

struct Pending<T> {
    parent: H256,
    author: AuthorId,
    serial: u64,
    template: T,
}

impl<T> Default for Templates<T> {
    fn default() -> Self {
        Self {
            by_hash: HashMap::new(),
            next_serial: 0,
        }
    }
}

impl<T> Templates<T> {
    /// Keeps `template` (pre-seal hash `pre_hash`) of `author` on `parent`,
    /// evicting as described on the type; `best` is the best block now.
    fn insert(&mut self, pre_hash: H256, parent: H256, author: AuthorId, template: T, best: H256) {
        self.by_hash
            .retain(|_, p| !(p.parent == parent && p.author == author) && p.parent == best);
        while self.by_hash.len() >= MAX_PENDING {
            let Some(oldest) = self
                .by_hash
                .iter()
                .min_by_key(|(_, p)| p.serial)
                .map(|(h, _)| *h)
            else {
                break;
            };
            self.by_hash.remove(&oldest);
        }
        self.next_serial += 1;
        self.by_hash.insert(
            pre_hash,
            Pending {
                parent,
                author,
                serial: self.next_serial,
                template,
            },
        );
    }

    /// The author of template `pre_hash`.
    fn author(&self, pre_hash: &H256) -> Option<AuthorId> {
        self.by_hash.get(pre_hash).map(|p| p.author)
    }

    /// Takes template `pre_hash` out, with its parent.
    fn take(&mut self, pre_hash: &H256) -> Option<(H256, T)> {
        self.by_hash
            .remove(pre_hash)
            .map(|p| (p.parent, p.template))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_hash.len()
    }
}

/// A won trajectory, to be built into a block: the pre-runtime digest it
/// will carry (author, job, salt, claim) and the proof for its body.
#[derive(Clone, Debug)]
pub struct Win {
    /// The parent it was mined on.
    pub parent: H256,
    /// The block's pre-runtime digest.
    pub digest: PreDigest,
    /// The proof for the body.
    pub proof: TrajectoryProof,
}

/// A template built for a submission: what the author must sign.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The template's pre-seal header hash.
    pub pre_hash: H256,
    /// The template's header (unsealed).
    pub header: <Block as BlockT>::Header,
}

/// Builds, seals and imports blocks.
pub struct BlockAuthor<C, E> {
    client: Arc<C>,
    environment: AsyncMutex<E>,
    block_import: AsyncMutex<BoxBlockImport<Block>>,
    algorithm: UpowAlgorithm<C>,
    work: WorkSource<C>,
    pending: Mutex<Templates<Template>>,
    signing: Mutex<SigningRecord>,
    metrics: Option<Arc<NodeMetrics>>,
}

impl<C, E> BlockAuthor<C, E>
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: UpowApi<Block>,
    E: Environment<Block> + Send + 'static,
    E::Error: std::fmt::Display,
{
    /// A block author importing through `block_import`; the built-in miner
    /// signs only what `signing` permits.
    pub fn new(
        client: Arc<C>,
        environment: E,
        block_import: BoxBlockImport<Block>,
        algorithm: UpowAlgorithm<C>,
        work: WorkSource<C>,
        signing: SigningRecord,
        metrics: Option<Arc<NodeMetrics>>,
    ) -> Self {
        Self {
            client,
            environment: AsyncMutex::new(environment),
            block_import: AsyncMutex::new(block_import),
            algorithm,
            work,
            pending: Mutex::new(Templates::default()),
            signing: Mutex::new(signing),
            metrics,
        }
    }

    /// [`BlockAuthor::prepare`] for a submission from outside the node
    /// (`upow_submitWork`): first checks that its author signed it
    /// ([`PreDigest::verify_submission`]), so that nobody but an admitted
    /// author can make the node verify a trajectory and build a block.
    pub async fn prepare_submitted(
        &self,
        win: Win,
        signature: [u8; 64],
    ) -> Result<Prepared, AuthorError> {
        let genesis = self.client.info().genesis_hash;
        if !win
            .digest
            .verify_submission(&genesis.0, &win.parent.0, &signature)
        {
            return Err(AuthorError::BadSubmissionSignature(hex::encode(
                win.digest.author(),
            )));
        }
        self.prepare(win).await
    }

    /// Builds a block on the win's parent carrying its trajectory; returns
    /// its header and pre-seal hash. The author must be admitted; the
    /// trajectory is verified natively first, so a bad submission gets the
    /// puzzle's error message.
    pub async fn prepare(&self, win: Win) -> Result<Prepared, AuthorError> {
        let Win {
            parent,
            digest,
            proof,
        } = win;
        let author = *digest.author();
        let parent_header = self
            .client
            .header(parent)
            .map_err(|e| AuthorError::Client(e.to_string()))?
            .ok_or(AuthorError::UnknownParent(parent))?;
        let admitted = self
            .client
            .runtime_api()
            .is_admitted(parent, author)
            .map_err(|e| AuthorError::Client(e.to_string()))?;
        if !admitted {
            return Err(AuthorError::NotAdmitted(hex::encode(author)));
        }
        let work = self.work.work_at(parent, digest.job())?;
        let difficulty = self
            .algorithm
            .difficulty(parent)
            .map_err(|e| AuthorError::Client(e.to_string()))?;
        let started = Instant::now();
        upow_puzzle::verify_trajectory(
            &work.spec,
            work.liveness,
            &digest.context(parent.0),
            &JobProgress {
                weights: work.weights,
                steps: work.steps,
            },
            work.difficulty,
            digest.claim(),
            &proof,
        )
        .map_err(AuthorError::Trajectory)?;
        observe(&self.metrics, |m| &m.native_verification, started);

        let started = Instant::now();
        let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
        let inherent_data = (timestamp, ProofInherentDataProvider(proof))
            .create_inherent_data()
            .await
            .map_err(|e| AuthorError::Client(format!("inherent data: {e}")))?;
        let proposer = self
            .environment
            .lock()
            .await
            .init(&parent_header)
            .await
            .map_err(|e| AuthorError::Client(format!("proposer: {e}")))?;
        let proposal = proposer
            .propose(ProposeArgs {
                inherent_data,
                inherent_digests: Digest {
                    logs: vec![digest.to_digest_item()],
                },
                max_duration: BUILD_TIME,
                ..Default::default()
            })
            .await
            .map_err(|e| AuthorError::Client(format!("building the block: {e}")))?;
        observe(&self.metrics, |m| &m.proposal, started);
        let header = proposal.block.header().clone();
        let pre_hash = header.hash();
        let best = self.client.info().best_hash;
        self.pending.lock().insert(
            pre_hash,
            parent,
            author,
            Template {
                difficulty,
                block: proposal.block,
                changes: proposal.storage_changes,
            },
            best,
        );
        Ok(Prepared { pre_hash, header })
    }

    /// Seals the template `pre_hash` with the author's `signature` of
    /// [`PowSeal::message`] and imports it; returns the block hash.
    pub async fn seal(&self, pre_hash: H256, signature: [u8; 64]) -> Result<H256, AuthorError> {
        let genesis = self.client.info().genesis_hash;
        let seal = PowSeal::V2 { signature };
        let (parent, template) = {
            let mut pending = self.pending.lock();
            let author = pending
                .author(&pre_hash)
                .ok_or(AuthorError::UnknownTemplate(pre_hash))?;
            if !seal.verify(&genesis.0, &pre_hash.0, &author) {
                return Err(AuthorError::BadSignature(pre_hash));
            }
            pending
                .take(&pre_hash)
                .ok_or(AuthorError::UnknownTemplate(pre_hash))?
        };
        let seal = DigestItem::Seal(ENGINE_ID, seal.encode());
        let (header, body) = template.block.deconstruct();
        let mut params = BlockImportParams::new(BlockOrigin::Own, header);
        params.post_digests.push(seal);
        params.body = Some(body);
        params.state_action = StateAction::ApplyChanges(StorageChanges::Changes(template.changes));
        params.insert_intermediate(
            INTERMEDIATE_KEY,
            PowIntermediate::<u128> {
                difficulty: Some(template.difficulty),
            },
        );
        params.fork_choice = None::<ForkChoiceStrategy>;
        let hash = params.post_hash();
        let number = *HeaderT::number(&params.header);
        self.block_import
            .lock()
            .await
            .import_block(params)
            .await
            .map_err(|e| AuthorError::Client(format!("importing the block: {e}")))?;
        log::info!(target: LOG_TARGET, "✅ sealed block #{number} {hash} on {parent}");
        Ok(hash)
    }

    /// Imports a complete sealed block from outside (a miner that builds its
    /// own blocks, or a test): the same checks as any block from the network
    /// — seal, ticket, admission, inherents, then execution, where the
    /// runtime re-executes the challenged steps.
    pub async fn submit_block(&self, block: Block) -> Result<H256, AuthorError> {
        let (mut header, body) = block.deconstruct();
        let hash = header.hash();
        let seal = match header.digest_mut().pop() {
            Some(seal @ DigestItem::Seal(ENGINE_ID, _)) => seal,
            _ => return Err(AuthorError::Unsealed(hash)),
        };
        if self
            .client
            .header(*header.parent_hash())
            .map_err(|e| AuthorError::Client(e.to_string()))?
            .is_none()
        {
            return Err(AuthorError::UnknownParent(*header.parent_hash()));
        }
        // The checks a block from the network gets before its body runs.
        let mut sealed = header.clone();
        sealed.digest_mut().push(seal.clone());
        self.algorithm
            .precheck(&sealed, Some(&body))
            .map_err(AuthorError::Rejected)?;
        let number = *HeaderT::number(&header);
        let mut params = BlockImportParams::new(BlockOrigin::NetworkBroadcast, header);
        params.post_digests.push(seal);
        params.body = Some(body);
        params.state_action = StateAction::Execute;
        params.post_hash = Some(hash);
        params.insert_intermediate(
            INTERMEDIATE_KEY,
            PowIntermediate::<u128> { difficulty: None },
        );
        let result = self
            .block_import
            .lock()
            .await
            .import_block(params)
            .await
            .map_err(|e| AuthorError::Rejected(e.to_string()))?;
        match result {
            sc_consensus::ImportResult::Imported(_)
            | sc_consensus::ImportResult::AlreadyInChain => {
                log::info!(target: LOG_TARGET, "imported submitted block #{number} {hash}");
                Ok(hash)
            }
            other => Err(AuthorError::Rejected(format!("{other:?}"))),
        }
    }

    /// Prepares, signs with the keystore's key for the win's author, and
    /// seals — unless the parent is no longer the best block or the signing
    /// record refuses (the author already signed another block on it, maybe
    /// before a restart).
    pub async fn author_with_keystore(
        &self,
        keystore: &KeystorePtr,
        win: Win,
    ) -> Result<H256, AuthorError> {
        let (parent, author) = (win.parent, *win.digest.author());
        let prepared = self.prepare(win).await?;
        let info = self.client.info();
        if info.best_hash != parent {
            self.pending.lock().take(&prepared.pre_hash);
            return Err(AuthorError::StaleParent(parent));
        }
        let permit = self.signing.lock().permit(
            &author,
            &parent.0,
            *HeaderT::number(&prepared.header),
            &prepared.pre_hash.0,
        );
        match permit {
            Ok(SignPermit::Granted) => {}
            Ok(SignPermit::Refused { signed }) => {
                self.pending.lock().take(&prepared.pre_hash);
                return Err(AuthorError::AlreadySealed {
                    author: hex::encode(author),
                    parent,
                    sealed: H256(signed),
                });
            }
            Ok(SignPermit::TooOld { number, newest }) => {
                self.pending.lock().take(&prepared.pre_hash);
                return Err(AuthorError::BelowSigningHistory { number, newest });
            }
            Err(e) => {
                self.pending.lock().take(&prepared.pre_hash);
                return Err(AuthorError::SigningRecord(e.to_string()));
            }
        }
        let public = sr25519::Public::from_raw(author);
        let message = PowSeal::message(&info.genesis_hash.0, &prepared.pre_hash.0);
        let signature = keystore
            .sr25519_sign(AUTHOR_KEY_TYPE, &public, &message)
            .map_err(|e| AuthorError::Client(format!("keystore: {e}")))?
            .ok_or_else(|| AuthorError::NoKey(hex::encode(author)))?;
        self.seal(prepared.pre_hash, signature.0).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_stay_bounded_one_per_author_and_parent_on_the_best_parent() {
        let mut templates = Templates::<u32>::default();
        let (p1, p2) = (H256::repeat_byte(1), H256::repeat_byte(2));
        let author = |i: u32| {
            let mut a = [0u8; 32];
            a[..4].copy_from_slice(&i.to_le_bytes());
            a
        };
        let hash = |i: u32| H256::from_low_u64_be(u64::from(i) + 100);
        templates.insert(hash(0), p1, author(0), 0, p1);
        // A second submission of the same author on the same parent
        // replaces the first.
        templates.insert(hash(1), p1, author(0), 1, p1);
        assert_eq!(templates.len(), 1);
        assert!(templates.author(&hash(0)).is_none());
        assert_eq!(templates.author(&hash(1)), Some(author(0)));
        // Another author on the same parent: both kept.
        templates.insert(hash(2), p1, author(1), 2, p1);
        assert_eq!(templates.len(), 2);
        // A new best block: templates on the old parent go.
        templates.insert(hash(3), p2, author(0), 3, p2);
        assert_eq!(templates.len(), 1);
        assert_eq!(templates.take(&hash(3)), Some((p2, 3)));
        // Many authors on one parent: never more than MAX_PENDING, the
        // oldest evicted first.
        for i in 0..(MAX_PENDING as u32 * 3) {
            templates.insert(hash(10 + i), p2, author(10 + i), i, p2);
            assert!(templates.len() <= MAX_PENDING);
        }
        assert!(templates.author(&hash(10)).is_none());
        let newest = 10 + MAX_PENDING as u32 * 3 - 1;
        assert_eq!(templates.author(&hash(newest)), Some(author(newest)));
    }
}
