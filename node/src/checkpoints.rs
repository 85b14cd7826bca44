//! The node's content-addressed store of model weights and datasets
//! (RocksDB, beside the chain database).
//!
//! * `weights`: `H(W) → encoding` for the weights every imported block
//!   adopted (derived by replaying the block's final step) and every job's
//!   initial weights. Every value is checked against its hash on write.
//! * `datasets`: `root → samples` in chunks, for miners to download.
//! * `uploads`: datasets being uploaded (`upow_putDataset`), resumable
//!   across disconnects and restarts; a finished upload is stored in
//!   `datasets` only if its samples hash to the root it was announced with.
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
const CF_UPLOADS: &str = "uploads";
/// Most bytes one dataset upload may need to rebuild: its samples and its
/// Merkle tree, `samples · (1 + inputs + UPLOAD_TREE_BYTES_PER_SAMPLE)`: 1 GiB.
pub const MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// Bytes of Merkle tree per sample a rebuild holds (two 32-byte hashes).
pub const UPLOAD_TREE_BYTES_PER_SAMPLE: u64 = 64;
/// Most unfinished uploads a node keeps at once.
pub const MAX_OPEN_UPLOADS: usize = 4;
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
    /// An upload request that cannot be accepted (shape, offset, length).
    #[error("dataset upload: {0}")]
    Upload(String),
    /// An upload above [`MAX_UPLOAD_BYTES`], or too many unfinished ones.
    #[error("dataset upload: {0}")]
    UploadTooLarge(String),
    /// A finished upload whose samples do not hash to its announced root;
    /// it was discarded.
    #[error("dataset upload: the {samples} uploaded samples hash to 0x{got}, not to the announced root 0x{root}: upload discarded")]
    UploadMismatch {
        /// The announced root.
        root: String,
        /// What the samples hash to.
        got: String,
        /// Samples received.
        samples: u64,
    },
}

/// Where an upload stands: its announced shape and the samples received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct UploadState {
    /// Samples announced.
    pub samples: u64,
    /// Input bytes per sample announced.
    pub inputs: u32,
    /// Samples received so far (the next `offset`).
    pub received: u64,
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
    /// Serialises uploads (one request at a time changes an upload).
    uploads: Mutex<()>,
}

impl CheckpointStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let cfs = [CF_WEIGHTS, CF_DATASETS, CF_BLOCKS, CF_UPLOADS]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, cfs)?;
        Ok(Self {
            db,
            datasets: Mutex::new(HashMap::new()),
            writes: Mutex::new(()),
            uploads: Mutex::new(()),
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
        let commitment = self.write_dataset(&dataset)?;
        self.datasets
            .lock()
            .insert(commitment.root, Arc::new(dataset));
        Ok(commitment)
    }

    /// Stores a dataset (chunked) without keeping it in memory (it is
    /// loaded on first use).
    fn write_dataset(&self, dataset: &Dataset) -> Result<DatasetCommitment, StoreError> {
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

    /// Whether a dataset with this root is stored.
    #[cfg(test)]
    pub fn has_dataset(&self, root: &Hash) -> Result<bool, StoreError> {
        if self.datasets.lock().contains_key(root) {
            return Ok(true);
        }
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_DATASETS)?, dataset_key(root, None))?
            .is_some())
    }

    /// The unfinished upload of `root`, if any.
    pub fn upload(&self, root: &Hash) -> Result<Option<UploadState>, StoreError> {
        self.db
            .get_cf(self.cf(CF_UPLOADS)?, upload_key(root, None))?
            .map(|v| {
                UploadState::decode(&mut &v[..])
                    .map_err(|e| StoreError::Corrupt(format!("upload record: {e}")))
            })
            .transpose()
    }

    /// The shape `(inputs, samples)` of a stored dataset, without loading it.
    pub fn dataset_shape(&self, root: &Hash) -> Result<Option<(u32, u64)>, StoreError> {
        self.db
            .get_cf(self.cf(CF_DATASETS)?, dataset_key(root, None))?
            .map(|meta| {
                <(u32, u64)>::decode(&mut &meta[..])
                    .map_err(|e| StoreError::Corrupt(format!("dataset metadata: {e}")))
            })
            .transpose()
    }

    /// Adds `data` (whole samples, `1 + inputs` bytes each) at sample
    /// `offset` to the upload of a dataset announced as (`root`, `samples`,
    /// `inputs`). Uploads are resumable: `offset` must be the samples
    /// received so far ([`CheckpointStore::upload`]); `offset` 0 (re)starts
    /// an upload, discarding what an earlier one of the root left. When the
    /// last sample arrives, the dataset is rebuilt and stored if it hashes
    /// to `root`, else discarded ([`StoreError::UploadMismatch`]). Returns
    /// the state after the call (`received == samples` once stored).
    ///
    /// Bounded: `samples · (1 + inputs + 64)` — the samples and the Merkle
    /// tree a rebuild holds in memory — at most [`MAX_UPLOAD_BYTES`], and
    /// at most [`MAX_OPEN_UPLOADS`] unfinished uploads. An upload whose
    /// rebuild was interrupted (a crash after its last chunk) is finished by
    /// the next call for its root; one whose root got stored another way is
    /// dropped.
    pub fn put_upload(
        &self,
        root: &Hash,
        samples: u64,
        inputs: u32,
        offset: u64,
        data: &[u8],
    ) -> Result<UploadState, StoreError> {
        let _uploads = self.uploads.lock();
        let cf = self.cf(CF_UPLOADS)?;
        if let Some((inputs, samples)) = self.dataset_shape(root)? {
            self.clear_upload(root)?;
            return Ok(UploadState {
                samples,
                inputs,
                received: samples,
            });
        }
        if let Some(state) = self.upload(root)? {
            if state.received == state.samples {
                self.finish_upload(root, state)?;
                return Ok(state);
            }
        }
        if samples == 0 || !(1..=upow_puzzle::model::MAX_WIDTH).contains(&inputs) {
            return Err(StoreError::Upload(format!(
                "a dataset has at least 1 sample of 1 to {} inputs (announced {samples} of {inputs})",
                upow_puzzle::model::MAX_WIDTH
            )));
        }
        let len = 1 + inputs as u64;
        let footprint = samples.saturating_mul(len + UPLOAD_TREE_BYTES_PER_SAMPLE);
        if footprint > MAX_UPLOAD_BYTES {
            return Err(StoreError::UploadTooLarge(format!(
                "{samples} samples of {len} bytes need {footprint} bytes with their Merkle tree, above the limit of {MAX_UPLOAD_BYTES}"
            )));
        }
        let state = match self.upload(root)? {
            Some(state) if offset > 0 && (state.samples, state.inputs) != (samples, inputs) => {
                return Err(StoreError::Upload(format!(
                    "an upload of 0x{} as {} samples of {} inputs is in progress, not {samples} of {inputs} (offset 0 restarts it)",
                    hex::encode(root),
                    state.samples,
                    state.inputs
                )))
            }
            Some(state) if offset > 0 => state,
            existing => {
                if existing.is_some() {
                    self.clear_upload(root)?;
                } else if self.open_uploads()? >= MAX_OPEN_UPLOADS {
                    return Err(StoreError::UploadTooLarge(format!(
                        "{MAX_OPEN_UPLOADS} unfinished uploads: finish one first"
                    )));
                }
                UploadState {
                    samples,
                    inputs,
                    received: 0,
                }
            }
        };
        if offset != state.received {
            return Err(StoreError::Upload(format!(
                "offset {offset}: the node has {} samples of this upload, resume at {} (or 0 to restart)",
                state.received, state.received
            )));
        }
        let count = data.len() as u64 / len;
        if data.is_empty()
            || !(data.len() as u64).is_multiple_of(len)
            || offset.saturating_add(count) > samples
        {
            return Err(StoreError::Upload(format!(
                "{} bytes at sample {offset} are not whole samples of {len} bytes within the {samples} announced",
                data.len()
            )));
        }
        let state = UploadState {
            received: offset + count,
            ..state
        };
        let mut batch = rocksdb::WriteBatch::default();
        batch.put_cf(cf, upload_key(root, Some(offset)), data);
        batch.put_cf(cf, upload_key(root, None), state.encode());
        self.db.write(batch)?;
        if state.received == samples {
            self.finish_upload(root, state)?;
        }
        Ok(state)
    }

    /// Unfinished uploads (their state records; keys only).
    fn open_uploads(&self) -> Result<usize, StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_UPLOADS)?);
        iter.seek_to_first();
        let mut open = 0;
        while let Some(key) = iter.key() {
            open += usize::from(key.len() == 33);
            iter.next();
        }
        iter.status()?;
        Ok(open)
    }

    /// Removes an upload's state and chunks.
    fn clear_upload(&self, root: &Hash) -> Result<(), StoreError> {
        let cf = self.cf(CF_UPLOADS)?;
        let mut clear = rocksdb::WriteBatch::default();
        clear.delete_range_cf(cf, upload_key(root, None), upload_key(root, Some(u64::MAX)));
        clear.delete_cf(cf, upload_key(root, Some(u64::MAX)));
        self.db.write(clear)?;
        Ok(())
    }

    /// Rebuilds a complete upload, stores it if it hashes to `root`, and
    /// removes the upload either way.
    fn finish_upload(&self, root: &Hash, state: UploadState) -> Result<(), StoreError> {
        let cf = self.cf(CF_UPLOADS)?;
        let len = 1 + state.inputs as usize;
        let mut bytes = Vec::with_capacity(state.samples as usize * len);
        let prefix = upload_key(root, Some(0));
        let prefix = &prefix[..33];
        let mut iter = self.db.raw_iterator_cf(cf);
        iter.seek(prefix);
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !key.starts_with(prefix) {
                break;
            }
            bytes.extend_from_slice(value);
            iter.next();
        }
        iter.status()?;
        match Dataset::from_encoded(state.inputs, bytes) {
            Ok(dataset) if dataset.commitment().root == *root => {
                self.write_dataset(&dataset)?;
                self.clear_upload(root)?;
                log::info!(
                    target: "upow",
                    "📚 dataset {} ({} samples of {} inputs) uploaded and stored",
                    hex::encode(root),
                    state.samples,
                    state.inputs
                );
                Ok(())
            }
            built => {
                self.clear_upload(root)?;
                Err(StoreError::UploadMismatch {
                    root: hex::encode(root),
                    got: match built {
                        Ok(dataset) => hex::encode(dataset.commitment().root),
                        Err(e) => format!("(nothing: {e})"),
                    },
                    samples: state.samples,
                })
            }
        }
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

/// `root ‖ 0` for an upload's state, `root ‖ 1 ‖ u64be(offset)` for the
/// samples that arrived at `offset` (in offset order under the prefix).
fn upload_key(root: &Hash, offset: Option<u64>) -> Vec<u8> {
    let mut key = root.to_vec();
    match offset {
        None => key.push(0),
        Some(offset) => {
            key.push(1);
            key.extend_from_slice(&offset.to_be_bytes());
        }
    }
    key
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

    fn tiny_dataset(seed: u8) -> Dataset {
        let labels: Vec<u8> = (0..40u8).map(|i| i % 3).collect();
        let pixels: Vec<u8> = (0..40 * 5).map(|i| (i as u8).wrapping_mul(seed)).collect();
        Dataset::new(5, &labels, &pixels).unwrap()
    }

    #[test]
    fn an_upload_resumes_and_is_stored_only_under_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let dataset = tiny_dataset(7);
        let c = dataset.commitment();
        let bytes = dataset.encoded().to_vec();
        let len = 6;
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            let state = store
                .put_upload(&c.root, 40, 5, 0, &bytes[..10 * len])
                .unwrap();
            assert_eq!(state.received, 10);
            // Not whole samples, a gap, a repeat, a different shape: refused.
            assert!(store.put_upload(&c.root, 40, 5, 10, &bytes[..7]).is_err());
            assert!(store.put_upload(&c.root, 40, 5, 12, &bytes[..len]).is_err());
            assert!(store.put_upload(&c.root, 40, 5, 5, &bytes[..len]).is_err());
            assert!(store.put_upload(&c.root, 41, 5, 10, &bytes[..len]).is_err());
            // One sample past the announced end.
            let too_many = [&bytes[10 * len..], &bytes[..len]].concat();
            assert!(store.put_upload(&c.root, 40, 5, 10, &too_many).is_err());
        }
        // Resumes after a restart, where it stopped.
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.upload(&c.root).unwrap().map(|s| s.received), Some(10));
        let state = store
            .put_upload(&c.root, 40, 5, 10, &bytes[10 * len..])
            .unwrap();
        assert_eq!(state.received, 40);
        assert_eq!(store.upload(&c.root).unwrap(), None);
        assert_eq!(
            store.dataset(&c.root).unwrap().unwrap().encoded(),
            &bytes[..]
        );

        // Samples that do not hash to the announced root: discarded.
        let other = tiny_dataset(9);
        let wrong = [3u8; 32];
        let err = store
            .put_upload(&wrong, 40, 5, 0, other.encoded())
            .unwrap_err();
        assert!(matches!(err, StoreError::UploadMismatch { .. }), "{err}");
        assert!(!store.has_dataset(&wrong).unwrap());
        assert_eq!(store.upload(&wrong).unwrap(), None);
        // Limits: too large (the tree counts: 2^24 one-input samples need
        // 2^24 · 66 bytes to rebuild), too many open.
        assert!(matches!(
            store.put_upload(&wrong, 1 << 30, 784, 0, &[0; 785]),
            Err(StoreError::UploadTooLarge(_))
        ));
        assert!(matches!(
            store.put_upload(&wrong, 1 << 24, 1, 0, &[0; 2]),
            Err(StoreError::UploadTooLarge(_))
        ));
        for i in 0..MAX_OPEN_UPLOADS as u8 {
            store.put_upload(&[i; 32], 40, 5, 0, &bytes[..len]).unwrap();
        }
        assert!(matches!(
            store.put_upload(&[99; 32], 40, 5, 0, &bytes[..len]),
            Err(StoreError::UploadTooLarge(_))
        ));
        // Offset 0 restarts an upload (another shape too), taking no new slot.
        let state = store
            .put_upload(&[0; 32], 20, 5, 0, &bytes[..2 * len])
            .unwrap();
        assert_eq!((state.samples, state.received), (20, 2));
        assert_eq!(store.open_uploads().unwrap(), MAX_OPEN_UPLOADS);
    }

    #[test]
    fn an_upload_whose_rebuild_was_interrupted_is_finished_and_a_stored_root_frees_its_slot() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let dataset = tiny_dataset(5);
        let c = dataset.commitment();
        // As if the node died after writing the last chunk, before the rebuild.
        let cf = store.cf(CF_UPLOADS).unwrap();
        store
            .db
            .put_cf(cf, upload_key(&c.root, Some(0)), dataset.encoded())
            .unwrap();
        let done = UploadState {
            samples: 40,
            inputs: 5,
            received: 40,
        };
        store
            .db
            .put_cf(cf, upload_key(&c.root, None), done.encode())
            .unwrap();
        assert_eq!(store.open_uploads().unwrap(), 1);
        // The next call for the root finishes it.
        assert_eq!(
            store.put_upload(&c.root, 40, 5, 40, &[]).unwrap().received,
            40
        );
        assert!(store.has_dataset(&c.root).unwrap());
        assert_eq!(store.open_uploads().unwrap(), 0);

        // An upload open when its root is stored another way (--dataset-dir).
        let other = tiny_dataset(6);
        let o = other.commitment();
        store
            .put_upload(&o.root, 40, 5, 0, &other.encoded()[..6])
            .unwrap();
        assert_eq!(store.open_uploads().unwrap(), 1);
        store.import_dataset(tiny_dataset(6)).unwrap();
        let state = store
            .put_upload(&o.root, 40, 5, 1, &other.encoded()[6..12])
            .unwrap();
        assert_eq!(state.received, 40);
        assert_eq!(store.upload(&o.root).unwrap(), None);
        assert_eq!(store.open_uploads().unwrap(), 0);
    }

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
