//! The rule of the permissioned network (`NetworkAccessApi::peer_access`)
//! and its governance: only root lists and unlists nodes; a listed node may
//! connect to every other listed node and to the connections its owner
//! added; an unlisted node is refused by all (it may only try them); no
//! listed nodes is an open network.

mod common;

use std::collections::BTreeSet;

use common::{account, alice, bob, ext};
use frame_support::{assert_noop, assert_ok};
use sp_core::OpaquePeerId;
use sp_runtime::traits::Dispatchable;
use sp_runtime::DispatchError;
use upow_runtime::{
    apis::peer_access, genesis_config_presets::ed25519_peer_id, NodeAuthorization, Runtime,
    RuntimeCall, RuntimeOrigin,
};

/// The peer id of the ed25519 key `[i; 32]`.
fn peer(i: u8) -> OpaquePeerId {
    ed25519_peer_id(&[i; 32])
}

fn set(ids: &[u8]) -> BTreeSet<OpaquePeerId> {
    ids.iter().map(|i| peer(*i)).collect()
}

/// `(well_known, peers)` of node `i`; panics on an open network.
fn access(i: u8) -> (bool, BTreeSet<OpaquePeerId>) {
    let access = peer_access(&peer(i)).expect("a permissioned network");
    (access.well_known, access.peers.into_iter().collect())
}

#[test]
fn governance_lists_nodes_and_each_node_may_connect_to_exactly_the_others() {
    ext().execute_with(|| {
        upow_runtime::System::set_block_number(1);
        // No listed nodes: an open network.
        assert_eq!(peer_access(&peer(1)), None);

        // Only root lists nodes.
        assert_noop!(
            NodeAuthorization::add_well_known_node(
                RuntimeOrigin::signed(account(&bob())),
                peer(1),
                account(&bob()).into(),
            ),
            DispatchError::BadOrigin
        );
        for (i, owner) in [(1, alice()), (2, bob()), (3, bob())] {
            assert_ok!(NodeAuthorization::add_well_known_node(
                RuntimeOrigin::root(),
                peer(i),
                account(&owner).into(),
            ));
        }
        assert_eq!(access(1), (true, set(&[2, 3])));
        assert_eq!(access(2), (true, set(&[1, 3])));
        // An unlisted node may try the listed ones, none of which lists it.
        assert_eq!(access(9), (false, set(&[1, 2, 3])));

        // The owner of node 1 lets node 9 connect to it (and only to it).
        assert_noop!(
            NodeAuthorization::add_connections(
                RuntimeOrigin::signed(account(&bob())),
                peer(1),
                vec![peer(9)],
            ),
            pallet_node_authorization::Error::<Runtime>::NotOwner
        );
        assert_ok!(NodeAuthorization::add_connections(
            RuntimeOrigin::signed(account(&alice())),
            peer(1),
            vec![peer(9)],
        ));
        assert_eq!(access(1), (true, set(&[2, 3, 9])));
        assert_eq!(access(2), (true, set(&[1, 3])));

        // Unlisted: node 2 is in nobody's peers any more.
        assert_ok!(NodeAuthorization::remove_well_known_node(
            RuntimeOrigin::root(),
            peer(2)
        ));
        assert_eq!(access(1), (true, set(&[3, 9])));
        assert_eq!(access(3), (true, set(&[1])));
        assert_eq!(access(2), (false, set(&[1, 3])));

        // A node never lists itself, whatever it was allowed.
        for i in [1, 2, 3, 9] {
            assert!(!access(i).1.contains(&peer(i)), "node {i} lists itself");
        }

        // Root may open the network again (an empty list).
        assert_ok!(NodeAuthorization::reset_well_known_nodes(
            RuntimeOrigin::root(),
            vec![]
        ));
        assert_eq!(peer_access(&peer(1)), None);
    });
}

/// The attack: claim a node id before governance lists it, add one's own
/// node as its connection, and be accepted once it is listed. `claim_node`
/// is refused to signed origins, so the connection cannot be added.
#[test]
fn nobody_but_root_makes_an_owner_so_a_pre_listing_claim_gains_nothing() {
    ext().execute_with(|| {
        upow_runtime::System::set_block_number(1);
        let as_bob = || RuntimeOrigin::signed(account(&bob()));
        let claim = RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::claim_node {
            node: peer(1),
        });
        assert_eq!(
            claim.dispatch(as_bob()).map_err(|e| e.error),
            Err(frame_system::Error::<Runtime>::CallFiltered.into())
        );
        let connect =
            RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::add_connections {
                node: peer(1),
                connections: vec![peer(66)],
            });
        assert!(connect.dispatch(as_bob()).is_err());
        for (i, owner) in [(1, alice()), (2, alice())] {
            assert_ok!(NodeAuthorization::add_well_known_node(
                RuntimeOrigin::root(),
                peer(i),
                account(&owner).into(),
            ));
        }
        assert_eq!(access(1), (true, set(&[2])), "the claimer's node got in");
        assert_eq!(access(66), (false, set(&[1, 2])));
    });
}

#[test]
fn the_presets_list_the_dev_nodes() {
    use upow_runtime::genesis_config_presets::{get_preset, DEV_NODE_PUBLIC_KEYS};
    let nodes = |preset: &str| -> usize {
        let patch: serde_json::Value =
            serde_json::from_slice(&get_preset(&preset.into()).unwrap()).unwrap();
        patch["nodeAuthorization"]["nodes"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(nodes("development"), 0, "the dev chain is an open network");
    assert_eq!(nodes("local_testnet"), DEV_NODE_PUBLIC_KEYS.len());
    assert_eq!(nodes("testnet_template"), 2);
}
