//! End-to-end tests of `upow-node`: a dev chain that mines, finalizes and
//! trains; a second node syncing over loopback; `kill -9` recovery; and bad
//! blocks and bad mining submissions rejected while the node keeps running.
//!
//! They start the release binary built by `cargo build --release -p
//! upow-node` (scripts/test does this) and use the installed Fashion-MNIST.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/chain.rs"]
mod chain;
mod common;

use std::time::Duration;

use chain::*;
use codec::{Decode, Encode};
use common::{fashion_mnist, number_or_hex, serial, unhex, Node};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519};
use sp_runtime::{
    traits::{BlakeTwo256, Hash as HashT, Header as HeaderT},
    DigestItem,
};
use upow_primitives::{rpc::error, PowSeal, PreDigest, ENGINE_ID};
use upow_puzzle::{evaluate, idx, Batch, Dataset, JobSpec, TrajectoryProof, Weights};
use upow_runtime::{opaque, RuntimeCall, UncheckedExtrinsic};

const MINUTE: Duration = Duration::from_secs(60);

/// Mean held-out loss (nats) of weights on the first 1000 test samples.
fn held_out_loss(spec: &JobSpec, weights: &Weights, test: &Dataset) -> f64 {
    let samples = test.encoded().chunks_exact(test.sample_len()).take(1000);
    let batch = Batch::from_encoded(samples, &spec.model).unwrap();
    evaluate(&spec.model, weights, &batch, spec.hyper.batch()).mean_loss_nats()
}

#[test]
fn dev_chain_mines_finalizes_and_trains() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start("alice", dir.path(), &["--alice", "--mine"]);
    node.wait_for("10 finalized blocks", 6 * MINUTE, |n| {
        n.finalized_number() >= 10
    });

    // Every block adopts new weights for the job and advances its steps.
    let mut previous: Option<(String, u64)> = None;
    for number in 0..=10 {
        let hash = node.block_hash(number);
        let work = node.call("upow_getWork", json!([hash]));
        let weights = work["weights"].as_str().unwrap().to_string();
        let steps = work["steps"].as_u64().unwrap();
        if let Some((w, s)) = &previous {
            assert_ne!(&weights, w, "block #{number} did not change the weights");
            assert!(steps > *s, "block #{number} did not add steps");
        }
        previous = Some((weights, steps));
    }
    let curve = node.call("upow_lossCurve", json!([0, 0, 100]));
    assert!(curve.as_array().unwrap().len() >= 10, "{curve}");

    // The held-out loss goes down: genesis ≫ block 1, block 10.
    let test = idx::load_split(&fashion_mnist(), idx::Split::Test).unwrap();
    let losses: Vec<f64> = [0u64, 1, 10]
        .iter()
        .map(|&n| {
            let (_, spec, weights) = work_at(&node, Some(&node.block_hash(n)));
            held_out_loss(&spec, &weights, &test)
        })
        .collect();
    eprintln!("held-out loss at genesis, #1, #10: {losses:?}");
    // Both trained models are far better than the initial weights. Between
    // #1 and #10 the held-out loss of SGD at this learning rate moves either
    // way (0.48 at #1, then 0.32 and 0.51 at #10 in two runs): no order.
    assert!(
        losses[1] < losses[0] / 2.0 && losses[2] < losses[0] / 2.0,
        "{losses:?}"
    );
}

#[test]
fn second_node_syncs_and_kill_9_loses_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut alice = Node::start("alice", &dir.path().join("a"), &["--alice", "--mine"]);
    alice.wait_for("5 finalized blocks", 5 * MINUTE, |n| {
        n.finalized_number() >= 5
    });

    // kill -9 mid-mining: finalized blocks survive and mining resumes.
    let finalized = alice.finalized_number();
    let finalized_hash = alice.finalized_hash();
    alice.kill9();
    alice.restart(None);
    assert!(
        alice.finalized_number() >= finalized,
        "finalized blocks lost\n{}",
        alice.log_tail()
    );
    assert_eq!(alice.block_hash(finalized), finalized_hash);
    alice.wait_for("new blocks after restart", 3 * MINUTE, |n| {
        n.best_number() >= finalized + 3
    });
    alice.wait_for("finality after restart", 3 * MINUTE, |n| {
        n.finalized_number() > finalized
    });

    // A second node syncs over loopback, importing (re-executing) every block.
    let bob = Node::start(
        "bob",
        &dir.path().join("b"),
        &["--bootnodes", &alice.multiaddr()],
    );
    let target = alice.best_number();
    bob.wait_for("sync", 5 * MINUTE, |n| n.best_number() >= target);

    // Stop mining; both end on the same best and finalized block. (GRANDPA
    // votes two blocks below the best one, so finality rests there.)
    alice.restart(Some(&["--alice"]));
    let best = alice.best_hash();
    let settled = alice.best_number().saturating_sub(2);
    alice.wait_for("finality to settle", 3 * MINUTE, |n| {
        n.finalized_number() >= settled
    });
    let finalized = alice.finalized_hash();
    bob.wait_for("same best and finalized", 3 * MINUTE, |n| {
        n.best_hash() == best && n.finalized_hash() == finalized
    });
    assert_eq!(alice.finalized_hash(), finalized);
    // Bob derived the tip's weights himself (it replayed the final steps).
    let work = bob.call("upow_getWork", json!([]));
    let weights = bob.call("upow_getWeights", json!([work["weights"]]));
    assert_eq!(
        weights,
        alice.call("upow_getWeights", json!([work["weights"]]))
    );
    assert!(!bob.log_contains("not stored"), "{}", bob.log_tail());
}

/// A u128 the node sends as `NumberOrHex` (a JSON number or `0x` hex).
/// A block from the node, split into its pre-seal header and body.
fn fetch_block(node: &Node, hash: &str) -> (upow_runtime::Header, Vec<opaque::UncheckedExtrinsic>) {
    let signed: sp_runtime::generic::SignedBlock<opaque::Block> =
        serde_json::from_value(node.call("chain_getBlock", json!([hash]))).unwrap();
    let mut header = signed.block.header;
    assert!(matches!(
        header.digest_mut().pop(),
        Some(DigestItem::Seal(ENGINE_ID, _))
    ));
    (header, signed.block.extrinsics)
}

/// Replaces the trajectory proof in a body.
fn with_proof(
    body: &[opaque::UncheckedExtrinsic],
    proof: TrajectoryProof,
) -> Vec<opaque::UncheckedExtrinsic> {
    body.iter()
        .map(|opaque| {
            let xt = UncheckedExtrinsic::decode(&mut &opaque.encode()[..]).unwrap();
            match xt.function {
                RuntimeCall::Training(pallet_upow_training::Call::submit_trajectory { .. }) => {
                    let xt = UncheckedExtrinsic::new_bare(RuntimeCall::Training(
                        pallet_upow_training::Call::submit_trajectory {
                            proof: proof.clone(),
                        },
                    ));
                    opaque::UncheckedExtrinsic::decode(&mut &xt.encode()[..]).unwrap()
                }
                _ => opaque.clone(),
            }
        })
        .collect()
}

/// Seals `header` + `body` as `signer` on the chain of `genesis`
/// (extrinsics root recomputed).
fn seal(
    mut header: upow_runtime::Header,
    body: Vec<opaque::UncheckedExtrinsic>,
    signer: &sr25519::Pair,
    genesis: [u8; 32],
) -> Vec<u8> {
    let encoded: Vec<Vec<u8>> = body.iter().map(|x| x.encode()).collect();
    header.extrinsics_root = BlakeTwo256::ordered_trie_root(encoded, sp_runtime::StateVersion::V1);
    let pre_hash = header.hash();
    let signature = signer.sign(&PowSeal::message(&genesis, &pre_hash.0));
    header.digest_mut().push(DigestItem::Seal(
        ENGINE_ID,
        PowSeal::V2 {
            signature: signature.0,
        }
        .encode(),
    ));
    opaque::Block {
        header,
        extrinsics: body,
    }
    .encode()
}

fn submit_block(node: &Node, block: &[u8]) -> Result<Value, common::RpcError> {
    node.rpc_call(
        "upow_submitBlock",
        json!([format!("0x{}", hex::encode(block))]),
    )
}

fn set_digest(header: &mut upow_runtime::Header, digest: &PreDigest) {
    for item in header.digest_mut().logs.iter_mut() {
        if let DigestItem::PreRuntime(ENGINE_ID, bytes) = item {
            *bytes = digest.encode();
        }
    }
}

#[test]
fn bad_blocks_and_bad_submissions_are_rejected_and_the_node_keeps_running() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Alice validates but does not mine: this test mines (as an external miner).
    let node = Node::start("alice", dir.path(), &["--alice"]);
    let train = idx::load_split(&fashion_mnist(), idx::Split::Train).unwrap();
    let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
    let bob = sr25519::Pair::from_string("//Bob", None).unwrap();

    // The external-miner flow works: two blocks by Alice.
    let first = author_block(&node, &alice, &train);
    let second = author_block(&node, &alice, &train);
    assert_eq!(node.best_hash(), second);
    assert_eq!(node.best_number(), 2);

    // Tampered copies of block #2 (forks on #1), re-sealed by Alice.
    let g = genesis(&node);
    let (header, body) = fetch_block(&node, &second);
    let proof = upow_runtime::trajectory_proof(&body).expect("block 2 carries a proof");
    let digest = PreDigest::find(header.digest()).unwrap();
    let reject = |what: &str, block: Vec<u8>| {
        let err = submit_block(&node, &block).expect_err(what);
        assert_eq!(err.code, error::REJECTED as i64, "{what}: {err:?}");
        eprintln!("{what}: rejected: {}", err.message);
    };

    let mut p = proof.clone();
    p.steps[0].weights[10] ^= 0x01;
    reject(
        "tampered step weights",
        seal(header.clone(), with_proof(&body, p), &alice, g),
    );

    let mut p = proof.clone();
    let last = p.steps.len() - 1;
    p.steps[last].samples.swap(0, 1);
    if p.steps[last].samples[0] == p.steps[last].samples[1] {
        p.steps[last].samples[0].sample[3] ^= 1;
    }
    reject(
        "wrong sample",
        seal(header.clone(), with_proof(&body, p), &alice, g),
    );

    let mut p = proof.clone();
    p.steps[0].before.siblings[0][0] ^= 0x80;
    reject(
        "bad Merkle proof",
        seal(header.clone(), with_proof(&body, p), &alice, g),
    );

    // A claim whose ticket misses the target (a root chosen so that it does).
    let difficulty = number_or_hex(&node.call("upow_getWork", json!([first]))["difficulty"]);
    let mut claim = *digest.claim();
    for i in 0u8.. {
        claim.root = [i; 32];
        let d = PreDigest::new(alice.public().0, digest.job(), digest.salt(), claim);
        if !claim
            .ticket(&d.context(h256(&json!(first)).0))
            .unwrap()
            .meets(difficulty)
        {
            break;
        }
    }
    let mut h = header.clone();
    set_digest(
        &mut h,
        &PreDigest::new(alice.public().0, digest.job(), digest.salt(), claim),
    );
    reject("ticket above target", seal(h, body.clone(), &alice, g));

    // Sealed by someone else than the author.
    reject(
        "wrong signature",
        seal(header.clone(), body.clone(), &bob, g),
    );

    // A real trajectory by Bob, who is not admitted: refused as work and as a block.
    let bob_won = mine(&node, &first, &bob, &train);
    let mut h = header.clone();
    set_digest(
        &mut h,
        &PreDigest::new(bob.public().0, bob_won.job, bob_won.salt, bob_won.claim),
    );
    reject(
        "non-admitted author",
        seal(h, with_proof(&body, bob_won.proof.clone()), &bob, g),
    );
    node.wait_for("the admission log line", Duration::from_secs(10), |n| {
        n.log_contains("is not admitted")
    });

    // Mining RPC error paths.
    let best = node.best_hash();
    let won = mine(&node, &best, &bob, &train);
    let proof = won.proof.clone();
    let err = node
        .rpc_call(
            "upow_submitWork",
            json!([submission(&node, &best, &bob, &won, &proof.encode())]),
        )
        .unwrap_err();
    assert_eq!(err.code, error::REJECTED as i64, "{err:?}");
    assert!(err.message.contains("not admitted"), "{err:?}");
    let err = node
        .rpc_call(
            "upow_submitWork",
            json!([submission(&node, &first, &alice, &won, &proof.encode())]),
        )
        .unwrap_err();
    assert_eq!(err.code, error::STALE as i64, "stale parent: {err:?}");
    let err = node
        .rpc_call(
            "upow_submitWork",
            json!([submission(&node, &best, &alice, &won, &[1, 2, 3])]),
        )
        .unwrap_err();
    assert_eq!(
        err.code,
        error::INVALID_INPUT as i64,
        "malformed proof: {err:?}"
    );
    let mut bad = proof.clone();
    bad.steps[0].weights[0] ^= 1;
    let err = node
        .rpc_call(
            "upow_submitWork",
            json!([submission(&node, &best, &alice, &won, &bad.encode())]),
        )
        .unwrap_err();
    assert_eq!(err.code, error::REJECTED as i64, "bad work: {err:?}");
    // Signed by someone else than the author: refused before any verification.
    let mut forged = submission(&node, &best, &alice, &won, &proof.encode());
    forged["signature"] =
        submission(&node, &best, &bob, &won, &proof.encode())["signature"].clone();
    let err = node
        .rpc_call("upow_submitWork", json!([forged]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::REJECTED as i64,
        "forged signature: {err:?}"
    );
    assert!(err.message.contains("not signed by author"), "{err:?}");
    let mut unsigned = submission(&node, &best, &alice, &won, &proof.encode());
    unsigned["signature"] = json!("0x0102");
    let err = node
        .rpc_call("upow_submitWork", json!([unsigned]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::INVALID_INPUT as i64,
        "short signature: {err:?}"
    );
    let unknown = format!("0x{}", "11".repeat(32));
    let err = node
        .rpc_call("upow_getWeights", json!([unknown]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::NOT_FOUND as i64,
        "unknown weights: {err:?}"
    );
    let err = node.rpc_call("upow_getWork", json!([unknown])).unwrap_err();
    assert_eq!(err.code, error::NOT_FOUND as i64, "unknown parent: {err:?}");
    let err = node
        .rpc_call(
            "upow_submitSeal",
            json!([unknown, format!("0x{}", "00".repeat(64))]),
        )
        .unwrap_err();
    assert_eq!(
        err.code,
        error::NOT_FOUND as i64,
        "unknown template: {err:?}"
    );
    let err = node
        .rpc_call("upow_submitSeal", json!([unknown, "0x0102"]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::INVALID_INPUT as i64,
        "short signature: {err:?}"
    );
    let err = node
        .rpc_call("upow_submitBlock", json!(["0x0102"]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::INVALID_INPUT as i64,
        "garbage block: {err:?}"
    );
    let root = format!("0x{}", hex::encode(train.commitment().root));
    let err = node
        .rpc_call("upow_getDataset", json!([root, 0, 5000]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::TOO_LARGE as i64,
        "too many samples: {err:?}"
    );
    let err = node
        .rpc_call("upow_getDataset", json!([unknown, 0, 10]))
        .unwrap_err();
    assert_eq!(
        err.code,
        error::NOT_FOUND as i64,
        "unknown dataset: {err:?}"
    );
    let chunk = node.call("upow_getDataset", json!([root, 59_990, 100]));
    assert_eq!(unhex(&chunk["data"]).len(), 10 * 785);
    let err = node.rpc_call("upow_job", json!([999])).unwrap_err();
    assert_eq!(err.code, error::NOT_FOUND as i64, "unknown job: {err:?}");
    // A payload above the server's request limit (32 MiB here).
    let oversize = format!("0x{}", "00".repeat(20 * 1024 * 1024));
    let err = node
        .rpc_call("upow_submitBlock", json!([oversize]))
        .unwrap_err();
    eprintln!("oversize payload: {err:?}");

    // Still running, still importing blocks.
    assert_eq!(node.best_hash(), second);
    let third = author_block(&node, &alice, &train);
    assert_eq!(node.best_hash(), third);
    assert_eq!(node.best_number(), 3);
}
