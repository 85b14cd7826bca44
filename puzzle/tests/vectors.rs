//! The spec's test vectors: `docs/puzzle.md` §Test vectors lists them as
//! `name = value` lines; this test recomputes every one and checks that the
//! document and the code agree, both ways (no vector missing on either side).
//!
//! `UPOW_PRINT_VECTORS=1 cargo test -p upow-puzzle --test vectors -- --nocapture`
//! prints the computed block.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use upow_puzzle::{
    batch_indices, challenged_steps,
    hash::Hash,
    loss::softmax_row,
    merkle::{leaf_hash, MerkleTree},
    pow::meets_difficulty,
    prng::{derive_key, draw, Purpose},
    Batch, Hyperparams, Model, Seed, Ticket, TrainingStep, TrajectoryContext, Weights,
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

    let ctx = TrajectoryContext {
        parent: [1; 32],
        author: [2; 32],
        job: 3,
    };
    let seed = Seed::derive(&ctx, 4, &w0.hash());
    v.insert("seed_example", hex(&seed.0));
    let ticket = Ticket::derive(&ctx, 4, &tree.root());
    v.insert("ticket_example", hex(&ticket.0));
    v.insert("batch_example", list(batch_indices(&seed, 8, 60_000)));
    v.insert("challenges_example", list(challenged_steps(&ticket, 1000)));
    v.insert(
        "difficulty_examples",
        list([1u128, 2, 1 << 64, u128::MAX].map(|d| meets_difficulty(&ticket.0, d) as u8)),
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
    v
}

/// `name = value` lines of the vectors block in docs/puzzle.md.
fn documented() -> BTreeMap<String, String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/puzzle.md"))
        .expect("docs/puzzle.md");
    let block = doc
        .split("<!-- vectors:begin -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- vectors:end -->").next())
        .expect("vectors block in docs/puzzle.md");
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in block.lines().map(str::trim) {
        if let Some((name, value)) = line.split_once(" = ") {
            values.insert(name.trim().to_string(), value.trim().to_string());
            last = Some(name.trim().to_string());
        } else if let (Some(name), true) = (
            &last,
            line.starts_with("  ")
                || line.chars().all(|c| c.is_ascii_hexdigit()) && !line.is_empty(),
        ) {
            // Continuation of a long hex value.
            if let Some(v) = values.get_mut(name) {
                v.push_str(line);
            }
        }
    }
    values
}

#[test]
fn spec_vectors_match_the_reference() {
    let computed = computed();
    if std::env::var("UPOW_PRINT_VECTORS").is_ok() {
        for (name, value) in &computed {
            println!("{name} = {value}");
        }
    }
    let documented = documented();
    for (name, value) in &computed {
        assert_eq!(documented.get(*name), Some(value), "vector {name}");
    }
    for name in documented.keys() {
        assert!(
            computed.contains_key(name.as_str()),
            "docs/puzzle.md has unknown vector {name}"
        );
    }
}
