//! Helpers shared by the crate's unit tests.

use alloc::vec::Vec;

use crate::{
    dataset::DatasetCommitment,
    hash::Hash,
    job::JobSpec,
    merkle::leaf_hash,
    model::{Hyperparams, Model},
};

/// `n` distinct leaves: the leaf hashes of `0, 1, …, n − 1`.
pub fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&(i as u64).to_le_bytes()))
        .collect()
}

/// A job of model `dims` at batch `2^batch_log2` on a 60 000-sample
/// dataset (its root all zeros).
pub fn spec(dims: &[u32], batch_log2: u32) -> JobSpec {
    JobSpec::new(
        Model::new(dims).unwrap(),
        Hyperparams::new(batch_log2, 2, 1000).unwrap(),
        DatasetCommitment {
            root: [0; 32],
            samples: 60_000,
            inputs: dims[0],
        },
    )
    .unwrap()
}
