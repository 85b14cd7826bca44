//! # upow-puzzle
//!
//! The training-step puzzle of upow: the **normative** integer reference of
//! one SGD step of an int8 MLP, and everything that turns such steps into a
//! proof-of-work — seeds, tickets, the difficulty target, the Merkle
//! commitments to trajectories and datasets, challenges, and verification.
//!
//! `docs/puzzle.md` is the prose spec; this crate is its executable form.
//! The runtime (wasm), the node and the miner all call this crate, and every
//! other backend (candle CPU, CUDA) is tested bit-for-bit against
//! [`TrainingStep::run`].
//!
//! * `no_std` + `alloc`, no floating point in the step, no `unsafe`.
//! * Feature `std` (default): the IDX dataset loader ([`idx`]).
//! * Feature `scale`: SCALE codecs and type info for the wire types.
//! * Feature `forgery` (off by default): the module `forgery`, the
//!   forged-trajectory builder of the tests that attack the verifier; only
//!   their dev-dependencies enable it, so no runtime build carries it.
//!
//! Layering: this crate depends on no other crate of the project.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod batch;
pub mod cost;
pub mod dataset;
pub mod degeneracy;
pub mod error;
#[cfg(feature = "forgery")]
pub mod forgery;
pub mod fraud;
pub mod hash;
#[cfg(feature = "std")]
pub mod idx;
pub mod job;
pub mod lane;
pub mod linalg;
pub mod loss;
pub mod merkle;
pub mod mining;
pub mod model;
pub mod pow;
pub mod prng;
pub mod rounding;
pub mod segment;
pub mod sparse;
pub mod step;
#[cfg(test)]
mod test_support;
pub mod trajectory;
pub mod verify;
pub mod weights;

pub use batch::{batch_indices, Batch};
pub use dataset::{Dataset, DatasetCommitment, SampleOpening};
pub use degeneracy::{validate_step, Liveness, StepStats};
pub use error::{Error, Result};
pub use fraud::{
    audit_trajectory, open_segment, verify_fraud, Audit, FraudProof, FraudReason, FraudVerdict,
};
pub use hash::Hash;
pub use job::{JobProgress, JobSpec, UncheckedHyperparams, UncheckedJobSpec, UncheckedModel};
pub use merkle::{MerkleProof, MerkleTree};
pub use model::{Hyperparams, Model};
pub use pow::{
    job_difficulty, max_steps, Seed, Ticket, TrajectoryContext, REFERENCE_COST, REFERENCE_LIVENESS,
    REFERENCE_STEP_MACS, STEP_BOUND,
};
pub use segment::segment_roots;
pub use sparse::SparseStep;
pub use step::{evaluate, preactivations_hash, Evaluation, Forward, StepOutcome, TrainingStep};
pub use trajectory::{
    challenged_steps, max_proof_len, StepProof, Trajectory, TrajectoryClaim, TrajectoryProof,
};
pub use verify::{
    execute_step, replay_final_step, validate_claim_bounds, validate_segments, verify_step,
    verify_trajectory, VerifiedStep, VerifiedTrajectory,
};
pub use weights::Weights;
