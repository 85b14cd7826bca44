//! # upow-miner
//!
//! The miner of upow: it trains the chain's jobs with the training-step
//! puzzle of `upow-puzzle` and turns winning steps into blocks.
//!
//! * [`bench`]: `upow-miner bench`, the speed of the step on every backend,
//!   of its verification, and of a float32 step of the same model.
//! * [`backend`]: the step on the reference, candle CPU and candle CUDA
//!   backends, all bit-identical to the reference.
//! * [`baseline`]: a float32 candle training of the same MLP, the yardstick
//!   for the integer step's accuracy.
//! * [`train`]: local training runs (no chain) and their evaluation.
//! * [`mine`]: `upow-miner mine`, mining a chain through a node's JSON-RPC.
//! * `audit` (feature `audit`, default): `upow-miner audit`, replaying
//!   every disputable block and reporting the wrong ones with fraud proofs.
//! * [`error`]: [`BackendError`], the errors of the backends and of training.
//!
//! Layering: depends on `upow-puzzle`, and for mining on `upow-primitives`
//! (the RPC definition) and talks to a node over JSON-RPC; never links the
//! node, the runtime or a pallet. The auditor's signed fraud report is
//! built with subxt from the runtime metadata the node serves (a test
//! checks it against the runtime's own extrinsic type).

#[cfg(feature = "audit")]
pub mod audit;
pub mod backend;
pub mod baseline;
pub mod bench;
pub mod error;
pub mod mine;
pub mod train;

pub use error::{BackendError, Result};
