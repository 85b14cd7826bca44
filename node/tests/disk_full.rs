//! A disk filling up under a mining node (docs/reliability.md §Disk full).
//! The node's base path is a 320 MiB tmpfs of the test's own; the node runs
//! with `--min-free-space 64`. A file then takes all but 40 MiB: the node
//! stops by itself within seconds, with exit status 1, an error that names
//! the base path and the limit, and a clean teardown (no panic, no abort).
//! With the space back it starts from its databases: no finalized block
//! lost, the same chain, and it mines on.
//!
//! Slow and needs root (it mounts a tmpfs): runs with `UPOW_SLOW_TESTS=1`
//! (`scripts/test --slow`).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use common::{serial, Node};

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn free_mib(path: &Path) -> u64 {
    let stat = rustix::fs::statvfs(path).expect("statvfs of the tmpfs");
    (stat.f_bavail * stat.f_frsize) >> 20
}

#[test]
fn a_full_disk_stops_the_node_with_a_clear_error_and_nothing_is_lost() {
    if std::env::var_os("UPOW_SLOW_TESTS").is_none() {
        eprintln!("set UPOW_SLOW_TESTS=1 (scripts/test --slow, as root) to fill a node's disk");
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let _tmpfs = Tmpfs::mount(&base, 320)
        .unwrap_or_else(|e| panic!("the disk-full test needs to mount a tmpfs (root): {e}"));
    let mut node = Node::start(
        "alice",
        &base,
        &["--alice", "--mine", "--min-free-space", "64"],
    );
    node.wait_for("block 3", Duration::from_secs(180), |n| {
        n.best_number() >= 3
    });
    let finalized = node.finalized_number();
    let finalized_hash = node.finalized_hash();
    let best = node.best_number();

    // All but 40 MiB taken: below the 64 MiB the node keeps.
    let filler = dir.path().join("base/filler");
    let take = free_mib(&base).saturating_sub(40);
    let out = Command::new("fallocate")
        .args(["-l", &format!("{take}MiB")])
        .arg(&filler)
        .output()
        .unwrap();
    assert!(out.status.success(), "fallocate: {out:?}");
    eprintln!("filled: {} MiB free", free_mib(&base));

    let status = node.wait_exit(Duration::from_secs(60)).unwrap_or_else(|| {
        panic!(
            "still running 60 s after the disk filled\n{}",
            node.log_tail()
        )
    });
    assert_eq!(status.code(), Some(1), "{status}\n{}", node.log_tail());
    assert!(
        node.log_contains("below --min-free-space 64 MiB"),
        "no clear error\n{}",
        node.log_tail()
    );
    for broken in ["panicked", "pthread lock", "Detected running"] {
        assert!(
            !node.log_contains(broken),
            "the log says {broken:?}\n{}",
            node.log_tail()
        );
    }

    // Space back: the node starts from its databases and mines on.
    std::fs::remove_file(&filler).unwrap();
    node.restart(None);
    assert!(node.best_number() >= best, "blocks lost");
    assert!(node.finalized_number() >= finalized);
    assert_eq!(
        node.block_hash(finalized),
        finalized_hash,
        "a finalized block changed"
    );
    let restarted = node.best_number();
    node.wait_for("two more blocks", Duration::from_secs(180), |n| {
        n.best_number() >= restarted + 2
    });
    node.stop();
}
