//! # upow runtime
//!
//! The state transition function of the upow chain, compiled to wasm (and
//! natively for tests). Pallets:
//!
//! | index | pallet | role |
//! |---|---|---|
//! | 0 | `frame_system` | accounts, blocks, events |
//! | 1 | `pallet_timestamp` | block time (drives the difficulty retarget) |
//! | 2 | `pallet_balances` | the UPOW token |
//! | 3 | `pallet_transaction_payment` | fees |
//! | 4 | `pallet_sudo` | governance origin (for now) |
//! | 5 | `pallet_grandpa` | finality by the permissioned validator set |
//! | 6 | `pallet_node_authorization` | the nodes of the permissioned network |
//! | 10 | `pallet_upow_training` | trajectory verification, weights hashes, difficulty |
//! | 11 | `pallet_upow_jobs` | job escrow and scheduling |
//! | 12 | `pallet_upow_staking` | admission, bonds, slashing |
//! | 13 | `pallet_upow_rewards` | block-reward emission |
//!
//! How they fit: every block's inherent proves a trajectory of the job the
//! jobs pallet schedules; the training pallet verifies it (re-executing the
//! challenged steps with `upow-puzzle`), resolves the author through the
//! staking pallet and reports the verified steps to the jobs pallet, which
//! pays the author from the job's escrow; the rewards pallet mints the block
//! reward to the author and the validators.
#![cfg_attr(not(feature = "std"), no_std)]
#![recursion_limit = "256"]
// `#[frame_support::runtime]`, `impl_runtime_apis!` and the wasm builder's
// `include!` generate public items without doc comments.
#![allow(missing_docs)]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::vec::Vec;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod genesis_config_presets;

use sp_runtime::{
    generic, impl_opaque_keys,
    traits::{BlakeTwo256, IdentifyAccount, Verify},
    MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// Opaque types: what the node sees of blocks without knowing the runtime.
pub mod opaque {
    use super::*;
    use sp_runtime::traits::Hash as HashT;

    pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

    /// Opaque block header type.
    pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
    /// Opaque block type.
    pub type Block = generic::Block<Header, UncheckedExtrinsic>;
    /// Opaque block hash type.
    pub type Hash = <BlakeTwo256 as HashT>::Output;
}

impl_opaque_keys! {
    /// The keys a validator node holds (GRANDPA).
    pub struct SessionKeys {
        /// The GRANDPA voting key.
        pub grandpa: Grandpa,
    }
}

/// The runtime's version.
#[cfg(not(feature = "next-spec-version"))]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: alloc::borrow::Cow::Borrowed("upow"),
    impl_name: alloc::borrow::Cow::Borrowed("upow-runtime"),
    authoring_version: 1,
    spec_version: 101,
    impl_version: 1,
    apis: apis::RUNTIME_API_VERSIONS,
    transaction_version: 1,
    system_version: 1,
};

/// The runtime's version, one spec version ahead: a build that a chain of
/// the plain build accepts through `set_code` (the upgrade test builds it
/// with the `next-spec-version` feature; `runtime_version` takes literals
/// only, hence the copy).
#[cfg(feature = "next-spec-version")]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: alloc::borrow::Cow::Borrowed("upow"),
    impl_name: alloc::borrow::Cow::Borrowed("upow-runtime"),
    authoring_version: 1,
    spec_version: 102,
    impl_version: 1,
    apis: apis::RUNTIME_API_VERSIONS,
    transaction_version: 1,
    system_version: 1,
};

/// Target time between blocks (the difficulty retarget aims at it).
pub const TARGET_BLOCK_TIME_MS: u64 = 4000;
/// Blocks per minute at the target block time.
pub const MINUTES: BlockNumber = (60_000 / TARGET_BLOCK_TIME_MS) as BlockNumber;
/// Blocks per hour.
pub const HOURS: BlockNumber = MINUTES * 60;
/// Blocks per day.
pub const DAYS: BlockNumber = HOURS * 24;

/// One UPOW (12 decimals).
pub const UNIT: Balance = 1_000_000_000_000;
/// 10⁻³ UPOW.
pub const MILLI_UNIT: Balance = 1_000_000_000;
/// 10⁻⁶ UPOW.
pub const MICRO_UNIT: Balance = 1_000_000;
/// The smallest balance an account may hold.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;

/// Signature of transactions.
pub type Signature = MultiSignature;
/// Account identifier: the sr25519 / ed25519 / ecdsa public key (32 bytes).
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account.
pub type Balance = u128;
/// Transaction index of an account.
pub type Nonce = u32;
/// Block and state hashes.
pub type Hash = sp_core::H256;
/// Block numbers.
pub type BlockNumber = u32;
/// Address format of transactions.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A block with justifications.
pub type SignedBlock = generic::SignedBlock<Block>;

/// The extensions checked on every signed transaction.
pub type TxExtension = (
    frame_system::CheckNonZeroSender<Runtime>,
    frame_system::CheckSpecVersion<Runtime>,
    frame_system::CheckTxVersion<Runtime>,
    frame_system::CheckGenesis<Runtime>,
    frame_system::CheckEra<Runtime>,
    frame_system::CheckNonce<Runtime>,
    frame_system::CheckWeight<Runtime>,
    pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
    frame_system::WeightReclaim<Runtime>,
);

/// The extensions of an immortal signed transaction with `nonce` and no
/// tip, as a client builds them (Polkadot.js, subxt, the tests). Its
/// implicit part is `((), spec_version, transaction_version, genesis,
/// genesis, (), (), (), ())`.
pub fn immortal_tx_extension(nonce: Nonce) -> TxExtension {
    (
        frame_system::CheckNonZeroSender::new(),
        frame_system::CheckSpecVersion::new(),
        frame_system::CheckTxVersion::new(),
        frame_system::CheckGenesis::new(),
        frame_system::CheckEra::from(sp_runtime::generic::Era::Immortal),
        frame_system::CheckNonce::from(nonce),
        frame_system::CheckWeight::new(),
        pallet_transaction_payment::ChargeTransactionPayment::from(0),
        frame_system::WeightReclaim::new(),
    )
}

/// `call` as an immortal signed extrinsic of `signer` with `nonce`, for the
/// chain whose genesis hash is `genesis` at `spec_version` and
/// `transaction_version` (read over RPC by clients outside the runtime):
/// `sign` signs the payload. What `upow-miner audit` and the node's tests
/// submit.
pub fn immortal_signed_extrinsic(
    call: RuntimeCall,
    signer: AccountId,
    nonce: Nonce,
    (spec_version, transaction_version): (u32, u32),
    genesis: Hash,
    sign: impl FnOnce(&[u8]) -> Signature,
) -> UncheckedExtrinsic {
    let extension = immortal_tx_extension(nonce);
    let implicit = (
        (),
        spec_version,
        transaction_version,
        genesis,
        genesis,
        (),
        (),
        (),
        (),
    );
    let payload = SignedPayload::from_raw(call.clone(), extension.clone(), implicit);
    let signature = codec::Encode::using_encoded(&payload, sign);
    UncheckedExtrinsic::new_signed(call, signer.into(), signature, extension)
}

/// Extrinsic type.
pub type UncheckedExtrinsic =
    generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;

/// The payload signed by a transaction's sender.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// The trajectory proof a block carries: the first extrinsic of `body` that
/// decodes, as the runtime's executive decodes it (the whole encoding, at
/// most [`frame_support::MAX_EXTRINSIC_DEPTH`] nested calls), to the
/// training pallet's inherent `submit_trajectory`. The node reads a block's
/// proof with it (to replay the final step, and for `upow_disputableBlock`);
/// the fuzz target `inherent` (fuzz/) runs it on arbitrary bodies.
pub fn trajectory_proof(
    body: &[opaque::UncheckedExtrinsic],
) -> Option<upow_puzzle::TrajectoryProof> {
    body.iter().find_map(|opaque| {
        let bytes = codec::Encode::encode(opaque);
        let xt = <UncheckedExtrinsic as codec::DecodeLimit>::decode_all_with_depth_limit(
            frame_support::MAX_EXTRINSIC_DEPTH,
            &mut &bytes[..],
        )
        .ok()?;
        match xt.function {
            RuntimeCall::Training(pallet_upow_training::Call::submit_trajectory { proof }) => {
                Some(proof)
            }
            _ => None,
        }
    })
}

/// Runtime migrations: the jobs pallet's records drop the training progress
/// they duplicated (storage version 0 → 1), then its catalogue lists the
/// house job's spec (1 → 2), then its records hold their initial weights
/// as drawn (2 → 3); each a no-op on chains built at its version.
type Migrations = (
    pallet_upow_jobs::migrations::MigrateV0ToV1<Runtime>,
    pallet_upow_jobs::migrations::MigrateV1ToV2<Runtime>,
    pallet_upow_jobs::migrations::MigrateV2ToV3<Runtime>,
);

/// Executive: dispatches blocks and transactions to the pallets.
pub type Executive = frame_executive::Executive<
    Runtime,
    Block,
    frame_system::ChainContext<Runtime>,
    Runtime,
    AllPalletsWithSystem,
    Migrations,
>;

#[frame_support::runtime]
mod runtime {
    /// The runtime.
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeSlashReason,
        RuntimeLockId,
        RuntimeTask,
        RuntimeViewFunction
    )]
    pub struct Runtime;

    /// Accounts, blocks, events.
    #[runtime::pallet_index(0)]
    pub type System = frame_system;

    /// Block timestamps.
    #[runtime::pallet_index(1)]
    pub type Timestamp = pallet_timestamp;

    /// Balances.
    #[runtime::pallet_index(2)]
    pub type Balances = pallet_balances;

    /// Transaction fees.
    #[runtime::pallet_index(3)]
    pub type TransactionPayment = pallet_transaction_payment;

    /// Governance origin.
    #[runtime::pallet_index(4)]
    pub type Sudo = pallet_sudo;

    /// GRANDPA finality.
    #[runtime::pallet_index(5)]
    pub type Grandpa = pallet_grandpa;

    /// The well-known nodes of the permissioned network (the node connects
    /// only to them, `NetworkAccessApi`).
    #[runtime::pallet_index(6)]
    pub type NodeAuthorization = pallet_node_authorization;

    /// Trajectory verification and difficulty.
    #[runtime::pallet_index(10)]
    pub type Training = pallet_upow_training;

    /// Job escrow and scheduling.
    #[runtime::pallet_index(11)]
    pub type Jobs = pallet_upow_jobs;

    /// Admission, bonds and slashing.
    #[runtime::pallet_index(12)]
    pub type Staking = pallet_upow_staking;

    /// Block rewards.
    #[runtime::pallet_index(13)]
    pub type Rewards = pallet_upow_rewards;
}
