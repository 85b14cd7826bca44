//! The fraud report `upow-miner audit` builds — from the node's live
//! metadata with subxt, without linking the runtime — is exactly the
//! runtime's signed `Training::report_fraud` extrinsic: checked here
//! against the runtime's own types (a test of the miner kept in this crate,
//! which already has the runtime as a dev-dependency, so that the miner's
//! own test builds — the CUDA ones among them — never compile the runtime).

// Test code outside `#[test]` functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codec::{DecodeAll, Encode};
use sp_core::H256;
use sp_runtime::{generic::Preamble, traits::Verify, MultiAddress};
use upow_miner::{
    audit::report::{fraud_report, ChainInfo, ReportError},
    mine::keys::{AuthorKey, KeySource, SecretUri},
};
use upow_puzzle::{FraudProof, MerkleProof, SampleOpening};
use upow_runtime::{Runtime, RuntimeCall, UncheckedExtrinsic};

fn key(secret: &str) -> AuthorKey {
    AuthorKey::from_secret(
        &KeySource {
            secret: SecretUri::new(secret),
            name: secret.into(),
        },
        None,
    )
    .unwrap()
}

/// A proof whose signer payload is over 256 bytes (then hashed).
fn proof() -> FraudProof {
    let opening = |i: u8| SampleOpening {
        sample: vec![i; 9],
        proof: MerkleProof {
            siblings: vec![[i; 32]; 3],
        },
    };
    FraudProof {
        segment: 2,
        segments: vec![[1; 32], [2; 32], [3; 32]],
        weights: (0..600).map(|i| i as u8).collect(),
        start: MerkleProof {
            siblings: vec![[4; 32]; 2],
        },
        batches: vec![vec![opening(5), opening(6)], vec![opening(7)]],
    }
}

/// Every stable metadata version the runtime serves (the node answers
/// the highest).
fn metadata_versions() -> Vec<u32> {
    let versions: Vec<u32> = Runtime::metadata_versions()
        .into_iter()
        .filter(|v| *v != u32::MAX)
        .collect();
    assert!(!versions.is_empty());
    versions
}

fn chain(version: u32) -> ChainInfo {
    ChainInfo {
        genesis: H256([7; 32]),
        spec_version: upow_runtime::VERSION.spec_version,
        transaction_version: upow_runtime::VERSION.transaction_version,
        metadata: Runtime::metadata_at_version(version).unwrap().to_vec(),
    }
}

#[test]
fn the_report_is_the_runtimes_signed_report_fraud() {
    let ferdie = key("//Ferdie");
    let account = sp_runtime::AccountId32::from(ferdie.public());
    for version in metadata_versions() {
        let chain = chain(version);
        let bytes = fraud_report(&ferdie, 42, &proof(), 5, &chain).unwrap();

        // The runtime decodes it, whole, as the call, signed by the key.
        let xt = UncheckedExtrinsic::decode_all(&mut &bytes[..]).unwrap();
        let expected = RuntimeCall::Training(pallet_upow_training::Call::report_fraud {
            block: 42,
            proof: proof(),
        });
        assert_eq!(xt.function, expected, "metadata v{version}");
        let Preamble::Signed(address, signature, extension) = xt.preamble else {
            panic!("metadata v{version}: not a signed extrinsic");
        };
        assert_eq!(address, MultiAddress::Id(account.clone()));
        assert_eq!(
            extension.encode(),
            upow_runtime::immortal_tx_extension(5).encode(),
            "metadata v{version}: immortal, nonce 5, no tip"
        );

        // The signature verifies on the payload the runtime checks, and
        // the runtime's own builder makes the same bytes with it.
        let mut verified = false;
        let rebuilt = upow_runtime::immortal_signed_extrinsic(
            expected,
            account.clone(),
            5,
            (chain.spec_version, chain.transaction_version),
            chain.genesis,
            |payload| {
                verified = signature.verify(payload, &account);
                signature.clone()
            },
        );
        assert!(
            verified,
            "metadata v{version}: the signature does not verify"
        );
        assert_eq!(rebuilt.encode(), bytes, "metadata v{version}");
    }
}

#[test]
fn the_signature_commits_to_the_chain() {
    let ferdie = key("//Ferdie");
    let account = sp_runtime::AccountId32::from(ferdie.public());
    let version = metadata_versions()[0];
    let bytes = fraud_report(&ferdie, 42, &proof(), 0, &chain(version)).unwrap();
    let xt = UncheckedExtrinsic::decode_all(&mut &bytes[..]).unwrap();
    let Preamble::Signed(_, signature, _) = xt.preamble else {
        panic!("not a signed extrinsic");
    };
    // Another genesis or spec version: the runtime's payload differs and
    // the signature does not verify.
    for (genesis, spec_version) in [
        (H256([8; 32]), upow_runtime::VERSION.spec_version),
        (H256([7; 32]), upow_runtime::VERSION.spec_version + 1),
    ] {
        let mut verified = true;
        upow_runtime::immortal_signed_extrinsic(
            xt.function.clone(),
            account.clone(),
            0,
            (spec_version, upow_runtime::VERSION.transaction_version),
            genesis,
            |payload| {
                verified = signature.verify(payload, &account);
                signature.clone()
            },
        );
        assert!(!verified);
    }
}

#[test]
fn metadata_that_does_not_decode_is_an_error() {
    let mut chain = chain(metadata_versions()[0]);
    chain.metadata.truncate(100);
    assert!(matches!(
        fraud_report(&key("//Ferdie"), 1, &proof(), 0, &chain),
        Err(ReportError::Metadata(_))
    ));
}
