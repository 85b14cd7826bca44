//! The `upow_*` RPC methods (definition: `upow_primitives::rpc`).

use std::sync::Arc;

use codec::{DecodeAll, Encode};
use jsonrpsee::{
    core::{async_trait, RpcResult},
    types::ErrorObjectOwned,
    Extensions,
};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_consensus::Environment;
use sp_core::{Bytes, H256};
use upow_primitives::{
    rpc::{
        dataset_chunk_samples, error, signature_bytes, BlockPaymentJson, DatasetChunk,
        DatasetUpload, DisputableJson, JobJson, LossPointJson, OpenJob, Submission, SubmitWork,
        Template, UpowApiServer, WorkResponse, MAX_DATASET_BYTES,
    },
    JobId, UpowApi, Work,
};
use upow_runtime::opaque::Block;

use crate::{
    authorship::{AuthorError, BlockAuthor, Win},
    checkpoints::StoreError,
    work::{WorkError, WorkSource},
};

fn rpc_error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// The RPC error code of a work error.
fn work_error_code(e: &WorkError) -> i32 {
    match e {
        WorkError::NoJob(..) | WorkError::NoMinableJob(_) | WorkError::MissingWeights(..) => {
            error::NO_WORK
        }
        WorkError::MissingDataset(_) | WorkError::Runtime(..) => error::NOT_FOUND,
        WorkError::Store(_) | WorkError::Weights(..) => error::INTERNAL,
    }
}

impl From<WorkError> for ErrorObjectOwned {
    fn from(e: WorkError) -> Self {
        rpc_error(work_error_code(&e), e.to_string())
    }
}

impl From<AuthorError> for ErrorObjectOwned {
    fn from(e: AuthorError) -> Self {
        let code = match &e {
            AuthorError::UnknownParent(_) | AuthorError::UnknownTemplate(_) => error::NOT_FOUND,
            AuthorError::Work(w) => work_error_code(w),
            AuthorError::NotAdmitted(_)
            | AuthorError::Trajectory(_)
            | AuthorError::BadSignature(_)
            | AuthorError::BadSubmissionSignature(_)
            | AuthorError::Unsealed(_)
            | AuthorError::Rejected(_) => error::REJECTED,
            AuthorError::StaleParent(_) => error::STALE,
            AuthorError::AlreadySealed { .. } | AuthorError::BelowSigningHistory { .. } => {
                error::REJECTED
            }
            AuthorError::NoKey(_) | AuthorError::SigningRecord(_) | AuthorError::Client(_) => {
                error::INTERNAL
            }
        };
        rpc_error(code, e.to_string())
    }
}

/// Implements the `upow_*` methods.
pub struct UpowRpc<C, E> {
    client: Arc<C>,
    work: WorkSource<C>,
    author: Arc<BlockAuthor<C, E>>,
}

impl<C, E> UpowRpc<C, E> {
    /// The RPC handler.
    pub fn new(client: Arc<C>, work: WorkSource<C>, author: Arc<BlockAuthor<C, E>>) -> Self {
        Self {
            client,
            work,
            author,
        }
    }
}

/// Refuses an unsafe method (one that makes the node verify or import
/// blocks) unless the server allows them (`--rpc-methods unsafe`, or
/// `auto` on a local interface).
fn ensure_unsafe_allowed(ext: &Extensions, method: &str) -> RpcResult<()> {
    sc_rpc_api::check_if_safe(ext).map_err(|_| {
        rpc_error(
            error::UNSAFE,
            format!("{method} is an unsafe RPC method: start the node with --rpc-methods unsafe (or call it on a local interface)"),
        )
    })
}

impl<C, E> UpowRpc<C, E>
where
    C: HeaderBackend<Block>,
{
    /// `parent`, or the best block; with its number.
    fn parent_or_best(&self, parent: Option<H256>) -> RpcResult<(H256, u32)> {
        let parent = parent.unwrap_or_else(|| self.client.info().best_hash);
        let number = self
            .client
            .number(parent)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("unknown block {parent}")))?;
        Ok((parent, number))
    }
}

#[async_trait]
impl<C, E> UpowApiServer for UpowRpc<C, E>
where
    C: ProvideRuntimeApi<Block>
        + HeaderBackend<Block>
        + sc_client_api::BlockBackend<Block>
        + Send
        + Sync
        + 'static,
    C::Api: UpowApi<Block>,
    E: Environment<Block> + Send + 'static,
    E::Error: std::fmt::Display,
{
    fn get_work(&self, parent: Option<H256>, job: Option<JobId>) -> RpcResult<WorkResponse> {
        let (parent, number) = self.parent_or_best(parent)?;
        let work = match job {
            Some(job) => self.work.work_at(parent, job)?,
            None => self.work.pick_at(parent)?,
        };
        if !self
            .work
            .store()
            .has_weights(&work.weights)
            .map_err(WorkError::from)?
        {
            return Err(WorkError::MissingWeights(hex::encode(work.weights), work.job).into());
        }
        Ok(WorkResponse {
            parent,
            number,
            job: work.job,
            spec: Bytes(work.spec.encode()),
            model: work.spec.model.dims().to_vec(),
            batch: work.spec.hyper.batch() as u32,
            dataset_root: H256(work.spec.dataset.root),
            dataset_samples: work.spec.dataset.samples,
            init_seed: H256(work.init_seed),
            weights: H256(work.weights),
            steps: work.steps,
            difficulty: work.difficulty.into(),
            min_nonzero_per_1024: work.liveness.nonzero_weights_per_1024(),
            min_live_per_1024: work.liveness.live_units_per_1024(),
            min_active_per_1024: work.liveness.active_per_1024(),
            price_per_step: work.price_per_step.into(),
            budget_left: work.budget_left.into(),
        })
    }

    fn open_jobs(&self, parent: Option<H256>) -> RpcResult<Vec<OpenJob>> {
        let (parent, _) = self.parent_or_best(parent)?;
        self.work
            .open_work_at(parent)?
            .into_iter()
            .map(|work: Work| {
                Ok(OpenJob {
                    job: work.job,
                    model: work.spec.model.dims().to_vec(),
                    batch: work.spec.hyper.batch() as u32,
                    dataset_root: H256(work.spec.dataset.root),
                    dataset_samples: work.spec.dataset.samples,
                    dataset_served: self.work.has_dataset(&work)?,
                    steps: work.steps,
                    difficulty: work.difficulty.into(),
                    price_per_step: work.price_per_step.into(),
                    budget_left: work.budget_left.into(),
                })
            })
            .collect()
    }

    fn get_weights(&self, hash: H256) -> RpcResult<Bytes> {
        self.work
            .store()
            .weights(&hash.0)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?
            .map(Bytes)
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("unknown weights {hash}")))
    }

    async fn put_dataset(
        &self,
        ext: &Extensions,
        root: H256,
        samples: u64,
        inputs: u32,
        offset: u64,
        data: Bytes,
    ) -> RpcResult<DatasetUpload> {
        ensure_unsafe_allowed(ext, "upow_putDataset")?;
        if data.0.len() as u64 > MAX_DATASET_BYTES {
            return Err(rpc_error(
                error::TOO_LARGE,
                format!(
                    "{} bytes in one call: at most {MAX_DATASET_BYTES} bytes of whole samples",
                    data.0.len()
                ),
            ));
        }
        // The last chunk rebuilds the dataset (seconds for a large one):
        // off the RPC workers.
        let store = self.work.store().clone();
        let state = tokio::task::spawn_blocking(move || {
            store.put_upload(&root.0, samples, inputs, offset, &data.0)
        })
        .await
        .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?
        .map_err(|e| {
            let code = match e {
                StoreError::Upload(_) => error::INVALID_INPUT,
                StoreError::UploadTooLarge(_) => error::TOO_LARGE,
                StoreError::UploadMismatch { .. } => error::REJECTED,
                _ => error::INTERNAL,
            };
            rpc_error(code, e.to_string())
        })?;
        Ok(DatasetUpload {
            root,
            samples: state.samples,
            inputs: state.inputs,
            received: state.received,
            stored: state.received == state.samples,
        })
    }

    fn dataset_upload(&self, root: H256) -> RpcResult<Option<DatasetUpload>> {
        let store = self.work.store();
        let internal = |e: StoreError| rpc_error(error::INTERNAL, e.to_string());
        if let Some((inputs, samples)) = store.dataset_shape(&root.0).map_err(internal)? {
            return Ok(Some(DatasetUpload {
                root,
                samples,
                inputs,
                received: samples,
                stored: true,
            }));
        }
        Ok(store
            .upload(&root.0)
            .map_err(internal)?
            .map(|state| DatasetUpload {
                root,
                samples: state.samples,
                inputs: state.inputs,
                received: state.received,
                // A finished upload is stored or removed at once; one whose
                // rebuild was interrupted is finished by the next put.
                stored: false,
            }))
    }

    fn get_dataset(&self, root: H256, offset: u64, count: u64) -> RpcResult<DatasetChunk> {
        let dataset = self
            .work
            .store()
            .dataset(&root.0)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("unknown dataset {root}")))?;
        let total = dataset.len() as u64;
        if offset > total {
            return Err(rpc_error(
                error::INVALID_INPUT,
                format!("offset {offset} beyond {total} samples"),
            ));
        }
        let len = dataset.sample_len();
        let most = dataset_chunk_samples(len as u64);
        if count > most {
            return Err(rpc_error(
                error::TOO_LARGE,
                format!("at most {most} samples of {len} bytes ({MAX_DATASET_BYTES} bytes) per call, asked for {count}"),
            ));
        }
        let end = offset.saturating_add(count).min(total);
        let data = dataset.encoded()[offset as usize * len..end as usize * len].to_vec();
        Ok(DatasetChunk {
            samples: total,
            inputs: (len - 1) as u32,
            offset,
            data: Bytes(data),
        })
    }

    async fn submit_work(&self, ext: &Extensions, work: SubmitWork) -> RpcResult<Template> {
        ensure_unsafe_allowed(ext, "upow_submitWork")?;
        let submission = work
            .decode()
            .map_err(|e| rpc_error(error::INVALID_INPUT, e.to_string()))?;
        let best = self.client.info().best_hash;
        if submission.parent != best.0 {
            return Err(rpc_error(
                error::STALE,
                format!(
                    "parent {} is not the best block {best}: fetch new work",
                    work.parent
                ),
            ));
        }
        let Submission {
            parent,
            digest,
            proof,
            signature,
        } = submission;
        let prepared = self
            .author
            .prepare_submitted(
                Win {
                    parent: H256(parent),
                    digest,
                    proof,
                },
                signature,
            )
            .await?;
        Ok(Template {
            pre_hash: prepared.pre_hash,
            header: Bytes(prepared.header.encode()),
        })
    }

    async fn submit_seal(
        &self,
        ext: &Extensions,
        pre_hash: H256,
        signature: Bytes,
    ) -> RpcResult<H256> {
        ensure_unsafe_allowed(ext, "upow_submitSeal")?;
        let signature = signature_bytes(&signature)
            .map_err(|e| rpc_error(error::INVALID_INPUT, e.to_string()))?;
        Ok(self.author.seal(pre_hash, signature).await?)
    }

    async fn submit_block(&self, ext: &Extensions, block: Bytes) -> RpcResult<H256> {
        ensure_unsafe_allowed(ext, "upow_submitBlock")?;
        let block = Block::decode_all(&mut &block.0[..])
            .map_err(|e| rpc_error(error::INVALID_INPUT, format!("block does not decode: {e}")))?;
        Ok(self.author.submit_block(block).await?)
    }

    fn job(&self, id: JobId) -> RpcResult<JobJson> {
        let best = self.client.info().best_hash;
        let info = self
            .client
            .runtime_api()
            .job(best, id)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("unknown job {id}")))?;
        Ok(JobJson {
            id,
            poster: H256(info.poster),
            model: info.spec.model.dims().to_vec(),
            batch: info.spec.hyper.batch() as u32,
            target_steps: info.spec.hyper.total_steps(),
            dataset_root: H256(info.spec.dataset.root),
            price_per_step: info.price_per_step.into(),
            budget_left: info.budget_left.into(),
            pending_payment: info.pending_payment.into(),
            target_loss: info.target_loss,
            status: info.status,
            steps: info.steps,
            weights: info.weights.map(H256),
            settled_steps: info.settled_steps,
            settled_weights: info.settled_weights.map(H256),
            last_loss: info.last_loss,
        })
    }

    fn loss_curve(&self, id: JobId, from: u32, count: u32) -> RpcResult<Vec<LossPointJson>> {
        if count > 1024 {
            return Err(rpc_error(
                error::TOO_LARGE,
                format!("at most 1024 points per call, asked for {count}"),
            ));
        }
        let best = self.client.info().best_hash;
        let points = self
            .client
            .runtime_api()
            .loss_curve(best, id, from, count)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?;
        Ok(points
            .into_iter()
            .map(|p| LossPointJson {
                block: p.block,
                steps: p.steps,
                loss: p.loss,
            })
            .collect())
    }

    fn disputable_blocks(&self) -> RpcResult<Vec<u32>> {
        let best = self.client.info().best_hash;
        self.client
            .runtime_api()
            .disputable_blocks(best)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))
    }

    fn block_payment(
        &self,
        job: JobId,
        steps: u32,
        parent: Option<H256>,
    ) -> RpcResult<BlockPaymentJson> {
        let at = parent.unwrap_or_else(|| self.client.info().best_hash);
        self.client
            .runtime_api()
            .block_payment(at, job, steps)
            .map_err(|e| rpc_error(error::INTERNAL, e.to_string()))?
            .map(BlockPaymentJson::from)
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("job {job} is not open at {at}")))
    }

    fn disputable(&self, number: u32) -> RpcResult<Option<DisputableJson>> {
        let internal = |e: &dyn std::fmt::Display| rpc_error(error::INTERNAL, e.to_string());
        let best = self.client.info().best_hash;
        let api = self.client.runtime_api();
        let Some(record) = api.disputable(best, number).map_err(|e| internal(&e))? else {
            return Ok(None);
        };
        let spec = api
            .job(best, record.job)
            .map_err(|e| internal(&e))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("unknown job {}", record.job)))?
            .spec;
        let hash = self
            .client
            .hash(number)
            .map_err(|e| internal(&e))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("no block {number}")))?;
        let header = self
            .client
            .header(hash)
            .map_err(|e| internal(&e))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("no header of block {number}")))?;
        if header.parent_hash.0 != record.parent {
            // The best chain moved between the two reads.
            return Err(rpc_error(
                error::STALE,
                format!("block {number} changed under the query: retry"),
            ));
        }
        let body = self
            .client
            .block_body(hash)
            .map_err(|e| internal(&e))?
            .ok_or_else(|| rpc_error(error::NOT_FOUND, format!("no body of block {number}")))?;
        let proof = upow_runtime::trajectory_proof(&body).ok_or_else(|| {
            rpc_error(
                error::INTERNAL,
                format!("block {number} carries no trajectory proof"),
            )
        })?;
        Ok(Some(DisputableJson {
            number,
            hash,
            job: record.job,
            author: H256(record.author_key),
            parent: H256(record.parent),
            salt: record.salt,
            steps: record.steps,
            root: H256(record.root),
            final_weights: H256(record.final_weights),
            start_weights: H256(record.start.weights),
            start_steps: record.start.steps,
            payment: record.payment.into(),
            spec: Bytes(spec.encode()),
            segments: proof.segments.into_iter().map(H256).collect(),
        }))
    }
}
