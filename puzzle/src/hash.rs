//! BLAKE2b-256, the one hash function of the puzzle, with domain separation.
//!
//! Every hash the protocol defines is `BLAKE2b-256(tag ‖ parts…)` where `tag`
//! is a fixed ASCII string naming its purpose (see [`tag`]), so that no two
//! purposes can ever produce the same preimage.

use blake2::{digest::consts::U32, Blake2b, Digest};

/// A 32-byte BLAKE2b-256 digest.
pub type Hash = [u8; 32];

/// Domain-separation tags, one per purpose (`docs/puzzle.md` §Hashes).
pub mod tag {
    /// Weights hash: over the encoding's length and its chunk hashes.
    pub const WEIGHTS: &[u8] = b"upow/weights/v1";
    /// One 4096-byte chunk of a weights encoding.
    pub const WEIGHTS_CHUNK: &[u8] = b"upow/weights-chunk/v1";
    /// Pre-activations hash of a step: over the encoding's length and its
    /// chunk hashes.
    pub const PREACTIVATIONS: &[u8] = b"upow/preactivations/v1";
    /// One 4096-byte chunk of a pre-activations encoding.
    pub const PREACTIVATIONS_CHUNK: &[u8] = b"upow/preactivations-chunk/v1";
    /// Step seed derivation (v2: bound to the running trajectory root).
    pub const SEED: &[u8] = b"upow/seed/v2";
    /// Per-purpose PRNG key derivation from a seed.
    pub const KEY: &[u8] = b"upow/key/v1";
    /// Ticket of a step (v2: bound to the job and salt too).
    pub const TICKET: &[u8] = b"upow/ticket/v2";
    /// Challenge index derivation from the winning ticket.
    pub const CHALLENGE: &[u8] = b"upow/challenge/v2";
    /// Merkle leaf (prefix byte 0 follows the tag).
    pub const LEAF: &[u8] = b"upow/merkle/v1\x00";
    /// Merkle inner node (prefix byte 1 follows the tag).
    pub const NODE: &[u8] = b"upow/merkle/v1\x01";
}

/// Streaming BLAKE2b-256 hasher, for inputs built from several pieces.
#[derive(Clone)]
pub struct Hasher(Blake2b<U32>);

impl Hasher {
    /// Starts a hash of the given domain tag.
    pub fn new(tag: &[u8]) -> Self {
        let mut inner = Blake2b::<U32>::new();
        inner.update(tag);
        Self(inner)
    }

    /// Appends bytes.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    /// Finishes the hash.
    pub fn finish(self) -> Hash {
        self.0.finalize().into()
    }
}

/// `BLAKE2b-256(tag ‖ parts[0] ‖ parts[1] ‖ …)`.
pub fn hash_parts(tag: &[u8], parts: &[&[u8]]) -> Hash {
    let mut hasher = Hasher::new(tag);
    for part in parts {
        hasher.update(part);
    }
    hasher.finish()
}

/// Bytes per chunk of a two-level hash ([`chunked_hash`]).
pub const HASH_CHUNK: usize = 4096;

/// The two-level hash of a long encoding, so that a GPU hashes its chunks
/// in parallel: `c_j = BLAKE2b-256(chunk_tag ‖ chunk_j)` over 4096-byte
/// chunks (the last may be shorter), then `BLAKE2b-256(tag ‖ len:u64le ‖
/// c_0 ‖ c_1 ‖ …)`. The weights hash and the pre-activations hash are
/// this, each with its own pair of tags.
pub fn chunked_hash(tag: &[u8], chunk_tag: &[u8], bytes: &[u8]) -> Hash {
    let mut hasher = Hasher::new(tag);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    for chunk in bytes.chunks(HASH_CHUNK) {
        hasher.update(&hash_parts(chunk_tag, &[chunk]));
    }
    hasher.finish()
}

/// Reads the first eight bytes of a hash as a little-endian `u64`.
pub fn le_u64(hash: &Hash) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_parts() {
        let mut h = Hasher::new(tag::SEED);
        h.update(b"ab").update(b"c");
        assert_eq!(h.finish(), hash_parts(tag::SEED, &[b"a", b"bc"]));
    }

    #[test]
    fn tags_separate_domains() {
        assert_ne!(
            hash_parts(tag::SEED, &[b"x"]),
            hash_parts(tag::TICKET, &[b"x"])
        );
    }

    #[test]
    fn blake2b_256_known_answer() {
        // BLAKE2b-256("abc"), RFC 7693 parameters with a 32-byte digest.
        let digest = hash_parts(b"", &[b"abc"]);
        assert_eq!(
            hex::encode(digest),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
    }
}
