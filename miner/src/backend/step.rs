//! The interface every step backend implements, and what a step reports:
//! the puzzle's [`upow_puzzle::mining::StepBackend`], which the one mining
//! loop (`upow_puzzle::mining::TrajectoryMiner`) runs, with this crate's
//! error type.

pub use upow_puzzle::mining::{StepBackend, StepReport};

use crate::error::BackendError;

/// A backend of this crate, as the miner holds it: any device, errors as
/// [`BackendError`], movable to its device thread.
pub type DynBackend = Box<dyn StepBackend<Error = BackendError> + Send>;
