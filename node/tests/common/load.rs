//! A bounded transaction flood against a running node (the load test in
//! `node/tests/load.rs` and the load benchmark `node/benches/load.rs`):
//! signed transfers from the dev accounts Bob … Ferdie and job posts from
//! Ferdie, submitted in JSON-RPC batches as fast as the node takes them for
//! at most a given time, then followed until every one is in a block.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::time::{Duration, Instant};

use codec::{Decode, Encode};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::MultiSignature;
use upow_puzzle::{Hyperparams, JobSpec, Model};
use upow_runtime::{RuntimeCall, UNIT};

use super::chain::pair;
use super::common::{unhex, Node};

/// The senders of transfers: the endowed dev accounts but Alice (who mines
/// and receives).
pub const TRANSFER_SENDERS: [&str; 5] = ["//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"];

/// Extrinsics per JSON-RPC batch request.
const BATCH: usize = 100;

/// What a flood sent and what became of it.
#[derive(Debug)]
pub struct FloodReport {
    /// Transactions the node's pool accepted.
    pub accepted: usize,
    /// Transactions it refused at submission, with the first refusal.
    pub refused: usize,
    pub first_refusal: Option<String>,
    /// Accepted transactions found in blocks (by the senders' nonces).
    pub included: usize,
    /// From the first submission to the last one.
    pub submit_time: Duration,
    /// From the first submission until every accepted one was included.
    pub inclusion_time: Duration,
    /// The blocks imported meanwhile: (number, extrinsics beyond the
    /// block's two inherents).
    pub blocks: Vec<(u64, usize)>,
    /// Per sender: (accepted, included).
    pub per_sender: Vec<(u32, u32)>,
    /// Transactions still in the node's pool at the end.
    pub pending: usize,
}

impl FloodReport {
    /// Included transactions per second, over the inclusion time.
    pub fn included_per_second(&self) -> f64 {
        self.included as f64 / self.inclusion_time.as_secs_f64()
    }
}

/// The account nonce of `who` at the best block.
pub fn nonce(node: &Node, who: &sr25519::Pair) -> u32 {
    let key = frame_system::Account::<upow_runtime::Runtime>::hashed_key_for(
        sp_runtime::AccountId32::from(who.public()),
    );
    let raw = unhex(&node.call(
        "state_getStorage",
        json!([format!("0x{}", hex::encode(key))]),
    ));
    u32::decode(&mut &raw[..]).unwrap()
}

/// A small job over the chain's house dataset (Fashion-MNIST's training
/// split): 784-16-10, batch 16, `steps` steps.
pub fn small_job_spec(dataset: upow_puzzle::DatasetCommitment, steps: u64) -> JobSpec {
    JobSpec::new(
        Model::new(&[784, 16, 10]).unwrap(),
        Hyperparams::new(4, 2, steps).unwrap(),
        dataset,
    )
    .unwrap()
}

/// A post of a [`small_job_spec`] at 0.01 UNIT a step, `budget` in escrow
/// (its workload must be listed: [`super::chain::list_workloads`]).
pub fn small_job(dataset: upow_puzzle::DatasetCommitment, steps: u64, budget: u128) -> RuntimeCall {
    RuntimeCall::Jobs(pallet_upow_jobs::Call::post_job {
        spec: small_job_spec(dataset, steps).into(),
        price_per_step: UNIT / 100,
        budget,
        target_loss: None,
    })
}

/// Sends `transfers` transfers (spread over [`TRANSFER_SENDERS`]) and
/// `job_posts` job posts (Ferdie's, interleaved with his transfers), a
/// batch every `pause` at most, for at most `max_submit` (what is left
/// unsent then is not sent), then waits up to `max_inclusion` for all
/// accepted ones to be included.
pub fn flood(
    node: &Node,
    transfers: usize,
    job_posts: usize,
    pause: Duration,
    max_submit: Duration,
    max_inclusion: Duration,
) -> FloodReport {
    let genesis = H256::from_slice(&unhex(&node.call("chain_getBlockHash", json!([0]))));
    let version = node.call("state_getRuntimeVersion", json!([]));
    let versions = (
        version["specVersion"].as_u64().unwrap() as u32,
        version["transactionVersion"].as_u64().unwrap() as u32,
    );
    let dataset = upow_runtime::genesis_config_presets::FASHION_MNIST_TRAIN;
    if job_posts > 0 {
        super::chain::list_workloads(node, &[&small_job_spec(dataset, 1_000)]);
    }
    let alice: sp_runtime::AccountId32 = pair("//Alice").public().into();
    let senders: Vec<sr25519::Pair> = TRANSFER_SENDERS.iter().map(|s| pair(s)).collect();
    let start_nonces: Vec<u32> = senders.iter().map(|s| nonce(node, s)).collect();

    // Every extrinsic, signed up front (sender index, encoded), in the
    // order of submission: round-robin over the senders.
    let mut next = start_nonces.clone();
    let mut extrinsics: Vec<(usize, Vec<u8>)> = Vec::with_capacity(transfers + job_posts);
    let ferdie = senders.len() - 1;
    let total = transfers + job_posts;
    // Every `post_every`-th extrinsic is a job post.
    let post_every = total.checked_div(job_posts).unwrap_or(usize::MAX);
    let mut posts_left = job_posts;
    for i in 0..total {
        let (sender, call) = if posts_left > 0 && i % post_every == 0 {
            posts_left -= 1;
            (ferdie, small_job(dataset, 1_000, 20 * UNIT))
        } else {
            let sender = i % senders.len();
            let call = RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
                dest: alice.clone().into(),
                value: UNIT + i as u128,
            });
            (sender, call)
        };
        let signer = &senders[sender];
        let xt = upow_runtime::immortal_signed_extrinsic(
            call,
            signer.public().into(),
            next[sender],
            versions,
            genesis,
            |payload| MultiSignature::Sr25519(signer.sign(payload)),
        );
        next[sender] += 1;
        extrinsics.push((sender, xt.encode()));
    }

    let first_block = node.best_number();
    let started = Instant::now();
    let mut accepted_per_sender = vec![0u32; senders.len()];
    let (mut accepted, mut refused, mut first_refusal) = (0, 0, None);
    for chunk in extrinsics.chunks(BATCH) {
        if started.elapsed() >= max_submit {
            break;
        }
        std::thread::sleep(pause);
        let batch: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(id, (_, xt))| {
                json!({"jsonrpc": "2.0", "id": id, "method": "author_submitExtrinsic",
                       "params": [format!("0x{}", hex::encode(xt))]})
            })
            .collect();
        let responses = node
            .raw_http_json(&Value::Array(batch).to_string())
            .unwrap_or_else(|e| panic!("a batch of extrinsics failed: {e:?}\n{}", node.log_tail()));
        let responses = responses.as_array().expect("a batch response").clone();
        assert_eq!(responses.len(), chunk.len(), "one response per extrinsic");
        for response in responses {
            let id = response["id"].as_u64().unwrap() as usize;
            if response.get("error").is_some() {
                refused += 1;
                first_refusal.get_or_insert_with(|| response["error"].to_string());
            } else {
                accepted += 1;
                accepted_per_sender[chunk[id].0] += 1;
            }
        }
    }
    let submit_time = started.elapsed();

    // Included when every sender's nonce has moved past its accepted ones.
    let deadline = started + max_inclusion;
    let included_per_sender = || -> Vec<u32> {
        senders
            .iter()
            .zip(&start_nonces)
            .map(|(s, start)| nonce(node, s) - start)
            .collect()
    };
    let included = loop {
        let included: u32 = included_per_sender().iter().sum();
        if included as usize >= accepted || Instant::now() >= deadline {
            break included as usize;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let per_sender = accepted_per_sender
        .into_iter()
        .zip(included_per_sender())
        .collect();
    let pending = node
        .call("author_pendingExtrinsics", json!([]))
        .as_array()
        .map_or(0, Vec::len);
    let inclusion_time = started.elapsed();
    let blocks = (first_block + 1..=node.best_number())
        .map(|n| {
            let hash = node.block_hash(n);
            let block = node.call("chain_getBlock", json!([hash]));
            let count = block["block"]["extrinsics"].as_array().map_or(0, Vec::len);
            (n, count.saturating_sub(2))
        })
        .collect();
    FloodReport {
        accepted,
        refused,
        first_refusal,
        included,
        submit_time,
        inclusion_time,
        blocks,
        per_sender,
        pending,
    }
}
