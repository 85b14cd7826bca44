//! The free-space guard of the base path. The chain database and the
//! checkpoint store are RocksDB databases on the base path; a write that
//! fails for lack of space leaves a node that can neither import nor
//! author, and a database that may need a repair. So the node refuses to
//! start with less than `--min-free-space` free there, and, while it runs,
//! checks every few seconds and stops itself (an essential task ends: a
//! clean shutdown, exit status 1) as soon as the free space falls below
//! it, with an error that says so. After space is freed, it restarts from
//! its databases as they were (docs/operations.md §Disk space).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Log target of the guard.
pub const LOG_TARGET: &str = "upow::disk";

/// How often the running node looks at its free space.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// One mebibyte.
const MIB: u64 = 1 << 20;

/// Why the node must not run (on).
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The base path's filesystem has less than the minimum free.
    #[error(
        "only {} MiB free on {} (below --min-free-space {} MiB): stopped before the databases \
         run out of space; free some space and start the node again",
        .free / MIB, .path.display(), .min / MIB
    )]
    LowSpace {
        /// The base path.
        path: PathBuf,
        /// Bytes free to an unprivileged writer.
        free: u64,
        /// The minimum.
        min: u64,
    },
    /// The free space could not be read.
    #[error("cannot read the free space of {}: {source}", .path.display())]
    Stat {
        /// The base path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Bytes free to an unprivileged writer on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Result<u64, DiskError> {
    let stat = rustix::fs::statvfs(path).map_err(|e| DiskError::Stat {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The rule: at least `min` bytes free on `path`'s filesystem.
pub fn validate_free_space(path: &Path, free: u64, min: u64) -> Result<(), DiskError> {
    if free < min {
        return Err(DiskError::LowSpace {
            path: path.to_path_buf(),
            free,
            min,
        });
    }
    Ok(())
}

/// [`validate_free_space`] on `path` now.
pub fn check(path: &Path, min: u64) -> Result<(), DiskError> {
    validate_free_space(path, free_bytes(path)?, min)
}

/// Runs until `path` has less than `min` bytes free (or its free space
/// cannot be read), then logs why and returns: spawned as an essential
/// task, its end stops the node.
pub async fn guard(path: PathBuf, min: u64) {
    loop {
        if let Err(e) = check(&path, min) {
            log::error!(target: LOG_TARGET, "⛔ {e}");
            return;
        }
        tokio::time::sleep(CHECK_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_refuses_less_than_the_minimum_and_says_where_and_how_much() {
        let path = Path::new("/var/lib/upow");
        assert!(validate_free_space(path, 512 * MIB, 512 * MIB).is_ok());
        let e = validate_free_space(path, 100 * MIB + 5, 512 * MIB).unwrap_err();
        assert_eq!(
            e.to_string(),
            "only 100 MiB free on /var/lib/upow (below --min-free-space 512 MiB): stopped \
             before the databases run out of space; free some space and start the node again"
        );
    }

    #[test]
    fn the_free_space_of_a_real_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert!(check(dir.path(), 0).is_ok());
        assert!(matches!(
            check(dir.path(), u64::MAX),
            Err(DiskError::LowSpace { .. })
        ));
        assert!(matches!(
            free_bytes(&dir.path().join("missing")),
            Err(DiskError::Stat { .. })
        ));
    }
}
