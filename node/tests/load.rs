//! A bounded transaction flood on a mining dev node, twice: 3 000
//! transfers from five accounts and 20 job posts, sent in JSON-RPC batches
//! as fast as the node takes them. Every one is accepted and included, and
//! the node keeps mining. (With Substrate's fork-aware pool, 2/3 of such a
//! flood vanished from the pool in 4 of 7 runs: docs/reliability.md §Load.) The figures (tx/s, import-time percentiles, memory) come from
//! the load benchmark, `cargo bench -p upow-node --bench load`
//! (docs/reliability.md §Load).

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/chain.rs"]
mod chain;
mod common;
#[path = "common/load.rs"]
mod load;

use std::time::Duration;

use common::{serial, Node};

#[test]
fn a_transaction_flood_is_included_in_full_while_the_node_mines() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start("alice", dir.path(), &["--alice", "--mine"]);
    node.wait_for("the first block", Duration::from_secs(120), |n| {
        n.best_number() >= 1
    });
    // As fast as possible, then spread over a few blocks (blocks built
    // while the flood goes on).
    for (round, pause) in [0, 200].into_iter().enumerate() {
        let report = load::flood(
            &node,
            3_000,
            20,
            Duration::from_millis(pause),
            Duration::from_secs(60),
            Duration::from_secs(120),
        );
        eprintln!(
            "round {round} ({pause} ms between batches): {} accepted, {} included in {:.1} s, blocks {:?}, per sender {:?}",
            report.accepted,
            report.included,
            report.inclusion_time.as_secs_f64(),
            report.blocks,
            report.per_sender
        );
        assert_eq!(
            report.refused, 0,
            "valid transactions refused: {:?}",
            report.first_refusal
        );
        assert_eq!(report.accepted, 3_020, "the flood was cut short");
        assert_eq!(
            report.included,
            report.accepted,
            "round {round}: accepted transactions were never included ({} left in the pool; \
             per sender (accepted, included): {:?})\n{}",
            report.pending,
            report.per_sender,
            node.log_tail()
        );
    }
    let best = node.best_number();
    node.wait_for("mining after the flood", Duration::from_secs(120), |n| {
        n.best_number() > best
    });
}
