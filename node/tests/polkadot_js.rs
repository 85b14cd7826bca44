//! The standard client works: `clients/polkadot-js/test.mjs` (@polkadot/api,
//! no custom types) against a dev node that mines — block authors, listing a
//! workload through sudo, posting a job to finality, status over RPC and the
//! runtime API, typed errors for a bad spec, an unlisted spec and a
//! stranger's cancel, the cancel's refund to the unit.
//!
//! Needs Node.js and the script's `node_modules` (scripts/setup installs
//! both). Without them the test fails with a message saying so; set
//! `UPOW_SKIP_JS=1` to skip it on a machine that has no Node.js.

mod common;

use common::{serial, Node};
use std::{path::PathBuf, process::Command};

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clients/polkadot-js")
}

#[test]
fn polkadot_js_posts_watches_and_cancels_a_job_without_custom_types() {
    if std::env::var_os("UPOW_SKIP_JS").is_some() {
        eprintln!("UPOW_SKIP_JS is set: the @polkadot/api test is skipped");
        return;
    }
    let dir = client_dir();
    assert!(
        dir.join("node_modules/@polkadot/api").is_dir(),
        "{}/node_modules is missing: run scripts/setup (it runs `npm ci` there), \
         or set UPOW_SKIP_JS=1 to skip this test",
        dir.display()
    );
    let _serial = serial();
    let base = tempfile::tempdir().expect("temp dir");
    let node = Node::start("alice", base.path(), &["--alice", "--mine"]);
    let output = Command::new("node")
        .arg("test.mjs")
        .current_dir(&dir)
        .env("UPOW_WS", format!("ws://127.0.0.1:{}", node.rpc))
        .output()
        .expect("Node.js runs (install it with scripts/setup)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the @polkadot/api script failed ({}):\n{stdout}\n{stderr}\nnode log:\n{}",
        output.status,
        node.log_tail()
    );
    assert!(stdout.contains("[polkadot-js] ok"), "{stdout}");
}
