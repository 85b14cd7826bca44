//! The fraud report: the signed, immortal `Training::report_fraud(block,
//! proof)` transaction, built with subxt from the runtime metadata the node
//! serves — the miner links no runtime and no pallet.
//!
//! The call is looked up by name in the metadata (its pallet and call
//! indices, the type of `block`); the proof is the puzzle's own
//! [`FraudProof`], SCALE-encoded exactly as the pallet decodes it (the
//! same crate on both sides). The transaction extensions are the ones the
//! metadata lists, filled in as a wallet does (immortal, the given nonce,
//! no tip), and the signer payload is signed with the auditor's sr25519
//! key into a version 4 signed extrinsic. `cli/tests/fraud_report.rs`
//! decodes the result with the runtime's own `UncheckedExtrinsic` and
//! verifies its signature (there, so that the miner's own tests never
//! compile the runtime).

use sp_core::H256;
use subxt::{
    config::{
        substrate::{SpecVersionForRange, SubstrateConfig},
        DefaultExtrinsicParamsBuilder,
    },
    error::{ExtrinsicError, OfflineClientAtBlockError},
    utils::{AccountId32, MultiSignature, Static},
    Metadata, OfflineClient,
};
use upow_puzzle::FraudProof;

use crate::mine::keys::AuthorKey;

/// The pallet and call of a fraud report, as the metadata names them.
const PALLET: &str = "Training";
/// See [`PALLET`].
const CALL: &str = "report_fraud";

/// What a transaction is signed for: the chain and its runtime, as the
/// node reports them.
#[derive(Clone, Debug)]
pub struct ChainInfo {
    /// The genesis hash (`chain_getBlockHash(0)`).
    pub genesis: H256,
    /// The runtime's `spec_version` (`state_getRuntimeVersion`).
    pub spec_version: u32,
    /// The runtime's `transaction_version` (`state_getRuntimeVersion`).
    pub transaction_version: u32,
    /// The runtime's metadata, SCALE-encoded (`RuntimeMetadataPrefixed`,
    /// version 14 or later: [`NodeClient::metadata`]).
    ///
    /// [`NodeClient::metadata`]: crate::mine::client::NodeClient::metadata
    pub metadata: Vec<u8>,
}

/// Why a fraud report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The node's metadata does not decode.
    #[error("the node's runtime metadata does not decode: {0}")]
    Metadata(#[source] codec::Error),
    /// The metadata does not fit the versions it was given for.
    #[error("the node's runtime metadata: {0}")]
    Client(#[source] OfflineClientAtBlockError),
    /// The runtime has no `Training::report_fraud` of this shape, or
    /// extensions or extrinsic versions subxt cannot fill in.
    #[error("building Training::report_fraud: {0}")]
    Build(#[source] Box<ExtrinsicError>),
}

impl From<ExtrinsicError> for ReportError {
    fn from(e: ExtrinsicError) -> Self {
        Self::Build(Box::new(e))
    }
}

/// The signed, immortal `Training::report_fraud(number, proof)` extrinsic
/// of `key` with `nonce`, for `chain`: the bytes `author_submitExtrinsic`
/// takes.
pub fn fraud_report(
    key: &AuthorKey,
    number: u32,
    proof: &FraudProof,
    nonce: u32,
    chain: &ChainInfo,
) -> Result<Vec<u8>, ReportError> {
    let metadata = Metadata::decode_from(&chain.metadata).map_err(ReportError::Metadata)?;
    // An offline client at "block 0" of a chain whose every block has this
    // runtime: what it signs for is exactly `chain`.
    let config = SubstrateConfig::builder()
        .set_genesis_hash(subxt::utils::H256(chain.genesis.0))
        .set_spec_version_for_block_ranges([SpecVersionForRange {
            block_range: 0..u64::MAX,
            spec_version: chain.spec_version,
            transaction_version: chain.transaction_version,
        }])
        .set_metadata_for_spec_versions([(chain.spec_version, metadata.arc())])
        .build();
    let client = OfflineClient::new_with_config(config)
        .at_block(0u64)
        .map_err(ReportError::Client)?;
    let call = subxt::dynamic::tx(PALLET, CALL, (number, Static(proof)));
    let params = DefaultExtrinsicParamsBuilder::<SubstrateConfig>::new()
        .immortal()
        .nonce(u64::from(nonce))
        .build();
    let mut signable = client.tx().create_v4_signable_offline(&call, params)?;
    let signature = MultiSignature::Sr25519(key.sign(&signable.signer_payload()?));
    let signed =
        signable.sign_with_account_and_signature(&AccountId32(key.public()), &signature)?;
    Ok(signed.into_encoded())
}
