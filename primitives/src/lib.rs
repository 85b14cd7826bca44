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
//!   [`TrainingProgress`]: how far a job has been trained (one record);
//!   [`DisputableBlock`]: a block in its dispute window; [`BlockPayment`]:
//!   what a block pays its author;
//! * [`UpowApi`]: difficulty, admission, work and jobs at a block;
//! * [`traits`]: the contracts between the pallets;
//! * [`NetworkAccessApi`]: which peers a node may connect to (the
//!   permissioned network, kept by the node from chain state).
//!
//! Layering: depends on `upow-puzzle` (for the wire types of the puzzle) and
//! on Substrate primitives; the runtime, node and miner depend on this crate.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod api;
mod digest;
mod inherent;
mod job;
#[cfg(feature = "rpc")]
pub mod rpc;
pub mod seal;
#[cfg(feature = "std")]
pub mod signing;
pub mod traits;

pub use api::*;
pub use digest::*;
pub use inherent::*;
pub use job::*;

use sp_runtime::ConsensusEngineId;

pub use upow_puzzle::{
    DatasetCommitment, Hash, Hyperparams, JobSpec, Liveness, MerkleProof, Model, SampleOpening,
    StepProof, TrajectoryClaim, TrajectoryContext, TrajectoryProof,
};

/// Identifies a training job.
pub type JobId = u64;

/// A ticket difficulty: one ticket in `difficulty` wins (a job's tickets
/// are drawn at the job's difficulty, docs/puzzle.md §6).
pub type Difficulty = u128;

/// The chain's difficulty, counted in reference steps (784-128-10 at batch
/// 64): the expected work of a block whichever job it trains. A job's
/// ticket [`Difficulty`] is this scaled by its step cost
/// (`upow_puzzle::job_difficulty`); fork choice adds it per block.
pub type ChainDifficulty = u128;

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
