//! The block header's upow items: the author's claim in the pre-runtime
//! digest ([`PreDigest`]) and the author's signature in the seal
//! ([`PowSeal`]), both versioned, and why a header's digest cannot be read
//! ([`DigestError`]). docs/protocol.md §2 specifies their bytes.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;
use sp_runtime::{ConsensusEngineId, Digest, DigestItem};

use crate::{AuthorId, Hash, JobId, TrajectoryClaim, TrajectoryContext, ENGINE_ID};

/// What a block's author claims, in the pre-runtime digest (engine
/// [`ENGINE_ID`]).
///
/// Encoded (SCALE) as the author's 32-byte key, then the versioned claim —
/// `author ‖ 0x02 ‖ u64le(job) ‖ u32le(salt) ‖ u32le(steps) ‖ root ‖
/// final_weights` for version 2 (113 bytes). The author comes first because
/// that is where the ecosystem's tools read the author of a `pow_` digest
/// (Polkadot.js's `api.derive.chain.getHeader().author` takes its first 32
/// bytes). Exactly one per header; trailing bytes are invalid.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct PreDigest {
    /// The author (sr25519 public key); signs the seal, gets the rewards.
    pub author: AuthorId,
    /// The versioned claim.
    pub claim: VersionedClaim,
}

/// The claim of a [`PreDigest`], by protocol version.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum VersionedClaim {
    /// Version 2 (docs/puzzle.md v2): seeds from the running root, a salt.
    #[codec(index = 2)]
    V2 {
        /// The job trained.
        job: JobId,
        /// The trajectory's salt (docs/puzzle.md §6).
        salt: u32,
        /// The trajectory claim; its ticket is the proof-of-work.
        claim: TrajectoryClaim,
    },
}

impl PreDigest {
    /// The digest of a version-2 claim.
    pub fn new(author: AuthorId, job: JobId, salt: u32, claim: TrajectoryClaim) -> Self {
        Self {
            author,
            claim: VersionedClaim::V2 { job, salt, claim },
        }
    }

    /// The digest of a trajectory won in `context` (its author, job and
    /// salt) with `claim`: what a win becomes, in one place.
    pub fn of_trajectory(context: &TrajectoryContext, claim: TrajectoryClaim) -> Self {
        Self::new(context.author, context.job, context.salt, claim)
    }

    /// The author.
    pub fn author(&self) -> &AuthorId {
        &self.author
    }

    /// The job.
    pub fn job(&self) -> JobId {
        match self.claim {
            VersionedClaim::V2 { job, .. } => job,
        }
    }

    /// The trajectory's salt.
    pub fn salt(&self) -> u32 {
        match self.claim {
            VersionedClaim::V2 { salt, .. } => salt,
        }
    }

    /// The trajectory claim.
    pub fn claim(&self) -> &TrajectoryClaim {
        match &self.claim {
            VersionedClaim::V2 { claim, .. } => claim,
        }
    }

    /// The puzzle context of a block on `parent`.
    pub fn context(&self, parent: Hash) -> TrajectoryContext {
        TrajectoryContext {
            parent,
            author: self.author,
            job: self.job(),
            salt: self.salt(),
        }
    }

    /// The ticket that seals a block on `parent` with this digest: its
    /// claim's final ticket (what the seal rule checks against the
    /// difficulty, and what draws the initial weights of the jobs posted in
    /// the parent, docs/v3.md §2.1).
    pub fn sealing_ticket(&self, parent: Hash) -> Result<upow_puzzle::Ticket, upow_puzzle::Error> {
        self.claim().ticket(&self.context(parent))
    }

    /// Domain tag of a work submission's signature.
    pub const SUBMISSION_TAG: &'static [u8] = b"upow/submit/v1";

    /// What the author signs to submit this claim to a node
    /// (`upow_submitWork`): `"upow/submit/v1" ‖ genesis ‖ parent ‖
    /// SCALE(digest)`. The node checks it (and the author's admission)
    /// before it spends a verification on the trajectory, so only admitted
    /// authors can make it work. The tag differs from the seal's, so a
    /// submission signature is never a seal.
    pub fn submission_message(&self, genesis: &Hash, parent: &Hash) -> Vec<u8> {
        [Self::SUBMISSION_TAG, genesis, parent, &self.encode()].concat()
    }

    /// The submission rule: `signature` is the author's sr25519 signature
    /// of [`PreDigest::submission_message`].
    pub fn verify_submission(&self, genesis: &Hash, parent: &Hash, signature: &[u8; 64]) -> bool {
        sp_io::crypto::sr25519_verify(
            &sp_core::sr25519::Signature::from_raw(*signature),
            &self.submission_message(genesis, parent),
            &sp_core::sr25519::Public::from_raw(self.author),
        )
    }

    /// As a digest item.
    pub fn to_digest_item(&self) -> DigestItem {
        DigestItem::PreRuntime(ENGINE_ID, self.encode())
    }

    /// Finds and decodes the (single) upow pre-runtime digest of a header.
    pub fn find(digest: &Digest) -> Result<Self, DigestError> {
        Self::find_in(digest.logs().iter().filter_map(|item| match item {
            DigestItem::PreRuntime(id, bytes) => Some((*id, bytes.as_slice())),
            _ => None,
        }))
    }

    /// The rule "exactly one upow pre-runtime digest, fully decoded", over
    /// a header's pre-runtime items `(engine, bytes)` (the shape
    /// `FindAuthor` gets them in). None, two or a malformed one are errors.
    pub fn find_in<'a>(
        pre_runtime: impl IntoIterator<Item = (ConsensusEngineId, &'a [u8])>,
    ) -> Result<Self, DigestError> {
        let mut ours = pre_runtime.into_iter().filter(|(id, _)| *id == ENGINE_ID);
        let (_, bytes) = ours.next().ok_or(DigestError::Missing)?;
        if ours.next().is_some() {
            return Err(DigestError::Multiple);
        }
        Self::decode_all(bytes)
    }

    /// Decodes digest bytes, requiring every byte to be used.
    pub fn decode_all(mut bytes: &[u8]) -> Result<Self, DigestError> {
        let value = Self::decode(&mut bytes).map_err(|_| DigestError::Malformed)?;
        if !bytes.is_empty() {
            return Err(DigestError::Malformed);
        }
        Ok(value)
    }
}

/// The seal: the author's signature of the block, bound to the chain.
/// Versioned like [`VersionedClaim`].
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub enum PowSeal {
    /// Version 2: an sr25519 signature of [`PowSeal::message`].
    #[codec(index = 2)]
    V2 {
        /// sr25519 signature of `"upow/seal/v2" ‖ genesis ‖ pre_hash`.
        signature: [u8; 64],
    },
}

impl PowSeal {
    /// Domain tag of the signed message.
    pub const TAG: &'static [u8] = b"upow/seal/v2";

    /// What the author signs: `"upow/seal/v2" ‖ genesis hash ‖ pre-seal
    /// header hash`. The genesis hash binds the signature to one chain, so a
    /// header signed on another chain (a dev chain run with a production
    /// key) can never count as an equivocation here.
    pub fn message(genesis: &Hash, pre_hash: &Hash) -> Vec<u8> {
        [Self::TAG, genesis, pre_hash].concat()
    }

    /// Decodes seal bytes, requiring every byte to be used.
    pub fn decode_all(mut bytes: &[u8]) -> Result<Self, DigestError> {
        let value = Self::decode(&mut bytes).map_err(|_| DigestError::Malformed)?;
        if !bytes.is_empty() {
            return Err(DigestError::Malformed);
        }
        Ok(value)
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8; 64] {
        match self {
            Self::V2 { signature } => signature,
        }
    }

    /// The seal rule: the signature is `author`'s sr25519 signature of
    /// [`PowSeal::message`]`(genesis, pre_hash)`. The one check of a seal's
    /// signature: the node's import, its block author and the staking
    /// pallet's equivocation reports all call it.
    pub fn verify(&self, genesis: &Hash, pre_hash: &Hash, author: &AuthorId) -> bool {
        sp_io::crypto::sr25519_verify(
            &sp_core::sr25519::Signature::from_raw(*self.signature()),
            &Self::message(genesis, pre_hash),
            &sp_core::sr25519::Public::from_raw(*author),
        )
    }
}

/// Why a header's upow digest could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DigestError {
    /// No upow pre-runtime digest.
    Missing,
    /// More than one upow pre-runtime digest.
    Multiple,
    /// The digest does not decode (or has trailing bytes).
    Malformed,
}

impl core::fmt::Display for DigestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Missing => "the header has no upow pre-runtime digest",
            Self::Multiple => "the header has more than one upow pre-runtime digest",
            Self::Malformed => "the upow digest does not decode",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_core::Pair;

    fn digest() -> PreDigest {
        PreDigest::new(
            [1; 32],
            7,
            9,
            TrajectoryClaim {
                steps: 3,
                root: [2; 32],
                final_weights: [3; 32],
            },
        )
    }

    #[test]
    fn pre_digest_starts_with_the_author_and_roundtrips() {
        let d = digest();
        let bytes = d.encode();
        assert_eq!(bytes.len(), 113);
        assert_eq!(&bytes[..32], &[1; 32], "the author is the first 32 bytes");
        assert_eq!(bytes[32], 2, "then the version");
        assert_eq!(&bytes[33..41], &7u64.to_le_bytes());
        assert_eq!(&bytes[41..45], &9u32.to_le_bytes());
        let header_digest = Digest {
            logs: alloc::vec![d.to_digest_item()],
        };
        assert_eq!(PreDigest::find(&header_digest), Ok(d.clone()));
        assert_eq!(d.context([4; 32]).salt, 9);
        let twice = Digest {
            logs: alloc::vec![d.to_digest_item(), d.to_digest_item()],
        };
        assert_eq!(PreDigest::find(&twice), Err(DigestError::Multiple));
        assert_eq!(
            PreDigest::find(&Digest::default()),
            Err(DigestError::Missing)
        );
        // Another engine's pre-runtime item does not count.
        let other = Digest {
            logs: alloc::vec![
                DigestItem::PreRuntime(*b"aura", d.encode()),
                d.to_digest_item()
            ],
        };
        assert_eq!(PreDigest::find(&other), Ok(d));
    }

    #[test]
    fn malformed_digests_and_seals_are_rejected() {
        let mut bytes = digest().encode();
        bytes.push(0);
        assert_eq!(PreDigest::decode_all(&bytes), Err(DigestError::Malformed));
        let mut v1 = digest().encode();
        v1[32] = 1;
        assert_eq!(PreDigest::decode_all(&v1), Err(DigestError::Malformed));
        assert_eq!(
            PreDigest::decode_all(&[9, 9, 9]),
            Err(DigestError::Malformed)
        );
        assert_eq!(PowSeal::decode_all(&[1, 2, 3]), Err(DigestError::Malformed));
        let seal = PowSeal::V2 { signature: [5; 64] };
        assert_eq!(PowSeal::decode_all(&seal.encode()), Ok(seal));
    }

    #[test]
    fn the_seal_binds_author_block_and_chain() {
        let alice = sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
        let bob = sp_core::sr25519::Pair::from_string("//Bob", None).unwrap();
        let (genesis, pre_hash) = ([1; 32], [2; 32]);
        let seal = PowSeal::V2 {
            signature: alice.sign(&PowSeal::message(&genesis, &pre_hash)).0,
        };
        assert!(seal.verify(&genesis, &pre_hash, &alice.public().0));
        assert!(!seal.verify(&genesis, &pre_hash, &bob.public().0));
        assert!(!seal.verify(&genesis, &[3; 32], &alice.public().0));
        // The same header signed on another chain is not a seal here.
        assert!(!seal.verify(&[9; 32], &pre_hash, &alice.public().0));
        // A bare signature of the pre-seal hash (v1) is not one either.
        let v1 = PowSeal::V2 {
            signature: alice.sign(&pre_hash).0,
        };
        assert!(!v1.verify(&genesis, &pre_hash, &alice.public().0));
    }

    #[test]
    fn a_submission_signature_binds_digest_parent_and_chain_and_is_no_seal() {
        let alice = sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
        let mut d = digest();
        d.author = alice.public().0;
        let (genesis, parent) = ([1; 32], [2; 32]);
        let signature = alice.sign(&d.submission_message(&genesis, &parent)).0;
        assert!(d.verify_submission(&genesis, &parent, &signature));
        assert!(!d.verify_submission(&[9; 32], &parent, &signature));
        assert!(!d.verify_submission(&genesis, &[3; 32], &signature));
        let other_salt = PreDigest::new(d.author, d.job(), d.salt() + 1, *d.claim());
        assert!(!other_salt.verify_submission(&genesis, &parent, &signature));
        let mut bob = d.clone();
        bob.author = sp_core::sr25519::Pair::from_string("//Bob", None)
            .unwrap()
            .public()
            .0;
        assert!(!bob.verify_submission(&genesis, &parent, &signature));
        // The signature is not a seal of any header with that hash.
        let seal = PowSeal::V2 { signature };
        assert!(!seal.verify(&genesis, &parent, &d.author));
    }
}
