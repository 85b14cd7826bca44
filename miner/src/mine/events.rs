//! What the parts of the miner report: the [`Event`]s the coordinator and
//! the device threads send through an [`EventSink`] to the view
//! (`super::view`), and the live [`DeviceStats`] counters the view reads.
//!
//! Events carry typed values (u128 amounts and difficulties, enums for
//! states and sources); only their JSON form (`--json`) writes the 128-bit
//! numbers as decimal strings, since JSON numbers lose precision above 2^53.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use serde::{Serialize, Serializer};
use tokio::sync::mpsc;
use upow_primitives::JobStatus;

use crate::backend::BackendKind;

/// What a device is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum DeviceState {
    /// Creating its backend.
    Starting = 0,
    /// Waiting for work.
    Waiting = 1,
    /// Stepping a trajectory.
    Mining = 2,
    /// Assembling and self-checking a proof.
    Proving = 3,
    /// Waiting for the node's verdict on a submission.
    Submitting = 4,
    /// Its key is not admitted on the chain: idle.
    NotAdmitted = 5,
    /// Failed; retrying after a pause.
    Failed = 6,
    /// Stopped.
    Stopped = 7,
}

impl DeviceState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Starting,
            1 => Self::Waiting,
            2 => Self::Mining,
            3 => Self::Proving,
            4 => Self::Submitting,
            5 => Self::NotAdmitted,
            6 => Self::Failed,
            _ => Self::Stopped,
        }
    }

    /// The state in words, for the live view.
    pub fn label(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Waiting => "waiting for work",
            Self::Mining => "mining",
            Self::Proving => "proving",
            Self::Submitting => "submitting",
            Self::NotAdmitted => "key not admitted: idle",
            Self::Failed => "FAILED, retrying",
            Self::Stopped => "stopped",
        }
    }
}

/// Live counters of one device, written by its thread, read by the view.
#[derive(Debug, Default)]
pub struct DeviceStats {
    /// Steps run since start.
    pub steps: AtomicU64,
    /// Steps in the current trajectory.
    pub trajectory: AtomicU64,
    state: AtomicU8,
}

impl DeviceStats {
    /// Sets the state.
    pub fn set_state(&self, state: DeviceState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// The state.
    pub fn state(&self) -> DeviceState {
        DeviceState::from_u8(self.state.load(Ordering::Relaxed))
    }
}

/// A device as shown at start.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceInfo {
    /// Position in `--devices`.
    pub device: usize,
    /// Label ("cpu#0", "cuda:1").
    pub label: String,
    /// Its author key (SS58).
    pub author: String,
}

/// Speed of one device (in `stats` events).
#[derive(Clone, Debug, Serialize)]
pub struct DeviceSpeed {
    /// Position in `--devices`.
    pub device: usize,
    /// Steps since start.
    pub steps: u64,
    /// Recent steps per second.
    pub steps_per_second: f64,
    /// What it is doing.
    pub state: DeviceState,
}

/// Where a dataset is being loaded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetSource {
    /// The local cache.
    Cache,
    /// The node (`upow_getDataset`).
    Node,
}

impl DatasetSource {
    /// "cache" or "node".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Node => "node",
        }
    }
}

/// What kind of entry of the local cache is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheEntry {
    /// Weights, by hash.
    Weights,
    /// A dataset, by Merkle root.
    Dataset,
}

impl CacheEntry {
    /// "weights" or "dataset".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weights => "weights",
            Self::Dataset => "dataset",
        }
    }
}

/// Writes a u128 as a decimal string (JSON numbers lose precision above
/// 2^53).
fn decimal<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Writes an optional u128 as a decimal string, or `null`.
fn optional_decimal<S: Serializer>(value: &Option<u128>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// Everything the miner reports. Amounts are in the chain's smallest unit
/// (decimal strings in JSON); hashes `0x` hex.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The miner started.
    Started {
        /// `--node`.
        node: String,
        /// Backend.
        backend: BackendKind,
        /// Devices and their keys.
        devices: Vec<DeviceInfo>,
        /// The cache directory.
        data_dir: String,
        /// The metrics address, if any.
        metrics: Option<String>,
    },
    /// Connected (or reconnected) to the node.
    Connected {
        /// The node URL.
        node: String,
    },
    /// The connection failed or dropped; retrying.
    Disconnected {
        /// What happened.
        reason: String,
        /// Delay before the next attempt.
        retry_in_ms: u64,
    },
    /// The chain's token.
    Chain {
        /// Symbol.
        token: String,
        /// Decimals.
        decimals: u32,
    },
    /// A dataset is being loaded.
    Dataset {
        /// Its Merkle root.
        root: String,
        /// Samples loaded so far.
        loaded: u64,
        /// Samples in all.
        total: u64,
        /// Where from.
        from: DatasetSource,
    },
    /// New work: mining on a new parent.
    Work {
        /// Number of the block being mined (the parent's plus one).
        block: u32,
        /// The parent's hash.
        parent: String,
        /// Job id.
        job: u64,
        /// Model dimensions.
        model: Vec<u32>,
        /// Batch size.
        batch: u32,
        /// Steps the job has.
        job_steps: u64,
        /// Difficulty.
        #[serde(serialize_with = "decimal")]
        difficulty: u128,
    },
    /// The node has no work (no job scheduled, syncing).
    NoWork {
        /// The node's reason.
        reason: String,
    },
    /// The job being trained (on each job change).
    Job {
        /// Job id.
        job: u64,
        /// Price per verified step.
        #[serde(serialize_with = "decimal")]
        price_per_step: u128,
        /// Escrow left.
        #[serde(serialize_with = "decimal")]
        budget_left: u128,
        /// Planned steps.
        target_steps: u64,
        /// Status.
        status: JobStatus,
    },
    /// What the author of a block gets from the block reward now (its
    /// share of the era's reward, net of the validators' shares:
    /// `upow_blockPayment`); `None`: not readable over RPC.
    Reward {
        /// The author's reward per block.
        #[serde(serialize_with = "optional_decimal")]
        author_reward: Option<u128>,
    },
    /// Whether a device's key is admitted (on change).
    Admission {
        /// Device position.
        device: usize,
        /// Its key (SS58).
        author: String,
        /// Admitted?
        admitted: bool,
    },
    /// A device's backend is ready.
    DeviceReady {
        /// Device position.
        device: usize,
        /// The backend's own name.
        backend: String,
    },
    /// A winning ticket: a trajectory proven, about to be submitted.
    Found {
        /// Device position.
        device: usize,
        /// Number of the block it makes.
        block: u32,
        /// Steps in the trajectory.
        steps: u32,
        /// The ticket.
        ticket: String,
    },
    /// The node imported the block.
    Accepted {
        /// Device position.
        device: usize,
        /// Block number.
        block: u32,
        /// Block hash.
        hash: String,
        /// Steps it adds to the job.
        steps: u32,
        /// What the job pays for them (price × steps, capped by the
        /// budget), as the runtime computed it at the parent
        /// (`upow_blockPayment`); `None`: not readable over RPC.
        #[serde(serialize_with = "optional_decimal")]
        job_payment: Option<u128>,
        /// The block reward minted to the author, likewise.
        #[serde(serialize_with = "optional_decimal")]
        author_reward: Option<u128>,
    },
    /// The node rejected a submission.
    Rejected {
        /// Device position.
        device: usize,
        /// Number of the block it would have made.
        block: u32,
        /// The node's JSON-RPC error code (`None`: connection lost).
        code: Option<i32>,
        /// The node's message.
        message: String,
    },
    /// A win dropped unsubmitted: a new best block arrived first.
    Stale {
        /// Device position.
        device: usize,
        /// Number of the block it would have made.
        block: u32,
    },
    /// A device failed; it is retried after a pause, the others go on.
    DeviceFailed {
        /// Device position.
        device: usize,
        /// The error.
        error: String,
        /// Delay before the retry.
        retry_in_ms: u64,
    },
    /// A cache entry failed its hash check and was discarded.
    CacheCorrupt {
        /// What it held.
        what: CacheEntry,
        /// Its hash.
        hash: String,
    },
    /// Periodic summary (JSON mode: every 10 s).
    Stats {
        /// Per device.
        devices: Vec<DeviceSpeed>,
        /// Winning tickets.
        found: u64,
        /// Accepted blocks.
        accepted: u64,
        /// Rejected submissions.
        rejected: u64,
    },
    /// The miner stopped.
    Stopped {
        /// Winning tickets.
        found: u64,
        /// Accepted blocks.
        accepted: u64,
        /// Rejected submissions.
        rejected: u64,
    },
}

/// Where events go (cheap to clone; never blocks).
#[derive(Clone, Debug)]
pub struct EventSink(mpsc::UnboundedSender<Event>);

impl EventSink {
    /// Reports an event (dropped if the view is gone).
    pub fn emit(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// A sink and the receiving end for the view (`super::view::run_view`).
pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (EventSink(tx), rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_json_objects_with_a_tag() {
        let v = serde_json::to_value(Event::Rejected {
            device: 1,
            block: 7,
            code: Some(1003),
            message: "author not admitted".into(),
        })
        .unwrap();
        assert_eq!(v["event"], "rejected");
        assert_eq!(v["code"], 1003);
        assert_eq!(v["device"], 1);
    }

    #[test]
    fn amounts_difficulties_and_enums_keep_their_json_form() {
        let v = serde_json::to_value(Event::Accepted {
            device: 0,
            block: 12,
            hash: "0x5b1e".into(),
            steps: 412,
            job_payment: Some(u128::MAX),
            author_reward: None,
        })
        .unwrap();
        assert_eq!(v["job_payment"], u128::MAX.to_string());
        assert!(v["author_reward"].is_null());
        let v = serde_json::to_value(Event::Reward {
            author_reward: Some(10_000_000_000_000),
        })
        .unwrap();
        assert_eq!(v["author_reward"], "10000000000000");
        let v = serde_json::to_value(Event::Job {
            job: 0,
            price_per_step: 1_000_000_000,
            budget_left: 0,
            target_steps: 37_500,
            status: JobStatus::Open,
        })
        .unwrap();
        assert_eq!(
            (&v["price_per_step"], &v["budget_left"], &v["status"]),
            (
                &serde_json::json!("1000000000"),
                &serde_json::json!("0"),
                &serde_json::json!("Open")
            )
        );
        let v = serde_json::to_value(Event::Work {
            block: 1,
            parent: "0x".into(),
            job: 0,
            model: vec![784, 128, 10],
            batch: 64,
            job_steps: 0,
            difficulty: 4995,
        })
        .unwrap();
        assert_eq!(v["difficulty"], "4995");
        let v = serde_json::to_value(Event::Dataset {
            root: "0x".into(),
            loaded: 1,
            total: 2,
            from: DatasetSource::Node,
        })
        .unwrap();
        assert_eq!(v["from"], "node");
        let v = serde_json::to_value(Event::CacheCorrupt {
            what: CacheEntry::Weights,
            hash: "0x".into(),
        })
        .unwrap();
        assert_eq!(v["what"], "weights");
        let v = serde_json::to_value(Event::Started {
            node: "ws://127.0.0.1:9944".into(),
            backend: BackendKind::Cpu,
            devices: vec![],
            data_dir: "/tmp".into(),
            metrics: None,
        })
        .unwrap();
        assert_eq!(v["backend"], "cpu");
    }
}
