//! The work's data: its dataset and start weights, from memory, the local
//! store or the node — every download verified against the job's
//! commitment or the weights' hash before it is stored. A dataset the node
//! does not serve is fetched from the `--dataset-source` nodes.

use std::sync::Arc;

use sp_core::H256;
use upow_puzzle::{weights::hash_encoded, Dataset, DatasetCommitment, Hash, JobSpec, Weights};

use super::{Coordinator, State};
use crate::mine::{
    client::{NodeClient, RpcError},
    error::MineError,
    events::{CacheEntry, DatasetSource, Event},
    store::Discarded,
};

fn hex32(h: &Hash) -> String {
    format!("0x{}", hex::encode(h))
}

impl Coordinator {
    fn discarded(&self, discarded: Option<Discarded>) {
        let (what, hash) = match discarded {
            Some(Discarded::Weights(h)) => (CacheEntry::Weights, h),
            Some(Discarded::Dataset(h)) => (CacheEntry::Dataset, h),
            None => return,
        };
        self.metrics.cache_corrupt.inc();
        self.events.emit(Event::CacheCorrupt {
            what,
            hash: hex32(&hash),
        });
    }

    /// The job's dataset: memory, store, or the node (verified, stored).
    pub(super) async fn dataset(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        spec: &JobSpec,
    ) -> Result<Arc<Dataset>, MineError> {
        let commitment = spec.dataset;
        // The whole commitment must match, not only the root: a job may name
        // a known root with another sample count or width.
        if let Some(d) = state.datasets.get(&commitment.root) {
            if d.commitment() == commitment {
                return Ok(d.clone());
            }
        }
        let store = self.store.clone();
        let (cached, discarded) = tokio::task::spawn_blocking(move || store.dataset(&commitment))
            .await
            .map_err(|e| MineError::Task(e.to_string()))??;
        self.discarded(discarded);
        let root = hex32(&commitment.root);
        let dataset = match cached {
            Some(d) => {
                self.events.emit(Event::Dataset {
                    root,
                    loaded: commitment.samples,
                    total: commitment.samples,
                    from: DatasetSource::Cache,
                });
                d
            }
            None => {
                let bytes = self.download_dataset(client, &commitment, &root).await?;
                let store = self.store.clone();
                let dataset = tokio::task::spawn_blocking(move || {
                    let dataset = Dataset::from_encoded(commitment.inputs, bytes)?;
                    if dataset.commitment() != commitment {
                        return Err(MineError::InvalidWork(
                            "the node's dataset does not match its commitment".into(),
                        ));
                    }
                    store.put_dataset(&dataset)?;
                    Ok(dataset)
                })
                .await
                .map_err(|e| MineError::Task(e.to_string()))??;
                self.events.emit(Event::Dataset {
                    root,
                    loaded: commitment.samples,
                    total: commitment.samples,
                    from: DatasetSource::Node,
                });
                dataset
            }
        };
        let dataset = Arc::new(dataset);
        // One dataset at a time is enough (jobs change rarely).
        state.datasets.clear();
        state.datasets.insert(commitment.root, dataset.clone());
        Ok(dataset)
    }

    /// A dataset's samples from the node, or — when it does not serve the
    /// dataset — from the first `--dataset-source` whose samples match the
    /// commitment. The caller checks the node's against the commitment.
    async fn download_dataset(
        &self,
        client: &NodeClient,
        commitment: &DatasetCommitment,
        root: &str,
    ) -> Result<Vec<u8>, MineError> {
        let events = &self.events;
        let progress = |loaded| {
            events.emit(Event::Dataset {
                root: root.to_string(),
                loaded,
                total: commitment.samples,
                from: DatasetSource::Node,
            })
        };
        let as_mine_error = |e: RpcError| match e {
            RpcError::Response { message, .. } => {
                MineError::InvalidWork(format!("dataset {message}"))
            }
            other => MineError::Rpc(other),
        };
        let first = client.download_dataset(commitment, progress).await;
        let not_served =
            matches!(&first, Err(e) if e.code() == Some(upow_primitives::rpc::error::NOT_FOUND));
        if !not_served || self.dataset_sources.is_empty() {
            return first.map_err(as_mine_error);
        }
        for source in &self.dataset_sources {
            let attempt = async {
                let other = NodeClient::connect(source, self.metrics.clone()).await?;
                other.download_dataset(commitment, progress).await
            };
            let bytes = match attempt.await {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!(target: "upow::mine", root, source = source.as_str(), error = %e, "dataset source failed");
                    continue;
                }
            };
            // Checked here, so a source that sends other samples is
            // passed over for the next one.
            let expected = *commitment;
            let (bytes, matches) = tokio::task::spawn_blocking(move || {
                let matches = Dataset::from_encoded(expected.inputs, bytes.clone())
                    .is_ok_and(|d| d.commitment() == expected);
                (bytes, matches)
            })
            .await
            .map_err(|e| MineError::Task(e.to_string()))?;
            if matches {
                tracing::info!(target: "upow::mine", root, source = source.as_str(), "dataset downloaded from another node");
                return Ok(bytes);
            }
            tracing::warn!(target: "upow::mine", root, source = source.as_str(), "dataset source sent samples that do not match the job's commitment");
        }
        first.map_err(as_mine_error)
    }

    /// Weights by hash: memory, store, or the node (verified, stored).
    pub(super) async fn weights(
        &mut self,
        client: &NodeClient,
        state: &mut State,
        spec: &JobSpec,
        hash: Hash,
    ) -> Result<Weights, MineError> {
        if let Some((_, w)) = state.weights.iter().find(|(h, _)| *h == hash) {
            return Ok(w.clone());
        }
        let (cached, discarded) = self.store.weights(&hash, &spec.model)?;
        self.discarded(discarded);
        let weights = match cached {
            Some(w) => w,
            None => {
                let bytes = client.weights(H256(hash)).await?;
                if hash_encoded(&bytes.0) != hash {
                    return Err(MineError::InvalidWork(format!(
                        "the node's weights do not hash to {}",
                        hex32(&hash)
                    )));
                }
                let weights = Weights::decode(&spec.model, &bytes.0)?;
                self.store.put_weights(&hash, &bytes.0)?;
                weights
            }
        };
        state.remember_weights(hash, weights.clone());
        Ok(weights)
    }
}
