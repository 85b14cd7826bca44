//! # upow-node
//!
//! The upow full node: Substrate client with RocksDB storage, the
//! training-step proof-of-work (`sc-consensus-pow` with [`pow::UpowAlgorithm`]),
//! GRANDPA finality by the permissioned validators, a checkpoint store of
//! model weights and datasets, the `upow_*` RPC for miners and dApps, and a
//! built-in CPU miner (`--mine`).

// `sc_cli::Error` and `sc_service::Error`, the errors Substrate's service and
// CLI APIs return, are large; boxing them at every call would only add noise.
#![allow(clippy::result_large_err)]

mod authorship;
mod checkpoints;
mod cli;
mod command;
mod disk;
mod import;
mod metrics;
mod miner;
mod network_access;
mod pow;
mod rpc;
mod service;
mod try_upgrade;
mod work;

fn main() {
    // The error's message, not its `Debug` form (exit status 1).
    if let Err(e) = command::run() {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
