//! The trajectory proof inherent: reading a block body's proof
//! (`upow_runtime::trajectory_proof`, the runtime's extrinsic decoding with
//! its depth limit) and the training pallet's `create_inherent` on
//! inherent data never panic, and only the honest proof verifies against
//! the block's claim.
//!
//! Each input is one of:
//!
//! * `Body`: extrinsics of arbitrary bytes (each as a block body carries
//!   it), around the honest inherent or without it;
//! * `BodyScale`: arbitrary bytes decoded as a block body;
//! * `Patch`: the honest inherent's bytes overwritten, truncated and
//!   appended to, with arbitrary extrinsics before it;
//! * `InherentData`: arbitrary bytes decoded as `InherentData`, or the
//!   honest proof put under the inherent identifier with its bytes patched,
//!   then the pallet's `create_inherent`.

#![no_main]

use arbitrary::Arbitrary;
use codec::{Decode, Encode};
use frame_support::inherent::ProvideInherent;
use libfuzzer_sys::fuzz_target;
use sp_inherents::InherentData;
use sp_runtime::OpaqueExtrinsic;
use upow_primitives::INHERENT_IDENTIFIER;
use upow_fuzz::{
    chain::{CHAIN, PARENT},
    stat,
};

type Training = pallet_upow_training::Pallet<upow_runtime::Runtime>;

#[derive(Arbitrary, Debug)]
enum Input {
    Body {
        extrinsics: Vec<Vec<u8>>,
        /// Where the honest inherent goes (`None`: left out).
        honest_at: Option<u8>,
    },
    BodyScale(Vec<u8>),
    Patch {
        patches: Vec<(u16, u8)>,
        truncate: Option<u16>,
        append: Vec<u8>,
        before: Vec<Vec<u8>>,
    },
    InherentData(Vec<u8>),
    InherentPatch {
        patches: Vec<(u16, u8)>,
        truncate: Option<u16>,
    },
}

fn patch(bytes: &mut Vec<u8>, patches: &[(u16, u8)], truncate: Option<u16>) {
    for &(offset, value) in patches {
        if !bytes.is_empty() {
            let len = bytes.len();
            bytes[offset as usize % len] = value;
        }
    }
    if let Some(len) = truncate {
        bytes.truncate(len as usize);
    }
}

/// The body's proof, as the node reads it, checked against the block's
/// claim. Returns whether a proof was found and verified.
fn check_body(body: &[OpaqueExtrinsic]) -> bool {
    let found = upow_runtime::trajectory_proof(body);
    stat("body", if found.is_some() { "proof" } else { "none" });
    found.is_some_and(|proof| CHAIN.accept(&PARENT, &CHAIN.digest, &proof))
}

/// The pallet's `create_inherent`, and the proof it puts in the block.
fn check_inherent_data(data: &InherentData) -> bool {
    let call = Training::create_inherent(data);
    stat("inherent", if call.is_some() { "call" } else { "none" });
    match call {
        Some(pallet_upow_training::Call::submit_trajectory { proof }) => {
            CHAIN.accept(&PARENT, &CHAIN.digest, &proof)
        }
        _ => false,
    }
}

fuzz_target!(|input: Input| {
    let chain = &*CHAIN;
    match input {
        Input::Body {
            extrinsics,
            honest_at,
        } => {
            let mut body: Vec<OpaqueExtrinsic> = extrinsics
                .into_iter()
                .map(OpaqueExtrinsic::from_blob)
                .collect();
            let with_honest = honest_at.is_some();
            if let Some(i) = honest_at {
                let i = i as usize % (body.len() + 1);
                body.insert(i, chain.inherent.clone());
            }
            let verified = check_body(&body);
            // Arbitrary extrinsics before it may be submit_trajectory calls
            // of their own (then the first one counts, and must be honest to
            // verify); otherwise the honest inherent is found.
            if with_honest && !verified {
                let found = upow_runtime::trajectory_proof(&body).expect("a proof is in the body");
                assert_ne!(
                    found, chain.fixture.honest.proof,
                    "the honest proof was refused"
                );
            }
        }
        Input::BodyScale(bytes) => {
            if let Ok(body) = Vec::<OpaqueExtrinsic>::decode(&mut &bytes[..]) {
                check_body(&body);
            }
        }
        Input::Patch {
            patches,
            truncate,
            append,
            before,
        } => {
            let mut bytes = chain.inherent.inner().to_vec();
            let untouched = patches.is_empty() && truncate.is_none() && append.is_empty();
            patch(&mut bytes, &patches, truncate);
            bytes.extend(append);
            let mut body: Vec<OpaqueExtrinsic> =
                before.into_iter().map(OpaqueExtrinsic::from_blob).collect();
            body.push(OpaqueExtrinsic::from_blob(bytes));
            let verified = check_body(&body);
            if untouched && body.len() == 1 {
                assert!(verified, "the honest inherent was refused");
            }
        }
        Input::InherentData(bytes) => {
            if let Ok(data) = InherentData::decode(&mut &bytes[..]) {
                check_inherent_data(&data);
            }
        }
        Input::InherentPatch { patches, truncate } => {
            let mut data = InherentData::new();
            data.put_data(INHERENT_IDENTIFIER, &chain.fixture.honest.proof)
                .expect("a new identifier");
            let mut bytes = data.encode();
            let untouched = patches.is_empty() && truncate.is_none();
            patch(&mut bytes, &patches, truncate);
            if let Ok(data) = InherentData::decode(&mut &bytes[..]) {
                let verified = check_inherent_data(&data);
                if untouched {
                    assert!(verified, "the honest inherent data was refused");
                }
            }
        }
    }
});
