//! Load benchmark: a bounded transaction flood (transfers and job posts,
//! `UPOW_LOAD_TXS` transfers, default 3 000, and `UPOW_LOAD_POSTS` job
//! posts, default 20, submitted for at most 60 s, then followed for at
//! most `UPOW_LOAD_WAIT` seconds, default 600) on a dev node that mines
//! with the built-in miner, followed by a second node that imports every
//! block over the network. Prints a table: submission and inclusion rates,
//! transactions per block, block import time percentiles on the importing
//! node (seal check + execution, from its Prometheus histograms), and both
//! nodes' peak memory; checks that every accepted transaction was included.
//!
//! `cargo bench -p upow-node --bench load` (needs the release node binary).

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/chain.rs"]
mod chain;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/load.rs"]
mod load;

use std::time::Duration;

use common::{free_port, scrape, Node};

/// `(upper bound, cumulative count)` of a Prometheus histogram's buckets.
fn buckets(scrape: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    scrape
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// The `q` quantile of a histogram, as the upper bound of the bucket that
/// holds it (what its buckets can tell).
fn quantile(buckets: &[(f64, f64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    buckets
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map_or(f64::NAN, |b| b.0)
}

/// Peak resident memory of a process (VmHWM), MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let transfers = env("UPOW_LOAD_TXS", 3_000);
    let posts = env("UPOW_LOAD_POSTS", 20);
    let dir = tempfile::tempdir().expect("temp dir");
    let miner_metrics = free_port();
    // Extra arguments of both nodes (e.g. `--pool-type single-state`).
    let extra = std::env::var("UPOW_LOAD_NODE_ARGS").unwrap_or_default();
    let extra: Vec<&str> = extra.split_whitespace().collect();
    let miner = Node::start(
        "miner",
        &dir.path().join("a"),
        &[
            &[
                "--alice",
                "--mine",
                "--prometheus-port",
                &miner_metrics.to_string(),
            ][..],
            &extra,
        ]
        .concat(),
    );
    let importer_metrics = free_port();
    let importer = Node::start(
        "importer",
        &dir.path().join("b"),
        &[
            &[
                "--bootnodes",
                &miner.multiaddr(),
                "--prometheus-port",
                &importer_metrics.to_string(),
            ][..],
            &extra,
        ]
        .concat(),
    );
    miner.wait_for("the first block", Duration::from_secs(120), |n| {
        n.best_number() >= 1
    });
    let report = load::flood(
        &miner,
        transfers,
        posts,
        Duration::ZERO,
        Duration::from_secs(60),
        Duration::from_secs(env("UPOW_LOAD_WAIT", 600) as u64),
    );
    let best = miner.best_number();
    importer.wait_for("the importer", Duration::from_secs(300), |n| {
        n.best_number() >= best
    });
    let metrics = scrape(importer_metrics);
    let import: Vec<(String, Vec<(f64, f64)>)> =
        ["upow_seal_check_seconds", "upow_block_execution_seconds"]
            .iter()
            .map(|name| (name.to_string(), buckets(&metrics, name)))
            .collect();
    let per_block: Vec<usize> = report.blocks.iter().map(|b| b.1).collect();

    println!(
        "dev chain, built-in miner; {} transfers + {} job posts in batches of 100; 2nd node imports",
        transfers, posts
    );
    println!("{:<52} {:>12}", "measurement", "value");
    let row = |label: &str, value: String| println!("{label:<52} {value:>12}");
    row("accepted by the pool", report.accepted.to_string());
    row("refused by the pool", report.refused.to_string());
    row("included", report.included.to_string());
    row(
        "submission rate (tx/s)",
        format!(
            "{:.0}",
            report.accepted as f64 / report.submit_time.as_secs_f64()
        ),
    );
    row(
        "sustained inclusion rate (tx/s)",
        format!("{:.1}", report.included_per_second()),
    );
    row(
        "time to include all (s)",
        format!("{:.1}", report.inclusion_time.as_secs_f64()),
    );
    row("blocks", per_block.len().to_string());
    row(
        "transactions per block (max)",
        per_block.iter().max().copied().unwrap_or(0).to_string(),
    );
    for (name, b) in &import {
        row(
            &format!("importer {name} p50 (ms, bucket bound)"),
            format!("{:.1}", quantile(b, 0.5) * 1e3),
        );
        row(
            &format!("importer {name} p99 (ms, bucket bound)"),
            format!("{:.1}", quantile(b, 0.99) * 1e3),
        );
    }
    row(
        "miner node peak RSS (MiB)",
        format!("{:.0}", peak_rss_mib(miner.pid().unwrap())),
    );
    row(
        "importing node peak RSS (MiB)",
        format!("{:.0}", peak_rss_mib(importer.pid().unwrap())),
    );
    println!("per sender (accepted, included): {:?}", report.per_sender);
    println!("left in the pool: {}", report.pending);
    println!(
        "blocks (number, transactions): {:?}",
        report.blocks.iter().filter(|b| b.1 > 0).collect::<Vec<_>>()
    );
    if report.included != report.accepted {
        println!("--- miner node log ---\n{}", miner.log_tail());
    }
    if let Some(refusal) = &report.first_refusal {
        println!("first refusal: {refusal}");
    }
    assert_eq!(
        report.included, report.accepted,
        "accepted transactions were not included"
    );
}
