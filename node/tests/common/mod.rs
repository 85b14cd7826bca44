//! Test harness: runs the built `upow-node` binary and talks JSON-RPC to it.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// End-to-end tests start nodes that mine: run them one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the serial lock even if an earlier test panicked holding it.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A JSON-RPC error.
#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

/// A running `upow-node`.
pub struct Node {
    child: Option<Child>,
    pub name: String,
    pub rpc: u16,
    pub p2p: u16,
    pub base: PathBuf,
    pub args: Vec<String>,
    /// The address it listens on and answers RPC at.
    pub ip: String,
    /// The network namespace it runs in (`None`: the test's own).
    pub netns: Option<String>,
    node_key: String,
    log: PathBuf,
}

/// Polls `cond` every 250 ms until it holds or `timeout` passes.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The `upow-node` binary: cargo's own when this harness runs in the node's
/// tests, else (the miner's tests) `$UPOW_NODE_BIN`, the target directory of
/// the running test, `$CARGO_TARGET_DIR/release` or `~/.cache/upow/target/release`.
pub fn node_binary() -> PathBuf {
    if let Some(own) = option_env!("CARGO_BIN_EXE_upow-node") {
        return PathBuf::from(own);
    }
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("UPOW_NODE_BIN") {
        candidates.push(PathBuf::from(p));
    }
    // Test binaries live in <target>/release/deps.
    if let Some(release) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
    {
        candidates.push(release.join("upow-node"));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("release/upow-node"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cache/upow/target/release/upow-node"));
    }
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => p.clone(),
        None => panic!(
            "the upow-node binary is missing (looked at {candidates:?}): build it first with \
             `cargo build --release -p upow-node` (scripts/test does), or set UPOW_NODE_BIN"
        ),
    }
}

impl Node {
    /// Starts a node on `--chain dev` (unless `extra` names a `--chain`)
    /// with `extra` arguments; waits for RPC.
    pub fn start(name: &str, base: &Path, extra: &[&str]) -> Node {
        Node::start_on_ports(name, base, extra, free_port(), free_port())
    }

    /// [`Node::start`] on the given RPC and p2p ports (known to the other
    /// nodes beforehand, as their bootnodes). A `--node-key` in `extra`
    /// replaces the node's own fixed key.
    pub fn start_on_ports(name: &str, base: &Path, extra: &[&str], rpc: u16, p2p: u16) -> Node {
        Node::start_on_host(name, base, extra, None, rpc, p2p)
    }

    /// [`Node::start_on_ports`] in the network namespace `netns`, on its
    /// address `ip` (RPC open to the LAN, unsafe methods allowed, any Host
    /// and Origin: the test process reaches it through the namespace's
    /// bridge).
    pub fn start_on_host(
        name: &str,
        base: &Path,
        extra: &[&str],
        host: Option<(&str, &str)>,
        rpc: u16,
        p2p: u16,
    ) -> Node {
        let mut node = Node {
            child: None,
            name: name.into(),
            rpc,
            p2p,
            base: base.to_path_buf(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            ip: host.map_or("127.0.0.1", |(_, ip)| ip).to_string(),
            netns: host.map(|(netns, _)| netns.to_string()),
            // A fixed network key per node (stable across restarts).
            node_key: format!("{:064x}", (rpc as u128) << 16 | p2p as u128),
            log: base.join(format!("{name}.log")),
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(&self.base).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let named = |flag: &str| self.args.iter().any(|a| a == flag);
        let mut command = match &self.netns {
            Some(netns) => {
                let mut c = Command::new("ip");
                // Reached from the bridge: no Host header filter.
                c.args(["netns", "exec", netns]).arg(node_binary()).args([
                    "--rpc-external",
                    "--rpc-methods",
                    "unsafe",
                    "--rpc-cors",
                    "all",
                ]);
                c
            }
            None => Command::new(node_binary()),
        };
        let child = command
            .args(if named("--chain") {
                &[][..]
            } else {
                &["--chain", "dev"][..]
            })
            .arg("--base-path")
            .arg(&self.base)
            .args(["--rpc-port", &self.rpc.to_string()])
            .args(if named("--node-key") {
                vec![]
            } else {
                vec!["--node-key", &self.node_key]
            })
            .args([
                "--no-telemetry",
                "--no-mdns",
                "--rpc-max-request-size",
                "32",
            ])
            .args(if named("--prometheus-port") {
                &[][..]
            } else {
                &["--no-prometheus"][..]
            })
            .args([
                "--listen-addr",
                &format!("/ip4/{}/tcp/{}", self.ip, self.p2p),
            ])
            .args(["--log", "info,upow=debug,pow=debug"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("upow-node starts (build it with `cargo build --release -p upow-node`)");
        self.child = Some(child);
        // Each probe gets a short answer time: one connection left without
        // an answer (seen once in CI, where a probe hung the whole 120 s
        // while the node mined) must not use up the start's deadline.
        let probe =
            json!({"jsonrpc": "2.0", "id": 1, "method": "system_health", "params": []}).to_string();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut failures = Vec::new();
        while let Err(e) = self.raw_http_within(&probe, Duration::from_secs(10)) {
            assert!(
                self.alive(),
                "{} exited at start:\n{}",
                self.name,
                self.log_tail()
            );
            failures.push(e);
            assert!(
                Instant::now() < deadline,
                "{}: no RPC after 120 s (last probes: {:?})\n{}\n…\n{}",
                self.name,
                &failures[failures.len().saturating_sub(5)..],
                self.log_head(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Restarts with the same base path and ports, optionally other arguments.
    pub fn restart(&mut self, args: Option<&[&str]>) {
        self.stop();
        if let Some(args) = args {
            self.args = args.iter().map(|s| s.to_string()).collect();
        }
        self.spawn();
    }

    /// Graceful stop (SIGTERM), waiting for exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (`INT`, `TERM`, …) and waits up to `timeout` for the
    /// exit: its status, or `None` if the node was still running (then killed).
    pub fn stop_with(
        &mut self,
        signal: &str,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} failed");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        None
    }

    /// Waits up to `timeout` for the node to exit on its own: its status,
    /// or `None` if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Whether the process is still alive.
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The end of the node's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// The first 30 lines of the node's log (its start: addresses, roles).
    pub fn log_head(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().take(30).collect::<Vec<_>>().join("\n")
    }

    /// Whether the node's log contains `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .contains(needle)
    }

    /// A JSON-RPC call over HTTP.
    pub fn rpc_call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        self.raw_http(&body)
    }

    /// Posts a raw body; the JSON-RPC result or error.
    pub fn raw_http(&self, body: &str) -> Result<Value, RpcError> {
        self.raw_http_within(body, Duration::from_secs(120))
    }

    /// [`Node::raw_http`], waiting at most `timeout` for the answer.
    pub fn raw_http_within(&self, body: &str, timeout: Duration) -> Result<Value, RpcError> {
        let value = self.raw_http_json_within(body, timeout)?;
        if let Some(err) = value.get("error") {
            return Err(RpcError {
                code: err["code"].as_i64().unwrap_or(0),
                message: err["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(value["result"].clone())
    }

    /// Posts a raw body; the whole JSON response (a batch's array, too).
    pub fn raw_http_json(&self, body: &str) -> Result<Value, RpcError> {
        self.raw_http_json_within(body, Duration::from_secs(120))
    }

    /// [`Node::raw_http_json`], waiting at most `timeout` for the answer.
    pub fn raw_http_json_within(&self, body: &str, timeout: Duration) -> Result<Value, RpcError> {
        let io = |e: std::io::Error| RpcError {
            code: -1,
            message: e.to_string(),
        };
        let mut stream = TcpStream::connect((self.ip.as_str(), self.rpc)).map_err(io)?;
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.ip,
            self.rpc,
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        // A server may refuse an oversize body before reading all of it.
        let _ = stream.write_all(body.as_bytes());
        let mut response = Vec::new();
        if let Err(e) = stream.read_to_end(&mut response) {
            // A partial answer (a refusal sent before the whole body was
            // read) is still parsed; none at all says why.
            if response.is_empty() {
                return Err(RpcError {
                    code: -1,
                    message: format!("no answer: {e}"),
                });
            }
        }
        let text = String::from_utf8_lossy(&response);
        let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status != 200 {
            return Err(RpcError {
                code: -(status as i64),
                message: format!("HTTP {status}: {payload}"),
            });
        }
        serde_json::from_str(payload.trim()).map_err(|e| RpcError {
            code: -2,
            message: format!("{e}: {payload}"),
        })
    }

    /// The node's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A successful call's result (panics with the node's log otherwise).
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.rpc_call(method, params)
            .unwrap_or_else(|e| panic!("{method} failed: {e:?}\n{}", self.log_tail()))
    }

    /// Polls `cond` every 200 ms until it holds or `timeout` passes.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut(&Node) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if cond(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{}: timed out waiting for {what}\n{}",
            self.name,
            self.log_tail()
        );
    }

    pub fn best_number(&self) -> u64 {
        number(&self.call("chain_getHeader", json!([]))["number"])
    }

    pub fn finalized_hash(&self) -> String {
        self.call("chain_getFinalizedHead", json!([]))
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn finalized_number(&self) -> u64 {
        let hash = self.finalized_hash();
        number(&self.call("chain_getHeader", json!([hash]))["number"])
    }

    pub fn best_hash(&self) -> String {
        self.call("chain_getBlockHash", json!([]))
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn block_hash(&self, n: u64) -> String {
        self.call("chain_getBlockHash", json!([n]))
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn peer_id(&self) -> String {
        self.call("system_localPeerId", json!([]))
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn multiaddr(&self) -> String {
        format!("/ip4/{}/tcp/{}/p2p/{}", self.ip, self.p2p, self.peer_id())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET http://127.0.0.1:port/metrics`: a Prometheus scrape.
pub fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    // A closed connection ends the response; what was read is the scrape.
    let _ = stream.read_to_string(&mut response);
    response
}

/// The sum of a metric's samples in a scrape (every label set).
pub fn metric(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A `0x…` hex block number.
pub fn number(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or("0x0").trim_start_matches("0x");
    u64::from_str_radix(s, 16).unwrap_or(0)
}

/// Decodes `0x…` hex.
pub fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

/// Fashion-MNIST, as installed by scripts/setup.
pub fn fashion_mnist() -> PathBuf {
    let dir = PathBuf::from(upow_puzzle::idx::FASHION_MNIST_DIR);
    assert!(
        dir.join("train-images-idx3-ubyte.gz").exists(),
        "Fashion-MNIST is missing: run scripts/setup (Debian package dataset-fashion-mnist)"
    );
    dir
}

/// A `NumberOrHex` JSON value (a u128 balance or difficulty).
pub fn number_or_hex(value: &Value) -> u128 {
    match value {
        Value::Number(n) => n.as_u64().expect("a u64 number").into(),
        Value::String(s) => u128::from_str_radix(s.trim_start_matches("0x"), 16).expect("0x hex"),
        other => panic!("not a NumberOrHex: {other}"),
    }
}
