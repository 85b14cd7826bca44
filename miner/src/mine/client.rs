//! The node connection: the `upow_*` JSON-RPC methods (through the
//! `UpowApiClient` trait generated from `upow_primitives::rpc`), the
//! new-heads subscription, a few generic Substrate reads, RPC latency
//! metrics, and the reconnection [`Backoff`].

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use codec::{Decode, Encode};
use jsonrpsee::{
    core::{
        client::{ClientT, Error as ClientError, Subscription, SubscriptionClientT},
        rpc_params,
    },
    ws_client::{PingConfig, WsClient, WsClientBuilder},
};
use sp_core::{Bytes, H256};
use upow_primitives::{
    rpc::{
        dataset_chunk_samples, error, DatasetChunk, DatasetUpload, DisputableJson, JobJson,
        LossPointJson, NumberOrHex, SubmitWork, Template, UpowApiClient, WorkResponse,
    },
    AuthorId, BlockPayment, JobId,
};
use upow_puzzle::{DatasetCommitment, Hash};

use super::metrics::Metrics;

/// Largest request or response the client accepts (a dataset chunk of 4096
/// samples of 1025 bytes is 8.4 MB of hex; proofs of the largest models
/// about 13 MB).
const MAX_MESSAGE: u32 = 64 * 1024 * 1024;
/// How long one call may take (`upow_submitWork` verifies the trajectory).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an RPC call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The node answered with a JSON-RPC error (codes:
    /// `upow_primitives::rpc::error`).
    #[error("{method}: the node answered error {code}: {message}")]
    Node {
        /// The method called.
        method: &'static str,
        /// JSON-RPC error code.
        code: i32,
        /// The node's message.
        message: String,
    },
    /// No connection, the connection dropped, or the call timed out.
    #[error("{method}: connection failed: {message}")]
    Connection {
        /// The method called (or "connect").
        method: &'static str,
        /// What the transport reported.
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("{method}: unexpected answer: {message}")]
    Response {
        /// The method called.
        method: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A 128-bit field of the answer holds a larger number.
    #[error("{method}: {field} {value} does not fit in 128 bits")]
    OutOfRange {
        /// The method called.
        method: &'static str,
        /// The field (as named in the JSON answer).
        field: &'static str,
        /// Its value, in decimal.
        value: String,
    },
}

/// The u128 value of `field` of an answer of `method` (a 128-bit number,
/// sent as a JSON number or `0x` hex); [`RpcError::OutOfRange`] if it is
/// larger.
pub fn rpc_u128(
    method: &'static str,
    field: &'static str,
    value: NumberOrHex,
) -> Result<u128, RpcError> {
    u128::try_from(value).map_err(|_| RpcError::OutOfRange {
        method,
        field,
        value: value.into_u256().to_string(),
    })
}

impl RpcError {
    /// The node's error code, for node errors.
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Node { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the connection is gone (reconnect), as opposed to an answer.
    pub fn is_connection(&self) -> bool {
        matches!(self, Self::Connection { .. })
    }

    fn from_client(method: &'static str, e: ClientError) -> Self {
        match e {
            ClientError::Call(obj) => Self::Node {
                method,
                code: obj.code(),
                message: obj.message().to_string(),
            },
            ClientError::ParseError(e) => Self::Response {
                method,
                message: e.to_string(),
            },
            other => Self::Connection {
                method,
                message: other.to_string(),
            },
        }
    }
}

/// Turns what a user types (`127.0.0.1:9944`, `http://…`, `ws://…`) into a
/// WebSocket URL: the miner needs WebSocket for the new-heads subscription,
/// and a Substrate node serves HTTP and WebSocket on the same port.
pub fn websocket_url(node: &str) -> String {
    let node = node.trim();
    if let Some(rest) = node.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = node.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if node.starts_with("ws://") || node.starts_with("wss://") {
        node.to_string()
    } else {
        format!("ws://{node}")
    }
}

/// A connection to a node.
pub struct NodeClient {
    ws: WsClient,
    metrics: Arc<Metrics>,
}

/// The chain's currency, for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Symbol ("UPOW").
    pub symbol: String,
    /// Decimals of one unit.
    pub decimals: u32,
}

impl Default for Token {
    fn default() -> Self {
        Self {
            symbol: "UNIT".into(),
            decimals: 12,
        }
    }
}

impl NodeClient {
    /// Connects over WebSocket (`url` as given to `--node`).
    pub async fn connect(url: &str, metrics: Arc<Metrics>) -> Result<Self, RpcError> {
        let ws = WsClientBuilder::default()
            .max_request_size(MAX_MESSAGE)
            .max_response_size(MAX_MESSAGE)
            .request_timeout(REQUEST_TIMEOUT)
            .connection_timeout(CONNECT_TIMEOUT)
            // Notices a silently dead link (cable pulled, NAT timeout) in
            // about 30 s; a closed socket is noticed at once.
            .enable_ws_ping(
                PingConfig::new()
                    .ping_interval(Duration::from_secs(15))
                    .inactive_limit(Duration::from_secs(30)),
            )
            .build(websocket_url(url))
            .await
            .map_err(|e| RpcError::from_client("connect", e))?;
        Ok(Self { ws, metrics })
    }

    /// Resolves when the connection is gone.
    pub async fn closed(&self) {
        self.ws.on_disconnect().await
    }

    /// Times a call and maps its error.
    async fn timed<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, RpcError> {
        let start = Instant::now();
        let result = call.await;
        self.metrics
            .observe_rpc(method, start.elapsed(), result.is_ok());
        result.map_err(|e| RpcError::from_client(method, e))
    }

    /// Subscribes to new best heads (`chain_subscribeNewHeads`). The
    /// notifications are only triggers: the miner then asks for work.
    pub async fn subscribe_heads(&self) -> Result<Subscription<serde_json::Value>, RpcError> {
        self.timed(
            "chain_subscribeNewHeads",
            self.ws.subscribe(
                "chain_subscribeNewHeads",
                rpc_params![],
                "chain_unsubscribeNewHeads",
            ),
        )
        .await
    }

    /// `upow_getWork` on the best block, of `job` (`None`: the node's
    /// pick).
    pub async fn work(&self, job: Option<JobId>) -> Result<WorkResponse, RpcError> {
        self.timed("upow_getWork", self.ws.get_work(None, job))
            .await
    }

    /// `upow_getWeights`.
    pub async fn weights(&self, hash: H256) -> Result<Bytes, RpcError> {
        self.timed("upow_getWeights", self.ws.get_weights(hash))
            .await
    }

    /// `upow_getDataset` (at most `dataset_chunk_samples` samples).
    pub async fn dataset(
        &self,
        root: H256,
        offset: u64,
        count: u64,
    ) -> Result<DatasetChunk, RpcError> {
        self.timed("upow_getDataset", self.ws.get_dataset(root, offset, count))
            .await
    }

    /// `upow_submitWork`: the hash to sign.
    pub async fn submit_work(&self, work: SubmitWork) -> Result<Template, RpcError> {
        self.timed("upow_submitWork", self.ws.submit_work(work))
            .await
    }

    /// `upow_submitSeal`: the imported block's hash.
    pub async fn submit_seal(&self, pre_hash: H256, signature: [u8; 64]) -> Result<H256, RpcError> {
        self.timed(
            "upow_submitSeal",
            self.ws.submit_seal(pre_hash, Bytes(signature.to_vec())),
        )
        .await
    }

    /// The chain's genesis hash (`chain_getBlockHash(0)`): what seals are
    /// bound to.
    pub async fn genesis_hash(&self) -> Result<H256, RpcError> {
        let hash: Option<H256> = self
            .timed(
                "chain_getBlockHash",
                self.ws.request("chain_getBlockHash", rpc_params![0u32]),
            )
            .await?;
        hash.ok_or(RpcError::Response {
            method: "chain_getBlockHash",
            message: "the node has no block 0".into(),
        })
    }

    /// `upow_job`.
    pub async fn job(&self, id: JobId) -> Result<JobJson, RpcError> {
        self.timed("upow_job", self.ws.job(id)).await
    }

    /// `upow_putDataset`: adds whole samples at `offset` to an upload.
    pub async fn put_dataset(
        &self,
        commitment: &DatasetCommitment,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<DatasetUpload, RpcError> {
        self.timed(
            "upow_putDataset",
            self.ws.put_dataset(
                H256(commitment.root),
                commitment.samples,
                commitment.inputs,
                offset,
                Bytes(data),
            ),
        )
        .await
    }

    /// `upow_datasetUpload`: where the upload of `root` stands on the node.
    pub async fn dataset_upload(&self, root: H256) -> Result<Option<DatasetUpload>, RpcError> {
        self.timed("upow_datasetUpload", self.ws.dataset_upload(root))
            .await
    }

    /// `upow_lossCurve`: one point per block that trained the job, from
    /// the `from`-th, at most `count` (≤ 1024).
    pub async fn loss_curve(
        &self,
        id: JobId,
        from: u32,
        count: u32,
    ) -> Result<Vec<LossPointJson>, RpcError> {
        self.timed("upow_lossCurve", self.ws.loss_curve(id, from, count))
            .await
    }

    /// Whether `author` may author blocks, through the runtime API
    /// (`state_call UpowApi_is_admitted`).
    pub async fn is_admitted(&self, author: &AuthorId) -> Result<bool, RpcError> {
        let answer: Bytes = self
            .timed(
                "state_call",
                self.ws.request(
                    "state_call",
                    rpc_params!["UpowApi_is_admitted", Bytes(author.encode())],
                ),
            )
            .await?;
        bool::decode(&mut &answer.0[..]).map_err(|e| RpcError::Response {
            method: "state_call",
            message: format!("UpowApi_is_admitted: {e}"),
        })
    }

    /// What a block of `steps` steps of `job` on `parent` (`None`: the
    /// best block) pays its author (`upow_blockPayment`): the runtime's own
    /// computation, which it pays by. `None`: blocks may not train `job`
    /// there (the node's `NOT_FOUND`).
    pub async fn block_payment(
        &self,
        job: JobId,
        steps: u32,
        parent: Option<Hash>,
    ) -> Result<Option<BlockPayment>, RpcError> {
        let answer = self
            .timed(
                "upow_blockPayment",
                self.ws.block_payment(job, steps, parent.map(H256)),
            )
            .await;
        let payment = match answer {
            Ok(payment) => payment,
            Err(RpcError::Node { code, .. }) if code == error::NOT_FOUND => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(BlockPayment {
            job_payment: rpc_u128("upow_blockPayment", "jobPayment", payment.job_payment)?,
            author_reward: rpc_u128("upow_blockPayment", "authorReward", payment.author_reward)?,
        }))
    }

    /// Downloads the samples of the dataset `commitment` names, chunk by
    /// chunk (`upow_getDataset`), checking every chunk's shape against the
    /// commitment (the caller checks the root); `progress` gets the samples
    /// loaded so far after each chunk but the last. Returns the encoded
    /// samples.
    pub async fn download_dataset(
        &self,
        commitment: &DatasetCommitment,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<u8>, RpcError> {
        // Grown chunk by chunk: the job's sample count is not trusted until
        // the node's chunks confirm it.
        let mut bytes = Vec::new();
        let mut offset = 0u64;
        while offset < commitment.samples {
            let count = dataset_chunk_samples(commitment.sample_len() as u64)
                .min(commitment.samples - offset);
            let chunk = self.dataset(H256(commitment.root), offset, count).await?;
            let expected = count as usize * commitment.sample_len();
            if chunk.offset != offset
                || chunk.samples != commitment.samples
                || chunk.inputs != commitment.inputs
                || chunk.data.0.len() != expected
            {
                return Err(RpcError::Response {
                    method: "upow_getDataset",
                    message: format!(
                        "chunk at {offset}: {} bytes of {} samples × {} inputs, expected {expected} bytes of {} × {}",
                        chunk.data.0.len(),
                        chunk.samples,
                        chunk.inputs,
                        commitment.samples,
                        commitment.inputs
                    ),
                });
            }
            bytes.extend_from_slice(&chunk.data.0);
            offset += count;
            if offset < commitment.samples {
                progress(offset);
            }
        }
        Ok(bytes)
    }

    /// `upow_disputableBlocks`.
    pub async fn disputable_blocks(&self) -> Result<Vec<u32>, RpcError> {
        self.timed("upow_disputableBlocks", self.ws.disputable_blocks())
            .await
    }

    /// `upow_disputable`.
    pub async fn disputable(&self, number: u32) -> Result<Option<DisputableJson>, RpcError> {
        self.timed("upow_disputable", self.ws.disputable(number))
            .await
    }

    /// The best block's number (`chain_getHeader`).
    pub async fn best_number(&self) -> Result<u32, RpcError> {
        let header: serde_json::Value = self
            .timed(
                "chain_getHeader",
                self.ws.request("chain_getHeader", rpc_params![]),
            )
            .await?;
        header["number"]
            .as_str()
            .and_then(|n| u32::from_str_radix(n.trim_start_matches("0x"), 16).ok())
            .ok_or(RpcError::Response {
                method: "chain_getHeader",
                message: format!("no block number in {header}"),
            })
    }

    /// The runtime's `(spec_version, transaction_version)`
    /// (`state_getRuntimeVersion`): what a signed transaction commits to.
    pub async fn runtime_version(&self) -> Result<(u32, u32), RpcError> {
        let version: serde_json::Value = self
            .timed(
                "state_getRuntimeVersion",
                self.ws.request("state_getRuntimeVersion", rpc_params![]),
            )
            .await?;
        let field = |name: &str| {
            version[name]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(RpcError::Response {
                    method: "state_getRuntimeVersion",
                    message: format!("no {name} in {version}"),
                })
        };
        Ok((field("specVersion")?, field("transactionVersion")?))
    }

    /// The runtime's metadata at the best block, SCALE-encoded
    /// (`RuntimeMetadataPrefixed`): the highest stable version it serves
    /// (`state_call Metadata_metadata_versions`, then
    /// `Metadata_metadata_at_version`), or `state_getMetadata` (v14) from a
    /// runtime without those calls. What a signed transaction is built
    /// from.
    pub async fn metadata(&self) -> Result<Vec<u8>, RpcError> {
        let state_call = |method: &'static str, data: Vec<u8>| async move {
            self.timed(
                "state_call",
                self.ws
                    .request::<Bytes, _>("state_call", rpc_params![method, Bytes(data)]),
            )
            .await
        };
        let undecodable = |what: &str, e: codec::Error| RpcError::Response {
            method: "state_call",
            message: format!("{what}: {e}"),
        };
        let versions = match state_call("Metadata_metadata_versions", Vec::new()).await {
            Ok(answer) => Vec::<u32>::decode(&mut &answer.0[..])
                .map_err(|e| undecodable("Metadata_metadata_versions", e))?,
            Err(RpcError::Node { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        // u32::MAX is the unstable version.
        let Some(version) = versions.into_iter().filter(|v| *v != u32::MAX).max() else {
            let metadata: Bytes = self
                .timed(
                    "state_getMetadata",
                    self.ws.request("state_getMetadata", rpc_params![]),
                )
                .await?;
            return Ok(metadata.0);
        };
        let answer = state_call("Metadata_metadata_at_version", version.encode()).await?;
        // `Option<OpaqueMetadata>`: the metadata's bytes, length-prefixed.
        Option::<Vec<u8>>::decode(&mut &answer.0[..])
            .map_err(|e| undecodable("Metadata_metadata_at_version", e))?
            .ok_or(RpcError::Response {
                method: "state_call",
                message: format!("the runtime lists metadata v{version} but does not serve it"),
            })
    }

    /// The next nonce of `account` (SS58), counting its transactions in the
    /// node's pool (`system_accountNextIndex`).
    pub async fn next_nonce(&self, account: &str) -> Result<u32, RpcError> {
        self.timed(
            "system_accountNextIndex",
            self.ws
                .request("system_accountNextIndex", rpc_params![account]),
        )
        .await
    }

    /// Submits a signed extrinsic to the node's pool
    /// (`author_submitExtrinsic`); returns its hash.
    pub async fn submit_extrinsic(&self, extrinsic: Vec<u8>) -> Result<H256, RpcError> {
        self.timed(
            "author_submitExtrinsic",
            self.ws
                .request("author_submitExtrinsic", rpc_params![Bytes(extrinsic)]),
        )
        .await
    }

    /// The chain's token symbol and decimals (`system_properties`).
    pub async fn token(&self) -> Result<Token, RpcError> {
        let props: serde_json::Value = self
            .timed(
                "system_properties",
                self.ws.request("system_properties", rpc_params![]),
            )
            .await?;
        let default = Token::default();
        Ok(Token {
            symbol: props["tokenSymbol"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(default.symbol),
            decimals: props["tokenDecimals"]
                .as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(default.decimals),
        })
    }
}

/// Exponential backoff between reconnection attempts: `initial`, doubling
/// up to `max`; [`Backoff::reset`] after a success.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff from `initial` up to `max` (`max ≥ initial`).
    pub fn new(initial: Duration, max: Duration) -> Self {
        let max = max.max(initial);
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The delay before the next attempt (and doubles the one after).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// [`Backoff::next_delay`] with ±10% random jitter (never above the
    /// cap), so that many miners behind one node do not reconnect in
    /// lockstep.
    pub fn next_delay_jittered(&mut self) -> Duration {
        let delay = self.next_delay();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let factor = 0.9 + 0.2 * f64::from(nanos % 1000) / 1000.0;
        delay.mul_f64(factor).min(self.max)
    }

    /// Back to the initial delay (after a successful connection).
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<u128> = (0..7).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        let jittered = b.next_delay_jittered();
        assert!(jittered >= Duration::from_millis(180) && jittered <= Duration::from_millis(220));
        for _ in 0..10 {
            assert!(b.next_delay_jittered() <= Duration::from_secs(1));
        }
    }

    #[test]
    fn backoff_cap_below_initial_is_the_initial() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(b.next_delay(), Duration::from_secs(2));
        assert_eq!(b.next_delay(), Duration::from_secs(2));
    }

    #[test]
    fn node_urls_become_websocket_urls() {
        assert_eq!(websocket_url("ws://127.0.0.1:9944"), "ws://127.0.0.1:9944");
        assert_eq!(websocket_url("http://host:9944"), "ws://host:9944");
        assert_eq!(websocket_url("https://host"), "wss://host");
        assert_eq!(websocket_url("127.0.0.1:9944"), "ws://127.0.0.1:9944");
    }

    #[test]
    fn rpc_errors_keep_the_node_code() {
        let e = RpcError::from_client(
            "upow_submitWork",
            ClientError::Call(jsonrpsee::types::ErrorObjectOwned::owned(
                1003,
                "not admitted",
                None::<()>,
            )),
        );
        assert_eq!(e.code(), Some(1003));
        assert!(!e.is_connection());
        assert!(e.to_string().contains("1003") && e.to_string().contains("not admitted"));
        let e = RpcError::from_client("upow_getWork", ClientError::RequestTimeout);
        assert!(e.is_connection());
    }

    #[test]
    fn rpc_numbers_convert_to_u128_or_fail_loudly() {
        let max = NumberOrHex::from(u128::MAX);
        assert_eq!(rpc_u128("upow_job", "budgetLeft", max), Ok(u128::MAX));
        assert_eq!(
            rpc_u128("upow_getWork", "difficulty", NumberOrHex::Number(4995)),
            Ok(4995)
        );
        let hex: NumberOrHex = serde_json::from_str("\"0x1383\"").unwrap();
        assert_eq!(rpc_u128("upow_getWork", "difficulty", hex), Ok(4995));
        let too_big = NumberOrHex::Hex(sp_core::U256::from(u128::MAX) + 1);
        let e = rpc_u128("upow_job", "pricePerStep", too_big).unwrap_err();
        assert!(!e.is_connection());
        assert!(
            matches!(&e, RpcError::OutOfRange { field: "pricePerStep", value, .. } if *value == "340282366920938463463374607431768211456"),
            "{e}"
        );
    }
}
