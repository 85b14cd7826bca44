//! The test vectors of protocol version 3's encodings: docs/v3.md's
//! vectors block lists them as `name = value` lines; this test recomputes
//! every one with `upow_puzzle::lane` and checks that the document and the
//! code agree, both ways.
//!
//! `UPOW_PRINT_VECTORS=1 cargo test -p upow-puzzle --features scale --test vectors_v3 -- --nocapture`
//! prints the computed block.
//!
//! Inputs: lane 3, author `32×02`, global step 1000, anchor `(17, 32×11)`,
//! running root `merkle_root_5` of docs/puzzle.md (the tree over
//! `leaf(00) … leaf(04)`); the leaf of weights hash `32×21` and
//! pre-activations hash `32×27` at that anchor; a segment from tip leaf
//! `32×24` at step 1000 of three steps with weights hashes `32×01, 32×02,
//! 32×03` and pre-activations hashes `32×61, 32×62, 32×63` anchored to
//! `(17, 32×11), (17, 32×11), (18, 32×12)`, its tickets' quotients at chain
//! difficulty 2^20 and whether each is a share and a seal at cost 2^17
//! (`11` = both); genesis `32×26`; sealing ticket `32×25`.
#![cfg(feature = "scale")]
// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

#[path = "common/vectors.rs"]
mod vectors;

use codec::Encode;
use upow_puzzle::{
    lane::{
        commit_challenges, commitment_hash, is_seal, is_share, run_seed, run_start_leaf,
        segment_message, step_leaf, ticket_quotient, Anchor, LaneContext, SegmentBuilder,
    },
    merkle::{leaf_hash, MerkleTree},
    Ticket,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn computed() -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    let ctx = LaneContext {
        lane: 3,
        author: [2; 32],
    };
    let a17 = Anchor {
        number: 17,
        hash: [0x11; 32],
    };
    let a18 = Anchor {
        number: 18,
        hash: [0x12; 32],
    };
    v.insert("v3_anchor_bytes", hex(&a17.bytes()));
    v.insert("v3_leaf", hex(&step_leaf(&[0x21; 32], &[0x27; 32], &a17)));
    v.insert("v3_run_start_leaf", hex(&run_start_leaf(5, &[0x22; 32])));
    v.insert("v3_run_seed", hex(&run_seed(5, &Ticket([0x23; 32]))));

    let leaves: Vec<_> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
    let root5 = MerkleTree::from_leaf_hashes(leaves).unwrap().root();
    v.insert("v3_seed", hex(&ctx.seed(1000, &a17, &root5).0));
    v.insert("v3_ticket", hex(&ctx.ticket(1000, &a17, &root5).0));

    let mut segment = SegmentBuilder::start(ctx, 1000, [0x24; 32]);
    let mut tickets = Vec::new();
    for (weights, preactivations, anchor) in [
        ([1u8; 32], [0x61u8; 32], a17),
        ([2; 32], [0x62; 32], a17),
        ([3; 32], [0x63; 32], a18),
    ] {
        let seed = segment.next_seed(&anchor);
        if tickets.is_empty() {
            v.insert("v3_segment_seed_0", hex(&seed.0));
        }
        tickets.push(segment.push(&weights, &preactivations, anchor));
    }
    let list = |items: Vec<String>| items.join(",");
    v.insert(
        "v3_segment_tickets",
        list(tickets.iter().map(|t| hex(&t.0)).collect()),
    );
    // At chain difficulty 2^20 and cost 2^17: one ticket in 2 is a share,
    // one in 8 a seal.
    v.insert(
        "v3_segment_quotients",
        list(
            tickets
                .iter()
                .map(|t| ticket_quotient(t, 1 << 20).to_string())
                .collect(),
        ),
    );
    v.insert(
        "v3_segment_share_seal",
        list(
            tickets
                .iter()
                .map(|t| {
                    format!(
                        "{}{}",
                        u8::from(is_share(t, 1 << 20, 1 << 17)),
                        u8::from(is_seal(t, 1 << 20, 1 << 17))
                    )
                })
                .collect(),
        ),
    );
    let claim = segment.claim([3; 32]).unwrap();
    v.insert("v3_segment_root", hex(&claim.root));
    v.insert("v3_segment_claim_scale", hex(&claim.encode()));
    let pre_digest = [&[2u8; 32][..], &[3], &claim.encode()].concat();
    assert_eq!(pre_digest.len(), 117);
    v.insert("v3_pre_digest", hex(&pre_digest));
    v.insert(
        "v3_segment_message",
        hex(&segment_message(&[0x26; 32], &claim.encode())),
    );
    let c = commitment_hash(&claim.encode());
    v.insert("v3_commitment_hash", hex(&c));
    let challenges = commit_challenges(&Ticket([0x25; 32]), &c, 1000);
    v.insert(
        "v3_commit_challenges_1000",
        challenges
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
    );
    v
}

#[test]
fn v3_vectors_match_the_reference() {
    vectors::assert_documented(
        "docs/v3.md",
        &computed(),
        &vectors::documented("docs/v3.md", "v3-vectors"),
    );
}
