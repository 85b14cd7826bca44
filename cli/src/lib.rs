//! # upow-cli
//!
//! The builder's client of a upow chain: publish a dataset, post a training
//! job with escrow, watch it train, cancel it, and download the trained
//! model as safetensors that other tools load (docs/jobs.md).
//!
//! Calls, events, storage and runtime APIs go through subxt's typed client,
//! generated at compile time from `cli/metadata.scale` (the runtime's own
//! metadata; a test keeps it current) — no hand-written call encoding. The
//! `upow_*` methods (weights, datasets, loss curves) go through the node
//! client the miner uses. Keys load like the miner's: a secret URI, a key
//! file or a keystore.

pub mod chain;
pub mod dataset;
pub mod jobfile;
pub mod model;
pub mod plot;

/// The typed interface of the upow runtime, generated from its metadata.
/// The job spec and job types are the puzzle's and primitives' own
/// (SCALE-encoded as the runtime does), so a spec is checked by the same
/// code on both sides.
#[subxt::subxt(
    runtime_metadata_path = "metadata.scale",
    derive_for_all_types = "Clone",
    substitute_type(
        path = "upow_puzzle::job::UncheckedJobSpec",
        with = "::subxt::utils::Static<::upow_puzzle::UncheckedJobSpec>"
    ),
    substitute_type(
        path = "upow_primitives::job::JobInfo",
        with = "::subxt::utils::Static<::upow_primitives::JobInfo>"
    )
)]
pub mod runtime {}
