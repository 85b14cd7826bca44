//! The builder's path through `upow-cli` against a dev node that mines
//! (docs/jobs.md): publish a dataset that is not the genesis one, post a
//! job over it, watch it train, download the model as safetensors and
//! evaluate it, cancel a second job and account for every unit; and every
//! bad input refused with a clear error, nothing moved, node and CLI alive.
//!
//! `builder_trains_fashion_mnist_to_88_percent` (10 epochs, several
//! minutes) runs only with `UPOW_SLOW_TESTS=1` (`scripts/test --slow`).

// Test code may unwrap: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../node/tests/common/chain.rs"]
mod chain;
#[path = "../../node/tests/common/mod.rs"]
mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant},
};

use common::{fashion_mnist, serial, unhex, Node};
use serde_json::json;
use upow_cli::jobfile::parse_balance;
use upow_puzzle::{idx, Dataset};

/// Runs `upow-cli` against `node`.
fn cli(node: &Node, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_upow-cli"))
        .args(["--node", &format!("ws://127.0.0.1:{}", node.rpc)])
        .args(args)
        .output()
        .expect("upow-cli runs")
}

/// Runs `upow-cli`, requires success, returns its stdout.
fn cli_ok(node: &Node, args: &[&str]) -> String {
    let out = cli(node, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "upow-cli {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs `upow-cli`, requires a clean failure (exit 1, one `error:` line
/// containing `needle`), returns stderr.
fn cli_refused(node: &Node, args: &[&str], needle: &str) -> String {
    let out = cli(node, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "upow-cli {args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "upow-cli {args:?}: expected {needle:?} in\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The value after `key` on the line that has it (`job 3 posted …`).
fn word_after<'a>(text: &'a str, key: &str) -> &'a str {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} not in {text}"));
    text[at + key.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches([',', ':', ')'])
}

/// The `(fee …)` of a post or cancel, plancks.
fn fee(text: &str) -> u128 {
    let at = text.find("(fee ").unwrap() + 5;
    let end = text[at..].find(')').unwrap() + at;
    parse_balance(&text[at..end]).unwrap()
}

fn alice_url(node: &Node) -> String {
    format!("ws://127.0.0.1:{}", node.rpc)
}

/// A binary built beside this test's (`upow-miner`): `<target>/release/<name>`.
fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let release = exe.parent().and_then(Path::parent).unwrap();
    let path = release.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first",
        path.display()
    );
    path
}

/// Writes the first `n` Fashion-MNIST training samples, in reverse order,
/// as CSV (a dataset that is not the genesis one: another root).
fn write_csv(dir: &Path, train: &Dataset, n: usize) -> PathBuf {
    let path = dir.join("fashion-reversed.csv");
    let mut text = String::from("label,pixels…\n");
    for i in (0..n).rev() {
        let sample = train.sample(i).unwrap();
        let row: Vec<String> = sample.iter().map(u8::to_string).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn write_job(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

/// The accuracy `clients/python/eval_model.py` prints for a model file
/// (`88.43%`), with the venv scripts/setup makes (`$UPOW_PYTHON` overrides).
fn python_accuracy(model: &Path, test: &Path) -> String {
    let python = std::env::var_os("UPOW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME");
            PathBuf::from(home).join(".cache/upow/venv/bin/python")
        });
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup (numpy and safetensors in a venv) or set UPOW_PYTHON",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/python/eval_model.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(model)
        .arg(test)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "eval_model.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    word_after(&stdout, "accuracy").to_string()
}

fn job_status(node: &Node, id: u64) -> serde_json::Value {
    node.call("upow_job", json!([id]))
}

/// Lists the spec of job file `file` at its nominal cost and the
/// degeneracy rule's own liveness threshold (1/32) as governance (Alice,
/// the dev chain's sudo key); returns the CLI's output.
fn list_as_governance(node: &Node, file: &Path) -> String {
    cli_ok(
        node,
        &[
            "workload",
            "list",
            file.to_str().unwrap(),
            "--nominal",
            "--min-nonzero",
            "0.5",
            "--min-live",
            "0.03125",
            "--min-active",
            "0",
            "--key",
            "//Alice",
        ],
    )
}

#[test]
fn builder_publishes_posts_downloads_evaluates_and_cancels() {
    let fm = fashion_mnist();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start("alice", &dir.path().join("node"), &["--alice", "--mine"]);
    let train = idx::load_split(&fm, idx::Split::Train).unwrap();
    let csv = write_csv(dir.path(), &train, 4096);
    let csv = csv.to_str().unwrap();

    // --- publish: a new root, uploaded and verified by the node.
    let published = cli_ok(&node, &["dataset", "publish", csv]);
    let root = word_after(&published, "root").to_string();
    assert!(published.contains("stored: "), "{published}");
    assert_ne!(
        root,
        format!("0x{}", hex::encode(train.commitment().root)),
        "a new dataset"
    );
    assert!(cli_ok(&node, &["dataset", "publish", csv]).contains("already stores"));
    let served = node.call("upow_getDataset", json!([root, 0, 2]));
    assert_eq!(served["samples"], 4096);

    // --- bad input: each refused with its reason; the node keeps running.
    let bob = chain::pair("//Bob");
    let charlie = chain::pair("//Charlie");
    let job = |budget: &str, model: &str| {
        format!(
            "model = {model}\nbatch = 16\nlr_shift = 2\nsteps = 100000\n\
             price_per_step = \"0.001 UPOW\"\nbudget = \"{budget}\"\n\
             [dataset]\npath = \"{csv}\"\n"
        )
    };
    let bob_before = chain::balance(&node, &bob);
    let malformed = write_job(dir.path(), "bad.toml", &job("5 UPOW", "[784, 2000, 10]"));
    cli_refused(
        &node,
        &["job", "post", malformed.to_str().unwrap(), "--key", "//Bob"],
        "`model`: ",
    );
    let syntax = write_job(dir.path(), "syntax.toml", "model = [784, 32, 10\n");
    cli_refused(
        &node,
        &["job", "post", syntax.to_str().unwrap(), "--key", "//Bob"],
        "syntax.toml",
    );
    let rich = write_job(
        dir.path(),
        "rich.toml",
        &job("2000000000 UPOW", "[784, 32, 10]"),
    );
    // Not listed yet: refused before anything is signed.
    cli_refused(
        &node,
        &["job", "post", rich.to_str().unwrap(), "--key", "//Bob"],
        "is not a listed workload's",
    );
    // Only governance lists: Charlie's sudo call is refused (RequireSudo),
    // and so are a zero cost, a liveness threshold below the degeneracy
    // rule's own (1/32) and a density threshold above 1.
    let rich = rich.to_str().unwrap();
    let list_refused = |file: &str, flags: &[&str], key: &str, needle: &str| {
        let args = [&["workload", "list", file], flags, &["--key", key]].concat();
        cli_refused(&node, &args, needle);
    };
    // `--nominal` (or another cost) and the three liveness thresholds as
    // fractions: non-zero weights, live units, active activations.
    let flags = |cost: &[&'static str], [nonzero, live, active]: [&'static str; 3]| {
        [
            cost,
            &[
                "--min-nonzero",
                nonzero,
                "--min-live",
                live,
                "--min-active",
                active,
            ],
        ]
        .concat()
    };
    let nominal = flags(&["--nominal"], ["0.5", "0.5", "0.1"]);
    list_refused(rich, &nominal, "//Charlie", "RequireSudo");
    list_refused(
        rich,
        &flags(&["--cost", "0"], ["0.5", "0.5", "0.1"]),
        "//Alice",
        "at least 1 cost unit",
    );
    list_refused(
        rich,
        &flags(&["--nominal"], ["0.5", "0.01", "0.1"]),
        "//Alice",
        "below the degeneracy rule's own threshold, 0.03125 of the units",
    );
    list_refused(
        rich,
        &flags(&["--nominal"], ["0.4", "0.5", "0.1"]),
        "//Alice",
        "below the degeneracy rule's own threshold, 0.5 of the weights",
    );
    list_refused(
        rich,
        &flags(&["--nominal"], ["0.5", "0.5", "1.5"]),
        "//Alice",
        "a fraction of each hidden layer's activations",
    );
    // A job file naming its dataset by commitment only: governance must
    // state the dataset's label range, and one outside the model's classes
    // is refused (by the CLI before signing; the chain's LabelsOutsideClasses
    // is pallets/jobs' test).
    let committed = write_job(
        dir.path(),
        "committed.toml",
        &job("1 UPOW", "[784, 32, 10]").replace(
            &format!("path = \"{csv}\"\n"),
            &format!("root = \"{root}\"\nsamples = 4096\ninputs = 784\n"),
        ),
    );
    let committed = committed.to_str().unwrap();
    list_refused(committed, &nominal, "//Alice", "pass --max-label");
    list_refused(
        committed,
        &flags(&["--nominal", "--max-label", "10"], ["0.5", "0.5", "0.1"]),
        "//Alice",
        "not a class of the model",
    );
    let shown = cli_ok(&node, &["workload", "show", rich]);
    assert!(shown.contains("not listed"), "{shown}");
    // Governance (Alice, the dev chain's sudo key) lists the two specs
    // this test posts; the budget is not part of a spec.
    for model in ["[784, 32, 10]", "[784, 16, 10]"] {
        let file = write_job(dir.path(), "listing.toml", &job("1 UPOW", model));
        let listed = list_as_governance(&node, &file);
        assert!(listed.contains("listed at "), "{listed}");
        let shown = cli_ok(&node, &["workload", "show", file.to_str().unwrap()]);
        assert!(shown.contains("cost units a step"), "{shown}");
        assert!(
            shown.contains("32/1024 of each hidden layer live"),
            "{shown}"
        );
        assert!(
            shown.contains("512/1024 of each layer's weights non-zero"),
            "{shown}"
        );
    }
    cli_refused(
        &node,
        &["job", "post", rich, "--key", "//Bob"],
        "above the free balance",
    );
    cli_refused(&node, &["job", "status", "999"], "no job 999");
    cli_refused(
        &node,
        &["job", "cancel", "999", "--key", "//Bob"],
        "no job 999",
    );
    cli_refused(
        &node,
        &["job", "post", "/nonexistent.toml", "--key", "//Bob"],
        "nonexistent",
    );
    cli_refused(&node, &["job", "post", rich], "no signing key");
    // A dataset whose bytes do not match its root: the node refuses to store it.
    let refused = node
        .rpc_call(
            "upow_putDataset",
            json!([format!("0x{}", "11".repeat(32)), 1, 4, 0, "0x0001020304"]),
        )
        .unwrap_err();
    assert_eq!(
        refused.code,
        upow_primitives::rpc::error::REJECTED as i64,
        "{refused:?}"
    );
    assert_eq!(chain::balance(&node, &bob), bob_before, "nothing moved");

    // --- post two jobs over the published dataset.
    let post = |file: &Path| {
        cli_ok(
            &node,
            &["job", "post", file.to_str().unwrap(), "--key", "//Bob"],
        )
    };
    let first = write_job(dir.path(), "first.toml", &job("50 UPOW", "[784, 32, 10]"));
    let posted = post(&first);
    let first_id: u64 = word_after(&posted, "job").parse().unwrap();
    // At the block that posted it the job has no weights: the next block
    // draws its initial weights.
    let posted_in = node.call("chain_getHeader", json!([word_after(&posted, "block")]))["number"]
        .as_str()
        .map(|n| u32::from_str_radix(n.trim_start_matches("0x"), 16).unwrap())
        .unwrap();
    let early = dir.path().join("early.safetensors");
    cli_refused(
        &node,
        &[
            "job",
            "weights",
            &first_id.to_string(),
            "--at",
            &posted_in.to_string(),
            "--out",
            early.to_str().unwrap(),
        ],
        "has no weights yet: a block after its posting (normally the next) draws its initial weights",
    );
    assert!(!early.exists(), "nothing written");
    let second_before = chain::balance(&node, &bob).0;
    let second = write_job(dir.path(), "second.toml", &job("40 UPOW", "[784, 16, 10]"));
    let posted_second = post(&second);
    let second_id: u64 = word_after(&posted_second, "job").parse().unwrap();
    let status = cli_ok(&node, &["job", "status", &first_id.to_string()]);
    assert!(status.contains(&format!("job {first_id}: ")), "{status}");
    assert!(status.contains(&root[2..]), "{status}");

    // --- the miner trains the first job; its model downloads and evaluates.
    node.wait_for("job training", Duration::from_secs(240), |n| {
        job_status(n, first_id)["steps"].as_u64().unwrap_or(0) > 0
    });
    let model = dir.path().join("model.safetensors");
    let downloaded = cli_ok(
        &node,
        &[
            "job",
            "weights",
            &first_id.to_string(),
            "--out",
            model.to_str().unwrap(),
        ],
    );
    assert!(downloaded.contains("steps, weights 0x"), "{downloaded}");
    let from_file = cli_ok(
        &node,
        &[
            "job",
            "eval",
            model.to_str().unwrap(),
            "--test",
            fm.to_str().unwrap(),
        ],
    );
    assert!(from_file.starts_with("accuracy "), "{from_file}");
    let loaded = upow_cli::model::from_safetensors(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(loaded.provenance.job, first_id);
    // The loss curve as an image.
    let png = dir.path().join("loss.png");
    let plotted = cli_ok(
        &node,
        &[
            "job",
            "plot",
            &first_id.to_string(),
            "--out",
            png.to_str().unwrap(),
        ],
    );
    assert!(plotted.contains("points → "), "{plotted}");
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let svg = dir.path().join("loss.svg");
    cli_ok(
        &node,
        &[
            "job",
            "plot",
            &first_id.to_string(),
            "--out",
            svg.to_str().unwrap(),
        ],
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    cli_refused(
        &node,
        &["job", "plot", "999", "--out", png.to_str().unwrap()],
        "job 999",
    );
    // Other tools read it: numpy + safetensors reproduce the accuracy.
    let python = python_accuracy(&model, &fm);
    assert_eq!(
        python,
        word_after(&from_file, "accuracy"),
        "clients/python/eval_model.py agrees with `job eval`"
    );
    // A corrupted file is refused.
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, &bytes).unwrap();
    cli_refused(
        &node,
        &[
            "job",
            "eval",
            corrupt.to_str().unwrap(),
            "--test",
            fm.to_str().unwrap(),
        ],
        "not a upow model file",
    );

    // --- a cancel by someone else is refused before anything is signed.
    let charlie_before = chain::balance(&node, &charlie);
    cli_refused(
        &node,
        &[
            "job",
            "cancel",
            &second_id.to_string(),
            "--key",
            "//Charlie",
        ],
        "only its poster may cancel it",
    );
    assert_eq!(chain::balance(&node, &charlie), charlie_before);

    // --- Bob cancels the second job: every unit accounted for.
    let cancelled = cli_ok(
        &node,
        &["job", "cancel", &second_id.to_string(), "--key", "//Bob"],
    );
    let refund = parse_balance(&format!("{} UPOW", word_after(&cancelled, "):"))).unwrap();
    let ended = job_status(&node, second_id);
    assert_eq!(ended["status"], "Cancelled");
    let pending = common::number_or_hex(&ended["pendingPayment"]);
    // The record's deposit and every byte of the dataset, as `job post` said.
    let deposit = parse_balance(&format!(
        "{} UPOW",
        word_after(&posted_second, "(+ deposit")
    ))
    .unwrap();
    assert_eq!(
        deposit,
        upow_primitives::job_deposit(
            upow_runtime::configs::JobDeposit::get(),
            upow_runtime::configs::DatasetDepositPerByte::get(),
            &upow_puzzle::DatasetCommitment {
                root: [0; 32],
                samples: 4096,
                inputs: 784
            }
        )
        .unwrap()
    );
    let budget = 40 * upow_runtime::UNIT;
    // The second job's own effect on Bob's free balance: its post fee,
    // deposit and budget went out; the refund came back; what is missing
    // is exactly what blocks trained of it (reserved, paid at settlement).
    let after = chain::balance(&node, &bob).0;
    assert_eq!(
        after,
        second_before - fee(&posted_second) - deposit - budget + refund - fee(&cancelled),
        "free balance after the cancel"
    );
    assert!(
        budget - refund >= pending,
        "reserved payments are the spent budget"
    );

    // --- datasets spread by RPC pull: a second node gets the dataset with
    // `dataset copy` (checked against its root) ...
    let second_node = Node::start(
        "bob",
        &dir.path().join("bob"),
        &["--bootnodes", &node.multiaddr()],
    );
    assert!(second_node
        .call("upow_datasetUpload", json!([root]))
        .is_null());
    let copied = cli_ok(
        &second_node,
        &["dataset", "copy", &root, "--from", &alice_url(&node)],
    );
    assert!(copied.contains("stored: "), "{copied}");
    assert_eq!(
        second_node.call("upow_datasetUpload", json!([root]))["stored"],
        true
    );
    // ... and a miner whose node lacks a dataset fetches it from another
    // node (`--dataset-source`), checked against the job's root.
    let third = Node::start(
        "charlie",
        &dir.path().join("charlie"),
        &["--bootnodes", &node.multiaddr()],
    );
    third.wait_for("sync", Duration::from_secs(120), |n| {
        n.best_number() >= node.best_number().saturating_sub(1)
    });
    drop(second_node);
    // Large enough to stay open while the miner starts (Alice's node trains
    // it too, thousands of steps a block).
    let third_job = write_job(
        dir.path(),
        "third.toml",
        &job("5000 UPOW", "[784, 24, 10]").replace("steps = 100000\n", "steps = 100000000\n"),
    );
    list_as_governance(&node, &third_job);
    let posted_third = post(&third_job);
    let third_id = word_after(&posted_third, "job").to_string();
    let third_number: u64 = third_id.parse().unwrap();
    third.wait_for(
        "the third job on the miner's node",
        Duration::from_secs(180),
        |n| {
            n.rpc_call("upow_job", json!([third_number]))
                .is_ok_and(|j| j["status"] == "Open")
        },
    );
    let miner_dir = dir.path().join("miner");
    let mut miner = Command::new(sibling_binary("upow-miner"))
        .args(["mine", "--json", "--data-dir"])
        .arg(miner_dir.join("data"))
        .args([
            "--node",
            &format!("ws://127.0.0.1:{}", third.rpc),
            "--author",
            "//Alice",
        ])
        .args(["--backend", "cpu", "--threads", "1", "--job", &third_id])
        .args(["--dataset-source", &alice_url(&node)])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("miner.log")).unwrap())
        .spawn()
        .expect("upow-miner starts");
    let deadline = Instant::now() + Duration::from_secs(300);
    let log = dir.path().join("miner.log");
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("dataset downloaded from another node")
    {
        assert!(
            Instant::now() < deadline,
            "the miner did not fetch the dataset from --dataset-source:\n{}\nits node:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            third.log_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    println!(
        "miner log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    miner.kill().unwrap();
    miner.wait().unwrap();
    assert!(node.log_tail().lines().all(|l| !l.contains("panicked")));
}

#[test]
fn builder_trains_fashion_mnist_to_88_percent() {
    if std::env::var_os("UPOW_SLOW_TESTS").is_none() {
        eprintln!("set UPOW_SLOW_TESTS=1 (scripts/test --slow) to train 10 epochs on a dev chain");
        return;
    }
    let fm = fashion_mnist();
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start("alice", &dir.path().join("node"), &["--alice", "--mine"]);
    let started = Instant::now();
    let train = idx::load_split(&fm, idx::Split::Train).unwrap();
    let csv = write_csv(dir.path(), &train, train.len());
    let published = cli_ok(&node, &["dataset", "publish", csv.to_str().unwrap()]);
    assert!(published.contains("stored: "), "{published}");
    // 10 epochs of 60 000 at batch 64.
    let job = format!(
        "model = [784, 128, 10]\nbatch = 64\nlr_shift = 2\nsteps = 9375\n\
         price_per_step = \"0.001 UPOW\"\nbudget = \"20 UPOW\"\n\
         [dataset]\npath = \"{}\"\n",
        csv.display()
    );
    let file = write_job(dir.path(), "job.toml", &job);
    list_as_governance(&node, &file);
    let posted = cli_ok(
        &node,
        &["job", "post", file.to_str().unwrap(), "--key", "//Bob"],
    );
    let id: u64 = word_after(&posted, "job").parse().unwrap();
    let posted_at = node.best_number();
    let watched = cli_ok(&node, &["job", "watch", &id.to_string()]);
    assert!(
        watched.contains(&format!("job {id} ended: Completed")),
        "{watched}"
    );
    assert!(
        watched.contains(" nats"),
        "one loss line per block: {watched}"
    );
    let steps = job_status(&node, id)["steps"].as_u64().unwrap();
    let model = dir.path().join("model.safetensors");
    cli_ok(
        &node,
        &[
            "job",
            "weights",
            &id.to_string(),
            "--out",
            model.to_str().unwrap(),
        ],
    );
    let eval = cli_ok(
        &node,
        &[
            "job",
            "eval",
            model.to_str().unwrap(),
            "--test",
            fm.to_str().unwrap(),
        ],
    );
    let accuracy: f64 = word_after(&eval, "accuracy")
        .trim_end_matches('%')
        .parse()
        .unwrap();
    let curve = node.call("upow_lossCurve", json!([id, 0, 1024]));
    println!(
        "10 epochs: {} steps in {} blocks (#{posted_at}..#{}), {:.0} s, accuracy {accuracy:.2}%",
        steps,
        curve.as_array().unwrap().len(),
        node.best_number(),
        started.elapsed().as_secs_f64()
    );
    assert!(accuracy >= 88.0, "{eval}");
    let _ = unhex;
}
