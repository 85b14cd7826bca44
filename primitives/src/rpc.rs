//! The `upow_*` JSON-RPC API of the node, as one definition shared by the
//! node (server) and the miner (client). Documented method by method in
//! docs/rpc.md.
//!
//! Binary payloads (weights, samples, proofs, job specs) travel as
//! `0x`-prefixed hex of their canonical (SCALE or puzzle) encodings;
//! 128-bit numbers as [`NumberOrHex`] (as Substrate's own RPCs, e.g.
//! `payment_queryFeeDetails`, carry balances): the node sends `0x`-prefixed
//! hex strings, since JSON numbers lose precision above 2^53, and a JSON
//! number is read as well. A reader converts them with
//! `u128::try_from`, which fails on a value above `u128::MAX`.

use alloc::vec::Vec;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use serde::{Deserialize, Serialize};
use sp_core::{Bytes, H256};
pub use sp_rpc::number::NumberOrHex;

use crate::{Hash, JobId, PreDigest, TrajectoryClaim, TrajectoryProof};

/// Error codes of the `upow_*` methods (beyond JSON-RPC's own).
pub mod error {
    /// A parameter is malformed (hex, SCALE, lengths).
    pub const INVALID_INPUT: i32 = -32602;
    /// A weights hash, dataset root, block or job is not known to this node.
    pub const NOT_FOUND: i32 = 1001;
    /// The submission's parent is no longer the best block.
    pub const STALE: i32 = 1002;
    /// The submission was checked and rejected (trajectory, author, seal).
    pub const REJECTED: i32 = 1003;
    /// There is no work (the job is not open, no open job's dataset is
    /// held, node syncing).
    pub const NO_WORK: i32 = 1004;
    /// The request asks for more than one call may return.
    pub const TOO_LARGE: i32 = 1005;
    /// The node failed internally (database, runtime call).
    pub const INTERNAL: i32 = 1006;
    /// The method is unsafe and this interface serves only safe ones
    /// (`--rpc-methods`).
    pub const UNSAFE: i32 = 1007;
}

/// Most sample bytes [`UpowApiServer::get_dataset`] returns per call
/// (1 MiB; 2 MiB of hex on the wire). A caller asks for at most
/// [`dataset_chunk_samples`] samples at a time.
pub const MAX_DATASET_BYTES: u64 = 1 << 20;

/// How many samples of `sample_len` bytes (label and inputs) one
/// `upow_getDataset` call may ask for: as many as fit in
/// [`MAX_DATASET_BYTES`], at least one.
pub fn dataset_chunk_samples(sample_len: u64) -> u64 {
    (MAX_DATASET_BYTES / sample_len.max(1)).max(1)
}

/// The work of the next block of one job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkResponse {
    /// The parent block to build on (the node's best block).
    pub parent: H256,
    /// Its number.
    pub number: u32,
    /// The job to train: the one asked for, or the node's pick.
    pub job: JobId,
    /// The job's `JobSpec`, SCALE-encoded (model, hyper-parameters, dataset).
    pub spec: Bytes,
    /// Model dimensions (also inside `spec`; for display).
    pub model: Vec<u32>,
    /// Batch size.
    pub batch: u32,
    /// Dataset Merkle root.
    pub dataset_root: H256,
    /// Samples in the dataset.
    pub dataset_samples: u64,
    /// Seed of the job's initial weights.
    pub init_seed: H256,
    /// `H(W_tip)`: trajectories start from these weights.
    pub weights: H256,
    /// Steps the job already has.
    pub steps: u64,
    /// Difficulty the next block of this job must meet (a u128).
    pub difficulty: NumberOrHex,
    /// The job's non-zero-weights threshold (`upow_puzzle::Liveness`):
    /// every proven step must start from weights with this many 1024ths of
    /// each layer's compute weights non-zero.
    pub min_nonzero_per_1024: u16,
    /// The job's live-unit threshold (`upow_puzzle::Liveness`): every proven
    /// step must keep this many 1024ths of each hidden layer's units live.
    pub min_live_per_1024: u16,
    /// The job's activation-density threshold (`upow_puzzle::Liveness`):
    /// every proven step must have this many 1024ths of each hidden layer's
    /// activations over its batch non-zero.
    pub min_active_per_1024: u16,
    /// Price per verified step (a u128 balance; zero for the house job).
    pub price_per_step: NumberOrHex,
    /// Escrow left to pay steps with (a u128 balance).
    pub budget_left: NumberOrHex,
}

/// Where a dataset upload stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetUpload {
    /// The dataset's root.
    pub root: H256,
    /// Samples announced (or stored).
    pub samples: u64,
    /// Input bytes per sample.
    pub inputs: u32,
    /// Samples the node has: the next upload `offset`.
    pub received: u64,
    /// Whether the node stores the dataset (verified against its root) and
    /// serves it with `upow_getDataset`.
    pub stored: bool,
}

/// A job open at a block: what a miner chooses by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenJob {
    /// Job id.
    pub job: JobId,
    /// Model dimensions.
    pub model: Vec<u32>,
    /// Batch size.
    pub batch: u32,
    /// Dataset Merkle root.
    pub dataset_root: H256,
    /// Samples in the dataset.
    pub dataset_samples: u64,
    /// Whether this node holds the dataset (serves it with
    /// `upow_getDataset`).
    pub dataset_served: bool,
    /// Steps the job already has.
    pub steps: u64,
    /// Difficulty of its next block (a u128).
    pub difficulty: NumberOrHex,
    /// Price per verified step (a u128 balance).
    pub price_per_step: NumberOrHex,
    /// Escrow left (a u128 balance).
    pub budget_left: NumberOrHex,
}

/// A slice of a dataset's encoded samples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetChunk {
    /// Samples in the whole dataset.
    pub samples: u64,
    /// Input bytes per sample (each sample is 1 label byte + inputs).
    pub inputs: u32,
    /// Index of the first sample in `data`.
    pub offset: u64,
    /// Encoded samples `label ‖ inputs`, concatenated.
    pub data: Bytes,
}

/// A trajectory claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimJson {
    /// Steps in the trajectory.
    pub steps: u32,
    /// Trajectory Merkle root.
    pub root: H256,
    /// `H(W_n)`.
    pub final_weights: H256,
}

/// A won trajectory, submitted for the node to build a block around.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitWork {
    /// The parent the trajectory was mined on.
    pub parent: H256,
    /// The author's sr25519 public key.
    pub author: H256,
    /// The job trained.
    pub job: JobId,
    /// The trajectory's salt (docs/puzzle.md §6).
    pub salt: u32,
    /// The claim.
    pub claim: ClaimJson,
    /// The `TrajectoryProof`, SCALE-encoded.
    pub proof: Bytes,
    /// The author's sr25519 signature (64 bytes) of
    /// `PreDigest::submission_message(genesis, parent)`: the node checks it
    /// before it verifies anything.
    pub signature: Bytes,
}

/// Why a mining payload (`upow_submitWork`, `upow_submitSeal`) is
/// malformed: answered with [`error::INVALID_INPUT`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// A signature is not 64 bytes.
    #[error("a signature is 64 bytes, got {0}")]
    SignatureLength(usize),
    /// The proof is not one whole SCALE-encoded `TrajectoryProof`.
    #[error("proof does not decode: {0}")]
    Proof(alloc::string::String),
}

/// A `upow_submitWork` payload, decoded: the parent, the pre-runtime
/// digest the block will carry, the proof for its body and the author's
/// submission signature (not checked yet: [`Submission::verify_signature`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The parent the trajectory was mined on.
    pub parent: Hash,
    /// The block's pre-runtime digest: author, job, salt, claim.
    pub digest: PreDigest,
    /// The trajectory proof.
    pub proof: TrajectoryProof,
    /// The author's signature of `PreDigest::submission_message`.
    pub signature: [u8; 64],
}

impl Submission {
    /// The submission rule ([`PreDigest::verify_submission`]) on this
    /// chain.
    pub fn verify_signature(&self, genesis: &Hash) -> bool {
        self.digest
            .verify_submission(genesis, &self.parent, &self.signature)
    }
}

impl SubmitWork {
    /// Decodes the payload's binary fields: a 64-byte signature and a proof
    /// that is one whole SCALE-encoded `TrajectoryProof` (no trailing
    /// bytes). The node calls it before anything else; the fuzz target
    /// `rpc_payloads` (fuzz/) runs it on arbitrary JSON.
    pub fn decode(&self) -> Result<Submission, PayloadError> {
        let signature = signature_bytes(&self.signature)?;
        let proof = codec::DecodeAll::decode_all(&mut &self.proof.0[..])
            .map_err(|e: codec::Error| PayloadError::Proof(alloc::format!("{e}")))?;
        let claim = TrajectoryClaim {
            steps: self.claim.steps,
            root: self.claim.root.0,
            final_weights: self.claim.final_weights.0,
        };
        Ok(Submission {
            parent: self.parent.0,
            digest: PreDigest::new(self.author.0, self.job, self.salt, claim),
            proof,
            signature,
        })
    }
}

/// A signature's bytes (`upow_submitWork`, `upow_submitSeal`): exactly 64.
pub fn signature_bytes(bytes: &[u8]) -> Result<[u8; 64], PayloadError> {
    bytes
        .try_into()
        .map_err(|_| PayloadError::SignatureLength(bytes.len()))
}

/// The block template built for a submission: what the author signs, and
/// the header it can check that against before signing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    /// The template's pre-seal header hash: the author signs
    /// `PowSeal::message(genesis, pre_hash)` (docs/protocol.md §2).
    pub pre_hash: H256,
    /// The template's header (SCALE), unsealed: its hash is `pre_hash`.
    pub header: Bytes,
}

/// A job, for dApps and miners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobJson {
    /// Job id.
    pub id: JobId,
    /// Poster account (32 bytes).
    pub poster: H256,
    /// Model dimensions.
    pub model: Vec<u32>,
    /// Batch size.
    pub batch: u32,
    /// Planned (target) steps.
    pub target_steps: u64,
    /// Dataset root.
    pub dataset_root: H256,
    /// Price per verified step (a u128 balance).
    pub price_per_step: NumberOrHex,
    /// Escrow left for steps not yet trained (a u128 balance).
    pub budget_left: NumberOrHex,
    /// Payments reserved for blocks still in their dispute window, held
    /// beside `budgetLeft` (a u128 balance).
    pub pending_payment: NumberOrHex,
    /// Target loss, sixteenths of a bit per sample.
    pub target_loss: Option<u64>,
    /// Open, Settling, Completed, Exhausted, Cancelled, Expired or Evicted.
    pub status: crate::JobStatus,
    /// Steps so far, settled and pending.
    pub steps: u64,
    /// Current (or final) weights hash; `null` in the block that posted
    /// the job (a later block, normally the next, draws its initial
    /// weights).
    pub weights: Option<H256>,
    /// Steps past the dispute window: no fraud proof can roll them back.
    pub settled_steps: u64,
    /// Weights hash at `settledSteps` (`null` as `weights`).
    pub settled_weights: Option<H256>,
    /// Mean loss of the last verified batch, sixteenths of a bit per sample.
    pub last_loss: Option<u64>,
}

/// A block's trajectory while it is in its dispute window: everything an
/// auditor needs to replay it (docs/rpc.md, `upow_disputable`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputableJson {
    /// Block number.
    pub number: u32,
    /// Block hash (on the best chain).
    pub hash: H256,
    /// The job it trained.
    pub job: JobId,
    /// The author's key.
    pub author: H256,
    /// The block's parent hash.
    pub parent: H256,
    /// The block's salt.
    pub salt: u32,
    /// Steps claimed.
    pub steps: u32,
    /// Trajectory root.
    pub root: H256,
    /// `H(W_n)`.
    pub final_weights: H256,
    /// `H(W_0)`: the job's weights at the parent (`upow_getWeights`).
    pub start_weights: H256,
    /// The job's steps at the parent.
    pub start_steps: u64,
    /// Payment reserved for the author (a u128 balance).
    pub payment: NumberOrHex,
    /// The job's spec, SCALE-encoded (`upow_puzzle::JobSpec`).
    pub spec: Bytes,
    /// The segment roots the block body carries (docs/puzzle.md §13).
    pub segments: Vec<H256>,
}

/// What a block pays its author (`upow_blockPayment`): the runtime's
/// [`crate::BlockPayment`], balances as u128.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockPaymentJson {
    /// The job's payment for the block's steps, reserved at import and paid
    /// when the block settles (zero for the house job).
    pub job_payment: NumberOrHex,
    /// The author's share of the block reward, minted at once.
    pub author_reward: NumberOrHex,
}

impl From<crate::BlockPayment> for BlockPaymentJson {
    fn from(payment: crate::BlockPayment) -> Self {
        Self {
            job_payment: payment.job_payment.into(),
            author_reward: payment.author_reward.into(),
        }
    }
}

/// One point of a loss curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LossPointJson {
    /// Block number.
    pub block: u32,
    /// Job steps after the block.
    pub steps: u64,
    /// Mean per-sample batch loss, sixteenths of a bit.
    pub loss: u64,
}

/// The mining and job API of a upow node.
///
/// `submitWork`, `submitSeal` and `submitBlock` make the node verify a
/// trajectory and build or import a block: they are unsafe methods, served
/// only with `--rpc-methods unsafe` (or on a node's local interface with
/// the default `auto`).
#[rpc(client, server, namespace = "upow")]
pub trait UpowApi {
    /// The work of a block of `job` (default: the node's pick, the
    /// best-paying open job whose dataset it holds) on the best block (or
    /// on `parent`).
    #[method(name = "getWork")]
    fn get_work(&self, parent: Option<H256>, job: Option<JobId>) -> RpcResult<WorkResponse>;

    /// Every job open on the best block (or on `parent`), best-paying
    /// first, the house job last.
    #[method(name = "openJobs")]
    fn open_jobs(&self, parent: Option<H256>) -> RpcResult<Vec<OpenJob>>;

    /// Weights by hash, in their canonical encoding.
    #[method(name = "getWeights")]
    fn get_weights(&self, hash: H256) -> RpcResult<Bytes>;

    /// `count` samples of a dataset from `offset` (at most
    /// [`MAX_DATASET_BYTES`] of them).
    #[method(name = "getDataset")]
    fn get_dataset(&self, root: H256, offset: u64, count: u64) -> RpcResult<DatasetChunk>;

    /// Adds whole samples at sample `offset` to the upload of a dataset
    /// announced as (`root`, `samples`, `inputs`); resumable (`offset` must
    /// be the samples the node has, [`UpowApiServer::dataset_upload`]).
    /// The last chunk makes the node rebuild the dataset and store it only
    /// if it hashes to `root`. At most [`MAX_DATASET_BYTES`] per call.
    #[method(name = "putDataset", with_extensions)]
    async fn put_dataset(
        &self,
        root: H256,
        samples: u64,
        inputs: u32,
        offset: u64,
        data: Bytes,
    ) -> RpcResult<DatasetUpload>;

    /// Where the upload of `root` stands: `stored` if the node holds the
    /// dataset, the samples received if an upload is unfinished, `null`
    /// if the node knows nothing of it.
    #[method(name = "datasetUpload")]
    fn dataset_upload(&self, root: H256) -> RpcResult<Option<DatasetUpload>>;

    /// Builds a block around a won trajectory; returns the hash to sign.
    #[method(name = "submitWork", with_extensions)]
    async fn submit_work(&self, work: SubmitWork) -> RpcResult<Template>;

    /// Seals a template with the author's sr25519 signature of
    /// `PowSeal::message(genesis, pre_hash)` and imports it; returns the
    /// block hash.
    #[method(name = "submitSeal", with_extensions)]
    async fn submit_seal(&self, pre_hash: H256, signature: Bytes) -> RpcResult<H256>;

    /// Imports a complete sealed block (SCALE-encoded), checked like any
    /// block from the network; returns its hash.
    #[method(name = "submitBlock", with_extensions)]
    async fn submit_block(&self, block: Bytes) -> RpcResult<H256>;

    /// A job at the best block.
    #[method(name = "job")]
    fn job(&self, id: JobId) -> RpcResult<JobJson>;

    /// `count` (≤ 1024) points of a job's loss curve from index `from`.
    #[method(name = "lossCurve")]
    fn loss_curve(&self, id: JobId, from: u32, count: u32) -> RpcResult<Vec<LossPointJson>>;

    /// The numbers of the blocks in their dispute window at the best block,
    /// ascending: what auditors replay.
    #[method(name = "disputableBlocks")]
    fn disputable_blocks(&self) -> RpcResult<Vec<u32>>;

    /// Block `number`'s trajectory while it is disputable (`null`
    /// otherwise): its claim, context, start, spec and segment roots.
    #[method(name = "disputable")]
    fn disputable(&self, number: u32) -> RpcResult<Option<DisputableJson>>;

    /// What a block of `steps` steps of `job` on the best block (or on
    /// `parent`) pays its author: the runtime's own computation
    /// (`UpowApi::block_payment`), which miners report their earnings by.
    /// [`error::NOT_FOUND`] if blocks may not train `job` there.
    #[method(name = "blockPayment")]
    fn block_payment(
        &self,
        job: JobId,
        steps: u32,
        parent: Option<H256>,
    ) -> RpcResult<BlockPaymentJson>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use codec::Encode;
    use sp_core::{sr25519, Pair};

    fn proof() -> TrajectoryProof {
        TrajectoryProof {
            start: crate::MerkleProof {
                siblings: alloc::vec![[3; 32]],
            },
            steps: alloc::vec![],
            segments: alloc::vec![[4; 32]],
        }
    }

    fn payload(proof: Vec<u8>, signature: Vec<u8>) -> SubmitWork {
        SubmitWork {
            parent: H256::repeat_byte(1),
            author: H256::repeat_byte(2),
            job: 5,
            salt: 6,
            claim: ClaimJson {
                steps: 7,
                root: H256::repeat_byte(8),
                final_weights: H256::repeat_byte(9),
            },
            proof: Bytes(proof),
            signature: Bytes(signature),
        }
    }

    #[test]
    fn a_submission_decodes_only_whole_proofs_and_64_byte_signatures() {
        let work = payload(proof().encode(), alloc::vec![0xaa; 64]);
        let submission = work.decode().unwrap();
        assert_eq!(submission.parent, [1; 32]);
        assert_eq!(
            submission.digest,
            PreDigest::new(
                [2; 32],
                5,
                6,
                TrajectoryClaim {
                    steps: 7,
                    root: [8; 32],
                    final_weights: [9; 32],
                }
            )
        );
        assert_eq!(submission.proof, proof());
        assert_eq!(submission.signature, [0xaa; 64]);

        for len in [0, 63, 65] {
            assert_eq!(
                payload(proof().encode(), alloc::vec![0; len]).decode(),
                Err(PayloadError::SignatureLength(len))
            );
        }
        let mut trailing = proof().encode();
        trailing.push(0);
        for bad in [trailing, alloc::vec![], alloc::vec![0xff; 3]] {
            let e = payload(bad, alloc::vec![0; 64]).decode().unwrap_err();
            assert!(matches!(e, PayloadError::Proof(_)), "{e}");
            assert!(e.to_string().starts_with("proof does not decode"));
        }
    }

    #[test]
    fn a_decoded_submission_checks_its_signature_on_one_chain_and_parent() {
        let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
        let mut work = payload(proof().encode(), alloc::vec![0; 64]);
        work.author = H256(alice.public().0);
        let genesis = [0x6e; 32];
        let unsigned = work.decode().unwrap();
        let message = unsigned
            .digest
            .submission_message(&genesis, &unsigned.parent);
        work.signature = Bytes(alice.sign(&message).0.to_vec());
        let signed = work.decode().unwrap();
        assert!(signed.verify_signature(&genesis));
        assert!(!signed.verify_signature(&[0; 32]));
        work.parent = H256::repeat_byte(3);
        assert!(!work.decode().unwrap().verify_signature(&genesis));
    }
}
