//! The permissioned network on a local network of three validators (two of
//! them mining) from the `local` chain spec: only the nodes the chain lists
//! connect; governance (sudo) adds a node, which then syncs, and removes
//! it, which disconnects it; and a validator killed with `kill -9` (or
//! down for many finality rounds) comes back without a finalized block
//! lost or reverted, every node on the same finalized head.

#[path = "common/chain.rs"]
mod chain;
mod common;
#[path = "common/localnet.rs"]
mod localnet;

use std::time::Duration;

use chain::pair;
use common::{serial, wait_until, Node};
use localnet::{peers, sudo, Localnet, DEV_NAMES};
use sp_core::{crypto::Pair as _, OpaquePeerId};
use upow_runtime::RuntimeCall;

/// The chain's bytes of a base58 peer id.
fn opaque(peer_id: &str) -> OpaquePeerId {
    let id: sc_network::PeerId = peer_id.parse().expect("a base58 peer id");
    OpaquePeerId(id.to_bytes())
}

#[test]
fn only_listed_nodes_connect_and_governance_adds_and_removes_nodes() {
    let _serial = serial();
    // Alice's node logs each refusal of its peerset.
    let net = Localnet::start(3, 2, |i| {
        if i == 1 {
            vec![
                "--log".into(),
                "info,upow=debug,sub-libp2p::peerset=trace".into(),
            ]
        } else {
            vec![]
        }
    });
    net.wait_finalized(2, Duration::from_secs(240));
    wait_until(
        "every member connected to both others",
        Duration::from_secs(60),
        || net.nodes.iter().all(|node| peers(node) == 2),
    );

    // A node the chain does not list: refused by every member.
    let eve = net.start_outsider("eve", &[]);
    let eve_id = eve.peer_id();
    wait_until(
        "Alice's node refusing Eve's",
        Duration::from_secs(120),
        || {
            net.nodes[0].log_contains(&format!("rejecting non-reserved peer PeerId(\"{eve_id}\")"))
                || net.nodes[0].log_contains(&format!("rejecting non-reserved peer {eve_id}"))
        },
    );
    assert_eq!(
        peers(&eve),
        0,
        "an unlisted node got peers\n{}",
        eve.log_tail()
    );
    assert_eq!(eve.best_number(), 0, "an unlisted node synced");
    // Its own access task says why (it may log after Alice's refusal).
    wait_until(
        "Eve's node logging that it is not listed",
        Duration::from_secs(60),
        || eve.log_contains("this node is not a well-known node"),
    );

    // Governance lists it: once that is final, it connects and syncs to
    // the finalized head.
    sudo(
        &net.nodes[0],
        0,
        RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::add_well_known_node {
            node: opaque(&eve_id),
            owner: sp_runtime::MultiAddress::Id(pair("//Eve").public().into()),
        }),
    );
    wait_until("Eve's node syncing", Duration::from_secs(180), || {
        peers(&eve) >= 1 && eve.best_number() >= net.nodes[0].finalized_number()
    });
    let listed_at = eve.best_number();

    // Governance removes it: every member drops it, it stops syncing.
    sudo(
        &net.nodes[0],
        1,
        RuntimeCall::NodeAuthorization(pallet_node_authorization::Call::remove_well_known_node {
            node: opaque(&eve_id),
        }),
    );
    wait_until("Eve's node disconnected", Duration::from_secs(120), || {
        peers(&eve) == 0
    });
    let removed_at = eve.best_number();
    assert!(removed_at >= listed_at);
    // Each member's access task logs the removal (possibly after Eve's own
    // node has dropped the connections).
    for node in &net.nodes {
        wait_until(
            "every member logging Eve's removal",
            Duration::from_secs(60),
            || node.log_contains(&format!("{eve_id} is no longer authorized on chain")),
        );
    }
    // The network goes on without it: it finalizes past every block any
    // member had when Eve's node was dropped.
    let target = net.nodes.iter().map(Node::best_number).max().unwrap() + 3;
    net.wait_finalized(target, Duration::from_secs(300));
    assert_eq!(peers(&eve), 0, "a removed node reconnected");
    assert!(
        eve.best_number() < target,
        "a removed node kept syncing (#{} ≥ #{target})",
        eve.best_number()
    );
    wait_until(
        "the members connected to each other",
        Duration::from_secs(60),
        || net.nodes.iter().all(|node| peers(node) == 2),
    );
}

#[test]
fn a_killed_validator_and_a_validator_down_for_many_rounds_come_back_and_nothing_final_is_lost() {
    let _serial = serial();
    let mut net = Localnet::start(3, 2, |_| vec![]);
    let before = net.min_finalized().max(2);
    let finalized_before = net.wait_finalized(before, Duration::from_secs(240));

    // kill -9 of Bob's node, a validator that mines.
    net.nodes[1].kill9();
    // GRANDPA needs all three: finality stops, mining does not.
    let best = net.nodes[0].best_number();
    wait_until("Alice mining alone", Duration::from_secs(120), || {
        net.nodes[0].best_number() >= best + 3
    });
    // Down for many rounds (gossip every 333 ms: 20 s are ~60 rounds).
    std::thread::sleep(Duration::from_secs(20));
    let stalled = net.nodes[0].finalized_number();
    net.nodes[1].restart(None);
    // Back: finality resumes past the stall, every node agrees.
    let resumed = net.wait_finalized(stalled + 3, Duration::from_secs(300));
    assert_eq!(
        net.nodes[1].block_hash(before),
        finalized_before,
        "Bob's node lost or reverted a finalized block"
    );
    for node in &net.nodes {
        assert_eq!(node.block_hash(before), finalized_before, "{}", node.name);
        assert_eq!(node.block_hash(stalled + 3), resumed, "{}", node.name);
    }

    // kill -9 of Charlie's node, a validator that does not mine.
    let before = net.min_finalized();
    let finalized_before = net.nodes[0].block_hash(before);
    net.nodes[2].kill9();
    std::thread::sleep(Duration::from_secs(5));
    net.nodes[2].restart(None);
    net.wait_finalized(before + 3, Duration::from_secs(300));
    for (node, name) in net.nodes.iter().zip(DEV_NAMES) {
        assert_eq!(node.block_hash(before), finalized_before, "{name}");
    }
    // Blocks keep coming, on every node.
    let best = net.nodes[0].best_number();
    wait_until(
        "blocks after the restarts",
        Duration::from_secs(120),
        || net.nodes.iter().all(|n| n.best_number() >= best + 2),
    );
}
