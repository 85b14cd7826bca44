//! Chain helpers of the node's end-to-end tests (they link the runtime):
//! signed extrinsics, balances, work, and mining blocks from the test
//! process through `upow_submitWork` / `upow_submitSeal`.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use codec::{Decode, Encode};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519, H256};
use sp_runtime::{traits::Header as HeaderT, MultiSignature};
use upow_primitives::{PowSeal, PreDigest};
use upow_puzzle::{
    mining::ReferenceMiner, Dataset, JobSpec, Liveness, TrajectoryClaim, TrajectoryContext,
    TrajectoryProof, Weights,
};
use upow_runtime::RuntimeCall;

use super::common::{number_or_hex, unhex, Node};

/// The sr25519 pair of a secret URI.
pub fn pair(uri: &str) -> sr25519::Pair {
    sr25519::Pair::from_string(uri, None).unwrap()
}

/// `call` signed as `signer` (immortal, nonce `nonce`) for the node's
/// chain: its genesis and runtime version.
pub fn signed(
    node: &Node,
    signer: &sr25519::Pair,
    nonce: u32,
    call: RuntimeCall,
) -> upow_runtime::UncheckedExtrinsic {
    let genesis = H256::from_slice(&unhex(&node.call("chain_getBlockHash", json!([0]))));
    let version = node.call("state_getRuntimeVersion", json!([]));
    let spec_version = version["specVersion"].as_u64().unwrap() as u32;
    let tx_version = version["transactionVersion"].as_u64().unwrap() as u32;
    upow_runtime::immortal_signed_extrinsic(
        call,
        sp_runtime::AccountId32::from(signer.public()),
        nonce,
        (spec_version, tx_version),
        genesis,
        |payload| MultiSignature::Sr25519(signer.sign(payload)),
    )
}

/// Governance's listing of `spec` at its nominal cost and the degeneracy
/// rule's own liveness threshold, wrapped for the
/// dev chain's sudo key (Alice): a job is posted and trained only while
/// its spec is a listed workload's.
pub fn list_workload(spec: &upow_puzzle::JobSpec) -> RuntimeCall {
    RuntimeCall::Sudo(pallet_sudo::Call::sudo {
        call: Box::new(RuntimeCall::Jobs(pallet_upow_jobs::Call::list_workload {
            spec: spec.clone().into(),
            cost: spec.nominal_cost(),
            max_label: spec.model.largest_label(),
            min_nonzero_per_1024: upow_puzzle::Liveness::MINIMUM.nonzero_weights_per_1024(),
            min_live_per_1024: upow_puzzle::Liveness::MINIMUM.live_units_per_1024(),
            min_active_per_1024: upow_puzzle::Liveness::MINIMUM.active_per_1024(),
        })),
    })
}

/// Lists `specs` as governance on a chain that makes blocks by itself (a
/// dev node's built-in miner) and waits until every one is listed at the
/// best block (a sudo call whose inner call fails would never get there).
pub fn list_workloads(node: &Node, specs: &[&upow_puzzle::JobSpec]) {
    let alice = pair("//Alice");
    let account = sp_core::crypto::Ss58Codec::to_ss58check(&alice.public());
    let first = node
        .call("system_accountNextIndex", json!([account]))
        .as_u64()
        .expect("a nonce") as u32;
    for (i, spec) in (0u32..).zip(specs) {
        submit(node, &alice, first + i, list_workload(spec));
    }
    let keys: Vec<String> = specs
        .iter()
        .map(|spec| {
            let key = pallet_upow_jobs::ListedSpecs::<upow_runtime::Runtime>::hashed_key_for(
                spec.listing_key(),
            );
            format!("0x{}", hex::encode(key))
        })
        .collect();
    node.wait_for(
        "the workloads listed",
        std::time::Duration::from_secs(120),
        |node| {
            keys.iter()
                .all(|key| !node.call("state_getStorage", json!([key])).is_null())
        },
    );
}

/// Signs `call` as `signer` (immortal, nonce `nonce`) against the node's
/// chain and submits it to its pool.
pub fn submit(node: &Node, signer: &sr25519::Pair, nonce: u32, call: RuntimeCall) {
    let xt = signed(node, signer, nonce, call);
    node.call(
        "author_submitExtrinsic",
        json!([format!("0x{}", hex::encode(xt.encode()))]),
    );
}

/// `(free, reserved)` balance of `who` at the best block.
pub fn balance(node: &Node, who: &sr25519::Pair) -> (u128, u128) {
    let key = frame_system::Account::<upow_runtime::Runtime>::hashed_key_for(
        sp_runtime::AccountId32::from(who.public()),
    );
    let raw = unhex(&node.call(
        "state_getStorage",
        json!([format!("0x{}", hex::encode(key))]),
    ));
    // AccountInfo { nonce, consumers, providers, sufficients, data: { free, reserved, .. } }
    let (_, _, _, _, free, reserved) =
        <(u32, u32, u32, u32, u128, u128)>::decode(&mut &raw[..]).unwrap();
    (free, reserved)
}

/// A `0x…` JSON hash.
pub fn h256(v: &Value) -> H256 {
    H256::from_slice(&unhex(v))
}

/// The job spec and weights of the work on `parent` (the node's pick).
pub fn work_at(node: &Node, parent: Option<&str>) -> (Value, JobSpec, Weights) {
    job_work_at(node, parent, None)
}

/// The job spec and weights of the work of `job` (`None`: the node's
/// pick) on `parent`.
pub fn job_work_at(
    node: &Node,
    parent: Option<&str>,
    job: Option<u64>,
) -> (Value, JobSpec, Weights) {
    let work = node.call("upow_getWork", json!([parent, job]));
    let spec = JobSpec::decode(&mut &unhex(&work["spec"])[..]).unwrap();
    let bytes = unhex(&node.call("upow_getWeights", json!([work["weights"]])));
    let weights = Weights::decode(&spec.model, &bytes).unwrap();
    (work, spec, weights)
}

/// The liveness thresholds of a `upow_getWork` answer.
pub fn liveness_of(work: &Value) -> Liveness {
    let per_1024 = |field: &str| {
        let value = work[field].as_u64().unwrap_or_else(|| panic!("{field}"));
        u16::try_from(value).unwrap()
    };
    Liveness::new(
        per_1024("minNonzeroPer1024"),
        per_1024("minLivePer1024"),
        per_1024("minActivePer1024"),
    )
    .unwrap()
}

/// A won trajectory: its job, salt, claim and proof.
pub struct Won {
    pub job: u64,
    pub salt: u32,
    pub claim: TrajectoryClaim,
    pub proof: TrajectoryProof,
}

/// Mines on `parent` as `author` with the reference step (in this process).
pub fn mine(node: &Node, parent: &str, author: &sr25519::Pair, train: &Dataset) -> Won {
    mine_job(node, parent, author, train, None)
}

/// Mines `job` (`None`: the node's pick) on `parent` as `author` with the
/// reference step (in this process).
pub fn mine_job(
    node: &Node,
    parent: &str,
    author: &sr25519::Pair,
    train: &Dataset,
    job: Option<u64>,
) -> Won {
    let (work, spec, weights) = job_work_at(node, Some(parent), job);
    let job = work["job"].as_u64().unwrap();
    let difficulty = number_or_hex(&work["difficulty"]);
    let ctx = TrajectoryContext {
        parent: h256(&json!(parent)).0,
        author: author.public().0,
        job,
        salt: 0,
    };
    let mut miner = ReferenceMiner::new(
        &spec,
        liveness_of(&work),
        train,
        ctx,
        weights,
        work["steps"].as_u64().unwrap(),
        64,
    );
    let mined = miner
        .run(difficulty, 10_000_000)
        .unwrap()
        .expect("a ticket wins");
    Won {
        job,
        salt: mined.context.salt,
        claim: mined.claim,
        proof: mined.proof,
    }
}

/// The chain's genesis hash (what seals are bound to).
pub fn genesis(node: &Node) -> [u8; 32] {
    h256(&node.call("chain_getBlockHash", json!([0]))).0
}

/// A `upow_submitWork` request for `won`, signed by `author` (the
/// submission signature binds the digest to `parent` and this chain).
pub fn submission(
    node: &Node,
    parent: &str,
    author: &sr25519::Pair,
    won: &Won,
    proof: &[u8],
) -> Value {
    let claim = &won.claim;
    let digest = PreDigest::new(author.public().0, won.job, won.salt, won.claim);
    let signature =
        author.sign(&digest.submission_message(&genesis(node), &h256(&json!(parent)).0));
    json!({
        "parent": parent,
        "author": format!("0x{}", hex::encode(author.public().0)),
        "job": won.job,
        "salt": won.salt,
        "claim": {
            "steps": claim.steps,
            "root": format!("0x{}", hex::encode(claim.root)),
            "finalWeights": format!("0x{}", hex::encode(claim.final_weights)),
        },
        "proof": format!("0x{}", hex::encode(proof)),
        "signature": format!("0x{}", hex::encode(signature.0)),
    })
}

/// The external-miner flow: mine on the best block, submitWork, check the
/// template's header, sign, submitSeal. Returns the block hash.
pub fn author_block(node: &Node, author: &sr25519::Pair, train: &Dataset) -> String {
    let parent = node.best_hash();
    let won = mine(node, &parent, author, train);
    seal_won(node, &parent, author, &won)
}

/// Submits `won` (mined on `parent`) as `author`: submitWork, check the
/// template's header, sign, submitSeal. Returns the block hash.
pub fn seal_won(node: &Node, parent: &str, author: &sr25519::Pair, won: &Won) -> String {
    let template = node.call(
        "upow_submitWork",
        json!([submission(node, parent, author, won, &won.proof.encode())]),
    );
    let pre_hash = h256(&template["preHash"]);
    // The header the node built is the one the miner would sign.
    let bytes = hex::decode(
        template["header"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    let header = upow_runtime::Header::decode(&mut &bytes[..]).unwrap();
    assert_eq!(header.hash(), pre_hash);
    assert_eq!(header.parent_hash, h256(&json!(parent)));
    assert_eq!(
        PreDigest::find(header.digest()).unwrap(),
        PreDigest::new(author.public().0, won.job, won.salt, won.claim)
    );
    let signature = author.sign(&PowSeal::message(&genesis(node), &pre_hash.0));
    let hash = node.call(
        "upow_submitSeal",
        json!([
            template["preHash"],
            format!("0x{}", hex::encode(signature.0))
        ]),
    );
    hash.as_str().unwrap().to_string()
}
