//! The stateless half of the seal rule (docs/protocol.md §2), as pure
//! functions over bytes: what a node checks of a sealed header before it
//! reads any chain state or looks at the body.
//!
//! 1. [`split_seal`]: the last digest item is the `pow_` seal, and at most
//!    one `pow_` pre-runtime item precedes it;
//! 2. [`check_signature`]: the pre-runtime digest and the seal decode
//!    (every byte used), and the seal is the digest's author's signature of
//!    [`PowSeal::message`]`(genesis, pre_hash)`;
//! 3. [`check_ticket`]: the claim is within the bounds of the job's
//!    difficulty and its ticket meets it.
//!
//! The node's import queue, its block author and `upow_submitBlock` call
//! these (`upow-node`'s `pow` module adds the stateful checks: the job is
//! open at the parent, its difficulty, the author's admission); the fuzz
//! target `seal` (fuzz/) runs them on arbitrary headers.

use alloc::vec::Vec;
use sp_core::hexdisplay::HexDisplay;
use sp_runtime::{traits::Header as HeaderT, DigestItem};

use crate::{
    AuthorId, Difficulty, DigestError, Hash, Header, JobId, PowSeal, PreDigest, ENGINE_ID,
};

/// Why a seal is rejected, before any runtime call is made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The last digest item is not a upow seal.
    #[error("the header is not sealed: its last digest item is not a upow seal")]
    Unsealed,
    /// The header carries no valid upow pre-runtime digest.
    #[error("bad pre-runtime digest: {0}")]
    Digest(DigestError),
    /// The seal bytes do not decode.
    #[error("malformed seal")]
    MalformedSeal,
    /// The seal is not the author's signature of the pre-seal hash on this chain.
    #[error("seal signature is not by author 0x{}", HexDisplay::from(.0))]
    BadSignature(AuthorId),
    /// The claimed job is not open at the parent.
    #[error("job {0} is not open")]
    JobNotOpen(JobId),
    /// The claim is outside its bounds (no steps, more than 4 · D).
    #[error("claim rejected: {0}")]
    Claim(upow_puzzle::Error),
    /// The ticket does not meet the difficulty.
    #[error("ticket does not meet difficulty {0}")]
    TicketAboveTarget(Difficulty),
}

/// A sealed header taken apart: what the seal signs and what it claims.
/// `H` is the header type (the chain's [`Header`], or a pallet's
/// `HeaderFor<T>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedHeader<H = Header> {
    /// The header without its seal; its hash is the `pre_hash` the seal
    /// signs.
    pub unsealed: H,
    /// The bytes of the one `pow_` pre-runtime item (`None`: there is none,
    /// which [`check_signature`] refuses).
    pub pre_digest: Option<Vec<u8>>,
    /// The seal's bytes.
    pub seal: Vec<u8>,
}

/// The shape rule of a sealed header: its last digest item is the `pow_`
/// seal, and it has at most one `pow_` pre-runtime item. The one place a
/// sealed header is taken apart: the node's import and the staking pallet's
/// equivocation reports call it.
pub fn split_seal<H: HeaderT>(header: &H) -> Result<SealedHeader<H>, SealError> {
    let mut unsealed = header.clone();
    let seal = match unsealed.digest_mut().pop() {
        Some(DigestItem::Seal(id, seal)) if id == ENGINE_ID => seal,
        _ => return Err(SealError::Unsealed),
    };
    let mut ours = unsealed
        .digest()
        .logs()
        .iter()
        .filter_map(|item| match item {
            DigestItem::PreRuntime(id, bytes) if *id == ENGINE_ID => Some(bytes),
            _ => None,
        });
    let pre_digest = ours.next().cloned();
    if ours.next().is_some() {
        return Err(SealError::Digest(DigestError::Multiple));
    }
    Ok(SealedHeader {
        unsealed,
        pre_digest,
        seal,
    })
}

/// The signature rule (then [`check_ticket`]; both cheap, run before the
/// body is looked at), which needs no chain state: the digest and the seal
/// decode, and the seal is the digest's author's signature of
/// `PowSeal::message(genesis, pre_hash)`.
pub fn check_signature(
    genesis: &Hash,
    pre_hash: &Hash,
    pre_digest: Option<&[u8]>,
    seal: &[u8],
) -> Result<PreDigest, SealError> {
    let digest = PreDigest::decode_all(pre_digest.ok_or(SealError::Digest(DigestError::Missing))?)
        .map_err(SealError::Digest)?;
    let seal = PowSeal::decode_all(seal).map_err(|_| SealError::MalformedSeal)?;
    if !seal.verify(genesis, pre_hash, digest.author()) {
        return Err(SealError::BadSignature(*digest.author()));
    }
    Ok(digest)
}

/// The ticket rule: the claim is within the bounds of the job's
/// `difficulty` (at least one step, at most 4 · D) and its ticket, in the
/// context of a block on `parent`, meets it.
pub fn check_ticket(
    parent: &Hash,
    digest: &PreDigest,
    difficulty: Difficulty,
) -> Result<(), SealError> {
    upow_puzzle::validate_claim_bounds(difficulty, digest.claim()).map_err(SealError::Claim)?;
    let ticket = digest.sealing_ticket(*parent).map_err(SealError::Claim)?;
    if !ticket.meets(difficulty) {
        return Err(SealError::TicketAboveTarget(difficulty));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use codec::Encode;
    use sp_core::{sr25519, Pair};
    use sp_runtime::Digest;

    use crate::TrajectoryClaim;

    const GENESIS: Hash = [0x6e; 32];

    fn digest(author: AuthorId, steps: u32) -> PreDigest {
        PreDigest::new(
            author,
            0,
            0,
            TrajectoryClaim {
                steps,
                root: [1; 32],
                final_weights: [2; 32],
            },
        )
    }

    fn sealed(pair: &sr25519::Pair, genesis: Hash, pre_hash: &Hash) -> Vec<u8> {
        PowSeal::V2 {
            signature: pair.sign(&PowSeal::message(&genesis, pre_hash)).0,
        }
        .encode()
    }

    #[test]
    fn valid_seal_passes_and_tampering_fails() {
        let pair = sr25519::Pair::from_string("//Alice", None).unwrap();
        let d = digest(pair.public().0, 3).encode();
        let pre_hash = [3; 32];
        let parent = [4; 32];
        let seal = sealed(&pair, GENESIS, &pre_hash);
        let check = |pre: &Hash, d: Option<&[u8]>, seal: &[u8], difficulty| {
            check_signature(&GENESIS, pre, d, seal)
                .and_then(|digest| check_ticket(&parent, &digest, difficulty).map(|()| digest))
        };
        assert!(check(&pre_hash, Some(&d), &seal, 1).is_ok());
        // Another message.
        let alice = pair.public().0;
        assert_eq!(
            check(&[5; 32], Some(&d), &seal, 1),
            Err(SealError::BadSignature(alice))
        );
        // Another signer.
        let bob = sr25519::Pair::from_string("//Bob", None).unwrap();
        assert_eq!(
            check(&pre_hash, Some(&d), &sealed(&bob, GENESIS, &pre_hash), 1),
            Err(SealError::BadSignature(alice))
        );
        // Signed for another chain.
        assert_eq!(
            check(&pre_hash, Some(&d), &sealed(&pair, [0; 32], &pre_hash), 1),
            Err(SealError::BadSignature(alice))
        );
        // Malformed inputs.
        assert_eq!(
            check(&pre_hash, Some(&d), &[1, 2], 1),
            Err(SealError::MalformedSeal)
        );
        assert_eq!(
            check(&pre_hash, None, &seal, 1),
            Err(SealError::Digest(DigestError::Missing))
        );
        assert_eq!(
            check(&pre_hash, Some(&[9, 9]), &seal, 1),
            Err(SealError::Digest(DigestError::Malformed))
        );
        // More steps than 4 · D: refused before the ticket is looked at.
        let long = digest(pair.public().0, 5).encode();
        assert_eq!(
            check(
                &pre_hash,
                Some(&long),
                &sealed(&pair, GENESIS, &pre_hash),
                1
            ),
            Err(SealError::Claim(upow_puzzle::Error::TooManySteps {
                steps: 5,
                max: 4
            }))
        );
        // Ticket far above target.
        assert_eq!(
            check(&pre_hash, Some(&d), &seal, u128::MAX),
            Err(SealError::TicketAboveTarget(u128::MAX))
        );
        assert!(SealError::BadSignature([0xab; 32])
            .to_string()
            .ends_with(&"ab".repeat(32)));
    }

    fn header(logs: Vec<DigestItem>) -> Header {
        Header::new(
            7,
            Default::default(),
            Default::default(),
            [9; 32].into(),
            Digest { logs },
        )
    }

    #[test]
    fn a_sealed_header_splits_into_what_the_seal_signs() {
        let pair = sr25519::Pair::from_string("//Alice", None).unwrap();
        let d = digest(pair.public().0, 3);
        let unsealed = header(vec![d.to_digest_item()]);
        let pre_hash = unsealed.hash();
        let seal = sealed(&pair, GENESIS, &pre_hash.0);
        let mut full = unsealed.clone();
        full.digest_mut()
            .push(DigestItem::Seal(ENGINE_ID, seal.clone()));
        let parts = split_seal(&full).unwrap();
        assert_eq!(parts.unsealed, unsealed);
        assert_eq!(parts.seal, seal);
        assert_eq!(
            check_signature(
                &GENESIS,
                &parts.unsealed.hash().0,
                parts.pre_digest.as_deref(),
                &parts.seal
            ),
            Ok(d.clone())
        );

        // Not sealed: no seal, another engine's seal, a seal not last.
        assert_eq!(split_seal(&unsealed), Err(SealError::Unsealed));
        let mut other = unsealed.clone();
        other
            .digest_mut()
            .push(DigestItem::Seal(*b"aura", seal.clone()));
        assert_eq!(split_seal(&other), Err(SealError::Unsealed));
        let mut not_last = full.clone();
        not_last.digest_mut().push(DigestItem::Other(vec![1]));
        assert_eq!(split_seal(&not_last), Err(SealError::Unsealed));
        // Two pre-runtime items.
        let mut twice = header(vec![d.to_digest_item(), d.to_digest_item()]);
        twice
            .digest_mut()
            .push(DigestItem::Seal(ENGINE_ID, seal.clone()));
        assert_eq!(
            split_seal(&twice),
            Err(SealError::Digest(DigestError::Multiple))
        );
        // None: the split succeeds, the signature rule refuses it.
        let mut bare = header(vec![]);
        bare.digest_mut().push(DigestItem::Seal(ENGINE_ID, seal));
        let parts = split_seal(&bare).unwrap();
        assert_eq!(parts.pre_digest, None);
        assert_eq!(
            check_signature(&GENESIS, &parts.unsealed.hash().0, None, &parts.seal),
            Err(SealError::Digest(DigestError::Missing))
        );
    }
}
