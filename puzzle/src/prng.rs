//! The counter-based PRNG: SplitMix64 indexed by (key, element index).
//!
//! `draw(key, i)` is a pure function, so any backend (CPU loop, GPU thread,
//! wasm) computes the random bits of element `i` without sequential state.
//! Keys are derived from a step seed and a [`Purpose`] (and layer), so that
//! each use of randomness in a step has its own independent stream.

use crate::hash::{le_u64, tag, Hash, Hasher};

/// The SplitMix64 increment (the golden-ratio constant).
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Steele, Lea, Flood 2014).
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `index`-th 64-bit draw of the stream `key`:
/// `mix64(key + (index + 1) · GAMMA)` (wrapping).
#[inline(always)]
pub fn draw(key: u64, index: u64) -> u64 {
    mix64(key.wrapping_add(index.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// A uniform integer in `0..bound` from one draw (Lemire's multiply-shift:
/// `(draw · bound) >> 64`). `bound` must be ≥ 1.
#[inline(always)]
pub fn below(draw: u64, bound: u64) -> u64 {
    ((draw as u128 * bound as u128) >> 64) as u64
}

/// What a PRNG stream is used for; each purpose (and layer) gets its own key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// Batch sample indices.
    Batch = 1,
    /// Stochastic rounding of the output-layer error.
    OutputError = 2,
    /// Stochastic rounding of a hidden layer's back-propagated error.
    HiddenError = 3,
    /// Stochastic rounding of a layer's weight update.
    Update = 4,
    /// Initial weights of a job.
    Init = 5,
}

/// `le_u64(BLAKE2b-256("upow/key/v1" ‖ seed ‖ purpose ‖ layer))`.
pub fn derive_key(seed: &Hash, purpose: Purpose, layer: u8) -> u64 {
    let mut hasher = Hasher::new(tag::KEY);
    hasher.update(seed).update(&[purpose as u8, layer]);
    le_u64(&hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_sequence() {
        // The sequence of the reference SplitMix64 generator seeded with 0 is
        // draw(0, 0), draw(0, 1), ... (state advanced before mixing).
        assert_eq!(draw(0, 0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(draw(0, 1), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(draw(0, 2), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn below_is_in_range() {
        for i in 0..1000 {
            assert!(below(draw(7, i), 13) < 13);
        }
        assert_eq!(below(u64::MAX, 10), 9);
        assert_eq!(below(0, 10), 0);
    }

    #[test]
    fn keys_differ_by_purpose_and_layer() {
        let seed = [3u8; 32];
        let a = derive_key(&seed, Purpose::Update, 0);
        assert_ne!(a, derive_key(&seed, Purpose::Update, 1));
        assert_ne!(a, derive_key(&seed, Purpose::HiddenError, 0));
    }
}
