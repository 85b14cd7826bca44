//! The runtime APIs: the standard Substrate set plus [`UpowApi`].

use alloc::vec::Vec;
use frame_support::{
    genesis_builder_helper::{build_state, get_preset},
    weights::Weight,
};
use pallet_grandpa::AuthorityId as GrandpaId;
use sp_api::impl_runtime_apis;
use sp_core::{crypto::KeyTypeId, OpaqueMetadata, OpaquePeerId};
use sp_runtime::{
    traits::{Block as BlockT, NumberFor},
    transaction_validity::{TransactionSource, TransactionValidity},
    ApplyExtrinsicResult,
};
use sp_version::RuntimeVersion;
use upow_primitives::{
    traits::AuthorAdmission, AuthorId, BlockPayment, ChainDifficulty, Difficulty, DisputableBlock,
    JobId, JobInfo, LossPoint, PeerAccess, Work,
};

use super::{
    AccountId, Balance, Block, Executive, Grandpa, InherentDataExt, Nonce, Runtime, RuntimeCall,
    RuntimeGenesisConfig, SessionKeys, Staking, System, Training, TransactionPayment, VERSION,
};

/// A job as the runtime API reports it: the jobs pallet's record with the
/// training pallet's record of its progress (weights, steps, loss).
pub fn job_info(job: JobId) -> Option<JobInfo> {
    let record = pallet_upow_jobs::Pallet::<Runtime>::job_info(job)?;
    let progress = pallet_upow_training::Jobs::<Runtime>::get(job);
    let poster: [u8; 32] = record.poster.clone().into();
    Some(record.info(poster, progress.as_ref()))
}

/// The weights hash of every job with a record (open jobs' current
/// weights, ended jobs' final ones, the house job's), and the start weights
/// of every block still in its dispute window (where a fraud proof may roll
/// a job back to): what nodes must keep.
fn needed_weights() -> Vec<(JobId, upow_primitives::Hash)> {
    pallet_upow_jobs::Pallet::<Runtime>::recorded_jobs()
        .into_iter()
        .filter_map(|job| Some((job, job_info(job)?.weights?)))
        .chain(Training::disputable_weights())
        .collect()
}

/// What the next block pays its author for `steps` steps of `job`: the
/// jobs pallet's payment rule (`JobSchedule::payment_for`, what the block
/// reserves when it is imported and pays when it settles) and the rewards
/// pallet's split of the block reward (`Rewards::author_reward`, minted at
/// once). `None`: blocks may not train `job`.
pub fn block_payment(job: JobId, steps: u32) -> Option<BlockPayment> {
    use upow_primitives::traits::JobSchedule;
    type Jobs = pallet_upow_jobs::Pallet<Runtime>;
    <Jobs as JobSchedule<AccountId>>::trainable(job)?;
    let next = System::block_number().saturating_add(1);
    Some(BlockPayment {
        job_payment: <Jobs as JobSchedule<AccountId>>::payment_for(job, steps),
        author_reward: pallet_upow_rewards::Pallet::<Runtime>::author_reward(next),
    })
}

/// The rule of the permissioned network (`NetworkAccessApi`): a node may
/// connect to every well-known node but itself, and to the additional
/// connections its owner allowed; a node that is not well-known is refused
/// by the well-known nodes (they do not list it), so it may try them but
/// gets no peers until governance adds it. No well-known nodes: open.
///
/// Unlike `pallet_node_authorization`'s offchain worker, a node that is not
/// (yet) well-known still lists the well-known nodes, so a node added on
/// chain while it waits connects without a restart; the node runs no
/// offchain workers (its network-access task applies this rule instead,
/// from the first block on).
pub fn peer_access(local: &OpaquePeerId) -> Option<PeerAccess> {
    let well_known = pallet_node_authorization::WellKnownNodes::<Runtime>::get();
    if well_known.is_empty() {
        return None;
    }
    let mut peers = pallet_node_authorization::AdditionalConnections::<Runtime>::get(local);
    let is_well_known = well_known.contains(local);
    peers.extend(well_known);
    peers.remove(local);
    Some(PeerAccess {
        well_known: is_well_known,
        peers: peers.into_iter().collect(),
    })
}

impl_runtime_apis! {
    impl sp_api::Core<Block> for Runtime {
        fn version() -> RuntimeVersion {
            VERSION
        }

        fn execute_block(block: <Block as BlockT>::LazyBlock) {
            Executive::execute_block(block);
        }

        fn initialize_block(header: &<Block as BlockT>::Header) -> sp_runtime::ExtrinsicInclusionMode {
            Executive::initialize_block(header)
        }
    }

    impl sp_api::Metadata<Block> for Runtime {
        fn metadata() -> OpaqueMetadata {
            OpaqueMetadata::new(Runtime::metadata().into())
        }

        fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
            Runtime::metadata_at_version(version)
        }

        fn metadata_versions() -> Vec<u32> {
            Runtime::metadata_versions()
        }
    }

    impl frame_support::view_functions::runtime_api::RuntimeViewFunction<Block> for Runtime {
        fn execute_view_function(
            id: frame_support::view_functions::ViewFunctionId,
            input: Vec<u8>,
        ) -> Result<Vec<u8>, frame_support::view_functions::ViewFunctionDispatchError> {
            Runtime::execute_view_function(id, input)
        }
    }

    impl sp_block_builder::BlockBuilder<Block> for Runtime {
        fn apply_extrinsic(extrinsic: <Block as BlockT>::Extrinsic) -> ApplyExtrinsicResult {
            Executive::apply_extrinsic(extrinsic)
        }

        fn finalize_block() -> <Block as BlockT>::Header {
            Executive::finalize_block()
        }

        fn inherent_extrinsics(data: sp_inherents::InherentData) -> Vec<<Block as BlockT>::Extrinsic> {
            data.create_extrinsics()
        }

        fn check_inherents(
            block: <Block as BlockT>::LazyBlock,
            data: sp_inherents::InherentData,
        ) -> sp_inherents::CheckInherentsResult {
            data.check_extrinsics(&block)
        }
    }

    impl sp_transaction_pool::runtime_api::TaggedTransactionQueue<Block> for Runtime {
        fn validate_transaction(
            source: TransactionSource,
            tx: <Block as BlockT>::Extrinsic,
            block_hash: <Block as BlockT>::Hash,
        ) -> TransactionValidity {
            Executive::validate_transaction(source, tx, block_hash)
        }
    }

    impl sp_offchain::OffchainWorkerApi<Block> for Runtime {
        fn offchain_worker(header: &<Block as BlockT>::Header) {
            Executive::offchain_worker(header)
        }
    }

    impl sp_session::SessionKeys<Block> for Runtime {
        fn generate_session_keys(
            owner: Vec<u8>,
            seed: Option<Vec<u8>>,
        ) -> sp_session::OpaqueGeneratedSessionKeys {
            SessionKeys::generate(&owner, seed).into()
        }

        fn decode_session_keys(encoded: Vec<u8>) -> Option<Vec<(Vec<u8>, KeyTypeId)>> {
            SessionKeys::decode_into_raw_public_keys(&encoded)
        }
    }

    impl sp_consensus_grandpa::GrandpaApi<Block> for Runtime {
        fn grandpa_authorities() -> sp_consensus_grandpa::AuthorityList {
            Grandpa::grandpa_authorities()
        }

        fn current_set_id() -> sp_consensus_grandpa::SetId {
            Grandpa::current_set_id()
        }

        fn submit_report_equivocation_unsigned_extrinsic(
            _equivocation_proof: sp_consensus_grandpa::EquivocationProof<
                <Block as BlockT>::Hash,
                NumberFor<Block>,
            >,
            _key_owner_proof: sp_consensus_grandpa::OpaqueKeyOwnershipProof,
        ) -> Option<()> {
            None
        }

        fn generate_key_ownership_proof(
            _set_id: sp_consensus_grandpa::SetId,
            _authority_id: GrandpaId,
        ) -> Option<sp_consensus_grandpa::OpaqueKeyOwnershipProof> {
            None
        }
    }

    impl frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
        fn account_nonce(account: AccountId) -> Nonce {
            System::account_nonce(account)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance> for Runtime {
        fn query_info(
            uxt: <Block as BlockT>::Extrinsic,
            len: u32,
        ) -> pallet_transaction_payment_rpc_runtime_api::RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_info(uxt, len)
        }
        fn query_fee_details(
            uxt: <Block as BlockT>::Extrinsic,
            len: u32,
        ) -> pallet_transaction_payment::FeeDetails<Balance> {
            TransactionPayment::query_fee_details(uxt, len)
        }
        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }
        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentCallApi<Block, Balance, RuntimeCall>
        for Runtime
    {
        fn query_call_info(
            call: RuntimeCall,
            len: u32,
        ) -> pallet_transaction_payment::RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_call_info(call, len)
        }
        fn query_call_fee_details(
            call: RuntimeCall,
            len: u32,
        ) -> pallet_transaction_payment::FeeDetails<Balance> {
            TransactionPayment::query_call_fee_details(call, len)
        }
        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }
        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    impl upow_primitives::NetworkAccessApi<Block> for Runtime {
        fn peer_access(local: OpaquePeerId) -> Option<PeerAccess> {
            peer_access(&local)
        }
    }

    impl upow_primitives::UpowApi<Block> for Runtime {
        fn work(job: JobId) -> Option<Work> {
            Training::work(job)
        }

        fn open_work() -> Vec<Work> {
            Training::open_work()
        }

        fn difficulty() -> ChainDifficulty {
            pallet_upow_training::Difficulty::<Runtime>::get()
        }

        fn job_difficulty(job: JobId) -> Option<Difficulty> {
            Training::job_difficulty(job)
        }

        fn is_admitted(author: AuthorId) -> bool {
            <Staking as AuthorAdmission<AccountId>>::account_of(&author).is_some()
        }

        fn job(job: JobId) -> Option<JobInfo> {
            job_info(job)
        }

        fn loss_curve(job: JobId, from: u32, count: u32) -> Vec<LossPoint> {
            Training::loss_curve(job, from, count)
        }

        fn needed_weights() -> Vec<(JobId, upow_primitives::Hash)> {
            needed_weights()
        }

        fn disputable_blocks() -> Vec<u32> {
            let mut blocks: Vec<u32> = pallet_upow_training::Disputable::<Runtime>::iter_keys().collect();
            blocks.sort_unstable();
            blocks
        }

        fn disputable(number: u32) -> Option<DisputableBlock<AccountId>> {
            pallet_upow_training::Disputable::<Runtime>::get(number)
        }

        fn block_payment(job: JobId, steps: u32) -> Option<BlockPayment> {
            block_payment(job, steps)
        }
    }

    #[cfg(feature = "runtime-benchmarks")]
    impl frame_benchmarking::Benchmark<Block> for Runtime {
        fn benchmark_metadata(extra: bool) -> (
            Vec<frame_benchmarking::BenchmarkList>,
            Vec<frame_support::traits::StorageInfo>,
        ) {
            use frame_benchmarking::{baseline, BenchmarkList};
            use frame_support::traits::StorageInfoTrait;
            use frame_system_benchmarking::Pallet as SystemBench;
            use baseline::Pallet as BaselineBench;
            use super::*;

            let mut list = Vec::<BenchmarkList>::new();
            list_benchmarks!(list, extra);
            let storage_info = AllPalletsWithSystem::storage_info();
            (list, storage_info)
        }

        #[allow(non_local_definitions)]
        fn dispatch_benchmark(
            config: frame_benchmarking::BenchmarkConfig
        ) -> Result<Vec<frame_benchmarking::BenchmarkBatch>, alloc::string::String> {
            use frame_benchmarking::{baseline, BenchmarkBatch};
            use sp_storage::TrackedStorageKey;
            use frame_system_benchmarking::Pallet as SystemBench;
            use baseline::Pallet as BaselineBench;
            use super::*;

            impl frame_system_benchmarking::Config for Runtime {}
            impl baseline::Config for Runtime {}

            use frame_support::traits::WhitelistedStorageKeys;
            let whitelist: Vec<TrackedStorageKey> = AllPalletsWithSystem::whitelisted_storage_keys();
            let mut batches = Vec::<BenchmarkBatch>::new();
            let params = (&config, &whitelist);
            add_benchmarks!(params, batches);
            Ok(batches)
        }
    }

    #[cfg(feature = "try-runtime")]
    impl frame_try_runtime::TryRuntime<Block> for Runtime {
        fn on_runtime_upgrade(checks: frame_try_runtime::UpgradeCheckSelect) -> (Weight, Weight) {
            let weight = match Executive::try_runtime_upgrade(checks) {
                Ok(w) => w,
                Err(e) => {
                    log::error!(target: "upow::runtime", "try-runtime upgrade failed: {e:?}");
                    Weight::MAX
                }
            };
            (weight, super::configs::RuntimeBlockWeights::get().max_block)
        }

        fn execute_block(
            block: <Block as BlockT>::LazyBlock,
            state_root_check: bool,
            signature_check: bool,
            select: frame_try_runtime::TryStateSelect,
        ) -> Weight {
            match Executive::try_execute_block(block, state_root_check, signature_check, select) {
                Ok(w) => w,
                Err(e) => {
                    log::error!(target: "upow::runtime", "try-runtime execute-block failed: {e:?}");
                    Weight::MAX
                }
            }
        }
    }

    impl sp_genesis_builder::GenesisBuilder<Block> for Runtime {
        fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
            build_state::<RuntimeGenesisConfig>(config)
        }

        fn get_preset(id: &Option<sp_genesis_builder::PresetId>) -> Option<Vec<u8>> {
            get_preset::<RuntimeGenesisConfig>(id, super::genesis_config_presets::get_preset)
        }

        fn preset_names() -> Vec<sp_genesis_builder::PresetId> {
            super::genesis_config_presets::preset_names()
        }
    }
}
