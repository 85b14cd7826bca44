//! `upow-node try-upgrade`: try a runtime upgrade against a running
//! chain's state before anyone submits it.
//!
//! What try-runtime's `on-runtime-upgrade` does (that tool is not part of
//! this build): read the whole state of a block from a node over JSON-RPC,
//! put the candidate runtime in `:code`, run its
//! `TryRuntime_on_runtime_upgrade` with every check (every pallet's
//! migrations with their pre- and post-upgrade hooks, the decoding of the
//! entire state, and every pallet's `try_state` invariants: the jobs
//! pallet's escrow accounting among them), then run it a second time on the
//! upgraded state, which must change nothing. The candidate must be built
//! with the runtime's `try-runtime` feature; `sudo(set_code)` takes the
//! same source built without it. docs/operations.md §Runtime upgrades.

use std::{collections::BTreeMap, path::PathBuf};

use codec::Decode;
use jsonrpsee::{
    core::client::ClientT,
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use sc_executor::{RuntimeVersionOf, WasmExecutor};
use sp_core::{
    storage::{well_known_keys, Storage},
    traits::{CallContext, RuntimeCode, WrappedRuntimeCode},
    H256,
};
use sp_runtime::{traits::BlakeTwo256, StateVersion};
use sp_state_machine::{
    backend::{BackendRuntimeCode, TryPendingCode},
    OverlayedChanges, StateMachine, TestExternalities,
};
use sp_version::RuntimeVersion;
use sp_weights::Weight;

/// Keys asked for per `state_getKeysPaged` call (the node's limit).
const KEYS_PER_PAGE: u32 = 1000;

/// `UpgradeCheckSelect::All` SCALE-encoded (variant 1): pre- and
/// post-upgrade hooks and `try_state`. The type exists only in
/// frame-support's `try-runtime` build, which the node is not.
const ALL_CHECKS: [u8; 1] = [1];

/// Try a runtime upgrade against a running node's state (what try-runtime's
/// `on-runtime-upgrade` checks).
#[derive(Debug, Clone, clap::Args)]
pub struct TryUpgradeCmd {
    /// WebSocket JSON-RPC address of a node of the chain (it must allow
    /// `state_getKeysPaged`: a local node, or `--rpc-methods unsafe`).
    #[arg(long, value_name = "URL", default_value = "ws://127.0.0.1:9944")]
    pub uri: String,

    /// The candidate runtime (`.wasm`, compressed or not), built with the
    /// runtime's `try-runtime` feature.
    #[arg(long, value_name = "PATH")]
    pub runtime: PathBuf,

    /// Block whose state to upgrade (default: the node's finalized head,
    /// which no proof-of-work fork can take away during the read).
    #[arg(long, value_name = "HASH")]
    pub at: Option<H256>,
}

/// Why an upgrade is refused, or could not be tried.
#[derive(Debug, thiserror::Error)]
pub enum TryUpgradeError {
    /// The candidate file could not be read.
    #[error("reading the candidate runtime {path}: {source}")]
    ReadRuntime {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime for the JSON-RPC client did not start.
    #[error("starting the async runtime: {0}")]
    AsyncRuntime(std::io::Error),
    /// A JSON-RPC call failed.
    #[error("JSON-RPC `{method}` to {uri}: {source}")]
    Rpc {
        /// The node's address.
        uri: String,
        /// The method.
        method: &'static str,
        /// Why.
        source: jsonrpsee::core::ClientError,
    },
    /// A JSON-RPC reply was not what the method returns.
    #[error("JSON-RPC `{method}` answered {reply}")]
    BadReply {
        /// The method.
        method: &'static str,
        /// What came back.
        reply: String,
    },
    /// The state read does not hash to the block's state root.
    #[error("the state read from the node hashes to {read:?}, not to block {at:?}'s state root {expected:?}")]
    StateRoot {
        /// The block.
        at: H256,
        /// Its header's state root.
        expected: H256,
        /// The root of what was read.
        read: H256,
    },
    /// The chain holds child tries, which this tool does not read.
    #[error("the state holds child tries ({0} keys under :child_storage:), which try-upgrade does not read")]
    ChildTries(usize),
    /// The state has no `:code`.
    #[error("block {0:?} has no :code in its state")]
    NoCode(H256),
    /// The candidate's version could not be read.
    #[error("the candidate's runtime version: {0}")]
    Version(String),
    /// The candidate is another chain's runtime.
    #[error("the candidate is runtime `{candidate}`, the chain runs `{chain}`")]
    SpecName {
        /// The chain's spec name.
        chain: String,
        /// The candidate's.
        candidate: String,
    },
    /// `set_code` refuses a spec version that does not increase.
    #[error("the candidate's spec_version {candidate} is not above the chain's {chain}: set_code would refuse it")]
    SpecVersion {
        /// The chain's spec version.
        chain: u32,
        /// The candidate's.
        candidate: u32,
    },
    /// The candidate has no `TryRuntime` API.
    #[error(
        "the candidate has no TryRuntime API: build it with the runtime's `try-runtime` feature"
    )]
    NoTryRuntimeApi,
    /// The call trapped (a panic in a migration or a check) or its result
    /// could not be read.
    #[error("TryRuntime_on_runtime_upgrade: {0}")]
    Call(String),
    /// A migration, a post-upgrade check or a `try_state` invariant failed.
    #[error("the upgrade's checks failed: a migration, a pre/post-upgrade hook or a try_state invariant (the runtime's error is logged above)")]
    ChecksFailed,
    /// The migrations weigh more than a block can.
    #[error("the migrations weigh {weight:?}, more than a block's {max_block:?}")]
    Overweight {
        /// What they weigh.
        weight: Weight,
        /// A block's limit.
        max_block: Weight,
    },
    /// The second run changed the state again.
    #[error("the migrations are not idempotent: a second run changed the state root from {first:?} to {second:?}")]
    NotIdempotent {
        /// State root after the first run.
        first: H256,
        /// After the second.
        second: H256,
    },
}

/// What a successful try reports.
#[derive(Debug)]
pub struct UpgradeReport {
    /// The block whose state was upgraded.
    pub at: H256,
    /// Keys read.
    pub keys: usize,
    /// Bytes of values read.
    pub value_bytes: usize,
    /// The chain's runtime.
    pub from: RuntimeVersion,
    /// The candidate.
    pub to: RuntimeVersion,
    /// Weight of the migrations.
    pub weight: Weight,
    /// A block's weight limit.
    pub max_block: Weight,
}

impl TryUpgradeCmd {
    /// Runs the try and logs its report.
    pub fn run(&self) -> Result<UpgradeReport, TryUpgradeError> {
        let code = std::fs::read(&self.runtime).map_err(|source| TryUpgradeError::ReadRuntime {
            path: self.runtime.clone(),
            source,
        })?;
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(TryUpgradeError::AsyncRuntime)?;
        let live = tokio.block_on(self.fetch())?;
        let report = try_upgrade(live, &code)?;
        log::info!(
            "✅ {} v{} → {} v{} at {:?}: migrations weigh {:?} of a block's {:?}; every check passed, \
             and a second run changes nothing ({} keys, {} value bytes)",
            report.from.spec_name,
            report.from.spec_version,
            report.to.spec_name,
            report.to.spec_version,
            report.at,
            report.weight,
            report.max_block,
            report.keys,
            report.value_bytes,
        );
        Ok(report)
    }

    /// The block, its runtime version and its whole top-level state.
    async fn fetch(&self) -> Result<LiveState, TryUpgradeError> {
        let rpc_error = |method| {
            let uri = self.uri.clone();
            move |source| TryUpgradeError::Rpc {
                uri,
                method,
                source,
            }
        };
        let client: WsClient = WsClientBuilder::default()
            .max_response_size(u32::MAX)
            .build(&self.uri)
            .await
            .map_err(rpc_error("(connect)"))?;
        let at = match self.at {
            Some(at) => at,
            None => client
                .request("chain_getFinalizedHead", rpc_params![])
                .await
                .map_err(rpc_error("chain_getFinalizedHead"))?,
        };
        let header: upow_runtime::Header = client
            .request("chain_getHeader", rpc_params![at])
            .await
            .map_err(rpc_error("chain_getHeader"))?;
        let from: RuntimeVersion = client
            .request("state_getRuntimeVersion", rpc_params![at])
            .await
            .map_err(rpc_error("state_getRuntimeVersion"))?;

        let mut pairs = BTreeMap::new();
        let mut start: Option<sp_core::Bytes> = None;
        loop {
            let keys: Vec<sp_core::Bytes> = client
                .request(
                    "state_getKeysPaged",
                    rpc_params!["0x", KEYS_PER_PAGE, start.clone(), at],
                )
                .await
                .map_err(rpc_error("state_getKeysPaged"))?;
            let Some(last) = keys.last().cloned() else {
                break;
            };
            let sets: Vec<sp_core::storage::StorageChangeSet<H256>> = client
                .request("state_queryStorageAt", rpc_params![keys.clone(), at])
                .await
                .map_err(rpc_error("state_queryStorageAt"))?;
            let mut got = 0;
            for (key, value) in sets.into_iter().flat_map(|set| set.changes) {
                if let Some(value) = value {
                    pairs.insert(key.0, value.0);
                    got += 1;
                }
            }
            if got != keys.len() {
                return Err(TryUpgradeError::BadReply {
                    method: "state_queryStorageAt",
                    reply: format!("{got} values for {} keys", keys.len()),
                });
            }
            log::debug!("read {} keys", pairs.len());
            if keys.len() < KEYS_PER_PAGE as usize {
                break;
            }
            start = Some(last);
        }
        Ok(LiveState {
            at,
            state_root: header.state_root,
            version: from,
            pairs,
        })
    }
}

/// A block's whole state, as read from a node.
pub struct LiveState {
    /// The block.
    pub at: H256,
    /// Its header's state root.
    pub state_root: H256,
    /// Its runtime's version.
    pub version: RuntimeVersion,
    /// Its top-level storage.
    pub pairs: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The try itself, on the live state with the candidate `code`.
pub fn try_upgrade(live: LiveState, code: &[u8]) -> Result<UpgradeReport, TryUpgradeError> {
    let LiveState {
        at,
        state_root,
        version: from,
        pairs,
    } = live;
    let keys = pairs.len();
    let value_bytes = pairs.values().map(Vec::len).sum();
    let executor = WasmExecutor::<sp_io::SubstrateHostFunctions>::builder()
        .with_max_runtime_instances(1)
        .build();

    let to = {
        let mut ext = sp_state_machine::BasicExternalities::default();
        let wrapped = WrappedRuntimeCode(code.into());
        let runtime_code = RuntimeCode {
            code_fetcher: &wrapped,
            heap_pages: None,
            hash: sp_io::hashing::blake2_256(code).to_vec(),
        };
        executor
            .runtime_version(&mut ext, &runtime_code)
            .map_err(|e| TryUpgradeError::Version(e.to_string()))?
    };
    validate_version(&from, &to)?;
    let try_runtime_api = sp_crypto_hashing::blake2_64(b"TryRuntime");
    if !to.apis.iter().any(|(id, _)| *id == try_runtime_api) {
        return Err(TryUpgradeError::NoTryRuntimeApi);
    }

    let children = pairs
        .keys()
        .filter(|key| key.starts_with(well_known_keys::CHILD_STORAGE_KEY_PREFIX))
        .count();
    if children > 0 {
        return Err(TryUpgradeError::ChildTries(children));
    }
    // The state as read must be the block's: nothing missed or altered.
    let running = pairs
        .get(well_known_keys::CODE)
        .cloned()
        .ok_or(TryUpgradeError::NoCode(at))?;
    let state_version = from.state_version();
    let mut ext = TestExternalities::<BlakeTwo256>::new_with_code_and_state(
        &running,
        Storage {
            top: pairs,
            children_default: Default::default(),
        },
        state_version,
    );
    let read = *ext.backend.root();
    if read != state_root {
        return Err(TryUpgradeError::StateRoot {
            at,
            expected: state_root,
            read,
        });
    }
    ext.insert(well_known_keys::CODE.to_vec(), code.to_vec());

    let (weight, max_block) = run_upgrade(&executor, &mut ext, state_version)?;
    if weight == Weight::MAX {
        return Err(TryUpgradeError::ChecksFailed);
    }
    if weight.any_gt(max_block) {
        return Err(TryUpgradeError::Overweight { weight, max_block });
    }
    let first = *ext.backend.root();
    run_upgrade(&executor, &mut ext, state_version)?;
    let second = *ext.backend.root();
    if first != second {
        return Err(TryUpgradeError::NotIdempotent { first, second });
    }
    Ok(UpgradeReport {
        at,
        keys,
        value_bytes,
        from,
        to,
        weight,
        max_block,
    })
}

/// `set_code`'s own rule (frame_system's `can_set_code`): the same runtime,
/// a higher spec version.
pub fn validate_version(
    chain: &RuntimeVersion,
    candidate: &RuntimeVersion,
) -> Result<(), TryUpgradeError> {
    if chain.spec_name != candidate.spec_name {
        return Err(TryUpgradeError::SpecName {
            chain: chain.spec_name.to_string(),
            candidate: candidate.spec_name.to_string(),
        });
    }
    if candidate.spec_version <= chain.spec_version {
        return Err(TryUpgradeError::SpecVersion {
            chain: chain.spec_version,
            candidate: candidate.spec_version,
        });
    }
    Ok(())
}

/// Calls `TryRuntime_on_runtime_upgrade` (every check) on `ext`'s state
/// with `ext`'s `:code`, and commits its changes: `(weight, max_block)`.
/// The events of a previous run are cleared first, as a block's
/// initialization does, so that a second run's events are not taken for
/// a change of state.
fn run_upgrade(
    executor: &WasmExecutor<sp_io::SubstrateHostFunctions>,
    ext: &mut TestExternalities<BlakeTwo256>,
    state_version: StateVersion,
) -> Result<(Weight, Weight), TryUpgradeError> {
    let system = sp_io::hashing::twox_128(b"System");
    let cleared = [b"Events".as_slice(), b"EventCount"]
        .into_iter()
        .map(|item| ([system, sp_io::hashing::twox_128(item)].concat(), None))
        .collect();
    ext.backend.insert(vec![(None, cleared)], state_version);
    let mut overlay = OverlayedChanges::default();
    let output = {
        let code = BackendRuntimeCode::new(&ext.backend, TryPendingCode::No);
        let runtime_code = code
            .runtime_code()
            .map_err(|e| TryUpgradeError::Call(e.to_string()))?;
        let mut extensions = Default::default();
        let mut call = StateMachine::new(
            &ext.backend,
            &mut overlay,
            executor,
            "TryRuntime_on_runtime_upgrade",
            &ALL_CHECKS,
            &mut extensions,
            &runtime_code,
            CallContext::Onchain { import: false },
        );
        let output = call.execute();
        drop(call);
        output.map_err(|e| TryUpgradeError::Call(e.to_string()))?
    };
    let weights = <(Weight, Weight)>::decode(&mut &output[..])
        .map_err(|e| TryUpgradeError::Call(format!("its output: {e}")))?;
    let changes = overlay
        .drain_storage_changes(&ext.backend, state_version)
        .map_err(|e| TryUpgradeError::Call(format!("its changes: {e}")))?;
    ext.backend
        .apply_transaction(changes.transaction_storage_root, changes.transaction);
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::{validate_version, TryUpgradeError};
    use sp_version::RuntimeVersion;

    fn version(name: &'static str, spec_version: u32) -> RuntimeVersion {
        RuntimeVersion {
            spec_name: name.into(),
            spec_version,
            ..Default::default()
        }
    }

    #[test]
    fn only_a_higher_spec_version_of_the_same_runtime_is_an_upgrade() {
        assert!(validate_version(&version("upow", 101), &version("upow", 102)).is_ok());
        assert!(matches!(
            validate_version(&version("upow", 101), &version("upow", 101)),
            Err(TryUpgradeError::SpecVersion {
                chain: 101,
                candidate: 101
            })
        ));
        assert!(matches!(
            validate_version(&version("upow", 101), &version("upow", 100)),
            Err(TryUpgradeError::SpecVersion { .. })
        ));
        assert!(matches!(
            validate_version(&version("upow", 101), &version("node", 102)),
            Err(TryUpgradeError::SpecName { .. })
        ));
    }
}
