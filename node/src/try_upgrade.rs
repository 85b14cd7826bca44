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
    storage::Storage,
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

    /// Block whose state to upgrade (default: the node's best block).
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
    /// The candidate has no `TryRuntime` API, or trapped.
    #[error("TryRuntime_on_runtime_upgrade: {0} (is the candidate built with the runtime's `try-runtime` feature?)")]
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
        let (at, from, pairs) = tokio.block_on(self.fetch())?;
        let report = try_upgrade(at, from, pairs, &code)?;
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
    async fn fetch(
        &self,
    ) -> Result<(H256, RuntimeVersion, BTreeMap<Vec<u8>, Vec<u8>>), TryUpgradeError> {
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
                .request("chain_getBlockHash", rpc_params![])
                .await
                .map_err(rpc_error("chain_getBlockHash"))?,
        };
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
        Ok((at, from, pairs))
    }
}

/// The try itself, on the state `pairs` of block `at` whose runtime is
/// `from`, with the candidate `code`.
pub fn try_upgrade(
    at: H256,
    from: RuntimeVersion,
    pairs: BTreeMap<Vec<u8>, Vec<u8>>,
    code: &[u8],
) -> Result<UpgradeReport, TryUpgradeError> {
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

    let mut ext = TestExternalities::<BlakeTwo256>::new_with_code_and_state(
        code,
        Storage {
            top: pairs,
            children_default: Default::default(),
        },
        StateVersion::V1,
    );
    let (weight, max_block) = run_upgrade(&executor, &mut ext)?;
    if weight == Weight::MAX {
        return Err(TryUpgradeError::ChecksFailed);
    }
    if weight.any_gt(max_block) {
        return Err(TryUpgradeError::Overweight { weight, max_block });
    }
    let first = *ext.backend.root();
    run_upgrade(&executor, &mut ext)?;
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
fn run_upgrade(
    executor: &WasmExecutor<sp_io::SubstrateHostFunctions>,
    ext: &mut TestExternalities<BlakeTwo256>,
) -> Result<(Weight, Weight), TryUpgradeError> {
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
            CallContext::Offchain,
        );
        let output = call.execute();
        drop(call);
        output.map_err(|e| TryUpgradeError::Call(e.to_string()))?
    };
    let weights = <(Weight, Weight)>::decode(&mut &output[..])
        .map_err(|e| TryUpgradeError::Call(format!("its output: {e}")))?;
    let changes = overlay
        .drain_storage_changes(&ext.backend, StateVersion::V1)
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
