//! End-to-end test of `upow-miner mine`: a dev node that validates but does
//! not mine, and the built miner mining it over JSON-RPC with the candle
//! CPU backend as `//Alice` (the dev chain's only admitted author). Checks
//! blocks, training progress, payment, metrics, a node restart under the
//! running miner, a `kill -9` of the miner and its restart, and a clean
//! Ctrl-C.
//!
//! Needs the release node binary (`cargo build --release -p upow-node`;
//! scripts/test builds it) and the installed Fashion-MNIST (the node's house
//! job trains on it).

// A test crate: helpers may unwrap too (a panic is how a test fails; the
// workspace's clippy.toml allows it in #[test] functions only).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use codec::Decode;
use common::{free_port, metric, scrape, serial, unhex, Miner, Node};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519};
use sp_runtime::{generic::Header, traits::BlakeTwo256};
use upow_primitives::PreDigest;

/// `frame_system::AccountInfo<u32, pallet_balances::AccountData<u128>>`.
#[derive(Decode)]
struct AccountInfo {
    _nonce: u32,
    _consumers: u32,
    _providers: u32,
    _sufficients: u32,
    free: u128,
    _reserved: u128,
    _frozen: u128,
    _flags: u128,
}

/// Free balance of `account` (System.Account) at the best block.
fn free_balance(node: &Node, account: &[u8; 32]) -> u128 {
    let mut key = sp_crypto_hashing::twox_128(b"System").to_vec();
    key.extend(sp_crypto_hashing::twox_128(b"Account"));
    key.extend(sp_crypto_hashing::blake2_128(account));
    key.extend(account);
    let value = node.call(
        "state_getStorage",
        json!([format!("0x{}", hex::encode(key))]),
    );
    if value.is_null() {
        return 0;
    }
    AccountInfo::decode(&mut &unhex(&value)[..]).unwrap().free
}

/// The author in block `n`'s upow pre-runtime digest.
fn author_of(node: &Node, n: u64) -> [u8; 32] {
    let header: Header<u32, BlakeTwo256> =
        serde_json::from_value(node.call("chain_getHeader", json!([node.block_hash(n)]))).unwrap();
    *PreDigest::find(&header.digest).unwrap().author()
}

/// Polls until `cond` holds, failing with both logs after `timeout` or if
/// the miner exits.
fn wait_for(
    what: &str,
    timeout: Duration,
    node: &Node,
    miner: &mut Miner,
    mut cond: impl FnMut(&Node, &Miner) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond(node, miner) {
            return;
        }
        assert!(
            miner.alive(),
            "the miner exited while waiting for {what}\n{}",
            miner.log_tail()
        );
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}\n--- node ---\n{}",
            miner.log_tail(),
            node.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn last_speed(miner: &Miner) -> Option<f64> {
    miner
        .events_named("stats")
        .last()
        .and_then(|s| s["devices"][0]["steps_per_second"].as_f64())
}

#[test]
fn the_miner_mines_a_dev_chain_and_survives_a_node_restart_and_its_own_kill_9() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Alice validates but does not mine: the external miner does.
    let mut node = Node::start("alice", &dir.path().join("node"), &["--alice"]);
    let alice = sr25519::Pair::from_string("//Alice", None)
        .unwrap()
        .public()
        .0;
    let balance_before = free_balance(&node, &alice);
    let job = node.call("upow_getWork", json!([]))["job"]
        .as_u64()
        .unwrap();
    let steps_before = node.call("upow_job", json!([job]))["steps"]
        .as_u64()
        .unwrap();
    assert_eq!(node.best_number(), 0);

    let metrics_port = free_port();
    let node_url = format!("ws://127.0.0.1:{}", node.rpc);
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let miner_args = [
        "--node",
        &node_url,
        "--author",
        "//Alice",
        "--backend",
        "cpu",
        "--threads",
        "1",
        "--metrics",
        &metrics_addr,
        "--max-backoff",
        "2",
    ];
    let mut miner = Miner::start(&dir.path().join("miner"), &miner_args);

    // Ten blocks, all by the miner's key.
    let started = Instant::now();
    wait_for(
        "10 blocks",
        Duration::from_secs(900),
        &node,
        &mut miner,
        |n, _| n.best_number() >= 10,
    );
    let elapsed = started.elapsed();
    let best = node.best_number();
    // The node imports a block before the miner hears back and logs it.
    wait_for(
        "the miner's accepted events",
        Duration::from_secs(30),
        &node,
        &mut miner,
        |_, m| m.events_named("accepted").len() as u64 >= best,
    );
    for n in 1..=best {
        assert_eq!(author_of(&node, n), alice, "block #{n} is not the miner's");
    }

    // The job trained, with a loss point per block; Alice got paid.
    let info = node.call("upow_job", json!([job]));
    let steps_after = info["steps"].as_u64().unwrap();
    assert!(steps_after > steps_before, "{info}");
    let curve = node.call("upow_lossCurve", json!([job, 0, 1024]));
    assert!(curve.as_array().unwrap().len() as u64 >= best, "{curve}");
    let balance_after = free_balance(&node, &alice);
    assert!(
        balance_after > balance_before,
        "free balance {balance_before} → {balance_after}"
    );

    // The miner's own account of it: events and metrics.
    let accepted = miner.events_named("accepted");
    assert!(accepted.len() as u64 >= best, "{}", miner.log_tail());
    assert!(
        miner.events_named("rejected").is_empty(),
        "{}",
        miner.log_tail()
    );
    // Each block's payment as the runtime computed it (upow_blockPayment):
    // known, a reward for every block, and no more than Alice received (she
    // also gets the validators' share: she is the only validator).
    let amount = |event: &serde_json::Value, field: &str| -> u128 {
        event[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} of {event}"))
            .parse()
            .unwrap()
    };
    // Blocks up to `best` are in `balance_after` (later ones may not be).
    let rewards: u128 = accepted
        .iter()
        .filter(|e| e["block"].as_u64().is_some_and(|b| b <= best))
        .map(|e| amount(e, "author_reward"))
        .sum();
    let job_payments: u128 = accepted.iter().map(|e| amount(e, "job_payment")).sum();
    assert!(accepted.iter().all(|e| amount(e, "author_reward") > 0));
    assert_eq!(job_payments, 0, "the dev chain's house job pays nothing");
    assert!(
        rewards <= balance_after - balance_before,
        "rewards {rewards} > balance change {}",
        balance_after - balance_before
    );
    assert_eq!(
        miner.events_named("dataset").last().unwrap()["loaded"],
        json!(60_000)
    );
    let metrics = scrape(metrics_port);
    assert!(
        metric(&metrics, "upow_miner_blocks_accepted_total") >= best as f64,
        "{metrics}"
    );
    assert!(metric(&metrics, "upow_miner_steps_total") >= (steps_after - steps_before) as f64);
    assert!(
        metric(&metrics, "upow_miner_rpc_latency_seconds_count") > 0.0,
        "{metrics}"
    );
    eprintln!(
        "{best} blocks in {:.0} s; job {job}: {steps_before} → {steps_after} steps; \
         free balance {balance_before} → {balance_after}; last speed {:?} steps/s",
        elapsed.as_secs_f64(),
        last_speed(&miner),
    );

    // The node goes away under the miner, and comes back on the same path.
    let connections = metric(&metrics, "upow_miner_connections_total");
    node.stop();
    let down = best;
    wait_for(
        "the miner to notice",
        Duration::from_secs(60),
        &node,
        &mut miner,
        |_, m| !m.events_named("disconnected").is_empty(),
    );
    std::thread::sleep(Duration::from_secs(3));
    node.restart(None);
    let restarted = Instant::now();
    wait_for(
        "2 blocks after the restart",
        Duration::from_secs(600),
        &node,
        &mut miner,
        |n, _| n.best_number() >= down + 2,
    );
    for n in down + 1..=node.best_number() {
        assert_eq!(author_of(&node, n), alice, "block #{n} is not the miner's");
    }
    let metrics = scrape(metrics_port);
    assert!(metric(&metrics, "upow_miner_connections_total") > connections);
    eprintln!(
        "mining resumed: 2 blocks {:.0} s after the node restarted",
        restarted.elapsed().as_secs_f64()
    );

    // kill -9 of the miner, started again on its data directory: it mines on.
    miner.kill9();
    let killed = node.best_number();
    let mut miner = Miner::start(&dir.path().join("miner"), &miner_args);
    wait_for(
        "2 blocks after the miner's kill -9",
        Duration::from_secs(600),
        &node,
        &mut miner,
        |n, _| n.best_number() >= killed + 2,
    );
    for n in killed + 1..=node.best_number() {
        assert_eq!(author_of(&node, n), alice, "block #{n} is not the miner's");
    }

    // Ctrl-C stops it cleanly and promptly.
    let (status, took) = miner
        .interrupt(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit 10 s after Ctrl-C"));
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(3), "stopping took {took:?}");
    let last: Value = miner.events().last().cloned().unwrap();
    assert_eq!(last["event"], "stopped", "{last}");
    eprintln!("stopped {:.2} s after Ctrl-C: {last}", took.as_secs_f64());
}
