//! The miner's local store, in RocksDB under `--data-dir`:
//!
//! a cache of weights and datasets by hash. Every read is checked against
//! its hash (weights: the puzzle's weights hash; datasets: the rebuilt
//! Merkle root and shape); an entry that fails is deleted and reported as
//! missing, so it is fetched again from the node.
//!
//! The **signing record** (which block each author key signed on each
//! recent parent) is not here: it is the one record of every signer,
//! `upow_primitives::signing::SigningRecord`, in its own file beside this
//! store ([`SIGNING_RECORD`]). Miners before it kept their record in this
//! store's `signed` column; [`Store::import_legacy_signatures`] moves it
//! into the file once.

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, DB};
use upow_primitives::{
    signing::{SignPermit, SigningError, SigningRecord},
    AuthorId,
};
use upow_puzzle::{weights::hash_encoded, Dataset, DatasetCommitment, Hash, Model, Weights};

/// Weights entries kept (the chain's weights change every block; a few
/// recent ones cover restarts and reorgs).
pub const MAX_WEIGHTS: usize = 16;

const WEIGHTS: &str = "weights";
const WEIGHTS_SEQ: &str = "weights_seq";
const DATASETS: &str = "datasets";
/// The column where miners before the shared signing record kept theirs:
/// key `number (u32 BE) ‖ author ‖ parent`, value the signed pre-hash.
const LEGACY_SIGNED: &str = "signed";

/// The signing record's file name in the miner's data directory.
pub const SIGNING_RECORD: &str = "signing-record";

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed (or the directory is in use by another miner).
    #[error("cache database {path}: {source}")]
    Db {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// A column family is missing (cannot happen after a successful open).
    #[error("cache database: column family {0} missing")]
    MissingColumn(&'static str),
    /// The signing record cannot be read or written.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// The old signing record holds a block the new one refuses: the two
    /// disagree, and nothing is signed until an operator looks.
    #[error(
        "the old signing record (cache column `signed`) holds block 0x{} on parent 0x{} \
         where {} holds 0x{}",
        hex::encode(legacy), hex::encode(parent), record.display(), hex::encode(signed)
    )]
    SigningConflict {
        /// The parent.
        parent: Hash,
        /// The block the old record holds.
        legacy: Hash,
        /// The block the new record holds.
        signed: Hash,
        /// The new record's file.
        record: PathBuf,
    },
}

/// Why an entry was discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discarded {
    /// Weights whose bytes do not decode or hash to their key.
    Weights(Hash),
    /// A dataset whose samples do not rebuild the committed root and shape.
    Dataset(Hash),
}

/// The cache.
pub struct Store {
    db: DB,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the cache at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_compression_type(rocksdb::DBCompressionType::Snappy);
        let columns = [WEIGHTS, WEIGHTS_SEQ, DATASETS, LEGACY_SIGNED]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db =
            DB::open_cf_descriptors(&options, path, columns).map_err(|source| StoreError::Db {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    fn db_error(&self) -> impl Fn(rocksdb::Error) -> StoreError + '_ {
        move |source| StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    fn cf(&self, name: &'static str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or(StoreError::MissingColumn(name))
    }

    /// Weights `hash` of `model`, if cached and intact. A corrupt entry is
    /// deleted and reported in the second element.
    pub fn weights(
        &self,
        hash: &Hash,
        model: &Model,
    ) -> Result<(Option<Weights>, Option<Discarded>), StoreError> {
        let Some(bytes) = self
            .db
            .get_cf(self.cf(WEIGHTS)?, hash)
            .map_err(self.db_error())?
        else {
            return Ok((None, None));
        };
        match Weights::decode(model, &bytes) {
            Ok(weights) if hash_encoded(&bytes) == *hash => Ok((Some(weights), None)),
            _ => {
                self.delete_weights(hash)?;
                Ok((None, Some(Discarded::Weights(*hash))))
            }
        }
    }

    fn delete_weights(&self, hash: &Hash) -> Result<(), StoreError> {
        self.db
            .delete_cf(self.cf(WEIGHTS)?, hash)
            .map_err(self.db_error())?;
        self.db
            .delete_cf(self.cf(WEIGHTS_SEQ)?, hash)
            .map_err(self.db_error())
    }

    /// Caches weights (their canonical encoding) under their hash, keeping
    /// the [`MAX_WEIGHTS`] most recent.
    pub fn put_weights(&self, hash: &Hash, encoded: &[u8]) -> Result<(), StoreError> {
        let seq_cf = self.cf(WEIGHTS_SEQ)?;
        let mut entries: Vec<(u64, Vec<u8>)> = Vec::new();
        for item in self.db.iterator_cf(seq_cf, IteratorMode::Start) {
            let (key, value) = item.map_err(self.db_error())?;
            let seq = value
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            entries.push((seq, key.to_vec()));
        }
        let next = entries.iter().map(|(s, _)| *s).max().unwrap_or(0) + 1;
        self.db
            .put_cf(self.cf(WEIGHTS)?, hash, encoded)
            .map_err(self.db_error())?;
        self.db
            .put_cf(seq_cf, hash, next.to_be_bytes())
            .map_err(self.db_error())?;
        entries.retain(|(_, key)| key.as_slice() != hash.as_slice());
        entries.sort();
        let excess = (entries.len() + 1).saturating_sub(MAX_WEIGHTS);
        for (_, key) in entries.into_iter().take(excess) {
            self.db
                .delete_cf(self.cf(WEIGHTS)?, &key)
                .map_err(self.db_error())?;
            self.db.delete_cf(seq_cf, &key).map_err(self.db_error())?;
        }
        Ok(())
    }

    /// The dataset `commitment` names, if cached and intact (rebuilds its
    /// Merkle tree: well under a second for 60 000 samples). A corrupt entry
    /// is deleted and reported in the second element. Entries are keyed by
    /// the whole commitment (root, samples, width), so a job naming a cached
    /// root with another shape never touches the real entry.
    pub fn dataset(
        &self,
        commitment: &DatasetCommitment,
    ) -> Result<(Option<Dataset>, Option<Discarded>), StoreError> {
        let cf = self.cf(DATASETS)?;
        let Some(bytes) = self
            .db
            .get_cf(cf, dataset_key(commitment))
            .map_err(self.db_error())?
        else {
            return Ok((None, None));
        };
        match Dataset::from_encoded(commitment.inputs, bytes) {
            Ok(dataset) if dataset.commitment() == *commitment => Ok((Some(dataset), None)),
            _ => {
                self.db
                    .delete_cf(cf, dataset_key(commitment))
                    .map_err(self.db_error())?;
                Ok((None, Some(Discarded::Dataset(commitment.root))))
            }
        }
    }

    /// Caches a (verified) dataset under its commitment.
    pub fn put_dataset(&self, dataset: &Dataset) -> Result<(), StoreError> {
        self.db
            .put_cf(
                self.cf(DATASETS)?,
                dataset_key(&dataset.commitment()),
                dataset.encoded(),
            )
            .map_err(self.db_error())
    }

    /// Moves the signing record of miners before the shared one (this
    /// store's `signed` column) into `record`, then empties the column;
    /// returns the entries moved. Run once at start, before anything is
    /// signed. The column is emptied only after every entry is on disk in
    /// `record`; an entry the new record refuses (it holds another block on
    /// that parent) is an error, and the column is kept.
    pub fn import_legacy_signatures(
        &self,
        record: &mut SigningRecord,
    ) -> Result<usize, StoreError> {
        let cf = self.cf(LEGACY_SIGNED)?;
        let mut moved = 0;
        for item in self.db.iterator_cf(cf, IteratorMode::Start) {
            let (key, value) = item.map_err(self.db_error())?;
            // Keys of another length were never written by the old record.
            let Some((number, author, parent)) = legacy_key(&key) else {
                continue;
            };
            // The old record refused any other block than the bytes stored
            // (a short value too): keep exactly that.
            let mut legacy = [0u8; 32];
            let len = value.len().min(32);
            legacy[..len].copy_from_slice(&value[..len]);
            match record.permit(&author, &parent, number, &legacy)? {
                SignPermit::Granted => moved += 1,
                // The old record kept the same history: cannot happen.
                SignPermit::TooOld { .. } => {}
                SignPermit::Refused { signed } => {
                    return Err(StoreError::SigningConflict {
                        parent,
                        legacy,
                        signed,
                        record: record.path().to_path_buf(),
                    })
                }
            }
        }
        let mut clear = rocksdb::WriteBatch::default();
        clear.delete_range_cf(cf, &[][..], &[0xffu8; 69][..]);
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(true);
        self.db
            .write_opt(clear, &options)
            .map_err(self.db_error())?;
        Ok(moved)
    }

    /// Overwrites a raw entry (tests: simulating disk corruption).
    #[cfg(test)]
    fn put_raw(&self, column: &'static str, key: &[u8], value: &[u8]) {
        self.db
            .put_cf(self.cf(column).unwrap(), key, value)
            .unwrap();
    }
}

/// An old signing-record key: `number (u32 BE) ‖ author ‖ parent`.
fn legacy_key(key: &[u8]) -> Option<(u32, AuthorId, Hash)> {
    if key.len() != 4 + 32 + 32 {
        return None;
    }
    let number = u32::from_be_bytes(key[..4].try_into().ok()?);
    let author = key[4..36].try_into().ok()?;
    let parent = key[36..].try_into().ok()?;
    Some((number, author, parent))
}

/// The store key of a dataset: root ‖ samples ‖ inputs.
fn dataset_key(commitment: &DatasetCommitment) -> Vec<u8> {
    [
        &commitment.root[..],
        &commitment.samples.to_be_bytes(),
        &commitment.inputs.to_be_bytes(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legacy_entry(store: &Store, number: u32, author: &AuthorId, parent: &Hash, block: &[u8]) {
        let key = [&number.to_be_bytes()[..], author, parent].concat();
        store.put_raw(LEGACY_SIGNED, &key, block);
    }

    #[test]
    fn the_old_signing_record_moves_into_the_shared_one_once() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = ([1; 32], [2; 32]);
        let (parent, a, b) = ([7; 32], [10; 32], [11; 32]);
        let path = dir.path().join(SIGNING_RECORD);
        {
            let store = Store::open(&dir.path().join("cache")).unwrap();
            legacy_entry(&store, 5, &alice, &parent, &a);
            legacy_entry(&store, 5, &bob, &parent, &b);
            // A value cut short: the old record refused every other block.
            legacy_entry(&store, 6, &alice, &[8; 32], &[12; 7]);
            // A key of another shape was never the old record's: ignored.
            store.put_raw(LEGACY_SIGNED, b"junk", &a);
            let mut record = SigningRecord::open(&path).unwrap();
            assert_eq!(store.import_legacy_signatures(&mut record).unwrap(), 3);
            // Emptied: a second start moves nothing.
            assert_eq!(store.import_legacy_signatures(&mut record).unwrap(), 0);
        }
        // After a restart, the shared record refuses what the old one did.
        let mut record = SigningRecord::open(&path).unwrap();
        assert_eq!(
            record.permit(&alice, &parent, 5, &b).unwrap(),
            SignPermit::Refused { signed: a }
        );
        assert_eq!(
            record.permit(&alice, &parent, 5, &a).unwrap(),
            SignPermit::Granted
        );
        assert_eq!(
            record.permit(&bob, &parent, 5, &a).unwrap(),
            SignPermit::Refused { signed: b }
        );
        let mut short = [0; 32];
        short[..7].copy_from_slice(&[12; 7]);
        assert_eq!(
            record.permit(&alice, &[8; 32], 6, &a).unwrap(),
            SignPermit::Refused { signed: short }
        );
    }

    #[test]
    fn an_old_entry_the_shared_record_contradicts_is_an_error_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, parent) = ([1; 32], [7; 32]);
        let store = Store::open(&dir.path().join("cache")).unwrap();
        let mut record = SigningRecord::open(dir.path().join(SIGNING_RECORD)).unwrap();
        assert_eq!(
            record.permit(&alice, &parent, 5, &[10; 32]).unwrap(),
            SignPermit::Granted
        );
        legacy_entry(&store, 5, &alice, &parent, &[11; 32]);
        let err = store.import_legacy_signatures(&mut record).unwrap_err();
        assert!(matches!(err, StoreError::SigningConflict { .. }), "{err}");
        assert!(err.to_string().contains("0x0b0b"), "{err}");
        // Kept for the operator: the same error again.
        assert!(store.import_legacy_signatures(&mut record).is_err());
    }

    fn model() -> Model {
        Model::new(&[4, 3, 2]).unwrap()
    }

    fn dataset() -> Dataset {
        let labels = [0u8, 1, 0, 1, 1];
        let pixels: Vec<u8> = (0..20).map(|i| (i * 37 % 256) as u8).collect();
        Dataset::new(4, &labels, &pixels).unwrap()
    }

    #[test]
    fn weights_roundtrip_and_corruption_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let weights = Weights::initial(&model(), &[7; 32]);
        let hash = weights.hash();
        assert_eq!(store.weights(&hash, &model()).unwrap(), (None, None));
        store.put_weights(&hash, &weights.encode()).unwrap();
        assert_eq!(
            store.weights(&hash, &model()).unwrap(),
            (Some(weights.clone()), None)
        );

        // One flipped bit: still decodes, but no longer hashes to its key.
        let mut bytes = weights.encode();
        bytes[3] ^= 1;
        store.put_raw(WEIGHTS, &hash[..], &bytes);
        assert_eq!(
            store.weights(&hash, &model()).unwrap(),
            (None, Some(Discarded::Weights(hash)))
        );
        // Deleted: the next read is a plain miss.
        assert_eq!(store.weights(&hash, &model()).unwrap(), (None, None));

        // Truncated bytes do not decode.
        store.put_weights(&hash, &weights.encode()[..5]).unwrap();
        assert_eq!(
            store.weights(&hash, &model()).unwrap(),
            (None, Some(Discarded::Weights(hash)))
        );
    }

    #[test]
    fn only_the_most_recent_weights_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let all: Vec<Weights> = (0..MAX_WEIGHTS as u8 + 4)
            .map(|i| Weights::initial(&model(), &[i; 32]))
            .collect();
        for w in &all {
            store.put_weights(&w.hash(), &w.encode()).unwrap();
        }
        // Re-putting an old one refreshes it.
        store.put_weights(&all[5].hash(), &all[5].encode()).unwrap();
        let kept: Vec<bool> = all
            .iter()
            .map(|w| store.weights(&w.hash(), &model()).unwrap().0.is_some())
            .collect();
        assert_eq!(kept.iter().filter(|k| **k).count(), MAX_WEIGHTS);
        assert!(kept[5] && kept[all.len() - 1] && !kept[0]);
    }

    #[test]
    fn datasets_roundtrip_and_corruption_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset();
        let commitment = data.commitment();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(
                store
                    .dataset(&commitment)
                    .unwrap()
                    .0
                    .map(|d| d.commitment()),
                None
            );
            store.put_dataset(&data).unwrap();
        }
        // Survives a reopen.
        let store = Store::open(dir.path()).unwrap();
        let (cached, discarded) = store.dataset(&commitment).unwrap();
        assert_eq!(cached.unwrap().encoded(), data.encoded());
        assert_eq!(discarded, None);

        // A changed pixel changes the root.
        let mut bytes = data.encoded().to_vec();
        bytes[7] ^= 0x40;
        store.put_raw(DATASETS, &dataset_key(&commitment), &bytes);
        let (cached, discarded) = store.dataset(&commitment).unwrap();
        assert!(cached.is_none());
        assert_eq!(discarded, Some(Discarded::Dataset(commitment.root)));
        assert!(store.dataset(&commitment).unwrap().0.is_none());

        // A missing sample (right root impossible, wrong count) and a ragged length.
        store.put_raw(DATASETS, &dataset_key(&commitment), &data.encoded()[..15]);
        assert!(store.dataset(&commitment).unwrap().1.is_some());
        store.put_raw(DATASETS, &dataset_key(&commitment), &data.encoded()[..13]);
        assert!(store.dataset(&commitment).unwrap().1.is_some());
    }

    #[test]
    fn a_second_miner_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let second = Store::open(dir.path());
        assert!(matches!(second, Err(StoreError::Db { .. })));
    }
}
