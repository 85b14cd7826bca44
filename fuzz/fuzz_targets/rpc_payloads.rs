//! The mining RPC payloads: `upow_submitWork`, `upow_submitSeal` and
//! `upow_submitBlock` parameters, parsed as jsonrpsee parses them
//! (positional JSON params) and then decoded and checked as the node does
//! before it touches chain state — `SubmitWork::decode`, the parent, the
//! submission signature and the trajectory for `submitWork`;
//! `signature_bytes` and the seal signature for `submitSeal`; the block's
//! decoding, the seal rule and the body's proof for `submitBlock`. Nothing
//! panics, and only `//Alice`'s honest submission, seal and block pass.
//!
//! Each input is one of:
//!
//! * `WorkJson`, `SealJson`, `BlockJson`: arbitrary text as the params;
//! * `WorkEdit`: the honest `submitWork` payload with its fields edited,
//!   sent as JSON;
//! * `Block`: arbitrary bytes as the SCALE block of `submitBlock`, or the
//!   honest block with bytes patched.

#![no_main]

use arbitrary::Arbitrary;
use codec::{DecodeAll, Encode};
use jsonrpsee::types::Params;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use sp_core::{Bytes, H256};
use sp_runtime::{generic, OpaqueExtrinsic};
use upow_primitives::{
    rpc::{signature_bytes, SubmitWork},
    seal::{check_signature, check_ticket, split_seal},
    Header, PowSeal,
};
use upow_fuzz::{
    chain::{CHAIN, GENESIS, PARENT},
    outcome, stat,
};

/// What `upow_submitBlock` decodes (the node's opaque block).
type Block = generic::Block<Header, OpaqueExtrinsic>;

#[derive(Arbitrary, Debug)]
enum WorkEdit {
    Parent([u8; 32]),
    Author([u8; 32]),
    Job(u64),
    Salt(u32),
    Steps(u32),
    Root { byte: u8, value: u8 },
    Final { byte: u8, value: u8 },
    Proof { offset: u16, value: u8 },
    ProofLen(u16),
    Signature { offset: u8, value: u8 },
    SignatureLen(u8),
}

#[derive(Arbitrary, Debug)]
enum Input {
    WorkJson(String),
    WorkEdit(Vec<WorkEdit>),
    SealJson(String),
    SealEdit {
        pre_hash: Option<[u8; 32]>,
        patches: Vec<(u8, u8)>,
        len: Option<u8>,
    },
    BlockJson(String),
    Block(Vec<u8>),
    BlockPatch {
        patches: Vec<(u16, u8)>,
        truncate: Option<u16>,
    },
}

/// The first positional parameter, as the generated server code reads it.
fn param<T: DeserializeOwned>(json: &str) -> Option<T> {
    let parsed = Params::new(Some(json)).sequence().next::<T>();
    stat("params", &outcome(&parsed));
    parsed.ok()
}

fn edit(work: &mut SubmitWork, edit: WorkEdit) {
    match edit {
        WorkEdit::Parent(h) => work.parent = H256(h),
        WorkEdit::Author(a) => work.author = H256(a),
        WorkEdit::Job(j) => work.job = j,
        WorkEdit::Salt(s) => work.salt = s,
        WorkEdit::Steps(s) => work.claim.steps = s,
        WorkEdit::Root { byte, value } => work.claim.root.0[byte as usize % 32] = value,
        WorkEdit::Final { byte, value } => work.claim.final_weights.0[byte as usize % 32] = value,
        WorkEdit::Proof { offset, value } => {
            let len = work.proof.0.len();
            if len > 0 {
                work.proof.0[offset as usize % len] = value;
            }
        }
        WorkEdit::ProofLen(len) => work.proof.0.resize(len as usize, 0),
        WorkEdit::Signature { offset, value } => {
            let len = work.signature.0.len();
            if len > 0 {
                work.signature.0[offset as usize % len] = value;
            }
        }
        WorkEdit::SignatureLen(len) => work.signature.0.resize(len as usize, 0),
    }
}

/// `upow_submitWork` up to the block template: decode, parent, signature,
/// trajectory. Returns whether the node would build a block.
fn submit_work(work: &SubmitWork) -> bool {
    let decoded = work.decode();
    stat("work", &outcome(&decoded));
    let Ok(submission) = decoded else {
        return false;
    };
    if submission.parent != PARENT || !submission.verify_signature(&GENESIS) {
        return false;
    }
    let honest = CHAIN
        .submission
        .decode()
        .expect("the honest payload decodes");
    assert_eq!(
        submission.digest, honest.digest,
        "a forged submission signature verified"
    );
    assert_eq!(submission.signature, honest.signature);
    CHAIN.accept(&submission.parent, &submission.digest, &submission.proof)
}

/// `upow_submitSeal`: the signature's length, then the seal rule against
/// the template's pre-seal hash (the node knows only the honest one).
fn submit_seal(pre_hash: H256, signature: &Bytes) -> bool {
    let Ok(signature) = signature_bytes(signature) else {
        return false;
    };
    let verified = PowSeal::V2 { signature }.verify(&GENESIS, &pre_hash.0, CHAIN.digest.author());
    if verified {
        assert_eq!(
            pre_hash.0, CHAIN.pre_hash,
            "a seal verified for another header"
        );
    }
    verified
}

/// `upow_submitBlock` up to the import queue: decode, seal rule, ticket,
/// the body's proof.
fn submit_block(bytes: &[u8]) -> bool {
    let Ok(block) = Block::decode_all(&mut &bytes[..]) else {
        return false;
    };
    let Ok(parts) = split_seal(&block.header) else {
        return false;
    };
    let pre_hash = parts.unsealed.hash().0;
    let signed = check_signature(
        &GENESIS,
        &pre_hash,
        parts.pre_digest.as_deref(),
        &parts.seal,
    );
    stat("block", &outcome(&signed));
    let Ok(digest) = signed else { return false };
    assert_eq!(
        pre_hash, CHAIN.pre_hash,
        "a seal verified for another header"
    );
    let parent = parts.unsealed.parent_hash.0;
    let honest = &CHAIN.fixture.honest;
    if check_ticket(&parent, &digest, honest.difficulty).is_err() {
        return false;
    }
    upow_runtime::trajectory_proof(&block.extrinsics)
        .is_some_and(|proof| CHAIN.accept(&parent, &digest, &proof))
}

fn honest_block() -> Block {
    Block {
        header: CHAIN.header.clone(),
        extrinsics: vec![CHAIN.inherent.clone()],
    }
}

fuzz_target!(|input: Input| {
    let chain = &*CHAIN;
    match input {
        Input::WorkJson(json) => {
            if let Some(work) = param::<SubmitWork>(&json) {
                submit_work(&work);
            }
        }
        Input::WorkEdit(edits) => {
            let mut work = chain.submission.clone();
            let untouched = edits.is_empty();
            for e in edits {
                edit(&mut work, e);
            }
            let json = serde_json::to_string(&[&work]).expect("a payload serializes");
            let parsed: SubmitWork = param(&json).expect("a serialized payload parses");
            assert_eq!(parsed, work, "JSON does not round-trip the payload");
            let built = submit_work(&parsed);
            if untouched {
                assert!(built, "the honest submission was refused");
            }
        }
        Input::SealJson(json) => {
            let params = Params::new(Some(&json));
            let mut seq = params.sequence();
            if let (Ok(pre_hash), Ok(signature)) = (seq.next::<H256>(), seq.next::<Bytes>()) {
                submit_seal(pre_hash, &signature);
            }
        }
        Input::SealEdit {
            pre_hash,
            patches,
            len,
        } => {
            let parts = split_seal(&chain.header).expect("the honest header splits");
            let seal = PowSeal::decode_all(&parts.seal).expect("the honest seal decodes");
            let mut signature = seal.signature().to_vec();
            let untouched = pre_hash.is_none() && patches.is_empty() && len.is_none();
            for (offset, value) in patches {
                signature[offset as usize % 64] = value;
            }
            if let Some(len) = len {
                signature.resize(len as usize, 0);
            }
            let verified = submit_seal(H256(pre_hash.unwrap_or(chain.pre_hash)), &Bytes(signature));
            if untouched {
                assert!(verified, "the honest seal was refused");
            }
        }
        Input::BlockJson(json) => {
            if let Some(bytes) = param::<Bytes>(&json) {
                submit_block(&bytes);
            }
        }
        Input::Block(bytes) => {
            submit_block(&bytes);
        }
        Input::BlockPatch { patches, truncate } => {
            let mut bytes = honest_block().encode();
            let untouched = patches.is_empty() && truncate.is_none();
            for (offset, value) in patches {
                let len = bytes.len();
                bytes[offset as usize % len] = value;
            }
            if let Some(len) = truncate {
                bytes.truncate(len as usize);
            }
            let imported = submit_block(&bytes);
            if untouched {
                assert!(imported, "the honest block was refused");
            }
        }
    }
});
