//! Clean shutdown: a mining node stopped with SIGINT (Ctrl-C) or SIGTERM
//! exits with status 0, and its databases (the chain's and the checkpoint
//! store's) reopen with every block it had.
//!
//! Reported before: 2 of 6 Ctrl-C stops ended in SIGABRT (`pthread lock:
//! Invalid argument`, exit 134) after `Essential task \`txpool-background\`
//! failed` (docs/reliability.md §Clean shutdown).

mod common;

use std::time::Duration;

use common::{serial, Node};

/// Stops of the test: half SIGINT, half SIGTERM.
const STOPS: usize = 8;

#[test]
fn sigint_and_sigterm_stop_a_mining_node_with_status_0_and_its_databases_reopen() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start("alice", dir.path(), &["--alice", "--mine"]);
    let mut best_before = 0;
    for stop in 0..STOPS {
        // Stopped while it mines (two new blocks: it keeps mining after
        // the first), the miner thread between steps.
        let target = best_before + 2;
        node.wait_for("a new block", Duration::from_secs(120), |n| {
            n.best_number() >= target
        });
        let best = node.best_number();
        let finalized = node.finalized_hash();
        let signal = if stop % 2 == 0 { "INT" } else { "TERM" };
        let status = node
            .stop_with(signal, Duration::from_secs(90))
            .unwrap_or_else(|| panic!("stop {stop}: still running 90 s after SIG{signal}"));
        assert_eq!(
            status.code(),
            Some(0),
            "stop {stop}: SIG{signal} ended the node with {status}\n{}",
            node.log_tail()
        );
        for broken in [
            "pthread lock",
            "Detected running",
            "panicked",
            "Essential task",
        ] {
            assert!(
                !node.log_contains(broken),
                "stop {stop}: the log says {broken:?}\n{}",
                node.log_tail()
            );
        }
        node.restart(None);
        // The reopened databases hold what the node had: its best block and
        // the finalized block (with the weights the miner continues from).
        assert!(node.best_number() >= best, "stop {stop}: blocks lost");
        assert_eq!(
            node.call("chain_getHeader", serde_json::json!([finalized]))["parentHash"]
                .as_str()
                .map(|h| h.len()),
            Some(66),
            "stop {stop}: the finalized block is gone"
        );
        best_before = node.best_number();
    }
}

/// The signing record outlives a restart and a wiped chain database: a
/// node that signed block #1 on genesis, restarted with its chain database
/// gone (as `purge-chain` leaves it), mines on genesis again and refuses to
/// sign a second, different block there — an equivocation. With the record
/// deleted too, the same node does sign one (so the record is what refused).
#[test]
fn a_node_restarted_without_its_chain_refuses_to_sign_a_second_block_at_a_height_it_signed() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let chain_dir = dir.path().join("chains").join("upow_dev");
    let mut node = Node::start("alice", dir.path(), &["--alice", "--mine"]);
    node.wait_for("block #1", Duration::from_secs(120), |n| {
        n.best_number() >= 1
    });
    let first = node.block_hash(1);
    node.stop();
    assert!(
        chain_dir.join("upow-signing-record").exists(),
        "no signing record beside the keystore"
    );
    std::fs::remove_dir_all(chain_dir.join("db")).unwrap();

    node.restart(None);
    node.wait_for(
        "the refusal to sign a second block on genesis",
        Duration::from_secs(180),
        |n| n.log_contains("already sealed block"),
    );
    // Nothing was signed on genesis after the restart: no block #1.
    assert_eq!(node.best_number(), 0, "{}", node.log_tail());
    node.stop();

    std::fs::remove_dir_all(chain_dir.join("db")).unwrap();
    std::fs::remove_file(chain_dir.join("upow-signing-record")).unwrap();
    node.restart(None);
    node.wait_for(
        "block #1 without the record",
        Duration::from_secs(120),
        |n| n.best_number() >= 1,
    );
    // A different block #1 (another timestamp): exactly what the record
    // refused to sign.
    assert_ne!(node.block_hash(1), first);
}
