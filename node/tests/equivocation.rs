//! A miner that equivocates, two sealed blocks on one parent (through two
//! nodes), is reported by anyone with the two headers the nodes serve
//! (`staking.report_equivocation`), slashed and suspended, end to end on a
//! running node; it can author no further block. (A second report of the
//! same offence is refused: the staking pallet's tests.)

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/chain.rs"]
mod chain;
mod common;

use chain::*;
use codec::{Decode, Encode};
use common::{fashion_mnist, serial, unhex, Node};
use serde_json::json;
use sp_core::{crypto::Pair as _, H256};
use upow_puzzle::idx;
use upow_runtime::{RuntimeCall, RuntimeEvent};

/// The events of block `hash`.
fn events(node: &Node, hash: &str) -> Vec<RuntimeEvent> {
    let key = [
        sp_io::hashing::twox_128(b"System"),
        sp_io::hashing::twox_128(b"Events"),
    ]
    .concat();
    let raw = unhex(&node.call(
        "state_getStorage",
        json!([format!("0x{}", hex::encode(key)), hash]),
    ));
    Vec::<frame_system::EventRecord<RuntimeEvent, H256>>::decode(&mut &raw[..])
        .unwrap()
        .into_iter()
        .map(|record| record.event)
        .collect()
}

/// The sealed header of block `hash`.
fn header(node: &Node, hash: &str) -> upow_runtime::Header {
    serde_json::from_value(node.call("chain_getHeader", json!([hash]))).unwrap()
}

#[test]
fn an_equivocating_miner_is_reported_slashed_and_suspended() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Alice validates; this test mines as Alice (an external miner). A node
    // refuses to seal a second block of one author on one parent, so the
    // equivocating miner uses a second node of the same chain, which has not
    // seen the first block (not connected).
    let mut node = Node::start("alice", &dir.path().join("a"), &["--alice"]);
    let other = Node::start("other", &dir.path().join("b"), &[]);
    let train = idx::load_split(&fashion_mnist(), idx::Split::Train).unwrap();
    let (alice, bob) = (pair("//Alice"), pair("//Bob"));

    // One won trajectory on genesis, sealed on each node: two blocks #1
    // (their timestamps differ), both signed by Alice.
    let parent = node.block_hash(0);
    assert_eq!(other.block_hash(0), parent);
    let won = mine(&node, &parent, &alice, &train);
    let first = seal_won(&node, &parent, &alice, &won);
    let second = seal_won(&other, &parent, &alice, &won);
    assert_ne!(first, second, "the two blocks are the same block");
    let (a, b) = (header(&node, &first), header(&other, &second));
    assert_eq!((a.parent_hash, a.number), (b.parent_hash, b.number));

    // Bob reports it; the next block (Alice's, still admitted) includes it.
    submit(
        &node,
        &bob,
        0,
        RuntimeCall::Staking(pallet_upow_staking::Call::report_equivocation {
            first: Box::new(a),
            second: Box::new(b),
        }),
    );
    let included = author_block(&node, &alice, &train);
    let alice_account = sp_runtime::AccountId32::from(alice.public());
    let events = events(&node, &included);
    let slashed = events.iter().find_map(|e| match e {
        RuntimeEvent::Staking(pallet_upow_staking::Event::Slashed {
            who,
            author,
            amount,
        }) if *who == alice_account && *author == alice.public().0 => Some(*amount),
        _ => None,
    });
    assert!(
        slashed.is_some_and(|amount| amount > 0),
        "no slash of Alice in {events:?}"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        RuntimeEvent::Staking(pallet_upow_staking::Event::Suspended { who }) if *who == alice_account
    )));

    // Suspended: Alice's next trajectory is refused, by the node's RPC.
    let best = node.best_hash();
    let won = mine(&node, &best, &alice, &train);
    let refused = node
        .rpc_call(
            "upow_submitWork",
            json!([submission(&node, &best, &alice, &won, &won.proof.encode())]),
        )
        .expect_err("a suspended author's work was accepted");
    assert!(
        refused.message.contains("admitted"),
        "unexpected refusal: {refused:?}"
    );
    assert!(node.alive());
}
