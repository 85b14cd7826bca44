//! The permissioned network, kept from chain state.
//!
//! The chain lists its well-known nodes (`pallet_node_authorization`,
//! changed by governance). At start, at every new best block and at every
//! finalized block the node asks the runtime which peers it may connect to
//! ([`NetworkAccessApi::peer_access`], at the best and the finalized block:
//! [`combine`]) and makes exactly those its reserved peers in reserved-only
//! mode: a node the chain does not list is refused (the peerset logs each
//! refusal at `sub-libp2p::peerset=trace`), and a node removed on chain is
//! disconnected as soon as its removal is in the best chain. Gossip
//! (GRANDPA, transactions) follows the sync protocol's peers, so a refused
//! stock node can neither sync nor gossip. (Request-response protocols —
//! block and state requests — are not gated: docs/reliability.md.)
//!
//! A chain without well-known nodes (the dev chain) is an open network: the
//! node's own `--reserved-only`/`--reserved-nodes` settings apply unchanged.
//! The node runs no offchain workers, so `pallet_node_authorization`'s own
//! worker (which would set the same peers, but only after the first block)
//! never runs; this task applies the rule from the genesis block on.

use std::{collections::HashSet, sync::Arc};

use futures::StreamExt;
use sc_client_api::BlockchainEvents;
use sc_network::{
    config::NonReservedPeerMode, service::traits::NetworkService, NetworkStateInfo, PeerId,
};
use sp_api::{ApiError, ApiExt, ProvideRuntimeApi};
use sp_blockchain::HeaderBackend;
use sp_core::{OpaquePeerId, H256};
use upow_primitives::{NetworkAccessApi, PeerAccess};
use upow_runtime::opaque::Block;

/// Log target of the network-access task.
pub const LOG_TARGET: &str = "upow::network";

/// The network access of this node at one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The chain lists no well-known nodes: anyone may connect.
    Open,
    /// Only these peers may connect (and be connected to).
    Permissioned {
        /// Whether this node is well-known (the listed nodes accept it).
        well_known: bool,
        /// The peers it may connect to.
        peers: HashSet<PeerId>,
    },
}

/// Errors reading the network access from chain state.
#[derive(Debug, thiserror::Error)]
pub enum NetworkAccessError {
    /// The runtime call failed.
    #[error("the runtime's network access at {at}: {source}")]
    Runtime {
        /// Block queried.
        at: H256,
        /// Runtime API error.
        source: ApiError,
    },
}

/// The access of `local` at block `at`. A listed peer id that is not a
/// valid libp2p peer id cannot be dialed and is left out (with a warning).
pub fn access_at<C>(client: &C, at: H256, local: &PeerId) -> Result<Access, NetworkAccessError>
where
    C: ProvideRuntimeApi<Block>,
    C::Api: NetworkAccessApi<Block>,
{
    let runtime = |source| NetworkAccessError::Runtime { at, source };
    let api = client.runtime_api();
    if !api
        .has_api::<dyn NetworkAccessApi<Block>>(at)
        .map_err(runtime)?
    {
        // A runtime before the permissioned network: open, as it was.
        return Ok(Access::Open);
    }
    let access = api
        .peer_access(at, OpaquePeerId(local.to_bytes()))
        .map_err(runtime)?;
    Ok(match access {
        None => Access::Open,
        Some(PeerAccess { well_known, peers }) => Access::Permissioned {
            well_known,
            peers: peers
                .iter()
                .filter_map(|peer| match PeerId::from_bytes(&peer.0) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        log::warn!(
                            target: LOG_TARGET,
                            "well-known node 0x{} is not a libp2p peer id ({e}): skipped",
                            hex::encode(&peer.0)
                        );
                        None
                    }
                })
                .collect(),
        },
    })
}

/// The sync protocol's mode before the network starts: on a permissioned
/// chain `Deny` (no connection until [`keep_network_access`] sets the
/// reserved peers), else what the command line says.
pub fn initial_mode<C>(client: &C, configured: NonReservedPeerMode) -> NonReservedPeerMode
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
    C::Api: NetworkAccessApi<Block>,
{
    // Any peer id answers whether the network is open.
    match access_at(client, client.info().best_hash, &PeerId::random()) {
        Ok(Access::Open) => configured,
        Ok(Access::Permissioned { .. }) => NonReservedPeerMode::Deny,
        Err(e) => {
            log::error!(target: LOG_TARGET, "{e}: connecting to reserved peers only");
            NonReservedPeerMode::Deny
        }
    }
}

/// The access both blocks allow: a peer must be authorized at the best
/// block *and* at the finalized one, so a removal applies as soon as it is
/// in the best chain and cannot be undone by a PoW fork that leaves it out,
/// while an addition applies once it is final. An open network at one of
/// them defers to the other.
pub fn combine(best: Access, finalized: Access) -> Access {
    match (best, finalized) {
        (Access::Open, other) | (other, Access::Open) => other,
        (
            Access::Permissioned {
                well_known: best_known,
                peers: best_peers,
            },
            Access::Permissioned {
                well_known: final_known,
                peers: final_peers,
            },
        ) => Access::Permissioned {
            well_known: best_known && final_known,
            peers: best_peers.intersection(&final_peers).copied().collect(),
        },
    }
}

/// Applies the chain's network access ([`combine`] of the best and the
/// finalized block's) now, at every new best block and at every newly
/// finalized block (the task of a full node; ends with the notification
/// streams).
pub async fn keep_network_access<C>(client: Arc<C>, network: Arc<dyn NetworkService>)
where
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + BlockchainEvents<Block>,
    C::Api: NetworkAccessApi<Block>,
{
    let local = network.local_peer_id();
    let mut imports = client.import_notification_stream().fuse();
    let mut finality = client.finality_notification_stream().fuse();
    let mut applied = None;
    let update = |applied: &mut Option<Access>| {
        let info = client.info();
        let access = access_at(&*client, info.best_hash, &local).and_then(|best| {
            Ok(combine(
                best,
                access_at(&*client, info.finalized_hash, &local)?,
            ))
        });
        match access {
            Ok(access) if applied.as_ref() != Some(&access) => {
                apply(network.as_ref(), applied.as_ref(), &access);
                *applied = Some(access);
            }
            Ok(_) => {}
            Err(e) => log::warn!(target: LOG_TARGET, "{e}: network access unchanged"),
        }
    };
    update(&mut applied);
    loop {
        futures::select! {
            imported = imports.next() => match imported {
                Some(imported) if imported.is_new_best => update(&mut applied),
                Some(_) => {}
                None => break,
            },
            finalized = finality.next() => match finalized {
                Some(_) => update(&mut applied),
                None => break,
            },
        }
    }
}

/// Sets the reserved peers and mode of `access`, logging what changed
/// since `before`.
fn apply(network: &dyn NetworkService, before: Option<&Access>, access: &Access) {
    match access {
        Access::Open => {
            // Opened by governance: back to the command line's mode. At
            // start on an open chain, the command line's settings stand.
            if before.is_some() {
                network.set_authorized_only(false);
                log::info!(target: LOG_TARGET, "🔓 the chain lists no well-known nodes: open network");
            }
        }
        Access::Permissioned { well_known, peers } => {
            let previous = match before {
                Some(Access::Permissioned { peers, .. }) => peers.clone(),
                _ => HashSet::new(),
            };
            network.set_authorized_peers(peers.clone());
            network.set_authorized_only(true);
            for removed in previous.difference(peers) {
                log::info!(target: LOG_TARGET, "⛔ {removed} is no longer authorized on chain: disconnected");
            }
            for added in peers.difference(&previous) {
                log::debug!(target: LOG_TARGET, "authorized peer {added}");
            }
            log::info!(
                target: LOG_TARGET,
                "🔒 permissioned network: {} authorized peers{}",
                peers.len(),
                if *well_known {
                    ""
                } else {
                    "; this node is not a well-known node, so they refuse it until governance adds it"
                }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{combine, Access};
    use sc_network::PeerId;
    use std::collections::HashSet;

    fn permissioned(well_known: bool, peers: &[PeerId]) -> Access {
        Access::Permissioned {
            well_known,
            peers: peers.iter().copied().collect::<HashSet<_>>(),
        }
    }

    /// A removal in the best chain applies at once; an addition only once
    /// final; an open side defers to the other.
    #[test]
    fn a_peer_must_be_authorized_at_the_best_and_the_finalized_block() {
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        // c removed in the best chain, not yet final: gone.
        assert_eq!(
            combine(permissioned(true, &[a, b]), permissioned(true, &[a, b, c])),
            permissioned(true, &[a, b])
        );
        // c added in the best chain, not yet final: not yet.
        assert_eq!(
            combine(permissioned(true, &[a, b, c]), permissioned(true, &[a, b])),
            permissioned(true, &[a, b])
        );
        // This node listed only in the best chain: not yet well-known.
        assert_eq!(
            combine(permissioned(true, &[a]), permissioned(false, &[a])),
            permissioned(false, &[a])
        );
        assert_eq!(
            combine(Access::Open, permissioned(true, &[a])),
            permissioned(true, &[a])
        );
        assert_eq!(
            combine(permissioned(true, &[b]), Access::Open),
            permissioned(true, &[b])
        );
        assert_eq!(combine(Access::Open, Access::Open), Access::Open);
    }

    use sc_network::config::{NodeKeyConfig, Secret};

    /// The dev node keys `0x00…0i` of the presets have the public keys the
    /// runtime lists (`DEV_NODE_PUBLIC_KEYS`).
    #[test]
    fn dev_node_keys_are_the_presets_well_known_nodes() {
        for (i, public) in upow_runtime::genesis_config_presets::DEV_NODE_PUBLIC_KEYS
            .iter()
            .enumerate()
        {
            let mut secret = [0u8; 32];
            secret[31] = i as u8 + 1;
            let key = sc_network::config::ed25519::SecretKey::try_from_bytes(secret)
                .expect("a 32-byte ed25519 secret");
            let keypair = NodeKeyConfig::Ed25519(Secret::Input(key))
                .into_keypair()
                .expect("an input key");
            let peer_id = keypair.public().to_peer_id();
            let listed = upow_runtime::genesis_config_presets::ed25519_peer_id(public);
            assert_eq!(peer_id.to_bytes(), listed.0, "dev node {}", i + 1);
        }
    }
}
