//! Assembles the node: client, RocksDB, PoW import pipeline, GRANDPA,
//! networking, RPC, the checkpoint store and (with `--mine`) the miner.
//!
//! Import pipeline: [`SealFirstVerifier`] (body length, then ticket,
//! seal, admission — before any body execution) → `PowBlockImport`
//! (inherent check, the seal again) → [`CheckpointImport`] (stores `W_n` after import) →
//! `GrandpaBlockImport` → client (executes the block: the runtime
//! re-executes the challenged training steps).

use std::{collections::HashSet, path::PathBuf, sync::Arc, time::Duration};

use futures::StreamExt;
use sc_client_api::{BlockBackend, BlockchainEvents};
use sc_consensus_grandpa::SharedVoterState;
use sc_service::{error::Error as ServiceError, Configuration, TaskManager, WarpSyncConfig};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::OffchainTransactionPoolFactory;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::{crypto::Pair as _, sr25519};
use upow_primitives::{UpowApi, AUTHOR_KEY_TYPE};
use upow_runtime::{apis::RuntimeApi, opaque::Block};

use crate::{
    authorship::BlockAuthor,
    checkpoints::CheckpointStore,
    cli::UpowParams,
    import::CheckpointImport,
    metrics::NodeMetrics,
    pow::{SealFirstVerifier, UpowAlgorithm},
    work::WorkSource,
};

/// The full client.
pub type FullClient = sc_service::TFullClient<
    Block,
    RuntimeApi,
    sc_executor::WasmExecutor<sp_io::SubstrateHostFunctions>,
>;
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
type GrandpaImport =
    sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;
/// The inherent data a block import checks against: the timestamp (the
/// trajectory proof is in the body; the runtime checks it).
#[derive(Clone, Copy)]
pub struct TimestampCidp;

#[async_trait::async_trait]
impl sp_inherents::CreateInherentDataProviders<Block, ()> for TimestampCidp {
    type InherentDataProviders = sp_timestamp::InherentDataProvider;

    async fn create_inherent_data_providers(
        &self,
        _parent: <Block as sp_runtime::traits::Block>::Hash,
        _: (),
    ) -> Result<Self::InherentDataProviders, Box<dyn std::error::Error + Send + Sync>> {
        Ok(sp_timestamp::InherentDataProvider::from_system_time())
    }
}
type PowImport = sc_consensus_pow::PowBlockImport<
    Block,
    CheckpointImport<GrandpaImport, FullClient>,
    FullClient,
    FullSelectChain,
    UpowAlgorithm<FullClient>,
    TimestampCidp,
>;

/// Blocks between GRANDPA justifications kept for light sync.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;
/// New best or finalized blocks between two pruning passes of the
/// checkpoint store.
const PRUNE_EVERY: u32 = 16;
/// Block records kept below the best block when finality stalls.
const MAX_UNFINALIZED_RECORDS: u32 = 4096;

/// The parts `new_full` and the offline subcommands share.
pub type Service = sc_service::PartialComponents<
    FullClient,
    FullBackend,
    FullSelectChain,
    sc_consensus::DefaultImportQueue<Block>,
    sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
    (
        PowImport,
        sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
        Option<Telemetry>,
        WorkSource<FullClient>,
        UpowAlgorithm<FullClient>,
        Option<Arc<NodeMetrics>>,
    ),
>;

/// Where the checkpoint store lives: beside the chain database.
pub fn checkpoint_path(config: &Configuration) -> PathBuf {
    config
        .base_path
        .config_dir(config.chain_spec.id())
        .join("upow-checkpoints")
}

/// Where the built-in miner's signing record lives: beside the keystore,
/// outside the chain database, so that `purge-chain` (or a lost database)
/// does not make the node forget what its author key signed.
pub fn signing_record_path(config: &Configuration) -> PathBuf {
    config
        .base_path
        .config_dir(config.chain_spec.id())
        .join("upow-signing-record")
}

/// Builds the client, import queue and checkpoint store.
pub fn new_partial(config: &Configuration) -> Result<Service, ServiceError> {
    let telemetry = config
        .telemetry_endpoints
        .clone()
        .filter(|x| !x.is_empty())
        .map(|endpoints| -> Result<_, sc_telemetry::Error> {
            let worker = TelemetryWorker::new(16)?;
            let telemetry = worker.handle().new_telemetry(endpoints);
            Ok((worker, telemetry))
        })
        .transpose()?;

    let executor = sc_service::new_wasm_executor::<sp_io::SubstrateHostFunctions>(&config.executor);
    let (client, backend, keystore_container, task_manager) =
        sc_service::new_full_parts::<Block, RuntimeApi, _>(
            config,
            telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
            executor,
            Vec::new(),
        )?;
    let client = Arc::new(client);
    let telemetry = telemetry.map(|(worker, telemetry)| {
        task_manager
            .spawn_handle()
            .spawn("telemetry", None, worker.run());
        telemetry
    });

    let select_chain = sc_consensus::LongestChain::new(backend.clone());
    let transaction_pool = Arc::from(
        sc_transaction_pool::Builder::new(
            task_manager.spawn_essential_handle(),
            client.clone(),
            config.role.is_authority().into(),
        )
        .with_options(config.transaction_pool.clone())
        .with_prometheus(config.prometheus_registry())
        .build(),
    );

    let store = Arc::new(
        CheckpointStore::open(&checkpoint_path(config))
            .map_err(|e| ServiceError::Other(e.to_string()))?,
    );
    let work = WorkSource::new(client.clone(), store);

    let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
        client.clone(),
        GRANDPA_JUSTIFICATION_PERIOD,
        &client,
        select_chain.clone(),
        telemetry.as_ref().map(|x| x.handle()),
    )?;
    let metrics = NodeMetrics::register(config.prometheus_registry())
        .map_err(|e| ServiceError::Other(format!("metrics: {e}")))?;
    let algorithm = UpowAlgorithm::new(client.clone(), metrics.clone());
    let pow_block_import = sc_consensus_pow::PowBlockImport::new(
        CheckpointImport::new(grandpa_block_import.clone(), work.clone(), metrics.clone()),
        client.clone(),
        algorithm.clone(),
        0,
        select_chain.clone(),
        TimestampCidp,
    );
    let import_queue = sc_consensus::BasicQueue::new(
        SealFirstVerifier::new(algorithm.clone()),
        Box::new(pow_block_import.clone()),
        Some(Box::new(grandpa_block_import)),
        &task_manager.spawn_essential_handle(),
        config.prometheus_registry(),
    );

    Ok(sc_service::PartialComponents {
        client,
        backend,
        task_manager,
        import_queue,
        keystore_container,
        select_chain,
        transaction_pool,
        other: (
            pow_block_import,
            grandpa_link,
            telemetry,
            work,
            algorithm,
            metrics,
        ),
    })
}

/// Imports the training split of an MNIST-layout directory into the
/// checkpoint store (skipped when already there).
fn import_dataset(store: &CheckpointStore, dir: &std::path::Path) -> Result<(), String> {
    let dataset = upow_puzzle::idx::load_split(dir, upow_puzzle::idx::Split::Train)
        .map_err(|e| format!("dataset in {}: {e}", dir.display()))?;
    let commitment = dataset.commitment();
    let known = store
        .dataset(&commitment.root)
        .map_err(|e| e.to_string())?
        .is_some();
    if !known {
        store.import_dataset(dataset).map_err(|e| e.to_string())?;
    }
    log::info!(
        target: "upow",
        "📚 dataset {} ({} samples of {} inputs) {}",
        hex::encode(commitment.root),
        commitment.samples,
        commitment.inputs,
        if known { "already imported" } else { "imported" }
    );
    Ok(())
}

/// The author key `--mine` uses: `--author`, else the keystore's upow key,
/// else the dev seed (`--dev`, `--alice`, …). Inserted into the keystore.
fn mining_key(
    params: &UpowParams,
    keystore: &sp_keystore::KeystorePtr,
    dev_seed: Option<&str>,
) -> Result<[u8; 32], ServiceError> {
    let suri = params.author.as_deref().or(dev_seed);
    if let Some(suri) = suri {
        let pair = sr25519::Pair::from_string(suri, None)
            .map_err(|e| ServiceError::Other(format!("--author: not a valid secret URI: {e:?}")))?;
        keystore
            .insert(AUTHOR_KEY_TYPE, suri, pair.public().as_ref())
            .map_err(|()| {
                ServiceError::Other("cannot insert the author key into the keystore".into())
            })?;
        return Ok(pair.public().0);
    }
    keystore
        .sr25519_public_keys(AUTHOR_KEY_TYPE)
        .first()
        .map(|k| k.0)
        .ok_or_else(|| {
            ServiceError::Other(
                "--mine needs an author key: pass --author <secret URI> or insert one with \
                 `upow-node key insert --key-type upow --scheme sr25519`"
                    .into(),
            )
        })
}

/// Deletes the weights of old blocks and abandoned forks, keeping what the
/// chain still needs: every weights hash the runtime lists in
/// `needed_weights` (every job's current or final weights, whether or not
/// recent blocks trained it), read at the finalized and the best block. Runs every
/// [`PRUNE_EVERY`] new best blocks or finalized blocks, whichever come; the
/// horizon is `keep` blocks below the finalized block, or
/// [`MAX_UNFINALIZED_RECORDS`] below the best block when finality stalls, so
/// the store stays bounded either way.
async fn prune_checkpoints(client: Arc<FullClient>, work: WorkSource<FullClient>, keep: u32) {
    let mut finality = client.finality_notification_stream();
    let mut imports = client.import_notification_stream();
    let mut since = 0u32;
    let mut stale = Vec::new();
    loop {
        tokio::select! {
            notification = finality.next() => match notification {
                Some(n) => stale.extend(n.stale_blocks.iter().map(|b| b.hash)),
                None => return,
            },
            notification = imports.next() => match notification {
                Some(n) if n.is_new_best => {}
                Some(_) => continue,
                None => return,
            },
        }
        since += 1;
        if since < PRUNE_EVERY {
            continue;
        }
        since = 0;
        let info = client.info();
        let horizon = info.finalized_number.saturating_sub(keep).max(
            info.best_number
                .saturating_sub(MAX_UNFINALIZED_RECORDS.max(keep)),
        );
        // What the finalized block and the best block still need (when
        // finality lags, the best chain's jobs may have newer weights than
        // the finalized state lists). Without both lists, nothing is pruned.
        let mut retain = HashSet::new();
        let mut listed = true;
        for at in [info.finalized_hash, info.best_hash] {
            match client.runtime_api().needed_weights(at) {
                Ok(needed) => retain.extend(needed.into_iter().map(|(_, hash)| hash)),
                Err(e) => {
                    log::warn!(target: "upow::checkpoints", "pruning skipped: needed weights at {at}: {e}");
                    listed = false;
                }
            }
        }
        if !listed {
            continue;
        }
        match work.store().prune(horizon, &stale, &retain) {
            Ok(report) => log::debug!(
                target: "upow::checkpoints",
                "pruned {} block records and {} weight sets below #{horizon}",
                report.blocks,
                report.weights
            ),
            Err(e) => log::warn!(target: "upow::checkpoints", "pruning failed: {e}"),
        }
        stale.clear();
    }
}

/// Builds and starts a full node.
pub fn new_full<
    N: sc_network::NetworkBackend<Block, <Block as sp_runtime::traits::Block>::Hash>,
>(
    mut config: Configuration,
    params: UpowParams,
) -> Result<TaskManager, ServiceError> {
    let sc_service::PartialComponents {
        client,
        backend,
        mut task_manager,
        import_queue,
        keystore_container,
        select_chain: _,
        transaction_pool,
        other: (pow_block_import, grandpa_link, mut telemetry, work, algorithm, upow_metrics),
    } = new_partial(&config)?;

    if let Some(dir) = &params.dataset_dir {
        if let Err(e) = import_dataset(work.store(), dir) {
            if params.dataset_dir_explicit() {
                return Err(ServiceError::Other(e));
            }
            log::warn!(target: "upow", "no dataset imported: {e}");
        }
    }

    // A permissioned chain connects to nobody until the network-access task
    // has set the peers the chain authorizes.
    let peers_set = &mut config.network.default_peers_set;
    peers_set.non_reserved_mode =
        crate::network_access::initial_mode(client.as_ref(), peers_set.non_reserved_mode.clone());
    let mut net_config = sc_network::config::FullNetworkConfiguration::<
        Block,
        <Block as sp_runtime::traits::Block>::Hash,
        N,
    >::new(&config.network, config.prometheus_registry().cloned());
    let metrics = N::register_notification_metrics(config.prometheus_registry());
    let peer_store_handle = net_config.peer_store_handle();
    let genesis = client
        .block_hash(0)
        .ok()
        .flatten()
        .ok_or_else(|| ServiceError::Other("the genesis block is missing".into()))?;
    let grandpa_protocol_name =
        sc_consensus_grandpa::protocol_standard_name(&genesis, &config.chain_spec);
    let (grandpa_protocol_config, grandpa_notification_service) =
        sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
            grandpa_protocol_name.clone(),
            metrics.clone(),
            peer_store_handle,
        );
    net_config.add_notification_protocol(grandpa_protocol_config);
    let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
        backend.clone(),
        grandpa_link.shared_authority_set().clone(),
        Vec::default(),
    ));
    let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
        sc_service::build_network(sc_service::BuildNetworkParams {
            config: &config,
            net_config,
            client: client.clone(),
            transaction_pool: transaction_pool.clone(),
            spawn_handle: task_manager.spawn_handle(),
            spawn_essential_handle: task_manager.spawn_essential_handle(),
            gap_sync_body_policy: None,
            import_queue,
            block_announce_validator_builder: None,
            warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
            block_relay: None,
            metrics,
        })?;

    // The runtime's only offchain worker is pallet_node_authorization's,
    // whose work the network-access task does (from genesis on, with the
    // rule of `NetworkAccessApi`): no offchain workers run.
    if config.offchain_worker.enabled {
        log::debug!(target: "upow", "offchain workers are not run (the network-access task keeps the peers)");
    }
    // The free-space guard: refuse to start, or stop, before the databases
    // on the base path run out of space.
    let base_path = config.base_path.path().to_path_buf();
    let min_free = params.min_free_space.saturating_mul(1 << 20);
    crate::disk::check(&base_path, min_free).map_err(|e| ServiceError::Other(e.to_string()))?;
    task_manager.spawn_essential_handle().spawn(
        "upow-disk-space",
        Some("upow"),
        crate::disk::guard(base_path, min_free),
    );
    task_manager.spawn_handle().spawn(
        "upow-network-access",
        Some("upow"),
        crate::network_access::keep_network_access(client.clone(), network.clone()),
    );

    let role = config.role;
    let name = config.network.node_name.clone();
    let enable_grandpa = !config.disable_grandpa;
    let prometheus_registry = config.prometheus_registry().cloned();
    let keystore = keystore_container.keystore();

    let mut proposer_factory = sc_basic_authorship::ProposerFactory::new(
        task_manager.spawn_handle(),
        client.clone(),
        transaction_pool.clone(),
        prometheus_registry.as_ref(),
        telemetry.as_ref().map(|x| x.handle()),
    );
    // The runtime's block length, not the proposer's 4 MiB default: a job's
    // proof may take up to a quarter of it and transactions the rest.
    proposer_factory.set_default_block_size_limit(upow_runtime::configs::MAX_BLOCK_LENGTH as usize);
    let signing = upow_primitives::signing::SigningRecord::open(signing_record_path(&config))
        .map_err(|e| ServiceError::Other(e.to_string()))?;
    let author = Arc::new(BlockAuthor::new(
        client.clone(),
        proposer_factory,
        Box::new(pow_block_import),
        algorithm,
        work.clone(),
        signing,
        upow_metrics,
    ));

    let rpc_extensions_builder = {
        let client = client.clone();
        let pool = transaction_pool.clone();
        let work = work.clone();
        let author = author.clone();
        Box::new(move |_| {
            let deps = crate::rpc::FullDeps {
                client: client.clone(),
                pool: pool.clone(),
                work: work.clone(),
                author: author.clone(),
            };
            crate::rpc::create_full(deps).map_err(Into::into)
        })
    };

    let dev_seed = config.dev_key_seed.clone();
    let _rpc_handlers = sc_service::spawn_tasks(sc_service::SpawnTasksParams {
        network: Arc::new(network.clone()),
        client: client.clone(),
        keystore: keystore.clone(),
        task_manager: &mut task_manager,
        transaction_pool: transaction_pool.clone(),
        rpc_builder: rpc_extensions_builder,
        backend,
        system_rpc_tx,
        tx_handler_controller,
        sync_service: sync_service.clone(),
        config,
        telemetry: telemetry.as_mut(),
        tracing_execute_block: None,
    })?;

    task_manager.spawn_handle().spawn(
        "upow-checkpoint-pruning",
        Some("upow"),
        prune_checkpoints(client.clone(), work.clone(), params.keep_weights),
    );

    if params.mine {
        let author_key = mining_key(&params, &keystore, dev_seed.as_deref())?;
        log::info!(target: "upow", "⛏  mining as {}", hex::encode(author_key));
        let authoring = crate::miner::start(
            client.clone(),
            work.clone(),
            author,
            keystore.clone(),
            sync_service.clone(),
            author_key,
        );
        task_manager
            .spawn_handle()
            .spawn("upow-authoring", Some("upow"), authoring);
    }

    if enable_grandpa {
        let keystore = if role.is_authority() {
            Some(keystore)
        } else {
            None
        };
        let grandpa_config = sc_consensus_grandpa::Config {
            gossip_duration: Duration::from_millis(333),
            justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
            name: Some(name),
            observer_enabled: false,
            keystore,
            local_role: role,
            telemetry: telemetry.as_ref().map(|x| x.handle()),
            protocol_name: grandpa_protocol_name,
        };
        let grandpa_params = sc_consensus_grandpa::GrandpaParams {
            config: grandpa_config,
            link: grandpa_link,
            network,
            sync: Arc::new(sync_service),
            notification_service: grandpa_notification_service,
            voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
            prometheus_registry,
            shared_voter_state: SharedVoterState::empty(),
            telemetry: telemetry.as_ref().map(|x| x.handle()),
            offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
        };
        task_manager.spawn_essential_handle().spawn_blocking(
            "grandpa-voter",
            None,
            sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
        );
    }

    Ok(task_manager)
}
