//! A network partition with competing proof-of-work forks, then the heal
//! (docs/reliability.md §Partition). Three validators of the `local` chain
//! spec, each in a network namespace of its own: Alice's and Bob's nodes on
//! one side, Charlie's on the other, Alice and Charlie mining. Cut apart,
//! both sides keep mining (two forks from one parent) and neither can
//! finalize (GRANDPA needs all three). Healed, the nodes settle on one fork
//! (the heavier: sc-consensus-pow's fork choice by total difficulty), the
//! other side re-organizes, GRANDPA finalizes past the partition, no
//! finalized block is lost or reverted, every node has the same finalized
//! head and the same job weights, and mining goes on.
//!
//! Slow and needs root (network namespaces): runs with `UPOW_SLOW_TESTS=1`
//! (`scripts/test --slow`).

#[path = "common/chain.rs"]
mod chain;
mod common;
#[path = "common/localnet.rs"]
mod localnet;
#[path = "common/netns.rs"]
mod netns;

use std::time::Duration;

use common::{serial, wait_until, Node};
use localnet::Localnet;
use netns::Lan;
use serde_json::json;

/// Whether `hash` is the canonical block at its height on `node`.
fn canonical(node: &Node, hash: &str) -> bool {
    let header = node.call("chain_getHeader", json!([hash]));
    let number = common::number(&header["number"]);
    node.block_hash(number) == hash
}

/// The house job's weights hash at the best block, and whether the node
/// holds those weights.
fn house_weights(node: &Node) -> (String, bool) {
    // The house job is the last open job.
    let jobs = node.call("upow_openJobs", json!([]));
    let house = jobs
        .as_array()
        .and_then(|j| j.last())
        .expect("the house job is open")["job"]
        .clone();
    let weights = node.call("upow_job", json!([house]))["weights"]
        .as_str()
        .expect("a weights hash")
        .to_string();
    let held = node.rpc_call("upow_getWeights", json!([weights])).is_ok();
    (weights, held)
}

#[test]
fn a_partition_with_competing_forks_heals_and_nothing_final_is_lost() {
    if std::env::var_os("UPOW_SLOW_TESTS").is_none() {
        eprintln!("set UPOW_SLOW_TESTS=1 (scripts/test --slow, as root) to partition a localnet");
        return;
    }
    let _serial = serial();
    let mut lan = Lan::new(3).unwrap_or_else(|e| {
        panic!("the partition test needs network namespaces (root, iproute2): {e}")
    });
    let hosts = lan
        .hosts
        .iter()
        .map(|h| Some((h.netns.clone(), h.ip.clone())))
        .collect();
    // Alice (node 1) and Charlie (node 3) mine.
    let net = Localnet::start_on_hosts(hosts, 1, |i| {
        if i == 3 {
            vec!["--mine".into()]
        } else {
            vec![]
        }
    });
    let before = net.min_finalized().max(2);
    let finalized_before = net.wait_finalized(before, Duration::from_secs(300));
    let (alice, charlie) = (&net.nodes[0], &net.nodes[2]);

    // ---- Cut {Alice, Bob} | {Charlie}.
    lan.partition(&[0, 1], &[2]);
    let cut_at = net.nodes.iter().map(Node::best_number).max().unwrap();
    wait_until(
        "both sides mining on their own",
        Duration::from_secs(300),
        || {
            alice.best_number() >= cut_at + 4
                && charlie.best_number() >= cut_at + 4
                && alice.best_hash() != charlie.best_hash()
        },
    );
    // Two forks: each side's tip is not on the other side's chain.
    let (tip_a, tip_c) = (alice.best_hash(), charlie.best_hash());
    assert!(!canonical(charlie, &tip_a) && !canonical(alice, &tip_c));
    let finalized_cut = net.nodes.iter().map(Node::finalized_number).max().unwrap();
    eprintln!(
        "partitioned: Alice's side at #{} ({tip_a}), Charlie's at #{} ({tip_c}), finalized #{finalized_cut}",
        alice.best_number(),
        charlie.best_number()
    );
    // Without all three validators, nothing more is finalized.
    std::thread::sleep(Duration::from_secs(10));
    for node in &net.nodes {
        assert!(
            node.finalized_number() <= finalized_cut + 1,
            "{} finalized past the partition",
            node.name
        );
    }

    // ---- Heal.
    lan.heal();
    let height = net.nodes.iter().map(Node::best_number).max().unwrap();
    let resumed = net.wait_finalized(height + 1, Duration::from_secs(300));
    // One fork won: its tip is canonical everywhere, the other's nowhere.
    let a_won = canonical(charlie, &tip_a);
    let c_won = canonical(alice, &tip_c);
    assert!(
        a_won != c_won,
        "one fork wins: Alice's {a_won}, Charlie's {c_won}"
    );
    let (won, lost) = if a_won {
        (&tip_a, &tip_c)
    } else {
        (&tip_c, &tip_a)
    };
    eprintln!(
        "healed: the fork of {} won; finalized #{} {resumed}",
        if a_won {
            "Alice's side"
        } else {
            "Charlie's side"
        },
        height + 1
    );
    for node in &net.nodes {
        assert!(
            canonical(node, won),
            "{}: the winning fork is not canonical",
            node.name
        );
        assert!(
            !canonical(node, lost),
            "{}: the losing fork is still canonical",
            node.name
        );
        assert_eq!(
            node.block_hash(before),
            finalized_before,
            "{}: a finalized block reverted",
            node.name
        );
    }

    // Mining goes on, every node follows, and all hold the same weights.
    let best = net.nodes.iter().map(Node::best_number).max().unwrap();
    wait_until("blocks after the heal", Duration::from_secs(180), || {
        net.nodes.iter().all(|n| n.best_number() >= best + 2)
    });
    wait_until(
        "one best block and its weights everywhere",
        Duration::from_secs(120),
        || {
            let tips: Vec<String> = net.nodes.iter().map(Node::best_hash).collect();
            let weights: Vec<(String, bool)> = net.nodes.iter().map(house_weights).collect();
            tips.iter().all(|t| *t == tips[0]) && weights.iter().all(|w| w.1 && w.0 == weights[0].0)
        },
    );
}
