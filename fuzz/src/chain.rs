//! The honest chain objects of one won trajectory, mined by `//Alice` on
//! [`PARENT`] of a chain with genesis [`GENESIS`]: the signed
//! `upow_submitWork` payload, the sealed header of block 1, and the
//! inherent extrinsic carrying the proof. The chain state the node would
//! read (the job open at the parent, its progress and difficulty) is the
//! fixture's: [`Chain::accept`] is the node's and runtime's acceptance of a
//! trajectory on it, and asserts that only the honest one is accepted.

use std::sync::LazyLock;

use sp_core::{sr25519, Bytes, Pair, H256};
use sp_runtime::{traits::Header as _, Digest, DigestItem, OpaqueExtrinsic};
use upow_primitives::{
    rpc::{ClaimJson, SubmitWork},
    Hash, Header, JobId, PowSeal, PreDigest, TrajectoryContext, TrajectoryProof, ENGINE_ID,
};
use upow_puzzle::{verify_trajectory, Liveness};

use crate::{outcome, stat, Fixture};

/// The chain's genesis hash.
pub const GENESIS: Hash = [0x6e; 32];
/// The block the trajectory was mined on.
pub const PARENT: Hash = [0x70; 32];
/// The job trained (open at [`PARENT`]).
pub const JOB: JobId = 3;

/// A won trajectory and what the miner and the node make of it.
pub struct Chain {
    /// The job and the honest trajectory (author: `//Alice`).
    pub fixture: Fixture,
    /// `//Alice`.
    pub alice: sr25519::Pair,
    /// The block's pre-runtime digest.
    pub digest: PreDigest,
    /// The miner's `upow_submitWork` payload, signed.
    pub submission: SubmitWork,
    /// Block 1, sealed by `//Alice`.
    pub header: Header,
    /// Its pre-seal hash (what the seal signs).
    pub pre_hash: Hash,
    /// The body's trajectory inherent, SCALE-encoded as in a block body.
    pub inherent: OpaqueExtrinsic,
}

/// The one honest chain every chain target checks against.
pub static CHAIN: LazyLock<Chain> = LazyLock::new(Chain::new);

impl Chain {
    fn new() -> Self {
        let alice = sr25519::Pair::from_string("//Alice", None).expect("a dev key");
        let fixture = Fixture::new(TrajectoryContext {
            parent: PARENT,
            author: alice.public().0,
            job: JOB,
            salt: 0,
        });
        let honest = &fixture.honest;
        let digest = PreDigest::new(honest.ctx.author, JOB, honest.ctx.salt, honest.claim);
        let submission = SubmitWork {
            parent: H256(PARENT),
            author: H256(*digest.author()),
            job: JOB,
            salt: digest.salt(),
            claim: ClaimJson {
                steps: honest.claim.steps,
                root: H256(honest.claim.root),
                final_weights: H256(honest.claim.final_weights),
            },
            proof: Bytes(codec::Encode::encode(&honest.proof)),
            signature: Bytes(
                alice
                    .sign(&digest.submission_message(&GENESIS, &PARENT))
                    .0
                    .to_vec(),
            ),
        };
        let mut header = Header::new(
            1,
            H256::repeat_byte(0x11),
            H256::repeat_byte(0x22),
            H256(PARENT),
            Digest {
                logs: vec![digest.to_digest_item()],
            },
        );
        let pre_hash = header.hash().0;
        let seal = PowSeal::V2 {
            signature: alice.sign(&PowSeal::message(&GENESIS, &pre_hash)).0,
        };
        header
            .digest_mut()
            .push(DigestItem::Seal(ENGINE_ID, codec::Encode::encode(&seal)));
        let call =
            upow_runtime::RuntimeCall::Training(pallet_upow_training::Call::submit_trajectory {
                proof: honest.proof.clone(),
            });
        let xt = upow_runtime::UncheckedExtrinsic::new_bare(call);
        let inherent = OpaqueExtrinsic::try_from_encoded_extrinsic(&codec::Encode::encode(&xt))
            .expect("an extrinsic is an opaque extrinsic");
        let chain = Chain {
            fixture,
            alice,
            digest,
            submission,
            header,
            pre_hash,
            inherent,
        };
        let honest = &chain.fixture.honest;
        assert!(chain.accept(&PARENT, &chain.digest, &honest.proof));
        assert_eq!(
            upow_runtime::trajectory_proof(std::slice::from_ref(&chain.inherent)).as_ref(),
            Some(&honest.proof)
        );
        chain
    }

    /// Whether a trajectory claimed by `digest` on `parent` with `proof`
    /// verifies against the chain state (only job [`JOB`] is open, at
    /// [`PARENT`]). Asserts soundness: what verifies is the honest
    /// trajectory in its honest context.
    pub fn accept(&self, parent: &Hash, digest: &PreDigest, proof: &TrajectoryProof) -> bool {
        if digest.job() != JOB || parent != &PARENT {
            return false;
        }
        let honest = &self.fixture.honest;
        let ctx = digest.context(*parent);
        let result = verify_trajectory(
            &self.fixture.job,
            Liveness::MINIMUM,
            &ctx,
            &honest.progress,
            honest.difficulty,
            digest.claim(),
            proof,
        );
        stat("trajectory", &outcome(&result));
        if result.is_ok() {
            assert_eq!(ctx, honest.ctx, "a trajectory verified in another context");
            assert_eq!(digest.claim(), &honest.claim, "a tampered claim verified");
            assert_eq!(proof, &honest.proof, "a tampered proof verified");
        }
        result.is_ok()
    }
}
