//! Datasets: the canonical sample encoding and the Merkle commitment.
//!
//! A sample is encoded as `label ‖ inputs` (one byte each); the dataset is
//! committed to by the Merkle root over its encoded samples in order, plus the
//! sample count and shape ([`DatasetCommitment`]).

use alloc::vec::Vec;

use crate::{
    error::{Error, Result},
    hash::Hash,
    merkle::{leaf_hash, MerkleProof, MerkleTree},
    model::{Model, MAX_WIDTH},
};

/// What a job names as its dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct DatasetCommitment {
    /// Merkle root over the encoded samples.
    pub root: Hash,
    /// Number of samples (≥ 1).
    pub samples: u64,
    /// Input bytes per sample.
    pub inputs: u32,
}

impl DatasetCommitment {
    /// Bytes of one encoded sample (label + inputs).
    pub fn sample_len(&self) -> usize {
        1 + self.inputs as usize
    }

    /// Bytes of the whole encoded dataset, `samples · (1 + inputs)`: what
    /// a node stores for it (docs/datasets.md §5 prices them). Exact in
    /// `u128` (at most `2^64 · 2^32`).
    pub fn stored_bytes(&self) -> u128 {
        u128::from(self.samples) * (1 + u128::from(self.inputs))
    }

    /// Checks the dataset fits the model's input width.
    pub fn check_model(&self, model: &Model) -> Result<()> {
        if self.inputs as usize != model.inputs() {
            return Err(Error::DatasetShape {
                dataset: self.inputs,
                model: model.inputs() as u32,
            });
        }
        if self.samples == 0 {
            return Err(Error::LeafIndex {
                index: 0,
                leaves: 0,
            });
        }
        Ok(())
    }
}

/// One encoded sample with its Merkle proof; its index comes from the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct SampleOpening {
    /// `label ‖ inputs`.
    pub sample: Vec<u8>,
    /// Proof against the dataset root at the selected index.
    pub proof: MerkleProof,
}

/// A dataset held in memory: encoded samples and their tree.
#[derive(Clone, Debug)]
pub struct Dataset {
    inputs: u32,
    /// Encoded samples, concatenated (`sample_len` bytes each).
    bytes: Vec<u8>,
    tree: MerkleTree,
}

impl Dataset {
    /// Builds a dataset from labels and row-major inputs (`inputs` bytes per
    /// sample, at least one).
    pub fn new(inputs: u32, labels: &[u8], pixels: &[u8]) -> Result<Self> {
        check_inputs(inputs)?;
        let n = labels.len();
        let width = inputs as usize;
        if n == 0 || pixels.len() != n * width {
            return Err(Error::SampleLength {
                got: pixels.len(),
                expected: n * width,
            });
        }
        let mut bytes = Vec::with_capacity(n * (width + 1));
        for (label, row) in labels.iter().zip(pixels.chunks_exact(width)) {
            bytes.push(*label);
            bytes.extend_from_slice(row);
        }
        Self::from_encoded(inputs, bytes)
    }

    /// Builds a dataset from concatenated encoded samples (`inputs ≥ 1`).
    pub fn from_encoded(inputs: u32, bytes: Vec<u8>) -> Result<Self> {
        check_inputs(inputs)?;
        let len = 1 + inputs as usize;
        if bytes.is_empty() || !bytes.len().is_multiple_of(len) {
            return Err(Error::SampleLength {
                got: bytes.len() % len,
                expected: len,
            });
        }
        let leaves = bytes.chunks_exact(len).map(leaf_hash).collect();
        let tree = MerkleTree::from_leaf_hashes(leaves)?;
        Ok(Self {
            inputs,
            bytes,
            tree,
        })
    }

    /// The commitment a job names.
    pub fn commitment(&self) -> DatasetCommitment {
        DatasetCommitment {
            root: self.tree.root(),
            samples: self.len() as u64,
            inputs: self.inputs,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.sample_len()
    }

    /// Whether the dataset is empty (never true for a built dataset).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes per encoded sample.
    pub fn sample_len(&self) -> usize {
        1 + self.inputs as usize
    }

    /// Encoded sample `index`.
    pub fn sample(&self, index: usize) -> Option<&[u8]> {
        let len = self.sample_len();
        self.bytes.get(index * len..(index + 1) * len)
    }

    /// All encoded samples, concatenated.
    pub fn encoded(&self) -> &[u8] {
        &self.bytes
    }

    /// Sample `index` with its proof.
    pub fn open(&self, index: u64) -> Result<SampleOpening> {
        let proof = self.tree.proof(index)?;
        let sample = self
            .sample(index as usize)
            .ok_or(Error::LeafIndex {
                index,
                leaves: self.len() as u64,
            })?
            .to_vec();
        Ok(SampleOpening { sample, proof })
    }

    /// A sub-dataset of the samples `range` (a new commitment).
    pub fn slice(&self, range: core::ops::Range<usize>) -> Result<Self> {
        let len = self.sample_len();
        let bytes = self
            .bytes
            .get(range.start * len..range.end * len)
            .ok_or(Error::LeafIndex {
                index: range.end as u64,
                leaves: self.len() as u64,
            })?;
        Self::from_encoded(self.inputs, bytes.to_vec())
    }
}

/// A dataset without inputs fits no model (every width is at least 1).
fn check_inputs(inputs: u32) -> Result<()> {
    if inputs == 0 {
        return Err(Error::Width {
            index: 0,
            width: 0,
            max: MAX_WIDTH,
        });
    }
    Ok(())
}

/// Checks one opening: its length, its proof at `index`, then its label.
/// The proof comes before the label, so [`Error::Label`] means that the
/// dataset really holds a sample outside the model's classes at `index`
/// (what a fraud proof of such a step shows, docs/puzzle.md §13).
pub fn verify_sample(
    dataset: &DatasetCommitment,
    classes: usize,
    index: u64,
    opening: &SampleOpening,
) -> Result<()> {
    let expected = dataset.sample_len();
    if opening.sample.len() != expected {
        return Err(Error::SampleLength {
            got: opening.sample.len(),
            expected,
        });
    }
    opening.proof.verify(
        "dataset",
        &dataset.root,
        leaf_hash(&opening.sample),
        index,
        dataset.samples,
    )?;
    check_label(opening.sample[0], classes)
}

/// The rule for every label (docs/puzzle.md §1): it must be one of the
/// model's `classes`, `label < classes` ([`Error::Label`] otherwise). A
/// batch's samples, a dataset opening and a listed workload's label range
/// (its largest label) are all checked by it.
pub fn check_label(label: u8, classes: usize) -> Result<()> {
    if label as usize >= classes {
        return Err(Error::Label {
            label,
            classes: classes as u32,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings_verify_and_tampering_is_caught() {
        let labels = [0u8, 1, 2, 1, 0];
        let pixels: Vec<u8> = (0..15).collect();
        let ds = Dataset::new(3, &labels, &pixels).unwrap();
        let c = ds.commitment();
        assert_eq!(c.samples, 5);
        for i in 0..5 {
            let o = ds.open(i).unwrap();
            verify_sample(&c, 3, i, &o).unwrap();
        }
        let mut o = ds.open(2).unwrap();
        o.sample[2] ^= 1;
        assert!(matches!(
            verify_sample(&c, 3, 2, &o),
            Err(Error::ProofMismatch { .. })
        ));
        let o = ds.open(2).unwrap();
        assert!(matches!(
            verify_sample(&c, 3, 3, &o),
            Err(Error::ProofMismatch { .. })
        ));
        assert!(matches!(
            verify_sample(&c, 2, 2, &o),
            Err(Error::Label { label: 2, .. })
        ));
        let mut short = o.clone();
        short.sample.pop();
        assert!(matches!(
            verify_sample(&c, 3, 2, &short),
            Err(Error::SampleLength { .. })
        ));
    }

    #[test]
    fn malformed_datasets_are_rejected() {
        assert!(Dataset::new(3, &[], &[]).is_err());
        assert!(Dataset::new(3, &[1, 2], &[0; 5]).is_err());
        assert!(Dataset::from_encoded(3, alloc::vec![0; 7]).is_err());
        // No inputs: found by fuzzing (`chunks_exact(0)` panicked).
        assert!(matches!(
            Dataset::new(0, &[1, 2], &[]),
            Err(Error::Width { width: 0, .. })
        ));
        assert!(Dataset::from_encoded(0, alloc::vec![0; 2]).is_err());
    }
}
