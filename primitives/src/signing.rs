//! The **signing record**: which block each author key signed on each
//! recent parent, kept on disk, so that an author never signs two different
//! blocks at one height — an equivocation the staking pallet slashes
//! (docs/protocol.md §2, §5), whoever asked for the second signature and
//! whether or not the signer restarted in between.
//!
//! One rule, one record, for every signer: the node's built-in miner (a
//! file beside its keystore, so that wiping the chain database does not wipe
//! it) and `upow-miner` (a file in its data directory) both call
//! [`SigningRecord::permit`] right before they sign, and sign only if it
//! grants. A grant is written and synced to disk before it is returned.
//!
//! File format (all integers little-endian): the 16-byte magic
//! [`SigningRecord::MAGIC`], then entries of 104 bytes each:
//! `u32 number ‖ author (32) ‖ parent (32) ‖ pre_hash (32) ‖ check (4)`,
//! where `check` is the first four bytes of
//! `blake2_256(number ‖ author ‖ parent ‖ pre_hash)`. An entry cut short at
//! the end of the file (a crash in the middle of a write) was never granted
//! and is dropped; any other damage is an error, and nothing is signed
//! until an operator looks at it. Entries more than
//! [`SigningRecord::HISTORY`] blocks below the newest are dropped when the
//! file is rewritten (atomically: a new file, synced, renamed over the old).

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};

use crate::{AuthorId, Hash};

/// The record's answer to "may this author sign this block?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignPermit {
    /// Sign: this is the first block (or the same block again) the author
    /// signs on that parent. The grant is on disk.
    Granted,
    /// Do not sign: the author already signed another block on that parent.
    Refused {
        /// Pre-seal hash of the block signed before.
        signed: Hash,
    },
    /// Do not sign: the block is more than [`SigningRecord::HISTORY`] below
    /// the newest block signed, where the record keeps nothing, so it
    /// cannot tell whether another block was signed there. (A parent that
    /// deep is final; only a node feeding its miner a false block number
    /// could ask for it, after having it sign one far ahead to make the
    /// record forget.)
    TooOld {
        /// The block asked for.
        number: u32,
        /// The newest block signed.
        newest: u32,
    },
}

/// Why the record cannot answer. Signers must not sign on an error.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The file cannot be read, written or synced.
    #[error("signing record {path}: {source}")]
    Io {
        /// The record's file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a signing record, or an entry is damaged.
    #[error("signing record {path} is damaged: {what}")]
    Damaged {
        /// The record's file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// The signing record of one signer (see the module documentation).
#[derive(Debug)]
pub struct SigningRecord {
    path: PathBuf,
    file: File,
    signed: HashMap<(AuthorId, Hash), (u32, Hash)>,
    newest: u32,
    /// Blocks of history kept below the newest signed block.
    history: u32,
    /// Entries in the file (kept ones and those older than the history).
    entries_in_file: usize,
}

const ENTRY_LEN: usize = 4 + 32 + 32 + 32 + 4;

impl SigningRecord {
    /// The file's first bytes.
    pub const MAGIC: [u8; 16] = *b"upow-signing-v1\n";
    /// Blocks of history kept below the newest signed block (a parent that
    /// deep is final).
    pub const HISTORY: u32 = 4096;

    /// Opens the record at `path`, creating an empty one if there is none.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SigningError> {
        Self::open_with_history(path, Self::HISTORY)
    }

    /// [`SigningRecord::open`] keeping `history` blocks below the newest
    /// (tests use a short one).
    pub fn open_with_history(path: impl AsRef<Path>, history: u32) -> Result<Self, SigningError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| SigningError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let mut record = Self {
            path: path.clone(),
            file,
            signed: HashMap::new(),
            newest: 0,
            history,
            entries_in_file: 0,
        };
        if bytes.is_empty() {
            record.file.write_all(&Self::MAGIC).map_err(io)?;
            record.sync()?;
            return Ok(record);
        }
        let damaged = |what: String| SigningError::Damaged {
            path: path.clone(),
            what,
        };
        let body = bytes
            .strip_prefix(&Self::MAGIC[..])
            .ok_or_else(|| damaged("not a upow signing record (bad magic)".into()))?;
        let whole = body.len() / ENTRY_LEN * ENTRY_LEN;
        for (i, entry) in body[..whole].chunks_exact(ENTRY_LEN).enumerate() {
            let (number, author, parent, pre_hash) =
                decode_entry(entry).ok_or_else(|| damaged(format!("entry {i} fails its check")))?;
            record.remember(author, parent, number, pre_hash);
            record.entries_in_file += 1;
        }
        if whole < body.len() {
            // A write cut short by a crash: never granted. Rewrite without it.
            record.rewrite()?;
        }
        Ok(record)
    }

    /// The file this record lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The signing rule: whether `author` may sign the block `pre_hash`
    /// (number `number`) on `parent`. Grants the first block on a parent,
    /// and the same block again; refuses any other, and any block below the
    /// history kept. A grant is on disk before this returns.
    pub fn permit(
        &mut self,
        author: &AuthorId,
        parent: &Hash,
        number: u32,
        pre_hash: &Hash,
    ) -> Result<SignPermit, SigningError> {
        match self.signed.get(&(*author, *parent)) {
            Some((_, signed)) if signed != pre_hash => {
                return Ok(SignPermit::Refused { signed: *signed })
            }
            Some(_) => return Ok(SignPermit::Granted),
            None => {}
        }
        if number < self.newest.saturating_sub(self.history) {
            return Ok(SignPermit::TooOld {
                number,
                newest: self.newest,
            });
        }
        let entry = encode_entry(number, author, parent, pre_hash);
        self.file
            .write_all(&entry)
            .map_err(|source| SigningError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.sync()?;
        self.entries_in_file += 1;
        self.remember(*author, *parent, number, *pre_hash);
        // Keep the file about as long as its history.
        if self.entries_in_file > 2 * self.signed.len() + self.history as usize {
            self.rewrite()?;
        }
        Ok(SignPermit::Granted)
    }

    /// Signatures remembered (within the history).
    pub fn len(&self) -> usize {
        self.signed.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.signed.is_empty()
    }

    fn remember(&mut self, author: AuthorId, parent: Hash, number: u32, pre_hash: Hash) {
        self.signed.insert((author, parent), (number, pre_hash));
        if number > self.newest {
            self.newest = number;
            let oldest_kept = number.saturating_sub(self.history);
            self.signed.retain(|_, (n, _)| *n >= oldest_kept);
        }
    }

    fn sync(&self) -> Result<(), SigningError> {
        self.file.sync_all().map_err(|source| SigningError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes the kept entries to a new file and renames it over the old
    /// one (synced before and after), so a crash leaves one or the other.
    fn rewrite(&mut self) -> Result<(), SigningError> {
        let io = |source| SigningError::Io {
            path: self.path.clone(),
            source,
        };
        let fresh = self.path.with_extension("new");
        let mut bytes = Self::MAGIC.to_vec();
        let mut entries: Vec<_> = self.signed.iter().collect();
        entries.sort_by_key(|(_, (number, _))| *number);
        for ((author, parent), (number, pre_hash)) in entries {
            bytes.extend_from_slice(&encode_entry(*number, author, parent, pre_hash));
        }
        {
            let mut file = File::create(&fresh).map_err(io)?;
            file.write_all(&bytes).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&fresh, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        self.file = OpenOptions::new()
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(io)?;
        self.entries_in_file = self.signed.len();
        Ok(())
    }
}

fn encode_entry(number: u32, author: &AuthorId, parent: &Hash, pre_hash: &Hash) -> Vec<u8> {
    let mut entry = Vec::with_capacity(ENTRY_LEN);
    entry.extend_from_slice(&number.to_le_bytes());
    entry.extend_from_slice(author);
    entry.extend_from_slice(parent);
    entry.extend_from_slice(pre_hash);
    let check = sp_io::hashing::blake2_256(&entry);
    entry.extend_from_slice(&check[..4]);
    entry
}

fn decode_entry(entry: &[u8]) -> Option<(u32, AuthorId, Hash, Hash)> {
    let (body, check) = entry.split_at(ENTRY_LEN - 4);
    if sp_io::hashing::blake2_256(body)[..4] != *check {
        return None;
    }
    let number = u32::from_le_bytes(body[..4].try_into().ok()?);
    let author: AuthorId = body[4..36].try_into().ok()?;
    let parent: Hash = body[36..68].try_into().ok()?;
    let pre_hash: Hash = body[68..100].try_into().ok()?;
    Some((number, author, parent, pre_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &tempfile::TempDir) -> SigningRecord {
        SigningRecord::open(dir.path().join("signing")).expect("opens")
    }

    #[test]
    fn a_second_block_on_a_parent_is_refused_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (alice, bob) = ([1; 32], [2; 32]);
        let (parent, a, b) = ([9; 32], [10; 32], [11; 32]);
        {
            let mut r = record(&dir);
            assert_eq!(
                r.permit(&alice, &parent, 5, &a).unwrap(),
                SignPermit::Granted
            );
            // The same block again: allowed (a resubmission).
            assert_eq!(
                r.permit(&alice, &parent, 5, &a).unwrap(),
                SignPermit::Granted
            );
            assert_eq!(
                r.permit(&alice, &parent, 5, &b).unwrap(),
                SignPermit::Refused { signed: a }
            );
            // Another author may sign there.
            assert_eq!(r.permit(&bob, &parent, 5, &b).unwrap(), SignPermit::Granted);
        }
        // Restarted: still refused.
        let mut r = record(&dir);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r.permit(&alice, &parent, 5, &b).unwrap(),
            SignPermit::Refused { signed: a }
        );
        assert_eq!(
            r.permit(&alice, &parent, 5, &a).unwrap(),
            SignPermit::Granted
        );
    }

    #[test]
    fn a_torn_last_entry_is_dropped_and_damage_refuses_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("signing");
        {
            let mut r = SigningRecord::open(&path).unwrap();
            r.permit(&[1; 32], &[2; 32], 3, &[4; 32]).unwrap();
        }
        // A crash in the middle of the next write.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[7; 50]);
        std::fs::write(&path, &bytes).unwrap();
        let mut r = SigningRecord::open(&path).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            r.permit(&[1; 32], &[2; 32], 3, &[5; 32]).unwrap(),
            SignPermit::Refused { signed: [4; 32] }
        );
        drop(r);
        assert_eq!(
            std::fs::read(&path).unwrap().len(),
            SigningRecord::MAGIC.len() + ENTRY_LEN
        );
        // A flipped bit in an entry: refuse to open.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[SigningRecord::MAGIC.len() + 10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            SigningRecord::open(&path),
            Err(SigningError::Damaged { .. })
        ));
        // Not a record at all.
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(matches!(
            SigningRecord::open(&path),
            Err(SigningError::Damaged { .. })
        ));
    }

    #[test]
    fn old_parents_are_forgotten_and_the_file_stays_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("signing");
        const HISTORY: u32 = 64;
        let mut r = SigningRecord::open_with_history(&path, HISTORY).unwrap();
        let author = [1; 32];
        let total = 3 * HISTORY;
        for n in 1..=total {
            let parent = sp_io::hashing::blake2_256(&n.to_le_bytes());
            assert_eq!(
                r.permit(&author, &parent, n, &[n as u8; 32]).unwrap(),
                SignPermit::Granted
            );
        }
        assert!(r.len() <= HISTORY as usize + 1);
        let max_len = SigningRecord::MAGIC.len() + ENTRY_LEN * (3 * HISTORY as usize + 2);
        assert!(std::fs::metadata(&path).unwrap().len() as usize <= max_len);
        drop(r);
        let mut r = SigningRecord::open_with_history(&path, HISTORY).unwrap();
        // Recent parents are still refused after the rewrites and a restart.
        let recent = sp_io::hashing::blake2_256(&total.to_le_bytes());
        assert!(matches!(
            r.permit(&author, &recent, total, &[0; 32]).unwrap(),
            SignPermit::Refused { .. }
        ));
        // A parent beyond the history is forgotten, so nothing is signed
        // on it.
        let old = sp_io::hashing::blake2_256(&1u32.to_le_bytes());
        assert_eq!(
            r.permit(&author, &old, 1, &[0; 32]).unwrap(),
            SignPermit::TooOld {
                number: 1,
                newest: total
            }
        );
    }

    #[test]
    fn a_block_far_ahead_cannot_make_the_record_forget_and_sign_twice() {
        // A node that feeds its miner false numbers: it has a block signed
        // far ahead, which drops every real entry from the history, then
        // asks for a second block on a parent signed before.
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = SigningRecord::open_with_history(dir.path().join("signing"), 64).unwrap();
        let (author, parent) = ([1; 32], [7; 32]);
        assert_eq!(
            r.permit(&author, &parent, 10, &[1; 32]).unwrap(),
            SignPermit::Granted
        );
        assert_eq!(
            r.permit(&author, &[8; 32], u32::MAX, &[2; 32]).unwrap(),
            SignPermit::Granted
        );
        assert_eq!(
            r.permit(&author, &parent, 10, &[3; 32]).unwrap(),
            SignPermit::TooOld {
                number: 10,
                newest: u32::MAX
            }
        );
    }
}
