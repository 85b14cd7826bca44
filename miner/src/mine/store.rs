//! The miner's local store, in RocksDB under `--data-dir`:
//!
//! * a cache of weights and datasets by hash. Every read is checked against
//!   its hash (weights: the puzzle's weights hash; datasets: the rebuilt
//!   Merkle root and shape); an entry that fails is deleted and reported as
//!   missing, so it is fetched again from the node;
//! * the **signing record**: which block each author key signed on each
//!   recent parent ([`Store::permit_signature`]), kept across restarts, so
//!   the miner never signs two different blocks on one parent — which the
//!   staking pallet would slash as an equivocation, whoever asked for the
//!   second signature.

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, DB};
use upow_primitives::AuthorId;
use upow_puzzle::{weights::hash_encoded, Dataset, DatasetCommitment, Hash, Model, Weights};

/// Weights entries kept (the chain's weights change every block; a few
/// recent ones cover restarts and reorgs).
pub const MAX_WEIGHTS: usize = 16;

const WEIGHTS: &str = "weights";
const WEIGHTS_SEQ: &str = "weights_seq";
const DATASETS: &str = "datasets";
const SIGNED: &str = "signed";

/// Blocks of signing history kept: records of blocks more than this far
/// below the newest signed one are dropped (a parent that deep is final).
pub const SIGNING_HISTORY: u32 = 4096;

/// The signing record's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignPermit {
    /// Sign: this is the first block (or the same block again) the author
    /// signs on that parent.
    Granted,
    /// Do not sign: the author already signed another block on that parent.
    Refused {
        /// Pre-seal hash of the block signed before.
        signed: Hash,
    },
}

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
        let columns = [WEIGHTS, WEIGHTS_SEQ, DATASETS, SIGNED]
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

    /// Whether `author` may sign the block `pre_hash` (number `number`) on
    /// `parent`; records it when granted (durably, before the caller signs).
    pub fn permit_signature(
        &self,
        author: &AuthorId,
        parent: &Hash,
        number: u32,
        pre_hash: &Hash,
    ) -> Result<SignPermit, StoreError> {
        let cf = self.cf(SIGNED)?;
        let mut key = Vec::with_capacity(4 + 32 + 32);
        key.extend_from_slice(&number.to_be_bytes());
        key.extend_from_slice(author);
        key.extend_from_slice(parent);
        if let Some(signed) = self.db.get_cf(cf, &key).map_err(self.db_error())? {
            if signed.as_slice() != pre_hash.as_slice() {
                let mut hash = [0u8; 32];
                let len = signed.len().min(32);
                hash[..len].copy_from_slice(&signed[..len]);
                return Ok(SignPermit::Refused { signed: hash });
            }
            return Ok(SignPermit::Granted);
        }
        let mut write = rocksdb::WriteBatch::default();
        write.put_cf(cf, &key, pre_hash);
        let oldest_kept = number.saturating_sub(SIGNING_HISTORY);
        write.delete_range_cf(cf, 0u32.to_be_bytes(), oldest_kept.to_be_bytes());
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(true);
        self.db
            .write_opt(write, &options)
            .map_err(self.db_error())?;
        Ok(SignPermit::Granted)
    }

    /// Overwrites a raw entry (tests: simulating disk corruption).
    #[cfg(test)]
    fn put_raw(&self, column: &'static str, key: &[u8], value: &[u8]) {
        self.db
            .put_cf(self.cf(column).unwrap(), key, value)
            .unwrap();
    }
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

    #[test]
    fn the_signing_record_refuses_a_second_block_on_a_parent_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = ([1; 32], [2; 32]);
        let (parent, a, b) = ([7; 32], [10; 32], [11; 32]);
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(
                store.permit_signature(&alice, &parent, 5, &a).unwrap(),
                SignPermit::Granted
            );
            // The same block again (a retried seal): fine.
            assert_eq!(
                store.permit_signature(&alice, &parent, 5, &a).unwrap(),
                SignPermit::Granted
            );
            // Another key, another parent: fine.
            assert_eq!(
                store.permit_signature(&bob, &parent, 5, &b).unwrap(),
                SignPermit::Granted
            );
        }
        // After a restart, another block on that parent is refused.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.permit_signature(&alice, &parent, 5, &b).unwrap(),
            SignPermit::Refused { signed: a }
        );
        // Old history goes once far behind.
        store
            .permit_signature(&alice, &[8; 32], 5 + SIGNING_HISTORY + 1, &b)
            .unwrap();
        assert_eq!(
            store.permit_signature(&alice, &parent, 5, &b).unwrap(),
            SignPermit::Granted
        );
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
