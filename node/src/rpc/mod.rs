//! The node's JSON-RPC: Substrate's standard methods plus `upow_*`.

pub mod upow;

use std::sync::Arc;

use jsonrpsee::RpcModule;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use sp_consensus::Environment;
use upow_primitives::{rpc::UpowApiServer, UpowApi};
use upow_runtime::{opaque::Block, AccountId, Balance, Nonce};

use crate::{authorship::BlockAuthor, work::WorkSource};

/// What the RPC methods need.
pub struct FullDeps<C, P, E> {
    /// The client.
    pub client: Arc<C>,
    /// The transaction pool.
    pub pool: Arc<P>,
    /// Work and checkpoints.
    pub work: WorkSource<C>,
    /// Block building for submitted work.
    pub author: Arc<BlockAuthor<C, E>>,
}

/// Builds the RPC module.
pub fn create_full<C, P, E>(
    deps: FullDeps<C, P, E>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
    C: ProvideRuntimeApi<Block>
        + HeaderBackend<Block>
        + sc_client_api::BlockBackend<Block>
        + HeaderMetadata<Block, Error = BlockChainError>
        + Send
        + Sync
        + 'static,
    C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
    C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
    C::Api: BlockBuilder<Block>,
    C::Api: UpowApi<Block>,
    P: TransactionPool + 'static,
    E: Environment<Block> + Send + Sync + 'static,
    E::Error: std::fmt::Display,
{
    use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
    use substrate_frame_rpc_system::{System, SystemApiServer};

    let mut module = RpcModule::new(());
    let FullDeps {
        client,
        pool,
        work,
        author,
    } = deps;
    module.merge(System::new(client.clone(), pool).into_rpc())?;
    module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
    module.merge(upow::UpowRpc::new(client, work, author).into_rpc())?;
    Ok(module)
}
