//! Test harness: runs the built `upow-miner` binary next to `upow-node`
//! (started through the node's own harness, node/tests/common).

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

#[path = "../../../node/tests/common/mod.rs"]
mod node_harness;
pub use node_harness::*;

/// A running `upow-miner mine --json`.
pub struct Miner {
    child: Option<Child>,
    pub events: PathBuf,
    pub log: PathBuf,
}

impl Miner {
    /// Starts `upow-miner mine --json --data-dir <dir>/data` with `args`;
    /// stdout (the JSON events) goes to `<dir>/events.jsonl`, stderr to
    /// `<dir>/miner.log`.
    pub fn start(dir: &Path, args: &[&str]) -> Miner {
        std::fs::create_dir_all(dir).unwrap();
        let events = dir.join("events.jsonl");
        let log = dir.join("miner.log");
        let child = Command::new(env!("CARGO_BIN_EXE_upow-miner"))
            .arg("mine")
            .arg("--json")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(args)
            .env("RUST_LOG", "info,upow_miner=debug")
            .stdout(Stdio::from(std::fs::File::create(&events).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("upow-miner starts");
        Miner {
            child: Some(child),
            events,
            log,
        }
    }

    /// `kill -9`: no chance to clean up.
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

    /// The JSON events so far.
    pub fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The events named `name`.
    pub fn events_named(&self, name: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// The ends of the miner's log and events (for failure messages).
    pub fn log_tail(&self) -> String {
        format!(
            "--- miner log ---\n{}\n--- miner events ---\n{}",
            tail(&self.log, 40),
            tail(&self.events, 40)
        )
    }

    /// Ctrl-C (SIGINT); the exit status and how long it took (`None`: not
    /// within `limit`, then killed).
    pub fn interrupt(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let mut child = self.child.take()?;
        let started = Instant::now();
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(child.id().to_string())
            .status();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = child.try_wait() {
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Miner {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
