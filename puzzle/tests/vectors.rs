//! The spec's test vectors: `docs/puzzle.md` §Test vectors lists them as
//! `name = value` lines; this test recomputes every one and checks that the
//! document and the code agree, both ways (no vector missing on either side).
//!
//! `UPOW_PRINT_VECTORS=1 cargo test -p upow-puzzle --test vectors -- --nocapture`
//! prints the computed block.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

#[path = "common/vectors.rs"]
mod vectors;

use upow_puzzle::{
    audit_trajectory,
    batch::select_batch,
    batch_indices, challenged_steps, evaluate,
    hash::Hash,
    job_difficulty,
    loss::softmax_row,
    max_steps,
    merkle::{leaf_hash, MerkleTree},
    pow::meets_difficulty,
    preactivations_hash,
    prng::{derive_key, draw, Purpose},
    rounding::MASTER_MAX,
    segment::segment_log2,
    segment_roots, verify_fraud, Audit, Batch, Dataset, Forward, FraudReason, Hyperparams,
    JobProgress, JobSpec, Liveness, Model, Seed, StepStats, Ticket, TrainingStep, Trajectory,
    TrajectoryContext, Weights, REFERENCE_COST,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// `nonzero weights per layer; live units per hidden layer; non-zero
/// activations per hidden layer; changed weights per layer`.
fn stats(s: &StepStats) -> String {
    format!(
        "{};{};{};{}",
        list(&s.nonzero_weights),
        list(&s.live_units),
        list(&s.active_activations),
        list(&s.changed_weights)
    )
}

fn computed() -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    v.insert("prng_draw_0_0", format!("{:016x}", draw(0, 0)));
    v.insert("prng_draw_0_1", format!("{:016x}", draw(0, 1)));
    let seed_bytes: Hash = core::array::from_fn(|i| i as u8);
    v.insert(
        "key_update_layer1",
        format!("{:016x}", derive_key(&seed_bytes, Purpose::Update, 1)),
    );

    let big = Model::new(&[784, 128, 10]).unwrap();
    let w0 = Weights::initial(&big, &[0; 32]);
    v.insert("weights_initial_784_128_10_hash", hex(&w0.hash()));
    v.insert("weights_initial_784_128_10_first8", hex(&w0.encode()[..8]));

    let leaves: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
    let tree = MerkleTree::from_leaf_hashes(leaves).unwrap();
    v.insert("merkle_root_5", hex(&tree.root()));
    v.insert(
        "merkle_proof_5_leaf3",
        list(tree.proof(3).unwrap().siblings.iter().map(|s| hex(s))),
    );

    let roots = tree
        .proof(3)
        .unwrap()
        .roots_from(leaf_hash(&[3]), 3, 5)
        .unwrap();
    v.insert("merkle_prefix_5_leaf3", hex(&roots.prefix));

    let ctx = TrajectoryContext {
        parent: [1; 32],
        author: [2; 32],
        job: 3,
        salt: 5,
    };
    let seed = Seed::derive(&ctx, 4, &tree.root());
    v.insert("seed_example", hex(&seed.0));
    let ticket = Ticket::derive(&ctx, 4, &tree.root());
    v.insert("ticket_example", hex(&ticket.0));
    v.insert("batch_example", list(batch_indices(&seed, 8, 60_000)));
    v.insert("challenges_example", list(challenged_steps(&ticket, 1000)));
    v.insert(
        "difficulty_examples",
        list([1u128, 2, 1 << 64, u128::MAX].map(|d| meets_difficulty(&ticket.0, d) as u8)),
    );
    v.insert(
        "max_steps_examples",
        list([1u128, 5_000, 1 << 40].map(max_steps)),
    );
    // D_job at chain difficulty 1 000 for listed costs: the reference, twice
    // it, a third of it, 1 unit, 0 (counted as 1).
    v.insert(
        "job_difficulty_examples",
        list(
            [REFERENCE_COST, 2 * REFERENCE_COST, REFERENCE_COST / 3, 1, 0]
                .map(|c| job_difficulty(1_000, c)),
        ),
    );
    // Nominal costs: 784-128-10 at batch 16, 64 and 1024; 784-10 at batch 16.
    let nominal =
        |dims: &[u32], batch| upow_puzzle::cost::nominal_cost(&Model::new(dims).unwrap(), batch);
    v.insert(
        "nominal_cost_examples",
        list([
            nominal(&[784, 128, 10], 16),
            nominal(&[784, 128, 10], 64),
            nominal(&[784, 128, 10], 1024),
            nominal(&[784, 10], 16),
        ]),
    );

    // Live units a hidden layer needs (§9): width 128 at thresholds 32,
    // 512, 683 and 1024 (of 1024), width 100 at 683, width 1 at 32.
    let need = |width: u64, per_1024: u16| {
        Liveness::new(512, per_1024, 0)
            .unwrap()
            .required_live_units(width)
    };
    v.insert(
        "live_units_required_examples",
        list([
            need(128, 32),
            need(128, 512),
            need(128, 683),
            need(128, 1024),
            need(100, 683),
            need(1, 32),
        ]),
    );
    // Non-zero compute weights a layer needs (§9): 784 × 128 weights at
    // thresholds 512, 960 and 1024 (of 1024), 128 × 10 at 960, one weight
    // at 512.
    let need = |len: u64, per_1024: u16| {
        Liveness::new(per_1024, 32, 0)
            .unwrap()
            .required_nonzero_weights(len)
    };
    v.insert(
        "nonzero_weights_required_examples",
        list([
            need(784 * 128, 512),
            need(784 * 128, 960),
            need(784 * 128, 1024),
            need(128 * 10, 960),
            need(1, 512),
        ]),
    );
    // Non-zero activations a hidden layer needs (§9): 64 rows of width 128
    // at density thresholds 0, 256, 333 and 1024 (of 1024), 16 rows of
    // width 100 at 333, one row of width 1 at 1.
    let need = |rows: u64, width: u64, active_per_1024: u16| {
        Liveness::new(512, 32, active_per_1024)
            .unwrap()
            .required_active_activations(rows, width)
    };
    v.insert(
        "active_activations_required_examples",
        list([
            need(64, 128, 0),
            need(64, 128, 256),
            need(64, 128, 333),
            need(64, 128, 1024),
            need(16, 100, 333),
            need(1, 1, 1),
        ]),
    );

    let z = [300, -200, 50, 800, 0];
    let mut g = [0i32; 5];
    let loss = softmax_row(&z, -8, 0, Some(&mut g));
    v.insert("softmax_example_gradient", list(g));
    v.insert("softmax_example_loss", loss.to_string());

    let model = Model::new(&[16, 8, 4]).unwrap();
    let hyper = Hyperparams::new(2, 2, 100).unwrap();
    let weights = Weights::initial(&model, &[5; 32]);
    let batch = Batch {
        inputs: (0..64u32).map(|i| (i * 37 % 256) as u8).collect(),
        labels: vec![0, 1, 2, 3],
    };
    let out = TrainingStep::new(&model, &hyper)
        .run(&weights, &batch, &seed, 10)
        .unwrap();
    v.insert("step_small_before", hex(&weights.encode()));
    v.insert("step_small_after", hex(&out.weights.encode()));
    v.insert("step_small_after_hash", hex(&out.weights.hash()));
    v.insert("step_small_loss", out.loss.to_string());
    v.insert("step_small_stats", stats(&out.stats));
    v.insert(
        "step_small_preactivations_hash",
        hex(&Forward::run(&model, &weights, &batch.inputs, 4).preactivations_hash()),
    );
    // The encoding it hashes, and the two-level hash over more than one
    // chunk: 1 500 pre-activations (6 000 bytes, two chunks) of values
    // `j · 2 654 435 761 mod 2^32` as i32.
    let z: Vec<i32> = (0..1500u32)
        .map(|j| j.wrapping_mul(2_654_435_761) as i32)
        .collect();
    v.insert(
        "preactivations_hash_two_chunks",
        hex(&preactivations_hash([&z[..1000], &z[1000..]])),
    );

    // Two consecutive steps of a 3-layer model, seeds from the running root
    // of a trajectory, the second one at the first learning-rate drop
    // (global steps 49 and 50 of 100).
    let model = Model::new(&[16, 12, 8, 4]).unwrap();
    let hyper = Hyperparams::new(3, 1, 100).unwrap();
    let mut weights = Weights::initial(&model, &[6; 32]);
    let mut trajectory = Trajectory::start(ctx, weights.hash());
    let step = TrainingStep::new(&model, &hyper);
    for (i, global) in [49u64, 50].into_iter().enumerate() {
        assert_eq!(hyper.lr_shift_at(global), 1 + i as u32);
        let seed = trajectory.next_seed();
        let batch = Batch {
            inputs: (0..128u32)
                .map(|j| ((j * 29 + i as u32 * 7) % 256) as u8)
                .collect(),
            labels: (0..8u8).map(|j| (j + i as u8) % 4).collect(),
        };
        let out = step.run(&weights, &batch, &seed, global).unwrap();
        weights = out.weights;
        let ticket = trajectory.push(weights.hash());
        let name = |what: &str| -> &'static str {
            Box::leak(format!("step_deep_{i}_{what}").into_boxed_str())
        };
        v.insert(name("seed"), hex(&seed.0));
        v.insert(name("after_hash"), hex(&weights.hash()));
        v.insert(name("loss"), out.loss.to_string());
        v.insert(name("ticket"), hex(&ticket.0));
        v.insert(name("stats"), stats(&out.stats));
    }

    // Saturation: master weights at ±MASTER_MAX and a learning rate of 1
    // (shift 0): updates push weights into the clamp.
    let model = Model::new(&[8, 4, 2]).unwrap();
    let hyper = Hyperparams::new(1, 0, 1000).unwrap();
    let layers = (0..model.layers())
        .map(|l| {
            let (k, n) = model.shape(l);
            (0..k * n)
                .map(|j| match j % 3 {
                    0 => MASTER_MAX,
                    1 => -MASTER_MAX,
                    _ => (j as i16) * 97,
                })
                .collect()
        })
        .collect();
    let weights = Weights::from_layers(&model, layers).unwrap();
    let batch = Batch {
        inputs: (0..16u32).map(|j| (255 - j * 11) as u8).collect(),
        labels: vec![1, 0],
    };
    let out = TrainingStep::new(&model, &hyper)
        .run(&weights, &batch, &seed, 0)
        .unwrap();
    let saturated = out
        .weights
        .layers()
        .iter()
        .flatten()
        .filter(|w| w.abs() == MASTER_MAX)
        .count();
    assert!(saturated > 0, "the clamp vector must clamp");
    v.insert("step_clamp_after", hex(&out.weights.encode()));
    v.insert("step_clamp_saturated", saturated.to_string());
    evaluation_vectors(&mut v);
    fraud_segment0_vectors(&mut v, &seed_ctx());
    v
}

/// The context of `seed_example`.
fn seed_ctx() -> TrajectoryContext {
    TrajectoryContext {
        parent: [1; 32],
        author: [2; 32],
        job: 3,
        salt: 5,
    }
}

/// §10: ten samples of the 16-8-4 model in chunks of 4 (the last one of
/// 2 rows) and in one chunk of 16 (10 rows): `correct,loss` of each.
fn evaluation_vectors(v: &mut BTreeMap<&'static str, String>) {
    let model = Model::new(&[16, 8, 4]).unwrap();
    let weights = Weights::initial(&model, &[5; 32]);
    let set = Batch {
        inputs: (0..160u32).map(|i| (37 * i % 256) as u8).collect(),
        labels: (0..10u8).map(|i| i % 4).collect(),
    };
    for (name, chunk) in [("eval_chunks_4", 4), ("eval_chunks_16", 16)] {
        let eval = evaluate(&model, &weights, &set, chunk);
        assert_eq!(eval.total, 10);
        v.insert(name, format!("{},{}", eval.correct, eval.loss));
    }
}

/// §13: the fraud proof of segment 0, whose start needs no Merkle proof.
/// A 1100-step trajectory of the 16-8-4 model at batch 16 over 64 samples
/// (`x_j = 37·j mod 256`, labels `j mod 4`), `T = 100 000`, `m = 4`, from
/// `Weights::initial(model, 32×05)` at global step 0, in the context of
/// `seed_example`, with leaf 1 replaced by the initial weights of seed
/// 32×09: `a`, `K`, the proof's batches and start siblings, then the root
/// the replay of segment 0 reaches.
fn fraud_segment0_vectors(v: &mut BTreeMap<&'static str, String>, ctx: &TrajectoryContext) {
    let model = Model::new(&[16, 8, 4]).unwrap();
    let labels: Vec<u8> = (0..64u8).map(|j| j % 4).collect();
    let pixels: Vec<u8> = (0..64 * 16u32).map(|j| (37 * j % 256) as u8).collect();
    let dataset = Dataset::new(16, &labels, &pixels).unwrap();
    let hyper = Hyperparams::new(4, 4, 100_000).unwrap();
    let spec = JobSpec::new(model.clone(), hyper, dataset.commitment()).unwrap();
    let start = Weights::initial(&model, &[5; 32]);
    let step = TrainingStep::new(&model, &hyper);
    let mut trajectory = Trajectory::start(*ctx, start.hash());
    let mut leaves = vec![start.hash()];
    let mut weights = start.clone();
    for i in 0..1100u32 {
        let seed = trajectory.next_seed();
        let batch = select_batch(&spec, &dataset, &seed).unwrap();
        weights = if i == 0 {
            Weights::initial(&model, &[9; 32])
        } else {
            step.run(&weights, &batch, &seed, u64::from(i))
                .unwrap()
                .weights
        };
        trajectory.push(weights.hash());
        leaves.push(weights.hash());
    }
    let claim = trajectory.claim(weights.hash()).unwrap();
    let leaf_hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let segments = segment_roots(&spec, &leaf_hashes).unwrap();
    let progress = JobProgress {
        weights: start.hash(),
        steps: 0,
    };
    let Audit::Fraud(proof) = audit_trajectory(
        &spec,
        ctx,
        &progress,
        &start,
        &claim,
        &segments,
        &dataset,
        || {},
    )
    .unwrap() else {
        panic!("the planted leaf 1 was not found");
    };
    assert_eq!(proof.segment, 0);
    let verdict = verify_fraud(&spec, ctx, &progress, &claim, &proof).unwrap();
    let FraudReason::Root(computed) = verdict.reason else {
        panic!("segment 0 is wrong by its root");
    };
    v.insert(
        "fraud_segment0_shape",
        list([
            u64::from(segment_log2(&spec, claim.leaves())),
            segments.len() as u64,
            proof.batches.len() as u64,
            proof.start.siblings.len() as u64,
        ]),
    );
    v.insert("fraud_segment0_computed", hex(&computed));
}

#[test]
fn spec_vectors_match_the_reference() {
    vectors::assert_documented(
        "docs/puzzle.md",
        &computed(),
        &vectors::documented("docs/puzzle.md", "vectors"),
    );
}
