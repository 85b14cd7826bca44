//! `upow-miner mine`: mines a upow chain through a node's JSON-RPC.
//!
//! * [`run`](mod@run): [`MineConfig`] and [`run()`], which starts and stops all of
//!   the below;
//! * [`coordinator`]: the connection (WebSocket, reconnecting with capped
//!   exponential backoff), new best blocks from `chain_subscribeNewHeads`,
//!   work preparation (dataset and weights: memory, store or node), the
//!   job's terms and the keys' admission, and submissions
//!   (`upow_submitWork`, the template checked, sign, `upow_submitSeal`);
//! * [`client`]: the RPC calls (the `UpowApiClient` of `upow_primitives::rpc`);
//! * [`store`]: the local RocksDB cache of weights and datasets, checked
//!   against their hashes on every read;
//! * [`board`]: the work board, where the coordinator publishes the work;
//! * [`device`]: one mining thread per device, the trajectory it mines and
//!   the proof of a win;
//! * [`keys`]: author keys, one per device (see there why);
//! * [`metrics`]: Prometheus counters and the `/metrics` endpoint;
//! * [`events`]: what the parts report ([`events::Event`]) and the devices'
//!   live counters;
//! * [`view`]: the live terminal view or JSON event lines made from them;
//! * [`shutdown`]: the stop signal ([`Shutdown`]);
//! * [`error`]: the error type, [`MineError`].
//!
//! Guide for rig owners: docs/mining.md.

pub mod board;
pub mod client;
pub mod coordinator;
pub mod device;
pub mod error;
pub mod events;
pub mod keys;
pub mod metrics;
pub mod run;
pub mod shutdown;
pub mod store;
pub mod view;

pub use error::MineError;
pub use run::{default_data_dir, run, MineConfig, DEFAULT_SNAPSHOT_MEMORY};
pub use shutdown::Shutdown;
