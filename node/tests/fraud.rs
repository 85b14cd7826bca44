//! Model integrity end to end (docs/protocol.md §8, P4): on a dev node,
//! Bob mines a block of Dave's job with one planted jump that the spot
//! checks miss; the node accepts it and Alice trains on from it. Then
//! `upow-miner audit` replays the disputable blocks, finds the wrong
//! segment and submits a fraud proof; the next block includes it. Bob's
//! whole bond is slashed and he may no longer author, the job is back on
//! the weights an honest chain holds, Dave paid nothing for the discarded
//! blocks, the reporter (Ferdie) is rewarded, and training goes on.
//!
//! Starts the release binaries (`upow-node`, `upow-miner`) that
//! `cargo test --workspace` builds.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/chain.rs"]
mod chain;
mod common;

use std::{process::Command, time::Duration};

use chain::*;
use codec::Decode;
use common::{fashion_mnist, node_binary, number_or_hex, serial, unhex, Node};
use serde_json::{json, Value};
use sp_core::{crypto::Pair as _, sr25519};
use upow_puzzle::{
    batch::select_batch,
    challenged_steps, idx,
    mining::{prove, Snapshots},
    validate_step, verify_trajectory, Dataset, Hyperparams, JobProgress, JobSpec, Model,
    TrainingStep, Trajectory, TrajectoryContext, Weights,
};
use upow_runtime::{RuntimeCall, UNIT};

const MINUTE: Duration = Duration::from_secs(60);
/// Dave's job: price per step and budget.
const PRICE: u128 = UNIT / 1000;
const BUDGET: u128 = 100_000 * UNIT;

/// Mines `job` on `parent` as `author` with leaf `jump` replaced by planted
/// weights (the steps after it honest steps of those), keeping only a
/// trajectory whose spot checks miss the jump and which the chain would
/// accept (grinding salts).
fn mine_planted(
    node: &Node,
    parent: &str,
    author: &sr25519::Pair,
    train: &Dataset,
    job: u64,
    jump: u32,
) -> Won {
    let (work, spec, start) = job_work_at(node, Some(parent), Some(job));
    let liveness = liveness_of(&work);
    let difficulty = number_or_hex(&work["difficulty"]);
    let first_step = work["steps"].as_u64().unwrap();
    let step = TrainingStep::new(&spec.model, &spec.hyper);
    let bound = upow_puzzle::max_steps(difficulty);
    for salt in 0.. {
        let ctx = TrajectoryContext {
            parent: h256(&json!(parent)).0,
            author: author.public().0,
            job,
            salt,
        };
        let mut trajectory = Trajectory::start(ctx, start.hash());
        let mut snapshots = Snapshots::new(start.clone(), 64);
        let mut current = start.clone();
        for i in 0..bound {
            let seed = trajectory.next_seed();
            let batch = select_batch(&spec, train, &seed).unwrap();
            let outcome = step
                .run(&current, &batch, &seed, first_step + u64::from(i))
                .unwrap();
            if validate_step(&spec.model, liveness, &outcome.stats).is_err() {
                break;
            }
            current = outcome.weights;
            if i + 1 == jump {
                // The planted model: the first layer shifted.
                let mut layers = current.layers().to_vec();
                for w in layers[0].iter_mut() {
                    *w = w.saturating_add(7).min(upow_puzzle::rounding::MASTER_MAX);
                }
                current = Weights::from_layers(&spec.model, layers).unwrap();
            }
            let ticket = trajectory.push(current.hash());
            if i + 1 == jump || snapshots.wants(i + 1) {
                snapshots.save(i + 1, current.clone());
            }
            if i < jump || !ticket.meets(difficulty) {
                continue;
            }
            let steps = i + 1;
            if challenged_steps(&ticket, steps).contains(&(jump - 1)) {
                break;
            }
            let mined = prove(&trajectory, &snapshots, &spec, train, first_step, current).unwrap();
            let progress = JobProgress {
                weights: start.hash(),
                steps: first_step,
            };
            if verify_trajectory(
                &spec,
                liveness,
                &ctx,
                &progress,
                difficulty,
                &mined.claim,
                &mined.proof,
            )
            .is_err()
            {
                break;
            }
            return Won {
                job,
                salt,
                claim: mined.claim,
                proof: mined.proof,
            };
        }
    }
    unreachable!()
}

/// Mines and seals a block of `job` on the best block as `author`.
fn block_of(node: &Node, author: &sr25519::Pair, train: &Dataset, job: u64) -> String {
    let parent = node.best_hash();
    let won = mine_job(node, &parent, author, train, Some(job));
    seal_won(node, &parent, author, &won)
}

/// Whether `author` may author blocks at the best block.
fn admitted(node: &Node, author: &sr25519::Pair) -> bool {
    let answer = node.call(
        "state_call",
        json!([
            "UpowApi_is_admitted",
            format!("0x{}", hex::encode(author.public().0))
        ]),
    );
    bool::decode(&mut &unhex(&answer)[..]).unwrap()
}

fn job(node: &Node, id: u64) -> Value {
    node.call("upow_job", json!([id]))
}

/// Waits until the node's pool holds `count` transactions.
fn wait_pool(node: &Node, count: usize) {
    node.wait_for("the pool to take the transactions", MINUTE, |n| {
        n.call("author_pendingExtrinsics", json!([]))
            .as_array()
            .unwrap()
            .len()
            >= count
    });
}

#[test]
fn an_auditor_proves_a_planted_jump_and_the_chain_rolls_it_back() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // Alice validates; this test mines every block itself.
    let node = Node::start("alice", dir.path(), &["--alice"]);
    let train = idx::load_split(&fashion_mnist(), idx::Split::Train).unwrap();
    let (alice, bob, dave, ferdie) = (
        pair("//Alice"),
        pair("//Bob"),
        pair("//Dave"),
        pair("//Ferdie"),
    );

    // Block 1: governance admits Bob as a miner ...
    let admit = RuntimeCall::Staking(pallet_upow_staking::Call::admit {
        who: sp_runtime::AccountId32::from(bob.public()),
        role: pallet_upow_staking::Role::Miner {
            author: bob.public().0,
        },
    });
    submit(
        &node,
        &alice,
        0,
        RuntimeCall::Sudo(pallet_sudo::Call::sudo {
            call: Box::new(admit),
        }),
    );
    let spec = JobSpec::new(
        Model::new(&[784, 32, 10]).unwrap(),
        Hyperparams::new(4, 2, 1_000_000).unwrap(),
        train.commitment(),
    )
    .unwrap();
    // ... and lists the workload Dave's job will run.
    submit(&node, &alice, 1, list_workload(&spec));
    wait_pool(&node, 2);
    let house = 0;
    block_of(&node, &alice, &train, house);
    // Block 2: Dave posts a job of the listed workload; Bob bonds.
    submit(
        &node,
        &dave,
        0,
        RuntimeCall::Jobs(pallet_upow_jobs::Call::post_job {
            spec: spec.into(),
            price_per_step: PRICE,
            budget: BUDGET,
            target_loss: None,
        }),
    );
    submit(
        &node,
        &bob,
        0,
        // Ten times the minimum: the later honest block's dues (up to
        // 4 · D_job steps at the minimum price, ~70 UNIT on this chain) stay
        // well inside the payable half, so the reporter's share is not 0.
        RuntimeCall::Staking(pallet_upow_staking::Call::bond {
            amount: 10 * upow_runtime::configs::MinBond::get(),
        }),
    );
    wait_pool(&node, 2);
    block_of(&node, &alice, &train, house);
    // Block 3 (a house block) draws the paid job's initial weights.
    block_of(&node, &alice, &train, house);
    let paid = node.call("upow_openJobs", json!([])).as_array().unwrap()[0]["job"]
        .as_u64()
        .unwrap();
    assert_ne!(paid, house);
    assert!(admitted(&node, &bob));
    let honest_start = job(&node, paid)["weights"].clone();
    let dave_before = balance(&node, &dave);
    let bob_bond = balance(&node, &bob).1;
    let ferdie_before = balance(&node, &ferdie).0;

    // Block 4: Bob's planted jump, accepted (the spot checks miss it).
    let parent = node.best_hash();
    let bad = mine_planted(&node, &parent, &bob, &train, paid, 600);
    eprintln!(
        "Bob's block: {} steps, {} segment roots",
        bad.claim.steps,
        bad.proof.segments.len()
    );
    let bad_hash = seal_won(&node, &parent, &bob, &bad);
    assert_eq!(node.best_hash(), bad_hash);
    let bad_number = node.best_number() as u32;
    assert_eq!(
        job(&node, paid)["weights"],
        json!(format!("0x{}", hex::encode(bad.claim.final_weights)))
    );
    // Block 5: Alice trains on from the planted weights.
    block_of(&node, &alice, &train, paid);
    let trained = job(&node, paid);
    assert!(number_or_hex(&trained["pendingPayment"]) > 0, "{trained}");

    // The auditor replays both disputable blocks of the job and reports Bob's.
    let miner = node_binary().with_file_name("upow-miner");
    let output = Command::new(&miner)
        .args(["audit", "--node", &format!("ws://127.0.0.1:{}", node.rpc)])
        .args(["--key", "//Ferdie", "--once", "--job", &paid.to_string()])
        .arg("--data-dir")
        .arg(dir.path().join("auditor"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("auditor: {stdout}\n{stderr}");
    assert!(output.status.success());
    assert!(stdout.contains("1 wrong, 1 reported"), "{stdout}");
    assert!(stderr.contains(&format!("block={bad_number}")), "{stderr}");
    wait_pool(&node, 1);

    // Block 6 (a house block) includes the report.
    block_of(&node, &alice, &train, house);
    let rolled_back = job(&node, paid);
    eprintln!("after the fraud proof: {rolled_back}");
    assert_eq!(rolled_back["weights"], honest_start);
    assert_eq!(rolled_back["steps"], json!(0));
    assert_eq!(number_or_hex(&rolled_back["pendingPayment"]), 0);
    assert_eq!(number_or_hex(&rolled_back["budgetLeft"]), BUDGET);
    assert_eq!(rolled_back["status"], json!("Open"));
    assert!(!admitted(&node, &bob), "Bob is suspended");
    assert_eq!(balance(&node, &bob).1, 0, "Bob's whole bond is gone");
    // Dave holds his whole budget again (and his deposit); the poster gets
    // nothing from the slash (docs/protocol.md §8, P4: an offender posting
    // through another account must not get its bond back).
    let dave_after = balance(&node, &dave);
    assert_eq!(dave_after, dave_before);
    // Ferdie, the reporter, gets 10% of the payable half of the bond.
    let ferdie_after = balance(&node, &ferdie).0;
    assert!(ferdie_after > ferdie_before && ferdie_after <= ferdie_before + bob_bond / 20);

    // Training goes on from the honest weights.
    block_of(&node, &alice, &train, paid);
    let on = job(&node, paid);
    assert!(on["steps"].as_u64().unwrap() > 0);
    assert_ne!(on["weights"], honest_start);
}
