//! The protocol's test vectors (docs/protocol.md §Test vectors): the
//! block's pre-runtime digest and seal, a job's initialisation seed and
//! the house job's initial weights, computed by the code that makes and
//! checks them and compared with the document both ways (no vector missing
//! on either side). The seal's signature cannot be recomputed (sr25519
//! signing is randomised): the documented one must verify.
//!
//! `UPOW_PRINT_VECTORS=1 cargo test -p upow-runtime --test vectors -- --nocapture`
//! prints the computed block.

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../puzzle/tests/common/vectors.rs"]
mod vectors;

use std::collections::BTreeMap;

use codec::Encode;
use sp_core::{crypto::Pair as _, sr25519};
use upow_primitives::{PowSeal, PreDigest};
use upow_puzzle::{TrajectoryClaim, Weights};
use upow_runtime::genesis_config_presets::{house_job_seed, house_job_spec};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The genesis hash and pre-seal header hash of the seal vectors.
const GENESIS: [u8; 32] = [0x0a; 32];
const PRE_HASH: [u8; 32] = [0x0b; 32];

fn alice() -> sr25519::Pair {
    sr25519::Pair::from_string("//Alice", None).unwrap()
}

/// Whether `seal` (hex of its SCALE encoding) is Alice's seal of
/// [`PRE_HASH`] on [`GENESIS`].
fn seals(seal: &str) -> bool {
    unhex(seal)
        .and_then(|bytes| PowSeal::decode_all(&bytes).ok())
        .is_some_and(|seal| seal.verify(&GENESIS, &PRE_HASH, &alice().public().0))
}

fn computed(documented: &BTreeMap<String, String>) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    let claim = TrajectoryClaim {
        steps: 7,
        root: [0x11; 32],
        final_weights: [0x22; 32],
    };
    v.insert(
        "pre_digest",
        hex(&PreDigest::new([0x02; 32], 3, 5, claim).encode()),
    );
    let message = PowSeal::message(&GENESIS, &PRE_HASH);
    v.insert("seal_message", hex(&message));
    v.insert("seal_author", hex(&alice().public().0));
    // The documented seal if it verifies, else a fresh one (which the
    // document then lacks: the comparison fails and prints it).
    let seal = documented
        .get("seal_alice")
        .filter(|seal| seals(seal))
        .cloned()
        .unwrap_or_else(|| {
            hex(&PowSeal::V2 {
                signature: alice().sign(&message).0,
            }
            .encode())
        });
    v.insert("seal_alice", seal);
    v.insert(
        "job_init_seed",
        hex(&upow_puzzle::lane::run_seed(
            5,
            &upow_puzzle::Ticket([0x23; 32]),
        )),
    );
    v.insert("house_job_seed", hex(&house_job_seed()));
    v.insert(
        "house_job_initial_weights",
        hex(&Weights::initial(&house_job_spec().model, &house_job_seed()).hash()),
    );
    v
}

#[test]
fn protocol_vectors_match_the_reference() {
    sp_io::TestExternalities::default().execute_with(|| {
        let documented = vectors::documented("docs/protocol.md", "protocol-vectors");
        vectors::assert_documented("docs/protocol.md", &computed(&documented), &documented);
        // The seal binds the header and the chain: another pre-hash or
        // genesis does not verify.
        let seal = PowSeal::decode_all(&unhex(&documented["seal_alice"]).unwrap()).unwrap();
        let alice = alice().public().0;
        assert!(seal.verify(&GENESIS, &PRE_HASH, &alice));
        assert!(!seal.verify(&GENESIS, &[0x0c; 32], &alice));
        assert!(!seal.verify(&[0x0c; 32], &PRE_HASH, &alice));
    });
}
