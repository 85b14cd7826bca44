//! Chain benchmark: runs a dev node that mines with the built-in miner for
//! `UPOW_BENCH_BLOCKS` blocks (default 20) and prints, from the node's
//! Prometheus metrics, where block import time goes (seal check vs block
//! execution, where the wasm runtime re-executes the challenged steps), the
//! wasm/native cost ratio of verifying a trajectory, and block body sizes.
//!
//! `cargo bench -p upow-node --bench chain` (needs the release node binary).

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::{collections::HashMap, time::Duration};

use common::{free_port, scrape, Node};

/// `name_sum` and `name_count` of every histogram on the metrics page.
fn histograms(port: u16) -> HashMap<String, (f64, f64)> {
    let text = scrape(port);
    let mut out: HashMap<String, (f64, f64)> = HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("upow_")) {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let key = key.split('{').next().unwrap_or(key);
        let value: f64 = value.parse().unwrap_or(0.0);
        if let Some(name) = key.strip_suffix("_sum") {
            out.entry(name.to_string()).or_default().0 = value;
        } else if let Some(name) = key.strip_suffix("_count") {
            out.entry(name.to_string()).or_default().1 = value;
        }
    }
    out
}

fn main() {
    let blocks: u64 = std::env::var("UPOW_BENCH_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("temp dir");
    let prometheus = free_port();
    let node = Node::start(
        "bench",
        &dir.path().join("a"),
        &[
            "--alice",
            "--mine",
            "--prometheus-port",
            &prometheus.to_string(),
        ],
    );
    node.wait_for("blocks", Duration::from_secs(60 * 30), |n| {
        n.best_number() >= blocks
    });
    // A second node syncs the chain: it executes every block, so its
    // execution time is the runtime's re-execution of the proofs.
    let prometheus_b = free_port();
    let syncing = Node::start(
        "sync",
        &dir.path().join("b"),
        &[
            "--bootnodes",
            &node.multiaddr(),
            "--prometheus-port",
            &prometheus_b.to_string(),
        ],
    );
    let target = node.best_number();
    syncing.wait_for("sync", Duration::from_secs(60 * 10), |n| {
        n.best_number() >= target
    });
    let author = histograms(prometheus);
    let verifier = histograms(prometheus_b);
    let mean = |h: &HashMap<String, (f64, f64)>, name: &str| {
        h.get(name)
            .map(|(sum, count)| sum / count.max(1.0))
            .unwrap_or(f64::NAN)
    };
    let count =
        |h: &HashMap<String, (f64, f64)>, name: &str| h.get(name).map(|(_, c)| *c).unwrap_or(0.0);
    println!("dev chain, house job 784-128-10 batch 64: {target} blocks mined by the built-in miner, then synced by a second node");
    println!("{:<58} {:>8} {:>11}", "measurement", "samples", "mean");
    for (label, h, name, scale, unit) in [
        (
            "syncing node: seal check (digest, signature, ticket, admission)",
            &verifier,
            "upow_seal_check_seconds",
            1e3,
            "ms",
        ),
        (
            "syncing node: block execution (wasm re-execution) + commit",
            &verifier,
            "upow_block_execution_seconds",
            1e3,
            "ms",
        ),
        (
            "syncing node: final-step replay for the checkpoint store",
            &verifier,
            "upow_weights_replay_seconds",
            1e3,
            "ms",
        ),
        (
            "mining node: trajectory verification, native",
            &author,
            "upow_native_verification_seconds",
            1e3,
            "ms",
        ),
        (
            "mining node: block building (trajectory verified in wasm)",
            &author,
            "upow_block_proposal_seconds",
            1e3,
            "ms",
        ),
        (
            "block body",
            &verifier,
            "upow_block_body_bytes",
            1.0 / 1024.0,
            "KiB",
        ),
    ] {
        println!(
            "{label:<66} {:>6} {:>9.2} {unit}",
            count(h, name),
            mean(h, name) * scale
        );
    }
    println!(
        "wasm/native verification ratio (block building / native verification): {:.1}",
        mean(&author, "upow_block_proposal_seconds")
            / mean(&author, "upow_native_verification_seconds")
    );
    println!(
        "import split on the syncing node: seal check {:.1}% / execution {:.1}%",
        100.0 * mean(&verifier, "upow_seal_check_seconds")
            / (mean(&verifier, "upow_seal_check_seconds")
                + mean(&verifier, "upow_block_execution_seconds")),
        100.0 * mean(&verifier, "upow_block_execution_seconds")
            / (mean(&verifier, "upow_seal_check_seconds")
                + mean(&verifier, "upow_block_execution_seconds")),
    );
}
