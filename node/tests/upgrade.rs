//! A runtime upgrade on a running local network (docs/reliability.md
//! §Runtime upgrade): three validators of the `local` chain spec, two of
//! them mining, a paid job in training. The candidate (this runtime built
//! with `try-runtime` and `next-spec-version`) is first tried with
//! `upow-node try-upgrade` against the live state (the running runtime
//! itself is refused: its spec version is not higher), then installed with
//! `sudo(set_code)`. Every node moves to the new spec version, the chain
//! keeps mining and finalizing past the upgrade, no finalized block is lost,
//! every node has the same finalized head, and the job goes on training.
//!
//! Slow, and needs the candidate runtime: runs when `UPOW_UPGRADE_WASM`
//! names it (`scripts/test --slow` builds it).

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/chain.rs"]
mod chain;
mod common;
#[path = "common/load.rs"]
mod load;
#[path = "common/localnet.rs"]
mod localnet;

use std::{path::Path, process::Command, time::Duration};

use chain::{list_workloads, pair, submit};
use common::{node_binary, number, number_or_hex, unhex, wait_until, Node};
use localnet::{sudo, Localnet};
use serde_json::{json, Value};
use sp_core::storage::well_known_keys;
use upow_runtime::{RuntimeCall, UNIT};

/// The spec version of the runtime at `at` (best block: `None`).
fn spec_version(node: &Node, at: Option<&str>) -> u64 {
    node.call("state_getRuntimeVersion", json!([at]))["specVersion"]
        .as_u64()
        .expect("a spec version")
}

/// `upow-node try-upgrade` of the runtime in `wasm` against `node`: exit
/// success and its output.
fn try_upgrade(node: &Node, wasm: &Path) -> (bool, String) {
    let out = Command::new(node_binary())
        .args(["try-upgrade", "--uri"])
        .arg(format!("ws://127.0.0.1:{}", node.rpc))
        .arg("--runtime")
        .arg(wasm)
        .output()
        .expect("upow-node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The job `id` (`upow_job`) at the best block.
fn job(node: &Node, id: u64) -> Value {
    node.call("upow_job", json!([id]))
}

#[test]
fn a_runtime_upgrade_by_sudo_set_code_keeps_the_chain_mining_and_finalizing() {
    let Some(candidate) = std::env::var_os("UPOW_UPGRADE_WASM") else {
        assert!(
            std::env::var_os("UPOW_SLOW_TESTS").is_none(),
            "the slow suites run, but UPOW_UPGRADE_WASM names no candidate runtime"
        );
        eprintln!(
            "set UPOW_UPGRADE_WASM to the runtime built with try-runtime,next-spec-version \
             (scripts/test --slow) to upgrade a localnet"
        );
        return;
    };
    let candidate = Path::new(&candidate).to_path_buf();
    let code = std::fs::read(&candidate).expect("the candidate runtime");
    let _serial = common::serial();
    let net = Localnet::start(3, 2, |_| vec![]);
    net.wait_finalized(2, Duration::from_secs(240));
    let alice = &net.nodes[0];
    let from = spec_version(alice, None);

    // A paid job in flight: posted, then trained by the miners.
    let open_before: Vec<u64> = open_job_ids(alice);
    let ferdie = pair("//Ferdie");
    list_workloads(
        alice,
        &[&load::small_job_spec(
            upow_runtime::genesis_config_presets::FASHION_MNIST_TRAIN,
            1_000_000,
        )],
    );
    submit(
        alice,
        &ferdie,
        load::nonce(alice, &ferdie),
        load::small_job(
            upow_runtime::genesis_config_presets::FASHION_MNIST_TRAIN,
            1_000_000,
            10_000 * UNIT,
        ),
    );
    let mut posted = None;
    wait_until("the posted job open", Duration::from_secs(120), || {
        posted = open_job_ids(alice)
            .into_iter()
            .find(|id| !open_before.contains(id));
        posted.is_some()
    });
    let posted = posted.expect("found above");
    wait_until("the job trained", Duration::from_secs(240), || {
        job(alice, posted)["steps"].as_u64() > Some(0)
    });

    // Tried first: the running runtime is no upgrade of itself, the
    // candidate passes every check against the live state.
    let dir = tempfile::tempdir().unwrap();
    let running = dir.path().join("running.wasm");
    let code_key = format!("0x{}", hex::encode(well_known_keys::CODE));
    std::fs::write(
        &running,
        unhex(&alice.call("state_getStorage", json!([code_key]))),
    )
    .unwrap();
    let (ok, out) = try_upgrade(alice, &running);
    assert!(
        !ok && out.contains(&format!(
            "spec_version {from} is not above the chain's {from}"
        )),
        "the running runtime passed as its own upgrade:\n{out}"
    );
    // Bad candidates get a clear error.
    let (ok, out) = try_upgrade(alice, &dir.path().join("missing.wasm"));
    assert!(
        !ok && out.contains("reading the candidate runtime"),
        "{out}"
    );
    let not_wasm = dir.path().join("not.wasm");
    std::fs::write(&not_wasm, b"not a runtime").unwrap();
    let (ok, out) = try_upgrade(alice, &not_wasm);
    assert!(
        !ok && out.contains("the candidate's runtime version"),
        "{out}"
    );
    let (ok, out) = try_upgrade(alice, &candidate);
    assert!(
        ok && out.contains("every check passed"),
        "try-upgrade refused the candidate:\n{out}"
    );
    // The checks ran: the state decoded, the jobs pallet's invariants held.
    assert!(
        out.contains("Entire runtime state decodes without error")
            && out.contains("Running \"Jobs\" try-state checks"),
        "{out}"
    );
    eprintln!("{}", out.trim());

    // Installed.
    let final_before = alice.finalized_hash();
    let final_before_number = alice.finalized_number();
    let steps_before = job(alice, posted)["steps"].as_u64().unwrap();
    let escrow_before = number_or_hex(&job(alice, posted)["budgetLeft"]);
    sudo(
        alice,
        load::nonce(alice, &pair("//Alice")),
        RuntimeCall::System(frame_system::Call::set_code { code }),
    );
    wait_until(
        "every node on the new runtime",
        Duration::from_secs(300),
        || net.nodes.iter().all(|n| spec_version(n, None) > from),
    );
    let to = spec_version(alice, None);
    let upgraded_at = alice.best_number();
    eprintln!("spec_version {from} → {to} at #{upgraded_at}");

    // Mining and finality go on past it.
    let finalized = net.wait_finalized(upgraded_at + 3, Duration::from_secs(300));
    for node in &net.nodes {
        assert_eq!(
            spec_version(node, Some(&finalized)),
            to,
            "{}: the finalized head runs the old runtime",
            node.name
        );
        assert_eq!(
            node.block_hash(final_before_number),
            final_before,
            "{}: a block finalized before the upgrade was reverted",
            node.name
        );
    }
    let upgraded_finalized = number(&alice.call("chain_getHeader", json!([finalized]))["number"]);
    assert!(upgraded_finalized >= upgraded_at + 3);

    // The job is still there, with its escrow, and still trained.
    wait_until(
        "the job trained on the new runtime",
        Duration::from_secs(240),
        || job(alice, posted)["steps"].as_u64() > Some(steps_before),
    );
    let after = job(alice, posted);
    let escrow_after = number_or_hex(&after["budgetLeft"]);
    let paid = number_or_hex(&after["pendingPayment"]);
    assert!(
        escrow_after < escrow_before && escrow_after > 0,
        "escrow {escrow_before} → {escrow_after} (pending payment {paid}): the new runtime \
         should pay the job's steps from its escrow"
    );
    eprintln!(
        "job {posted}: {steps_before} → {} steps across the upgrade",
        after["steps"]
    );
}

/// The ids of the jobs open at the best block.
fn open_job_ids(node: &Node) -> Vec<u64> {
    node.call("upow_openJobs", json!([]))
        .as_array()
        .expect("a list")
        .iter()
        .map(|j| j["job"].as_u64().expect("a job id"))
        .collect()
}
