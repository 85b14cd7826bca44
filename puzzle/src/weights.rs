//! Weights: int16 master weights, their int8 compute copy, the canonical
//! encoding, hash and initialisation.
//!
//! The trajectory's state is the **master** weights `M` (int16, in
//! `[-MASTER_MAX, MASTER_MAX]`, exponent `e_W − 8`). Every product of the
//! step uses the **compute** weights `W = clamp(RHU(M, 8), ±127)` (int8,
//! exponent `e_W`), so the GEMM bounds of int8 hold; updates land in `M`,
//! 256 times finer than an int8 grid. (Pure int8 state loses 0.4 points of
//! Fashion-MNIST accuracy to stochastic-rounding noise: docs/benchmarks.md.)

use alloc::vec::Vec;

use crate::{
    error::{Error, Result},
    hash::{chunked_hash, tag, Hash},
    model::Model,
    prng::{below, derive_key, draw, Purpose},
    rounding::{compute_weight, MASTER_BITS, MASTER_MAX},
};

/// The master weights of a [`Model`]: one row-major `d_l × d_{l+1}` int16
/// matrix per layer, every value in `[-MASTER_MAX, MASTER_MAX]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Weights {
    layers: Vec<Vec<i16>>,
}

impl Weights {
    /// All-zero weights of a model.
    pub fn zeros(model: &Model) -> Self {
        let layers = (0..model.layers())
            .map(|l| {
                let (rows, cols) = model.shape(l);
                alloc::vec![0i16; rows * cols]
            })
            .collect();
        Self { layers }
    }

    /// The job's initial weights: compute value `i` of layer `l` is
    /// `below(draw(key, i), 2r + 1) − r` with `key = derive_key(init_seed,
    /// Init, l)` and `r = model.init_bound(l)`; the master value is that
    /// shifted left by 8.
    pub fn initial(model: &Model, init_seed: &Hash) -> Self {
        let mut weights = Self::zeros(model);
        for (l, layer) in weights.layers.iter_mut().enumerate() {
            let key = derive_key(init_seed, Purpose::Init, l as u8);
            let r = model.init_bound(l);
            for (i, w) in layer.iter_mut().enumerate() {
                let value = below(draw(key, i as u64), (2 * r + 1) as u64) as i32 - r;
                *w = (value << MASTER_BITS) as i16;
            }
        }
        weights
    }

    /// Builds weights from per-layer master matrices, checking shapes and range.
    pub fn from_layers(model: &Model, layers: Vec<Vec<i16>>) -> Result<Self> {
        let expected = model.params();
        let got: usize = layers.iter().map(Vec::len).sum();
        let shapes_ok = layers.len() == model.layers()
            && layers.iter().enumerate().all(|(l, m)| {
                let (r, c) = model.shape(l);
                m.len() == r * c
            });
        if !shapes_ok {
            return Err(Error::WeightsLength {
                got: 2 * got,
                expected: 2 * expected,
            });
        }
        let mut offset = 0;
        for layer in &layers {
            if let Some(pos) = layer
                .iter()
                .position(|&w| !(-MASTER_MAX..=MASTER_MAX).contains(&w))
            {
                return Err(Error::WeightValue {
                    offset: 2 * (offset + pos),
                });
            }
            offset += layer.len();
        }
        Ok(Self { layers })
    }

    /// Decodes the canonical encoding (see [`Weights::encode`]).
    pub fn decode(model: &Model, bytes: &[u8]) -> Result<Self> {
        let expected = 2 * model.params();
        if bytes.len() != expected {
            return Err(Error::WeightsLength {
                got: bytes.len(),
                expected,
            });
        }
        let mut values = bytes
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]));
        let mut layers = Vec::with_capacity(model.layers());
        for l in 0..model.layers() {
            let (rows, cols) = model.shape(l);
            layers.push(values.by_ref().take(rows * cols).collect());
        }
        Self::from_layers(model, layers)
    }

    /// The canonical encoding: the layers in order, each row-major, every
    /// master weight as two little-endian bytes (no header: the model gives
    /// the shape).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * self.layers.iter().map(Vec::len).sum::<usize>());
        for layer in &self.layers {
            for w in layer {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    /// The weights hash of the canonical encoding ([`hash_encoded`]).
    pub fn hash(&self) -> Hash {
        hash_encoded(&self.encode())
    }

    /// Master weights of layer `l`.
    pub fn layer(&self, l: usize) -> &[i16] {
        &self.layers[l]
    }

    /// Mutable master weights of layer `l` (values must stay in range).
    pub(crate) fn layer_mut(&mut self, l: usize) -> &mut [i16] {
        &mut self.layers[l]
    }

    /// The int8 compute weights of layer `l` (as `i16`).
    pub fn compute_layer(&self, l: usize) -> Vec<i16> {
        self.layers[l]
            .iter()
            .map(|&m| compute_weight(m as i64) as i16)
            .collect()
    }

    /// All master layers.
    pub fn layers(&self) -> &[Vec<i16>] {
        &self.layers
    }
}

pub use crate::hash::HASH_CHUNK;

/// The weights hash of an encoding: [`crate::hash::chunked_hash`] with the
/// tags `"upow/weights/v1"` and `"upow/weights-chunk/v1"`.
pub fn hash_encoded(bytes: &[u8]) -> Hash {
    chunked_hash(tag::WEIGHTS, tag::WEIGHTS_CHUNK, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::new(&[5, 3, 2]).unwrap()
    }

    #[test]
    fn encode_decode_roundtrip_and_hash() {
        let m = model();
        let w = Weights::initial(&m, &[1; 32]);
        let bytes = w.encode();
        assert_eq!(bytes.len(), 42);
        assert_eq!(Weights::decode(&m, &bytes).unwrap(), w);
        assert_eq!(w.hash(), hash_encoded(&bytes));
    }

    #[test]
    fn initial_weights_respect_bound() {
        let m = Model::new(&[784, 128, 10]).unwrap();
        let w = Weights::initial(&m, &[9; 32]);
        for l in 0..2 {
            let r = m.init_bound(l) as i16;
            let compute = w.compute_layer(l);
            assert!(compute.iter().all(|&x| (-r..=r).contains(&x)));
            assert!(compute.contains(&r) && compute.contains(&-r));
            assert!(w.layer(l).iter().zip(&compute).all(|(&m, &c)| m == c << 8));
        }
    }

    #[test]
    fn compute_weights_stay_int8() {
        let m = Model::new(&[2, 2]).unwrap();
        let w = Weights::from_layers(
            &m,
            alloc::vec![alloc::vec![MASTER_MAX, -MASTER_MAX, 128, -129]],
        )
        .unwrap();
        assert_eq!(w.compute_layer(0), [127, -127, 1, -1]);
    }

    #[test]
    fn decode_rejects_bad_input() {
        let m = model();
        assert_eq!(
            Weights::decode(&m, &[0; 41]),
            Err(Error::WeightsLength {
                got: 41,
                expected: 42
            })
        );
        let mut bytes = [0u8; 42];
        bytes[6..8].copy_from_slice(&(MASTER_MAX + 1).to_le_bytes());
        assert_eq!(
            Weights::decode(&m, &bytes),
            Err(Error::WeightValue { offset: 6 })
        );
        bytes[6..8].copy_from_slice(&i16::MIN.to_le_bytes());
        assert_eq!(
            Weights::decode(&m, &bytes),
            Err(Error::WeightValue { offset: 6 })
        );
        assert!(Weights::from_layers(&m, alloc::vec![alloc::vec![0; 15]]).is_err());
    }
}
