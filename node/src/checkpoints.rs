//! The node's content-addressed store of model weights and datasets
//! (RocksDB, beside the chain database).
//!
//! * `weights`: `H(W) → encoding` for the weights every imported block
//!   adopted (derived by replaying the block's final step) and every job's
//!   initial weights. Every value is checked against its hash on write.
//! * `datasets`: `root → samples` in chunks, for miners to download.
//! * `blocks`: `block hash → (number, job, H(W))`, the index that makes
//!   pruning fork-aware: weights of blocks below the pruning horizon (old
//!   finalized blocks; very deep unfinalized ones when finality stalls, so
//!   the store stays bounded) and of abandoned forks are deleted, unless the
//!   chain still needs them (every job's current or final weights, from the
//!   runtime, are never pruned).

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::Arc,
};

use codec::{Decode, Encode};
use parking_lot::Mutex;
use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, DB};
use sp_core::H256;
use upow_primitives::{Hash, JobId};
use upow_puzzle::{weights::hash_encoded, Dataset, DatasetCommitment};

const CF_WEIGHTS: &str = "weights";
const CF_DATASETS: &str = "datasets";
const CF_BLOCKS: &str = "blocks";
/// Samples per stored dataset chunk.
const DATASET_CHUNK: u64 = 4096;

/// Errors of the checkpoint store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("checkpoint store: {0}")]
    Db(#[from] rocksdb::Error),
    /// A value's bytes do not hash to its key.
    #[error("weights bytes do not hash to {0}")]
    HashMismatch(String),
    /// A stored record does not decode (corruption).
    #[error("corrupt record in the checkpoint store: {0}")]
    Corrupt(String),
    /// A dataset failed to rebuild or did not match its root.
    #[error("dataset: {0}")]
    Dataset(String),
}

/// What the store remembers of an imported block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BlockRecord {
    /// Block number.
    pub number: u32,
    /// Job the block trained.
    pub job: JobId,
    /// Weights the block adopted.
    pub weights: Hash,
}

/// What a pruning pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Block records removed.
    pub blocks: usize,
    /// Weight sets removed.
    pub weights: usize,
}

/// The store. Cheap to share behind an `Arc`.
pub struct CheckpointStore {
    db: DB,
    datasets: Mutex<HashMap<Hash, Arc<Dataset>>>,
    /// Held by [`CheckpointStore::prune`] and by whoever adds weights with
    /// the block record that keeps them ([`CheckpointStore::lock_writes`]),
    /// so a pass never deletes weights whose record is being written.
    writes: Mutex<()>,
}

impl CheckpointStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let cfs = [CF_WEIGHTS, CF_DATASETS, CF_BLOCKS]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, cfs)?;
        Ok(Self {
            db,
            datasets: Mutex::new(HashMap::new()),
            writes: Mutex::new(()),
        })
    }

    /// Excludes pruning while held: take it before checking for, adding
    /// and recording a block's weights.
    pub fn lock_writes(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.writes.lock()
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Corrupt(format!("missing column family {name}")))
    }

    /// Stores a canonical weights encoding under its hash (checked).
    pub fn put_weights(&self, hash: &Hash, bytes: &[u8]) -> Result<(), StoreError> {
        if hash_encoded(bytes) != *hash {
            return Err(StoreError::HashMismatch(hex::encode(hash)));
        }
        self.db.put_cf(self.cf(CF_WEIGHTS)?, hash, bytes)?;
        Ok(())
    }

    /// The weights encoding with hash `hash`, if stored.
    pub fn weights(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_WEIGHTS)?, hash)?)
    }

    /// Whether weights with this hash are stored.
    pub fn has_weights(&self, hash: &Hash) -> Result<bool, StoreError> {
        Ok(self.db.get_pinned_cf(self.cf(CF_WEIGHTS)?, hash)?.is_some())
    }

    /// Stores a dataset (chunked) and keeps it in memory; returns its commitment.
    pub fn import_dataset(&self, dataset: Dataset) -> Result<DatasetCommitment, StoreError> {
        let commitment = dataset.commitment();
        let cf = self.cf(CF_DATASETS)?;
        let len = dataset.sample_len();
        let mut batch = rocksdb::WriteBatch::default();
        for (i, chunk) in dataset
            .encoded()
            .chunks(DATASET_CHUNK as usize * len)
            .enumerate()
        {
            batch.put_cf(cf, dataset_key(&commitment.root, Some(i as u32)), chunk);
        }
        batch.put_cf(
            cf,
            dataset_key(&commitment.root, None),
            (commitment.inputs, commitment.samples).encode(),
        );
        self.db.write(batch)?;
        self.datasets
            .lock()
            .insert(commitment.root, Arc::new(dataset));
        Ok(commitment)
    }

    /// The dataset with Merkle root `root`, loaded from disk on first use.
    pub fn dataset(&self, root: &Hash) -> Result<Option<Arc<Dataset>>, StoreError> {
        if let Some(d) = self.datasets.lock().get(root) {
            return Ok(Some(d.clone()));
        }
        let cf = self.cf(CF_DATASETS)?;
        let Some(meta) = self.db.get_cf(cf, dataset_key(root, None))? else {
            return Ok(None);
        };
        let (inputs, samples) = <(u32, u64)>::decode(&mut &meta[..])
            .map_err(|e| StoreError::Corrupt(format!("dataset metadata: {e}")))?;
        let chunks = samples.div_ceil(DATASET_CHUNK);
        let mut bytes = Vec::with_capacity(samples as usize * (1 + inputs as usize));
        for i in 0..chunks {
            let chunk = self
                .db
                .get_cf(cf, dataset_key(root, Some(i as u32)))?
                .ok_or_else(|| StoreError::Corrupt(format!("dataset chunk {i} missing")))?;
            bytes.extend_from_slice(&chunk);
        }
        let dataset =
            Dataset::from_encoded(inputs, bytes).map_err(|e| StoreError::Dataset(e.to_string()))?;
        if dataset.commitment().root != *root {
            return Err(StoreError::Dataset(format!(
                "stored samples do not hash to {}",
                hex::encode(root)
            )));
        }
        let dataset = Arc::new(dataset);
        self.datasets.lock().insert(*root, dataset.clone());
        Ok(Some(dataset))
    }

    /// Records the weights a block adopted.
    pub fn record_block(&self, block: H256, record: BlockRecord) -> Result<(), StoreError> {
        self.db
            .put_cf(self.cf(CF_BLOCKS)?, block.as_bytes(), record.encode())?;
        Ok(())
    }

    /// The record of a block, if it was imported with weights.
    #[cfg(test)]
    pub fn block(&self, block: H256) -> Result<Option<BlockRecord>, StoreError> {
        self.db
            .get_cf(self.cf(CF_BLOCKS)?, block.as_bytes())?
            .map(|v| {
                BlockRecord::decode(&mut &v[..])
                    .map_err(|e| StoreError::Corrupt(format!("block record: {e}")))
            })
            .transpose()
    }

    /// Every block record (for pruning and tests).
    pub fn block_records(&self) -> Result<Vec<(H256, BlockRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(CF_BLOCKS)?, IteratorMode::Start)
        {
            let (key, value) = item?;
            let record = BlockRecord::decode(&mut &value[..])
                .map_err(|e| StoreError::Corrupt(format!("block record: {e}")))?;
            out.push((H256::from_slice(&key), record));
        }
        Ok(out)
    }

    /// Drops the records of `stale` blocks (abandoned forks) and of blocks
    /// below `horizon`, then every weight set no remaining record and no
    /// entry of `retain` refers to. `retain` must hold every weights hash
    /// the chain still needs (the runtime's `needed_weights`: every job's
    /// current or final weights), or they are lost.
    pub fn prune(
        &self,
        horizon: u32,
        stale: &[H256],
        retain: &HashSet<Hash>,
    ) -> Result<PruneReport, StoreError> {
        let _writes = self.writes.lock();
        let stale: HashSet<H256> = stale.iter().copied().collect();
        let blocks_cf = self.cf(CF_BLOCKS)?;
        let weights_cf = self.cf(CF_WEIGHTS)?;
        let mut report = PruneReport::default();
        let mut live: HashSet<Hash> = retain.clone();
        let mut batch = rocksdb::WriteBatch::default();
        for (hash, record) in self.block_records()? {
            if stale.contains(&hash) || record.number < horizon {
                batch.delete_cf(blocks_cf, hash.as_bytes());
                report.blocks += 1;
            } else {
                live.insert(record.weights);
            }
        }
        // Keys only: the values are whole weight sets.
        let mut keys = self.db.raw_iterator_cf(weights_cf);
        keys.seek_to_first();
        while let Some(key) = keys.key() {
            let hash: Hash = key
                .try_into()
                .map_err(|_| StoreError::Corrupt("weights key is not 32 bytes".into()))?;
            if !live.contains(&hash) {
                batch.delete_cf(weights_cf, key);
                report.weights += 1;
            }
            keys.next();
        }
        keys.status()?;
        self.db.write(batch)?;
        Ok(report)
    }
}

fn dataset_key(root: &Hash, chunk: Option<u32>) -> Vec<u8> {
    let mut key = root.to_vec();
    match chunk {
        None => key.push(0),
        Some(i) => {
            key.push(1);
            key.extend_from_slice(&i.to_be_bytes());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use upow_puzzle::{Model, Weights};

    fn weights(seed: u8) -> (Hash, Vec<u8>) {
        let w = Weights::initial(&Model::new(&[4, 3, 2]).unwrap(), &[seed; 32]);
        (w.hash(), w.encode())
    }

    #[test]
    fn weights_are_checked_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (h, bytes) = weights(1);
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            assert!(matches!(
                store.put_weights(&[0; 32], &bytes),
                Err(StoreError::HashMismatch(_))
            ));
            store.put_weights(&h, &bytes).unwrap();
        }
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.weights(&h).unwrap(), Some(bytes));
        assert!(store.weights(&[9; 32]).unwrap().is_none());
    }

    #[test]
    fn datasets_roundtrip_through_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let n = DATASET_CHUNK as usize + 7;
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> = (0..n * 5).map(|i| i as u8).collect();
        let dataset = Dataset::new(5, &labels, &pixels).unwrap();
        let commitment = {
            let store = CheckpointStore::open(dir.path()).unwrap();
            store.import_dataset(dataset.clone()).unwrap()
        };
        let store = CheckpointStore::open(dir.path()).unwrap();
        let loaded = store.dataset(&commitment.root).unwrap().unwrap();
        assert_eq!(loaded.commitment(), commitment);
        assert_eq!(loaded.encoded(), dataset.encoded());
        assert!(store.dataset(&[1; 32]).unwrap().is_none());
    }

    #[test]
    fn pruning_is_fork_aware_and_keeps_job_weights() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let sets: Vec<(Hash, Vec<u8>)> = (0..6).map(weights).collect();
        for (h, b) in &sets {
            store.put_weights(h, b).unwrap();
        }
        let block = |i: u8| H256::repeat_byte(i);
        // Finalized chain 1..=4, a fork block at 3, a pending block at 5.
        for (i, n) in [(1u8, 1u32), (2, 2), (3, 3), (4, 4), (5, 5)] {
            store
                .record_block(
                    block(i),
                    BlockRecord {
                        number: n,
                        job: 0,
                        weights: sets[i as usize].0,
                    },
                )
                .unwrap();
        }
        store
            .record_block(
                block(9),
                BlockRecord {
                    number: 3,
                    job: 0,
                    weights: sets[0].0,
                },
            )
            .unwrap();
        // Keep 1 block of history below finalized #4 (horizon 3); the fork
        // block is stale; job 7's current weights are set 1.
        let retain = HashSet::from([sets[1].0]);
        let report = store.prune(3, &[block(9)], &retain).unwrap();
        assert_eq!(
            report,
            PruneReport {
                blocks: 3,
                weights: 2
            }
        );
        assert!(store.has_weights(&sets[1].0).unwrap()); // retained for its job
        assert!(!store.has_weights(&sets[2].0).unwrap()); // old, finalized
        assert!(!store.has_weights(&sets[0].0).unwrap()); // only on the stale fork
        for kept in [3, 4, 5] {
            assert!(store.has_weights(&sets[kept].0).unwrap(), "{kept}");
        }
        assert!(store.block(block(9)).unwrap().is_none());
        assert!(store.block(block(5)).unwrap().is_some());
    }
}
