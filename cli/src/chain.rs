//! The chain as a builder sees it: subxt's typed client for calls, events,
//! storage and the runtime API (generated from the runtime's metadata,
//! [`crate::runtime`]), the node's `upow_*` methods for weights and
//! datasets, and the builder's signing key.

use std::time::Duration;

use subxt::{
    error::{DispatchError, TransactionEventsError},
    transactions::Signer,
    utils::{AccountId32, MultiSignature, Static},
    OnlineClient, PolkadotConfig,
};
use upow_miner::mine::{
    client::{NodeClient, RpcError},
    keys::{AuthorKey, KeyError},
};
use upow_primitives::{JobId, JobInfo};
use upow_puzzle::{DatasetCommitment, JobSpec, UncheckedJobSpec, Weights};

use crate::runtime;

/// The chain's configuration for subxt: upow's accounts, addresses,
/// signatures and extensions are Polkadot's.
pub type UpowConfig = PolkadotConfig;

/// A problem talking to the chain. Each says what failed and why.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The node cannot be reached or answered with an RPC error.
    #[error("node {url}: {message}")]
    Connect {
        /// The node.
        url: String,
        /// Why.
        message: String,
    },
    /// A call failed in the runtime: the pallet's error and its doc.
    #[error("{call} failed: {error}")]
    Dispatch {
        /// The call.
        call: &'static str,
        /// `Pallet::Error: doc`.
        error: String,
    },
    /// The transaction was not accepted or not included.
    #[error("{call}: {message}")]
    Transaction {
        /// The call.
        call: &'static str,
        /// Why.
        message: String,
    },
    /// No job has this id.
    #[error("no job {0} on this chain")]
    UnknownJob(JobId),
    /// The job's initial weights were not drawn yet at the block read: a
    /// later block (normally the one after its posting) draws its
    /// initial weights.
    #[error(
        "job {0} has no weights yet: a block after its posting (normally the next) draws its \
         initial weights"
    )]
    NotDrawnYet(JobId),
    /// A read through the runtime API or storage failed.
    #[error("reading {what}: {message}")]
    Read {
        /// What was read.
        what: String,
        /// Why.
        message: String,
    },
    /// Weights that do not hash to what the chain records.
    #[error("the node sent weights that hash to 0x{got}, the chain records 0x{expected}")]
    WeightsHash {
        /// What the chain records.
        expected: String,
        /// What the bytes hash to.
        got: String,
    },
    /// A key problem.
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn read_error(what: impl Into<String>) -> impl FnOnce(String) -> ChainError {
    let what = what.into();
    move |message| ChainError::Read { what, message }
}

/// A signing key: the builder's sr25519 pair, loaded like the miner's keys.
pub struct BuilderKey(AuthorKey);

impl BuilderKey {
    /// Wraps a loaded key.
    pub fn new(key: AuthorKey) -> Self {
        Self(key)
    }

    /// The account.
    pub fn account(&self) -> AccountId32 {
        AccountId32(self.0.public())
    }

    /// SS58 (prefix 42).
    pub fn ss58(&self) -> String {
        self.0.ss58()
    }
}

impl Signer<UpowConfig> for BuilderKey {
    fn account_id(&self) -> AccountId32 {
        self.account()
    }

    fn sign(&self, signer_payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(self.0.sign(signer_payload))
    }
}

/// What a finalized call did.
#[derive(Debug)]
pub struct Included {
    /// The block it is in.
    pub block: subxt::utils::H256,
    /// The fee it paid (its `TransactionFeePaid` event).
    pub fee: u128,
    /// Its events.
    pub events: subxt::extrinsics::ExtrinsicEvents<UpowConfig>,
}

/// A listed workload, as the catalogue holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedWorkload {
    /// Its id.
    pub id: u32,
    /// The cost of one step in cost units.
    pub cost: u32,
    /// Its non-zero-weights threshold, in 1/1024 of each layer's compute
    /// weights.
    pub min_nonzero_per_1024: u16,
    /// Its live-unit threshold, in 1/1024 of each hidden layer's units.
    pub min_live_per_1024: u16,
    /// Its activation-density threshold, in 1/1024 of each hidden layer's
    /// activations over a batch.
    pub min_active_per_1024: u16,
}

/// What governance lists a spec with (`Jobs::list_workload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingTerms {
    /// The measured cost of one step in cost units.
    pub cost: u32,
    /// The largest label of the dataset.
    pub max_label: u8,
    /// The non-zero-weights threshold, in 1/1024 of each layer's compute
    /// weights.
    pub min_nonzero_per_1024: u16,
    /// The live-unit threshold, in 1/1024 of each hidden layer's units.
    pub min_live_per_1024: u16,
    /// The activation-density threshold, in 1/1024 of each hidden layer's
    /// activations over a batch.
    pub min_active_per_1024: u16,
}

/// The block a read was made at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// Its number.
    pub number: u32,
    /// Its hash.
    pub hash: subxt::utils::H256,
}

/// A connection to a node: subxt for the runtime, the node client for `upow_*`.
pub struct Chain {
    url: String,
    client: OnlineClient<UpowConfig>,
    node: NodeClient,
}

impl Chain {
    /// Connects to `url` (`ws://…`).
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        let connect = |message: String| ChainError::Connect {
            url: url.to_string(),
            message,
        };
        let client = OnlineClient::<UpowConfig>::from_insecure_url(url)
            .await
            .map_err(|e| connect(e.to_string()))?;
        let node = node_client(url).await?;
        Ok(Self {
            url: url.to_string(),
            client,
            node,
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `upow_*` client.
    pub fn node(&self) -> &NodeClient {
        &self.node
    }

    /// The subxt client.
    pub fn client(&self) -> &OnlineClient<UpowConfig> {
        &self.client
    }

    /// The runtime's spec version at the best block.
    pub async fn spec_version(&self) -> Result<u32, ChainError> {
        let (spec, _) = self
            .node
            .runtime_version()
            .await
            .map_err(|e| read_error("the runtime version")(e.to_string()))?;
        Ok(spec)
    }

    /// A job as the runtime API reports it at block `at` (default: the
    /// finalized block: what no reorg takes back).
    pub async fn job(&self, id: JobId, at: Option<u32>) -> Result<JobInfo, ChainError> {
        Ok(self.job_at(id, at).await?.0)
    }

    /// [`Chain::job`] with the block it was read at.
    pub async fn job_at(&self, id: JobId, at: Option<u32>) -> Result<(JobInfo, At), ChainError> {
        let what = format!("job {id}");
        let block = match at {
            Some(number) => self.client.at_block(number as u64).await,
            None => self.client.at_current_block().await,
        }
        .map_err(|e| read_error(what.clone())(e.to_string()))?;
        let info = block
            .runtime_apis()
            .call(runtime::runtime_apis().upow_api().job(id))
            .await
            .map_err(|e| read_error(what)(e.to_string()))?;
        let number = u32::try_from(block.block_number())
            .map_err(|_| read_error("the block number")("above u32".into()))?;
        let at = At {
            number,
            hash: block.block_hash(),
        };
        info.map(|Static(info)| (info, at))
            .ok_or(ChainError::UnknownJob(id))
    }

    /// What `account` can put on hold at the finalized block, as the jobs
    /// pallet counts it: the free balance less the larger of its frozen
    /// part and the existential deposit (fees come on top).
    pub async fn spendable_balance(&self, account: &AccountId32) -> Result<u128, ChainError> {
        let what = format!("the balance of {account}");
        let block = self
            .client
            .at_current_block()
            .await
            .map_err(|e| read_error(what.clone())(e.to_string()))?;
        let info = block
            .storage()
            .fetch(runtime::storage().system().account(), (*account,))
            .await
            .map_err(|e| read_error(what.clone())(e.to_string()))?
            .decode()
            .map_err(|e| read_error(what.clone())(e.to_string()))?;
        let existential = block
            .constants()
            .entry(runtime::constants().balances().existential_deposit())
            .map_err(|e| read_error(what)(e.to_string()))?;
        Ok(info
            .data
            .free
            .saturating_sub(info.data.frozen.max(existential)))
    }

    /// The chain's lowest price per step.
    pub async fn min_price_per_step(&self) -> Result<u128, ChainError> {
        let block = self
            .client
            .at_current_block()
            .await
            .map_err(|e| read_error("the minimum price")(e.to_string()))?;
        block
            .constants()
            .entry(runtime::constants().jobs().min_price_per_step())
            .map_err(|e| read_error("the minimum price")(e.to_string()))
    }

    /// The deposit the chain holds from the poster of a job over `dataset`
    /// until the job is reaped: the chain's `JobDeposit` plus its
    /// `DatasetDepositPerByte` per stored byte (`upow_primitives::job_deposit`,
    /// the rule the jobs pallet applies).
    pub async fn job_deposit(&self, dataset: &DatasetCommitment) -> Result<u128, ChainError> {
        let block = self
            .client
            .at_current_block()
            .await
            .map_err(|e| read_error("the job deposit")(e.to_string()))?;
        let constants = block.constants();
        let base = constants
            .entry(runtime::constants().jobs().job_deposit())
            .map_err(|e| read_error("the job deposit")(e.to_string()))?;
        let per_byte = constants
            .entry(runtime::constants().jobs().dataset_deposit_per_byte())
            .map_err(|e| read_error("the dataset deposit per byte")(e.to_string()))?;
        upow_primitives::job_deposit(base, per_byte, dataset).ok_or_else(|| {
            read_error("the job deposit")(format!(
                "{} bytes of dataset at {per_byte} per byte overflow",
                dataset.stored_bytes()
            ))
        })
    }

    /// The weights of a job at `at` (default: the finalized block), fetched by
    /// hash and checked against the chain's record.
    pub async fn job_weights(
        &self,
        id: JobId,
        at: Option<u32>,
    ) -> Result<(JobInfo, At, Weights), ChainError> {
        let (info, block) = self.job_at(id, at).await?;
        let expected = info.weights.ok_or(ChainError::NotDrawnYet(id))?;
        let bytes = self
            .node
            .weights(expected.into())
            .await
            .map_err(|e: RpcError| {
                read_error(format!("the weights 0x{}", hex::encode(expected)))(e.to_string())
            })?;
        let got = upow_puzzle::weights::hash_encoded(&bytes.0);
        if got != expected {
            return Err(ChainError::WeightsHash {
                expected: hex::encode(expected),
                got: hex::encode(got),
            });
        }
        let weights = Weights::decode(&info.spec.model, &bytes.0)
            .map_err(|e| read_error("the weights")(e.to_string()))?;
        Ok((info, block, weights))
    }

    /// Posts a job (`Jobs::post_job`) and waits for finality; returns its id.
    pub async fn post_job(
        &self,
        key: &BuilderKey,
        spec: JobSpec,
        price_per_step: u128,
        budget: u128,
        target_loss: Option<u64>,
    ) -> Result<(JobId, Included), ChainError> {
        let call = runtime::transactions().jobs().post_job(
            Static(UncheckedJobSpec::from(spec)),
            price_per_step,
            budget,
            target_loss,
        );
        let included = self.submit("Jobs::post_job", &call, key).await?;
        let posted = included
            .events
            .find_first::<runtime::jobs::events::JobPosted>()
            .ok_or_else(|| ChainError::Transaction {
                call: "Jobs::post_job",
                message: "included without a JobPosted event".into(),
            })?
            .map_err(|e| read_error("the JobPosted event")(e.to_string()))?;
        Ok((posted.job, included))
    }

    /// The listed workload whose spec is `spec` — its id, its cost in cost
    /// units and its liveness threshold — at the best block, if one is
    /// listed.
    pub async fn listed_workload(
        &self,
        spec: &JobSpec,
    ) -> Result<Option<ListedWorkload>, ChainError> {
        let what = "the catalogue of workloads";
        let block = self
            .client
            .at_current_block()
            .await
            .map_err(|e| read_error(what)(e.to_string()))?;
        let key = spec.listing_key();
        let Some(id) = block
            .storage()
            .try_fetch(runtime::storage().jobs().listed_specs(), (key,))
            .await
            .map_err(|e| read_error(what)(e.to_string()))?
        else {
            return Ok(None);
        };
        let id = id.decode().map_err(|e| read_error(what)(e.to_string()))?;
        let workload = block
            .storage()
            .try_fetch(runtime::storage().jobs().workloads(), (id,))
            .await
            .map_err(|e| read_error(what)(e.to_string()))?
            .ok_or_else(|| read_error(what)(format!("workload {id} indexed but missing")))?
            .decode()
            .map_err(|e| read_error(what)(e.to_string()))?;
        Ok(Some(ListedWorkload {
            id,
            cost: workload.cost,
            min_nonzero_per_1024: workload.liveness.nonzero_weights_per_1024,
            min_live_per_1024: workload.liveness.live_units_per_1024,
            min_active_per_1024: workload.liveness.active_per_1024,
        }))
    }

    /// Lists `spec` at `cost` cost units over a dataset whose largest label
    /// is `max_label`, with the liveness thresholds of `terms`, as
    /// governance (`Sudo::sudo` of `Jobs::list_workload`, signed by the sudo
    /// key) and waits for finality; returns the new workload's id.
    pub async fn list_workload(
        &self,
        sudo_key: &BuilderKey,
        spec: JobSpec,
        terms: ListingTerms,
    ) -> Result<(u32, Included), ChainError> {
        use runtime::runtime_types::{pallet_upow_jobs::pallet::Call, upow_runtime::RuntimeCall};
        let inner = RuntimeCall::Jobs(Call::list_workload {
            spec: Static(UncheckedJobSpec::from(spec)),
            cost: terms.cost,
            max_label: terms.max_label,
            min_nonzero_per_1024: terms.min_nonzero_per_1024,
            min_live_per_1024: terms.min_live_per_1024,
            min_active_per_1024: terms.min_active_per_1024,
        });
        let call = runtime::transactions().sudo().sudo(inner);
        let included = self
            .submit("Sudo::sudo(Jobs::list_workload)", &call, sudo_key)
            .await?;
        let listed = included
            .events
            .find_first::<runtime::jobs::events::WorkloadListed>()
            .transpose()
            .map_err(|e| read_error("the WorkloadListed event")(e.to_string()))?;
        match listed {
            Some(listed) => Ok((listed.workload, included)),
            None => {
                let sudid = included
                    .events
                    .find_first::<runtime::sudo::events::Sudid>()
                    .and_then(Result::ok)
                    .map(|sudid| format!("{:?}", sudid.sudo_result))
                    .unwrap_or_else(|| "no Sudid event: is this key the sudo key?".into());
                Err(ChainError::Transaction {
                    call: "Sudo::sudo(Jobs::list_workload)",
                    message: format!("not listed: {sudid}"),
                })
            }
        }
    }

    /// Cancels a job (`Jobs::cancel_job`) and waits for finality; returns
    /// the refund of its `JobCancelled` event.
    pub async fn cancel_job(
        &self,
        key: &BuilderKey,
        id: JobId,
    ) -> Result<(u128, Included), ChainError> {
        let call = runtime::transactions().jobs().cancel_job(id);
        let included = self.submit("Jobs::cancel_job", &call, key).await?;
        let cancelled = included
            .events
            .find_first::<runtime::jobs::events::JobCancelled>()
            .ok_or_else(|| ChainError::Transaction {
                call: "Jobs::cancel_job",
                message: "included without a JobCancelled event".into(),
            })?
            .map_err(|e| read_error("the JobCancelled event")(e.to_string()))?;
        Ok((cancelled.refund, included))
    }

    /// Signs, submits and waits for finality; a failed dispatch becomes
    /// [`ChainError::Dispatch`] with the pallet's error and its doc.
    async fn submit<Call: subxt::transactions::Payload>(
        &self,
        name: &'static str,
        call: &Call,
        key: &BuilderKey,
    ) -> Result<Included, ChainError> {
        let transaction = |message: String| ChainError::Transaction {
            call: name,
            message,
        };
        let block = self
            .client
            .at_current_block()
            .await
            .map_err(|e| transaction(e.to_string()))?;
        let progress = block
            .transactions()
            .sign_and_submit_then_watch_default(call, key)
            .await
            .map_err(|e| transaction(e.to_string()))?;
        let finalized = tokio::time::timeout(FINALITY_TIMEOUT, progress.wait_for_finalized())
            .await
            .map_err(|_| transaction(format!("not finalized within {FINALITY_TIMEOUT:?}")))?
            .map_err(|e| transaction(e.to_string()))?;
        let block_hash = finalized.block_hash();
        match finalized.wait_for_success().await {
            Ok(events) => {
                let fee = events
                    .find_first::<runtime::transaction_payment::events::TransactionFeePaid>()
                    .transpose()
                    .map_err(|e| transaction(e.to_string()))?
                    .map(|paid| paid.actual_fee)
                    .ok_or_else(|| {
                        transaction("included without a TransactionFeePaid event".into())
                    })?;
                Ok(Included {
                    block: block_hash,
                    fee,
                    events,
                })
            }
            Err(TransactionEventsError::ExtrinsicFailed(error)) => Err(ChainError::Dispatch {
                call: name,
                error: describe_dispatch_error(&error),
            }),
            Err(e) => Err(transaction(e.to_string())),
        }
    }
}

/// A client of a node's `upow_*` methods only (datasets, weights).
pub async fn node_client(url: &str) -> Result<NodeClient, ChainError> {
    let connect = |message: String| ChainError::Connect {
        url: url.to_string(),
        message,
    };
    let metrics = std::sync::Arc::new(
        upow_miner::mine::metrics::Metrics::new(&[]).map_err(|e| connect(e.to_string()))?,
    );
    NodeClient::connect(url, metrics)
        .await
        .map_err(|e| connect(e.to_string()))
}

/// How long a call may take to be finalized.
pub const FINALITY_TIMEOUT: Duration = Duration::from_secs(300);

/// `Pallet::Error: its doc`, or the error's own text.
pub fn describe_dispatch_error(error: &DispatchError) -> String {
    match error {
        DispatchError::Module(module) => match module.details() {
            Ok(details) => {
                let doc = details.variant.docs.join(" ");
                format!(
                    "{}::{}: {}",
                    details.pallet.name(),
                    details.variant.name,
                    doc.trim()
                )
            }
            Err(_) => module.to_string(),
        },
        other => other.to_string(),
    }
}
