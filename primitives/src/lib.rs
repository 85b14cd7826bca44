//! # upow-primitives
//!
//! The SCALE types every part of upow agrees on, and the runtime API the
//! node and miners read the chain through:
//!
//! * [`PreDigest`]: the author's claim in each block header (who mined, which
//!   job, the trajectory claim), versioned;
//! * [`PowSeal`]: the author's signature over the pre-seal header hash;
//!   [`seal`]: the stateless seal rule over a sealed header's bytes;
//! * [`INHERENT_IDENTIFIER`]: the inherent carrying the trajectory proof;
//! * [`Work`], [`JobInfo`]: what a miner trains and what a dApp queries;
//! * [`UpowApi`]: difficulty, admission, work and jobs at a block;
//! * [`NetworkAccessApi`]: which peers a node may connect to (the
//!   permissioned network, kept by the node from chain state).
//!
//! Layering: depends on `upow-puzzle` (for the wire types of the puzzle) and
//! on Substrate primitives; the runtime, node and miner depend on this crate.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "rpc")]
pub mod rpc;
pub mod seal;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::{ConsensusEngineId, Digest, DigestItem};

pub use upow_puzzle::{
    DatasetCommitment, Hash, Hyperparams, JobSpec, MerkleProof, Model, SampleOpening, StepProof,
    TrajectoryClaim, TrajectoryContext, TrajectoryProof,
};

/// Identifies a training job.
pub type JobId = u64;

/// The proof-of-work difficulty: one ticket in `difficulty` wins.
pub type Difficulty = u128;

/// A block author's key: an sr25519 public key.
pub type AuthorId = [u8; 32];

/// The chain's block header (the runtime's `Header`; a runtime test checks
/// they are the same type). Miners decode the template they sign with it.
pub type Header = sp_runtime::generic::Header<u32, sp_runtime::traits::BlakeTwo256>;

/// The consensus engine id of upow's digests (`pow_`, that of `sc-consensus-pow`).
pub const ENGINE_ID: ConsensusEngineId = *b"pow_";

/// Key type of the block-author (mining) keys in a keystore.
pub const AUTHOR_KEY_TYPE: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"upow");

/// Identifies the inherent that carries a block's [`TrajectoryProof`].
pub const INHERENT_IDENTIFIER: sp_inherents::InherentIdentifier = *b"upowtraj";

/// What a block's author claims, in the pre-runtime digest (engine
/// [`ENGINE_ID`]).
///
/// Encoded (SCALE) as the author's 32-byte key, then the versioned claim —
/// `author ‖ 0x02 ‖ u64le(job) ‖ u32le(salt) ‖ u32le(steps) ‖ root ‖
/// final_weights` for version 2 (113 bytes). The author comes first because
/// that is where the ecosystem's tools read the author of a `pow_` digest
/// (Polkadot.js's `api.derive.chain.getHeader().author` takes its first 32
/// bytes). Exactly one per header; trailing bytes are invalid.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct PreDigest {
    /// The author (sr25519 public key); signs the seal, gets the rewards.
    pub author: AuthorId,
    /// The versioned claim.
    pub claim: VersionedClaim,
}

/// The claim of a [`PreDigest`], by protocol version.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum VersionedClaim {
    /// Version 2 (docs/puzzle.md v2): seeds from the running root, a salt.
    #[codec(index = 2)]
    V2 {
        /// The job trained.
        job: JobId,
        /// The trajectory's salt (docs/puzzle.md §6).
        salt: u32,
        /// The trajectory claim; its ticket is the proof-of-work.
        claim: TrajectoryClaim,
    },
}

impl PreDigest {
    /// The digest of a version-2 claim.
    pub fn new(author: AuthorId, job: JobId, salt: u32, claim: TrajectoryClaim) -> Self {
        Self {
            author,
            claim: VersionedClaim::V2 { job, salt, claim },
        }
    }

    /// The author.
    pub fn author(&self) -> &AuthorId {
        &self.author
    }

    /// The job.
    pub fn job(&self) -> JobId {
        match self.claim {
            VersionedClaim::V2 { job, .. } => job,
        }
    }

    /// The trajectory's salt.
    pub fn salt(&self) -> u32 {
        match self.claim {
            VersionedClaim::V2 { salt, .. } => salt,
        }
    }

    /// The trajectory claim.
    pub fn claim(&self) -> &TrajectoryClaim {
        match &self.claim {
            VersionedClaim::V2 { claim, .. } => claim,
        }
    }

    /// The puzzle context of a block on `parent`.
    pub fn context(&self, parent: Hash) -> TrajectoryContext {
        TrajectoryContext {
            parent,
            author: self.author,
            job: self.job(),
            salt: self.salt(),
        }
    }

    /// Domain tag of a work submission's signature.
    pub const SUBMISSION_TAG: &'static [u8] = b"upow/submit/v1";

    /// What the author signs to submit this claim to a node
    /// (`upow_submitWork`): `"upow/submit/v1" ‖ genesis ‖ parent ‖
    /// SCALE(digest)`. The node checks it (and the author's admission)
    /// before it spends a verification on the trajectory, so only admitted
    /// authors can make it work. The tag differs from the seal's, so a
    /// submission signature is never a seal.
    pub fn submission_message(&self, genesis: &Hash, parent: &Hash) -> Vec<u8> {
        [Self::SUBMISSION_TAG, genesis, parent, &self.encode()].concat()
    }

    /// The submission rule: `signature` is the author's sr25519 signature
    /// of [`PreDigest::submission_message`].
    pub fn verify_submission(&self, genesis: &Hash, parent: &Hash, signature: &[u8; 64]) -> bool {
        sp_io::crypto::sr25519_verify(
            &sp_core::sr25519::Signature::from_raw(*signature),
            &self.submission_message(genesis, parent),
            &sp_core::sr25519::Public::from_raw(self.author),
        )
    }

    /// As a digest item.
    pub fn to_digest_item(&self) -> DigestItem {
        DigestItem::PreRuntime(ENGINE_ID, self.encode())
    }

    /// Finds and decodes the (single) upow pre-runtime digest of a header.
    pub fn find(digest: &Digest) -> Result<Self, DigestError> {
        Self::find_in(digest.logs().iter().filter_map(|item| match item {
            DigestItem::PreRuntime(id, bytes) => Some((*id, bytes.as_slice())),
            _ => None,
        }))
    }

    /// The rule "exactly one upow pre-runtime digest, fully decoded", over
    /// a header's pre-runtime items `(engine, bytes)` (the shape
    /// `FindAuthor` gets them in). None, two or a malformed one are errors.
    pub fn find_in<'a>(
        pre_runtime: impl IntoIterator<Item = (ConsensusEngineId, &'a [u8])>,
    ) -> Result<Self, DigestError> {
        let mut ours = pre_runtime.into_iter().filter(|(id, _)| *id == ENGINE_ID);
        let (_, bytes) = ours.next().ok_or(DigestError::Missing)?;
        if ours.next().is_some() {
            return Err(DigestError::Multiple);
        }
        Self::decode_all(bytes)
    }

    /// Decodes digest bytes, requiring every byte to be used.
    pub fn decode_all(mut bytes: &[u8]) -> Result<Self, DigestError> {
        let value = Self::decode(&mut bytes).map_err(|_| DigestError::Malformed)?;
        if !bytes.is_empty() {
            return Err(DigestError::Malformed);
        }
        Ok(value)
    }
}

/// The seal: the author's signature of the block, bound to the chain.
/// Versioned like [`VersionedClaim`].
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum PowSeal {
    /// Version 2: an sr25519 signature of [`PowSeal::message`].
    #[codec(index = 2)]
    V2 {
        /// sr25519 signature of `"upow/seal/v2" ‖ genesis ‖ pre_hash`.
        signature: [u8; 64],
    },
}

impl PowSeal {
    /// Domain tag of the signed message.
    pub const TAG: &'static [u8] = b"upow/seal/v2";

    /// What the author signs: `"upow/seal/v2" ‖ genesis hash ‖ pre-seal
    /// header hash`. The genesis hash binds the signature to one chain, so a
    /// header signed on another chain (a dev chain run with a production
    /// key) can never count as an equivocation here.
    pub fn message(genesis: &Hash, pre_hash: &Hash) -> Vec<u8> {
        [Self::TAG, genesis, pre_hash].concat()
    }

    /// Decodes seal bytes, requiring every byte to be used.
    pub fn decode_all(mut bytes: &[u8]) -> Result<Self, DigestError> {
        let value = Self::decode(&mut bytes).map_err(|_| DigestError::Malformed)?;
        if !bytes.is_empty() {
            return Err(DigestError::Malformed);
        }
        Ok(value)
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8; 64] {
        match self {
            Self::V2 { signature } => signature,
        }
    }

    /// The seal rule: the signature is `author`'s sr25519 signature of
    /// [`PowSeal::message`]`(genesis, pre_hash)`. The one check of a seal's
    /// signature: the node's import, its block author and the staking
    /// pallet's equivocation reports all call it.
    pub fn verify(&self, genesis: &Hash, pre_hash: &Hash, author: &AuthorId) -> bool {
        sp_io::crypto::sr25519_verify(
            &sp_core::sr25519::Signature::from_raw(*self.signature()),
            &Self::message(genesis, pre_hash),
            &sp_core::sr25519::Public::from_raw(*author),
        )
    }
}

/// Why a header's upow digest could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DigestError {
    /// No upow pre-runtime digest.
    Missing,
    /// More than one upow pre-runtime digest.
    Multiple,
    /// The digest does not decode (or has trailing bytes).
    Malformed,
}

impl core::fmt::Display for DigestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Missing => "the header has no upow pre-runtime digest",
            Self::Multiple => "the header has more than one upow pre-runtime digest",
            Self::Malformed => "the upow digest does not decode",
        })
    }
}

/// Lifecycle of a job.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
    Debug,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum JobStatus {
    /// Open for mining: any block may train it (the house job always is).
    Open,
    /// Reached its target step count or loss.
    Completed,
    /// Stopped because its budget ran out.
    Exhausted,
    /// Cancelled by its poster; unspent budget refunded.
    Cancelled,
    /// No block trained it for the expiry period (e.g. nobody can get its
    /// dataset); unspent budget refunded.
    Expired,
    /// Displaced from a full market by a better-paying job; budget refunded.
    Evicted,
    /// Reached its target step count, loss or budget on steps that are
    /// still in their dispute window: no block trains it; it completes (or
    /// is exhausted) when its last payment settles, and opens again if a
    /// fraud proof rolls those steps back.
    Settling,
}

/// What a miner needs to train a block of one job: read at the parent block.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct Work {
    /// The job.
    pub job: JobId,
    /// Model, hyper-parameters and dataset of the job.
    pub spec: JobSpec,
    /// Seed of the job's initial weights.
    pub init_seed: Hash,
    /// `H(W_tip)`: trajectories start here.
    pub weights: Hash,
    /// Steps already applied to the job.
    pub steps: u64,
    /// The job's difficulty: what its tickets must meet (docs/puzzle.md §6).
    pub difficulty: Difficulty,
    /// Price per verified step (zero for the house job).
    pub price_per_step: u128,
    /// Escrow left to pay steps with.
    pub budget_left: u128,
}

/// A job as dApps and miners see it.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct JobInfo {
    /// Who posted (and pays for) the job.
    pub poster: AuthorId,
    /// Model, hyper-parameters and dataset.
    pub spec: JobSpec,
    /// Seed of the initial weights.
    pub init_seed: Hash,
    /// Price per verified step.
    pub price_per_step: u128,
    /// Escrow left.
    pub budget_left: u128,
    /// Storage deposit held until the job's record is reaped.
    pub deposit: u128,
    /// Step count at which the job completes.
    pub target_steps: u64,
    /// Optional loss (sixteenths of a bit, per sample) at which it completes.
    pub target_loss: Option<u64>,
    /// Where it stands.
    pub status: JobStatus,
    /// Steps applied so far.
    pub steps: u64,
    /// Current (or final) weights hash.
    pub weights: Hash,
    /// Mean per-sample loss of the last proven batch (sixteenths of a bit).
    pub last_loss: Option<u64>,
    /// Block in which it was posted.
    pub posted_at: u32,
    /// Last block that trained it (its posting block before that).
    pub last_progress: u32,
    /// Block in which it ended (completed, exhausted, cancelled, expired, evicted).
    pub ended_at: Option<u32>,
    /// Steps past their dispute window (`steps` counts the pending ones too).
    pub settled_steps: u64,
    /// Weights hash at `settled_steps`.
    pub settled_weights: Hash,
    /// Payments reserved for blocks still in their dispute window (held
    /// with the escrow, not in `budget_left`).
    pub pending_payment: u128,
}

/// One point of a job's loss curve: recorded for every block that trains it.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Encode,
    Decode,
    DecodeWithMemTracking,
    TypeInfo,
    MaxEncodedLen,
    Debug,
)]
pub struct LossPoint {
    /// Block number.
    pub block: u32,
    /// Job steps after the block.
    pub steps: u64,
    /// Mean per-sample loss of the block's final proven batch (sixteenths of a bit).
    pub loss: u64,
}

/// A block's trajectory while it is in its dispute window: what an auditor
/// replays it from and what its fraud proof is checked against.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct DisputedTrajectory {
    /// The job it trained.
    pub job: JobId,
    /// The author's key.
    pub author: AuthorId,
    /// The block's parent hash.
    pub parent: Hash,
    /// The block's salt.
    pub salt: u32,
    /// The block's claim.
    pub claim: TrajectoryClaim,
    /// `H(W_0)`: the job's weights at the parent.
    pub start_weights: Hash,
    /// The job's steps at the parent.
    pub start_steps: u64,
    /// Payment reserved for the author.
    pub payment: u128,
}

impl DisputedTrajectory {
    /// The trajectory's context.
    pub fn context(&self) -> TrajectoryContext {
        TrajectoryContext {
            parent: self.parent,
            author: self.author,
            job: self.job,
            salt: self.salt,
        }
    }

    /// Where the job stood at the parent.
    pub fn progress(&self) -> upow_puzzle::JobProgress {
        upow_puzzle::JobProgress {
            weights: self.start_weights,
            steps: self.start_steps,
        }
    }
}

sp_api::decl_runtime_apis! {
    /// What the node and miners read from the chain.
    pub trait UpowApi {
        /// The work of a block of `job` after this one (`None`: the job is
        /// not open).
        fn work(job: JobId) -> Option<Work>;
        /// The work of every open job, best-paying first, the house job last.
        fn open_work() -> Vec<Work>;
        /// The chain's difficulty (in reference steps) for the next block.
        fn difficulty() -> Difficulty;
        /// The difficulty of the next block of `job` (`None`: not open).
        fn job_difficulty(job: JobId) -> Option<Difficulty>;
        /// Whether `author` may author blocks (admitted and bonded).
        fn is_admitted(author: AuthorId) -> bool;
        /// A job, if its record exists.
        fn job(job: JobId) -> Option<JobInfo>;
        /// The loss curve of a job: `count` points from index `from` (the
        /// chain keeps the last `LOSS_CURVE_POINTS`; older indices return
        /// nothing, the events have them all).
        fn loss_curve(job: JobId, from: u32, count: u32) -> Vec<LossPoint>;
        /// The weights hash of every job with a record (open jobs' current
        /// weights, ended jobs' final weights) and the start weights of every
        /// block in its dispute window: what nodes must not prune.
        fn needed_weights() -> Vec<(JobId, Hash)>;
        /// The numbers of the blocks in their dispute window, ascending.
        fn disputable_blocks() -> Vec<u32>;
        /// The trajectory of block `number`, while it is disputable.
        fn disputable(number: u32) -> Option<DisputedTrajectory>;
    }
}

/// Who a node of the permissioned network may connect to
/// ([`NetworkAccessApi::peer_access`]).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
pub struct PeerAccess {
    /// Whether the node itself is a well-known node (the others list it,
    /// so they accept it).
    pub well_known: bool,
    /// The peers it may connect to and accept: every well-known node but
    /// itself, and the additional connections its owner allowed.
    pub peers: Vec<sp_core::OpaquePeerId>,
}

sp_api::decl_runtime_apis! {
    /// The permissioned network: who a node may connect to, read by every
    /// node at start and at each new best block (docs/reliability.md
    /// §Permissioned network).
    pub trait NetworkAccessApi {
        /// The access of the node `local` (its libp2p peer id bytes);
        /// `None` when the chain lists no well-known nodes: an open network
        /// (the dev chain).
        fn peer_access(local: sp_core::OpaquePeerId) -> Option<PeerAccess>;
    }
}

/// The inherent data of a block: the proof of its trajectory claim.
pub type InherentProof = TrajectoryProof;

#[cfg(feature = "std")]
/// Node side: provides the trajectory proof as inherent data when authoring.
pub struct ProofInherentDataProvider(pub TrajectoryProof);

#[cfg(feature = "std")]
#[async_trait::async_trait]
impl sp_inherents::InherentDataProvider for ProofInherentDataProvider {
    async fn provide_inherent_data(
        &self,
        inherent_data: &mut sp_inherents::InherentData,
    ) -> Result<(), sp_inherents::Error> {
        inherent_data.put_data(INHERENT_IDENTIFIER, &self.0)
    }

    async fn try_handle_error(
        &self,
        identifier: &sp_inherents::InherentIdentifier,
        error: &[u8],
    ) -> Option<Result<(), sp_inherents::Error>> {
        if *identifier != INHERENT_IDENTIFIER {
            return None;
        }
        let message = <alloc::string::String as Decode>::decode(&mut &error[..])
            .unwrap_or_else(|_| "undecodable trajectory inherent error".into());
        Some(Err(sp_inherents::Error::Application(message.into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_core::Pair;

    fn digest() -> PreDigest {
        PreDigest::new(
            [1; 32],
            7,
            9,
            TrajectoryClaim {
                steps: 3,
                root: [2; 32],
                final_weights: [3; 32],
            },
        )
    }

    #[test]
    fn pre_digest_starts_with_the_author_and_roundtrips() {
        let d = digest();
        let bytes = d.encode();
        assert_eq!(bytes.len(), 113);
        assert_eq!(&bytes[..32], &[1; 32], "the author is the first 32 bytes");
        assert_eq!(bytes[32], 2, "then the version");
        assert_eq!(&bytes[33..41], &7u64.to_le_bytes());
        assert_eq!(&bytes[41..45], &9u32.to_le_bytes());
        let header_digest = Digest {
            logs: alloc::vec![d.to_digest_item()],
        };
        assert_eq!(PreDigest::find(&header_digest), Ok(d.clone()));
        assert_eq!(d.context([4; 32]).salt, 9);
        let twice = Digest {
            logs: alloc::vec![d.to_digest_item(), d.to_digest_item()],
        };
        assert_eq!(PreDigest::find(&twice), Err(DigestError::Multiple));
        assert_eq!(
            PreDigest::find(&Digest::default()),
            Err(DigestError::Missing)
        );
        // Another engine's pre-runtime item does not count.
        let other = Digest {
            logs: alloc::vec![
                DigestItem::PreRuntime(*b"aura", d.encode()),
                d.to_digest_item()
            ],
        };
        assert_eq!(PreDigest::find(&other), Ok(d));
    }

    #[test]
    fn malformed_digests_and_seals_are_rejected() {
        let mut bytes = digest().encode();
        bytes.push(0);
        assert_eq!(PreDigest::decode_all(&bytes), Err(DigestError::Malformed));
        let mut v1 = digest().encode();
        v1[32] = 1;
        assert_eq!(PreDigest::decode_all(&v1), Err(DigestError::Malformed));
        assert_eq!(
            PreDigest::decode_all(&[9, 9, 9]),
            Err(DigestError::Malformed)
        );
        assert_eq!(PowSeal::decode_all(&[1, 2, 3]), Err(DigestError::Malformed));
        let seal = PowSeal::V2 { signature: [5; 64] };
        assert_eq!(PowSeal::decode_all(&seal.encode()), Ok(seal));
    }

    #[test]
    fn the_seal_binds_author_block_and_chain() {
        let alice = sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
        let bob = sp_core::sr25519::Pair::from_string("//Bob", None).unwrap();
        let (genesis, pre_hash) = ([1; 32], [2; 32]);
        let seal = PowSeal::V2 {
            signature: alice.sign(&PowSeal::message(&genesis, &pre_hash)).0,
        };
        assert!(seal.verify(&genesis, &pre_hash, &alice.public().0));
        assert!(!seal.verify(&genesis, &pre_hash, &bob.public().0));
        assert!(!seal.verify(&genesis, &[3; 32], &alice.public().0));
        // The same header signed on another chain is not a seal here.
        assert!(!seal.verify(&[9; 32], &pre_hash, &alice.public().0));
        // A bare signature of the pre-seal hash (v1) is not one either.
        let v1 = PowSeal::V2 {
            signature: alice.sign(&pre_hash).0,
        };
        assert!(!v1.verify(&genesis, &pre_hash, &alice.public().0));
    }

    #[test]
    fn a_submission_signature_binds_digest_parent_and_chain_and_is_no_seal() {
        let alice = sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
        let mut d = digest();
        d.author = alice.public().0;
        let (genesis, parent) = ([1; 32], [2; 32]);
        let signature = alice.sign(&d.submission_message(&genesis, &parent)).0;
        assert!(d.verify_submission(&genesis, &parent, &signature));
        assert!(!d.verify_submission(&[9; 32], &parent, &signature));
        assert!(!d.verify_submission(&genesis, &[3; 32], &signature));
        let other_salt = PreDigest::new(d.author, d.job(), d.salt() + 1, *d.claim());
        assert!(!other_salt.verify_submission(&genesis, &parent, &signature));
        let mut bob = d.clone();
        bob.author = sp_core::sr25519::Pair::from_string("//Bob", None)
            .unwrap()
            .public()
            .0;
        assert!(!bob.verify_submission(&genesis, &parent, &signature));
        // The signature is not a seal of any header with that hash.
        let seal = PowSeal::V2 { signature };
        assert!(!seal.verify(&genesis, &parent, &d.author));
    }
}

/// The contracts between upow's pallets: training asks the jobs pallet what
/// to train and tells it what was verified; admission resolves author keys.
pub mod traits {
    use super::*;

    /// A job blocks may train now: an open paid job, or the house job.
    #[derive(Clone, PartialEq, Eq, Debug)]
    pub struct ActiveJob {
        /// Its id.
        pub id: JobId,
        /// Model, hyper-parameters, dataset.
        pub spec: JobSpec,
        /// Seed of its initial weights.
        pub init_seed: Hash,
        /// Hash of its initial weights (computed once, when it was posted).
        pub initial_weights: Hash,
        /// Price per verified step (zero for the house job).
        pub price_per_step: u128,
        /// Escrow left.
        pub budget_left: u128,
    }

    /// The job market (implemented by the jobs pallet): which jobs blocks
    /// may train, and what happens to verified steps.
    pub trait JobSchedule<AccountId> {
        /// `job`, if blocks may train it now (open, or the house job).
        fn trainable(job: JobId) -> Option<ActiveJob>;
        /// Every job blocks may train now: open paid jobs best-paying first
        /// (ties: oldest first), then the house job.
        fn open() -> Vec<ActiveJob>;
        /// A block by `author` verified `steps` more steps of `job`, which now
        /// has `total_steps` steps and a last batch loss of `mean_loss`
        /// (sixteenths of a bit per sample). Reserves the author's payment
        /// from the escrow (paid when the block settles, see
        /// [`JobSchedule::on_settled`]) and returns it; stops the job's
        /// training if it reached its target or budget.
        fn on_progress(
            job: JobId,
            author: &AccountId,
            steps: u32,
            total_steps: u64,
            mean_loss: u64,
        ) -> u128;
        /// Upper bound of the weight of [`JobSchedule::on_progress`].
        fn on_progress_weight() -> sp_weights::Weight;
        /// A block's `steps` of `job` passed their dispute window: pays
        /// `author` the `payment` reserved for them; completes a settling
        /// job whose last payment this was.
        fn on_settled(job: JobId, author: &AccountId, steps: u32, payment: u128);
        /// Upper bound of the weight of [`JobSchedule::on_settled`].
        fn on_settled_weight() -> sp_weights::Weight;
        /// A fraud proof rolled `job` back to `steps` steps (last loss
        /// `last_loss`), discarding blocks whose reserved payments sum to
        /// `released`. Pays `from_escrow` (authors of discarded honest
        /// blocks the slash could not cover) out of those reservations, in
        /// order; the rest goes back into the budget, or to the poster if
        /// the job has ended. A settling job opens again.
        fn on_rolled_back(
            job: JobId,
            steps: u64,
            last_loss: Option<u64>,
            released: u128,
            from_escrow: &[(AccountId, u128)],
        );
        /// Upper bound of the weight of [`JobSchedule::on_rolled_back`].
        fn on_rolled_back_weight() -> sp_weights::Weight;
        /// A job with a record (open, settling, ended or the house job):
        /// its spec and its poster (`None` for the house job). What fraud
        /// proofs are checked against.
        fn record(job: JobId) -> Option<(JobSpec, Option<AccountId>)>;
        /// Upper bound of the weight of [`JobSchedule::trainable`].
        fn trainable_weight() -> sp_weights::Weight;
    }

    /// What happens to a job's training state when its record is reaped
    /// (implemented by the training pallet; the jobs pallet calls it).
    pub trait OnJobReaped {
        /// Drops `job`'s training state.
        fn on_reaped(job: JobId);
        /// Upper bound of the weight of [`OnJobReaped::on_reaped`].
        fn on_reaped_weight() -> sp_weights::Weight;
    }

    impl OnJobReaped for () {
        fn on_reaped(_job: JobId) {}
        fn on_reaped_weight() -> sp_weights::Weight {
            sp_weights::Weight::zero()
        }
    }

    /// Admission of jobs by the cost of verifying and carrying their blocks
    /// (implemented by the runtime from the benchmarked weights and block
    /// limits; the jobs pallet calls it when a job is posted).
    pub trait JobLimits {
        /// Whether blocks of `spec` fit the chain's per-block budgets.
        fn check(spec: &JobSpec) -> Result<(), JobLimitError>;
    }

    /// Why a job is too big for the chain.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum JobLimitError {
        /// Verifying one block would take more than its share of the block.
        VerificationTooHeavy,
        /// One block's proof would take more than its share of the block.
        ProofTooLarge,
    }

    impl JobLimits for () {
        fn check(_spec: &JobSpec) -> Result<(), JobLimitError> {
            Ok(())
        }
    }

    /// The punishment of a proven fraud (implemented by the staking pallet).
    pub trait FraudPenalty<AccountId> {
        /// The whole bond of `who` (active and unbonding).
        fn bond_of(who: &AccountId) -> u128;
        /// Slashes the whole bond of `offender` and suspends it: pays
        /// `payouts` from it in order (each capped at what is left), the
        /// rest to the treasury. Returns the amount slashed.
        fn slash_for_fraud(offender: &AccountId, payouts: &[(AccountId, u128)]) -> u128;
        /// Upper bound of the weight of [`FraudPenalty::slash_for_fraud`]
        /// with `payouts` payouts.
        fn slash_for_fraud_weight(payouts: u32) -> sp_weights::Weight;
    }

    /// Admission of block authors (implemented by the staking pallet).
    pub trait AuthorAdmission<AccountId> {
        /// The account of an admitted, bonded author key (`None`: may not author).
        fn account_of(author: &AuthorId) -> Option<AccountId>;
        /// Upper bound of the weight of [`AuthorAdmission::account_of`].
        fn account_of_weight() -> sp_weights::Weight;
    }
}
