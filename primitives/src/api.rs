//! The runtime APIs: what the node and miners read from the chain
//! ([`UpowApi`]) and which peers a node may connect to
//! ([`NetworkAccessApi`]).

use alloc::vec::Vec;
use codec::{Decode, Encode};
use scale_info::TypeInfo;

use crate::{
    AuthorId, BlockPayment, ChainDifficulty, Difficulty, DisputableBlock, Hash, JobId, JobInfo,
    LossPoint, Work,
};

sp_api::decl_runtime_apis! {
    /// What the node and miners read from the chain.
    ///
    /// Version 2: `disputable` returns the training pallet's own record
    /// ([`DisputableBlock`]), `block_payment` is new, `difficulty` is the
    /// [`ChainDifficulty`].
    #[api_version(2)]
    pub trait UpowApi {
        /// The work of a block of `job` after this one (`None`: the job is
        /// not open).
        fn work(job: JobId) -> Option<Work>;
        /// The work of every open job, best-paying first, the house job last.
        fn open_work() -> Vec<Work>;
        /// The chain's difficulty (in reference steps) for the next block.
        fn difficulty() -> ChainDifficulty;
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
        fn disputable(number: u32) -> Option<DisputableBlock<sp_runtime::AccountId32>>;
        /// What the next block pays its author for `steps` steps of `job`
        /// (`None`: blocks may not train `job`): the one computation the
        /// runtime pays by, for miners to predict their earnings.
        fn block_payment(job: JobId, steps: u32) -> Option<BlockPayment>;
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
