//! A job's weights as a safetensors file that other tools load (numpy,
//! PyTorch, candle), and back.
//!
//! Per weight layer `l` (a `d_l × d_{l+1}` matrix, row-major, `y = x · W`):
//!
//! * `layer{l}.weight`: the int8 compute weights (`I8`), the values every
//!   forward pass multiplies (docs/puzzle.md §2);
//! * `layer{l}.exponent`: their power-of-two exponent (`I32`, shape `[1]`):
//!   the real weight is `weight · 2^exponent`;
//! * `layer{l}.master`: the int16 master weights (`I16`), which training
//!   updates; `master · 2^(exponent − 8)` is the same real weight before
//!   rounding, and `weight = clamp(round_half_up(master / 2^8), ±127)`.
//!
//! The header's metadata names the job, the block, the chain's spec
//! version, the model (`dims`), the batch (the evaluation chunk) and the
//! weights hash (`weights_hash`, the chain's `H(W)`, checked on load).

use std::collections::HashMap;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use upow_puzzle::{
    model::{MAX_BATCH_LOG2, MIN_JOB_BATCH_LOG2},
    rounding::MASTER_BITS,
    Model, Weights,
};

/// The `format` of the metadata header.
pub const FORMAT: &str = "upow-mlp/v1";

/// A model file problem.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// Not a safetensors file, or a tensor of the wrong type or shape.
    #[error("not a upow model file: {0}")]
    Format(String),
    /// The weights do not hash to the header's `weights_hash`.
    #[error("the weights hash to 0x{got}, the header says 0x{header}: the file is corrupt")]
    Hash {
        /// The header's hash.
        header: String,
        /// What the weights hash to.
        got: String,
    },
}

/// Where a model file's weights come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The job.
    pub job: u64,
    /// The block number the weights are at.
    pub block: u32,
    /// That block's hash, `0x…`.
    pub block_hash: String,
    /// The runtime's spec version at that block.
    pub spec_version: u32,
    /// The job's batch (the chunk of its evaluation, docs/puzzle.md §10).
    pub batch: usize,
    /// The job's steps at that block.
    pub steps: u64,
}

/// A loaded model file.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The model.
    pub model: Model,
    /// Its weights (hash checked against the header).
    pub weights: Weights,
    /// Where they come from.
    pub provenance: Provenance,
}

fn layer_bytes<T: Copy>(values: &[T], to_le: impl Fn(T) -> Vec<u8>) -> Vec<u8> {
    values.iter().flat_map(|&v| to_le(v)).collect()
}

/// The safetensors bytes of `weights`.
pub fn to_safetensors(
    model: &Model,
    weights: &Weights,
    provenance: &Provenance,
) -> Result<Vec<u8>, ModelFileError> {
    let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for l in 0..model.layers() {
        let (rows, cols) = model.shape(l);
        let compute = layer_bytes(&weights.compute_layer(l), |v| vec![v as i8 as u8]);
        let master = layer_bytes(weights.layer(l), |v| v.to_le_bytes().to_vec());
        let exponent = model.weight_exp(l).to_le_bytes().to_vec();
        buffers.push((
            format!("layer{l}.weight"),
            Dtype::I8,
            vec![rows, cols],
            compute,
        ));
        buffers.push((
            format!("layer{l}.master"),
            Dtype::I16,
            vec![rows, cols],
            master,
        ));
        buffers.push((format!("layer{l}.exponent"), Dtype::I32, vec![1], exponent));
    }
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(*dtype, shape.clone(), data)
                .map(|view| (name.as_str(), view))
                .map_err(|e| ModelFileError::Format(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dims = model
        .dims()
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("job".to_string(), provenance.job.to_string()),
        ("block".to_string(), provenance.block.to_string()),
        ("block_hash".to_string(), provenance.block_hash.clone()),
        (
            "spec_version".to_string(),
            provenance.spec_version.to_string(),
        ),
        ("dims".to_string(), dims),
        ("batch".to_string(), provenance.batch.to_string()),
        ("steps".to_string(), provenance.steps.to_string()),
        (
            "weights_hash".to_string(),
            format!("0x{}", hex::encode(weights.hash())),
        ),
        ("master_bits".to_string(), MASTER_BITS.to_string()),
    ]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| ModelFileError::Format(e.to_string()))
}

/// `batch` if it is a job's batch: a power of two from
/// 2^[`MIN_JOB_BATCH_LOG2`] to 2^[`MAX_BATCH_LOG2`] (evaluation runs in
/// chunks of it).
fn job_batch(batch: u64) -> Option<usize> {
    let allowed = (1u64 << MIN_JOB_BATCH_LOG2)..=(1u64 << MAX_BATCH_LOG2);
    (batch.is_power_of_two() && allowed.contains(&batch)).then_some(batch as usize)
}

/// Loads a model file written by [`to_safetensors`]: the model from
/// `dims`, the weights from the master tensors, checked against
/// `weights_hash` and against the compute tensors.
pub fn from_safetensors(bytes: &[u8]) -> Result<ModelFile, ModelFileError> {
    let format = |m: String| ModelFileError::Format(m);
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| format(e.to_string()))?;
    let meta = header
        .metadata()
        .clone()
        .ok_or_else(|| format("no metadata header".into()))?;
    let field = |key: &str| {
        meta.get(key)
            .cloned()
            .ok_or_else(|| format(format!("the header has no `{key}`")))
    };
    let number = |key: &str| -> Result<u64, ModelFileError> {
        field(key)?
            .parse()
            .map_err(|_| format(format!("the header's `{key}` is not a number")))
    };
    if field("format")? != FORMAT {
        return Err(format(format!("`format` is not {FORMAT}")));
    }
    let dims = field("dims")?
        .split(',')
        .map(|d| d.parse::<u32>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format("`dims` is not a list of numbers".into()))?;
    let model = Model::new(&dims).map_err(|e| format(format!("`dims`: {e}")))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
    let mut layers = Vec::with_capacity(model.layers());
    for l in 0..model.layers() {
        let (rows, cols) = model.shape(l);
        let tensor = |name: String, dtype: Dtype, shape: &[usize]| {
            let view = tensors
                .tensor(&name)
                .map_err(|e| format(format!("`{name}`: {e}")))?;
            if view.dtype() != dtype || view.shape() != shape {
                return Err(format(format!(
                    "`{name}` is {:?} {:?}, expected {dtype:?} {shape:?}",
                    view.dtype(),
                    view.shape()
                )));
            }
            Ok(view)
        };
        let master: Vec<i16> = tensor(format!("layer{l}.master"), Dtype::I16, &[rows, cols])?
            .data()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        let compute = tensor(format!("layer{l}.weight"), Dtype::I8, &[rows, cols])?;
        let exponent = tensor(format!("layer{l}.exponent"), Dtype::I32, &[1])?;
        if exponent.data() != model.weight_exp(l).to_le_bytes() {
            return Err(format(format!("`layer{l}.exponent` is not the model's")));
        }
        layers.push((master, compute.data().to_vec()));
    }
    let weights = Weights::from_layers(&model, layers.iter().map(|(m, _)| m.clone()).collect())
        .map_err(|e| format(format!("master weights: {e}")))?;
    for (l, (_, compute)) in layers.iter().enumerate() {
        let derived: Vec<u8> = weights
            .compute_layer(l)
            .iter()
            .map(|&v| v as i8 as u8)
            .collect();
        if &derived != compute {
            return Err(format(format!(
                "`layer{l}.weight` is not the rounding of `layer{l}.master`"
            )));
        }
    }
    let header_hash = field("weights_hash")?;
    let got = hex::encode(weights.hash());
    if header_hash.trim_start_matches("0x") != got {
        return Err(ModelFileError::Hash {
            header: header_hash.trim_start_matches("0x").to_string(),
            got,
        });
    }
    let provenance = Provenance {
        job: number("job")?,
        block: u32::try_from(number("block")?).map_err(|_| format("`block` overflows".into()))?,
        block_hash: field("block_hash")?,
        spec_version: u32::try_from(number("spec_version")?)
            .map_err(|_| format("`spec_version` overflows".into()))?,
        batch: job_batch(number("batch")?).ok_or_else(|| {
            format("`batch` is not a job's batch (a power of two, 16..=1024)".into())
        })?,
        steps: number("steps")?,
    };
    Ok(ModelFile {
        model,
        weights,
        provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance {
            job: 3,
            block: 42,
            block_hash: format!("0x{}", "ab".repeat(32)),
            spec_version: 7,
            batch: 64,
            steps: 1234,
        }
    }

    #[test]
    fn a_model_file_round_trips_with_its_provenance() {
        let model = Model::new(&[12, 8, 3]).unwrap();
        let weights = Weights::initial(&model, &[9; 32]);
        let bytes = to_safetensors(&model, &weights, &provenance()).unwrap();
        let loaded = from_safetensors(&bytes).unwrap();
        assert_eq!(loaded.model, model);
        assert_eq!(loaded.weights.hash(), weights.hash());
        assert_eq!(loaded.provenance, provenance());
        // Other readers see int8 compute weights with their exponent.
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let w = tensors.tensor("layer1.weight").unwrap();
        assert_eq!((w.dtype(), w.shape()), (Dtype::I8, &[8usize, 3][..]));
        let compute: Vec<i8> = w.data().iter().map(|&b| b as i8).collect();
        let expected: Vec<i8> = weights.compute_layer(1).iter().map(|&v| v as i8).collect();
        assert_eq!(compute, expected);
    }

    #[test]
    fn a_tampered_file_is_refused() {
        let model = Model::new(&[12, 8, 3]).unwrap();
        let weights = Weights::initial(&model, &[9; 32]);
        let bytes = to_safetensors(&model, &weights, &provenance()).unwrap();
        // Flip the last byte (the end of the last tensor's data).
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(from_safetensors(&flipped).is_err());
        assert!(matches!(
            from_safetensors(&bytes[..bytes.len() / 2]),
            Err(ModelFileError::Format(_))
        ));
        assert!(matches!(
            from_safetensors(b"not a model"),
            Err(ModelFileError::Format(_))
        ));
    }

    /// Rewrites a file with `edit` applied to its tensors and metadata.
    fn rewrite(
        bytes: &[u8],
        edit: impl Fn(&str, &mut Vec<u8>),
        edit_meta: impl Fn(&mut HashMap<String, String>),
    ) -> Vec<u8> {
        let tensors = SafeTensors::deserialize(bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let mut meta = header.metadata().clone().unwrap();
        edit_meta(&mut meta);
        let owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let mut data = view.data().to_vec();
                edit(&name, &mut data);
                (name, view.dtype(), view.shape().to_vec(), data)
            })
            .collect();
        let views: Vec<(&str, TensorView<'_>)> = owned
            .iter()
            .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize(views, Some(meta)).unwrap()
    }

    #[test]
    fn consistent_tampering_is_caught_by_the_hash_and_bad_headers_by_their_checks() {
        let model = Model::new(&[12, 8, 3]).unwrap();
        let weights = Weights::initial(&model, &[9; 32]);
        let bytes = to_safetensors(&model, &weights, &provenance()).unwrap();
        // A master moved by 256 with its compute weight moved to match:
        // internally consistent, but not the chain's weights.
        let master = weights.layer(0)[0];
        let moved = if master < 0 {
            master + 256
        } else {
            master - 256
        };
        let tampered = rewrite(
            &bytes,
            |name, data| match name {
                "layer0.master" => data[..2].copy_from_slice(&moved.to_le_bytes()),
                "layer0.weight" => {
                    data[0] = upow_puzzle::rounding::compute_weight(moved as i64) as i8 as u8
                }
                _ => {}
            },
            |_| {},
        );
        assert!(matches!(
            from_safetensors(&tampered),
            Err(ModelFileError::Hash { .. })
        ));
        let exponent = rewrite(
            &bytes,
            |name, data| {
                if name == "layer1.exponent" {
                    data.copy_from_slice(&0i32.to_le_bytes());
                }
            },
            |_| {},
        );
        assert!(from_safetensors(&exponent).is_err());
        for batch in ["0", "24", "8", "2048", "1152921504606846976"] {
            let bad = rewrite(
                &bytes,
                |_, _| {},
                |m| {
                    m.insert("batch".into(), batch.into());
                },
            );
            assert!(from_safetensors(&bad).is_err(), "batch {batch}");
        }
        let unchanged = rewrite(&bytes, |_, _| {}, |_| {});
        assert!(from_safetensors(&unchanged).is_ok());
    }
}
