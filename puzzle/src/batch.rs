//! Batches: which samples a step's seed selects ([`batch_indices`]), how
//! they are gathered from a dataset in memory ([`select_batch`]) or checked
//! against the dataset's commitment ([`Batch::from_openings`]), and how many
//! bytes a batch with its dataset proofs takes in a proof
//! ([`batch_openings_len`]). docs/puzzle.md §6 defines the selection.

use alloc::vec::Vec;

use crate::{
    dataset::{check_label, verify_sample, Dataset, DatasetCommitment, SampleOpening},
    error::{Error, Result},
    job::JobSpec,
    model::Model,
    pow::Seed,
    prng::{below, derive_key, draw, Purpose},
};

/// A batch of samples: `rows × inputs` pixel bytes and one label per row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Row-major input bytes.
    pub inputs: Vec<u8>,
    /// Class of each row.
    pub labels: Vec<u8>,
}

impl Batch {
    /// Builds a batch from encoded samples (`label ‖ inputs` each).
    pub fn from_encoded<'a>(
        samples: impl IntoIterator<Item = &'a [u8]>,
        model: &Model,
    ) -> Result<Self> {
        let width = model.inputs();
        let mut batch = Batch {
            inputs: Vec::new(),
            labels: Vec::new(),
        };
        for sample in samples {
            if sample.len() != width + 1 {
                return Err(Error::SampleLength {
                    got: sample.len(),
                    expected: width + 1,
                });
            }
            check_label(sample[0], model.classes())?;
            batch.labels.push(sample[0]);
            batch.inputs.extend_from_slice(&sample[1..]);
        }
        Ok(batch)
    }

    /// Builds the batch from openings, checking each against the dataset at
    /// the index the seed selects.
    pub fn from_openings(
        model: &Model,
        dataset: &DatasetCommitment,
        indices: &[u64],
        openings: &[SampleOpening],
    ) -> Result<Self> {
        if openings.len() != indices.len() {
            return Err(Error::BatchSize {
                got: openings.len(),
                expected: indices.len(),
            });
        }
        for (&index, opening) in indices.iter().zip(openings) {
            verify_sample(dataset, model.classes(), index, opening)?;
        }
        Self::from_encoded(openings.iter().map(|o| o.sample.as_slice()), model)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }
}

/// The dataset indices of a step's batch: `below(draw(key, b), samples)` for
/// `b < batch`, `key = derive_key(seed, Batch, 0)` (with replacement).
pub fn batch_indices(seed: &Seed, batch: usize, samples: u64) -> Vec<u64> {
    let key = derive_key(&seed.0, Purpose::Batch, 0);
    (0..batch as u64)
        .map(|b| below(draw(key, b), samples))
        .collect()
}

/// The batch a seed selects from a dataset held in memory.
pub fn select_batch(job: &JobSpec, dataset: &Dataset, seed: &Seed) -> Result<Batch> {
    let indices = batch_indices(seed, job.hyper.batch(), dataset.len() as u64);
    let samples = indices.iter().map(|&i| {
        dataset.sample(i as usize).ok_or(Error::LeafIndex {
            index: i,
            leaves: dataset.len() as u64,
        })
    });
    let samples = samples.collect::<Result<Vec<_>>>()?;
    Batch::from_encoded(samples, &job.model)
}

/// Bytes of a SCALE compact length prefix, counted at its largest useful
/// size: what the encoded-length bounds (this module's and
/// [`crate::trajectory::max_proof_len`]) count for every `Vec`.
pub(crate) const COMPACT_PREFIX_LEN: u64 = 5;

/// An upper bound of the SCALE-encoded length of one step's batch of `spec`
/// with its dataset proofs (`Vec<SampleOpening>`): what every proven step
/// of a block and every replayed step of a fraud proof carries.
pub fn batch_openings_len(spec: &JobSpec) -> u64 {
    let samples = spec.dataset.samples.max(1);
    let dataset_siblings = u64::from(64 - (samples - 1).leading_zeros());
    let sample = COMPACT_PREFIX_LEN
        + 1
        + u64::from(spec.dataset.inputs)
        + COMPACT_PREFIX_LEN
        + 32 * dataset_siblings;
    COMPACT_PREFIX_LEN + spec.hyper.batch() as u64 * sample
}
