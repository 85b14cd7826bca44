//! What a job is to the puzzle: its spec ([`JobSpec`]: the model, the
//! hyper-parameters, the dataset), the admission rule a spec must pass
//! ([`JobSpec::validate`], docs/puzzle.md §1), the unchecked form a client
//! writes ([`UncheckedJobSpec`]), and where the chain stands on a job
//! ([`JobProgress`]).

use alloc::vec::Vec;

use crate::{
    cost,
    dataset::DatasetCommitment,
    error::{Error, Result},
    hash::Hash,
    model::{Hyperparams, Model, MAX_BATCH_LOG2, MAX_PARAMS, MIN_JOB_BATCH_LOG2},
};

/// What the puzzle needs to know of a job.
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
pub struct JobSpec {
    /// Model family and sizes.
    pub model: Model,
    /// Batch, learning rate, planned steps.
    pub hyper: Hyperparams,
    /// The training set.
    pub dataset: DatasetCommitment,
}

impl JobSpec {
    /// A job spec that passes [`JobSpec::validate`].
    pub fn new(model: Model, hyper: Hyperparams, dataset: DatasetCommitment) -> Result<Self> {
        let spec = Self {
            model,
            hyper,
            dataset,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Multiply-accumulates of one step of the job: [`cost::step_macs`]
    /// of its model at its batch (docs/puzzle.md §6).
    pub fn step_macs(&self) -> u64 {
        cost::step_macs(&self.model, self.hyper.batch())
    }

    /// [`Self::step_macs`] in cost units ([`cost::nominal_cost`]): a count,
    /// not the measured cost a workload is listed at.
    pub fn nominal_cost(&self) -> u32 {
        cost::nominal_cost(&self.model, self.hyper.batch())
    }

    /// The key of this spec in the chain's catalogue of workloads:
    /// `BLAKE2b-256(SCALE(spec))` (docs/v3.md §2.1), with no domain tag so
    /// that it is the runtime's `blake2_256` of the encoding (a storage key,
    /// never hashed into anything else). The pallet indexes listed specs by
    /// it and clients look them up with it.
    #[cfg(feature = "scale")]
    pub fn listing_key(&self) -> crate::Hash {
        crate::hash::hash_parts(b"", &[&codec::Encode::encode(self)])
    }

    /// The puzzle's admission rule for jobs (the model and hyper-parameters
    /// are within the step's limits by construction): the dataset fits the
    /// model and is not empty, and the batch has at least
    /// 2^[`MIN_JOB_BATCH_LOG2`] samples, so that the degeneracy rule is
    /// meaningful and the products, not the per-step hashing, dominate a
    /// step's cost.
    pub fn validate(&self) -> Result<()> {
        self.dataset.check_model(&self.model)?;
        if self.hyper.batch_log2() < MIN_JOB_BATCH_LOG2 {
            return Err(Error::Batch {
                log2: self.hyper.batch_log2(),
                max: 1 << MAX_BATCH_LOG2,
            });
        }
        Ok(())
    }
}

/// A [`JobSpec`] as a client writes it, before the puzzle's limits are
/// checked: the same fields and the same SCALE encoding (`dims ‖ batch_log2
/// ‖ lr_shift ‖ total_steps ‖ dataset`), so that any bytes decode and a spec
/// outside the limits is refused by [`JobSpec::try_from`] with the error
/// that names the field, not by the decoder. Calls take this form.
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
pub struct UncheckedJobSpec {
    /// Model family and sizes.
    pub model: UncheckedModel,
    /// Batch, learning rate, planned steps.
    pub hyper: UncheckedHyperparams,
    /// The training set.
    pub dataset: DatasetCommitment,
}

/// A [`Model`] before its limits are checked.
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
pub struct UncheckedModel {
    /// `[inputs, hidden…, classes]`.
    pub dims: Vec<u32>,
}

/// [`Hyperparams`] before their limits are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "scale",
    derive(
        codec::Encode,
        codec::Decode,
        codec::DecodeWithMemTracking,
        scale_info::TypeInfo
    )
)]
pub struct UncheckedHyperparams {
    /// log2 of the batch size.
    pub batch_log2: u8,
    /// Base learning-rate shift (the rate is `2^-lr_shift`).
    pub lr_shift: u8,
    /// Planned steps (they set the learning-rate schedule).
    pub total_steps: u64,
}

impl UncheckedModel {
    /// The parameter count the dimensions would have, at most
    /// [`MAX_PARAMS`] + 1 (for a call's upfront weight, before
    /// the limits are checked).
    pub fn params_bound(&self) -> u64 {
        let params = self
            .dims
            .windows(2)
            .map(|w| (w[0] as u64).saturating_mul(w[1] as u64))
            .fold(0u64, u64::saturating_add);
        params.min(MAX_PARAMS + 1)
    }
}

impl TryFrom<UncheckedJobSpec> for JobSpec {
    type Error = Error;

    /// The puzzle's limits on the model ([`Model::new`]), the
    /// hyper-parameters ([`Hyperparams::new`]) and the job
    /// ([`JobSpec::validate`]), in that order.
    fn try_from(spec: UncheckedJobSpec) -> Result<Self> {
        let model = Model::new(&spec.model.dims)?;
        let hyper = Hyperparams::new(
            spec.hyper.batch_log2.into(),
            spec.hyper.lr_shift.into(),
            spec.hyper.total_steps,
        )?;
        JobSpec::new(model, hyper, spec.dataset)
    }
}

impl From<JobSpec> for UncheckedJobSpec {
    fn from(spec: JobSpec) -> Self {
        Self {
            model: UncheckedModel {
                dims: spec.model.dims().to_vec(),
            },
            hyper: UncheckedHyperparams {
                // Within u8 by the limits (≤ 10 and ≤ 16).
                batch_log2: spec.hyper.batch_log2() as u8,
                lr_shift: spec.hyper.lr_shift() as u8,
                total_steps: spec.hyper.total_steps(),
            },
            dataset: spec.dataset,
        }
    }
}

/// Where the chain stands on a job when a block extends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobProgress {
    /// `H(W_tip)`: the trajectory must start here.
    pub weights: Hash,
    /// Steps already applied to the job (the first step's global number).
    pub steps: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unchecked(dims: &[u32], batch_log2: u8, lr_shift: u8, total_steps: u64) -> UncheckedJobSpec {
        UncheckedJobSpec {
            model: UncheckedModel {
                dims: dims.to_vec(),
            },
            hyper: UncheckedHyperparams {
                batch_log2,
                lr_shift,
                total_steps,
            },
            dataset: DatasetCommitment {
                root: [3; 32],
                samples: 100,
                inputs: dims.first().copied().unwrap_or(0),
            },
        }
    }

    #[test]
    fn an_unchecked_spec_is_checked_field_by_field() {
        let good = unchecked(&[784, 128, 10], 6, 2, 1_000);
        let spec = JobSpec::try_from(good.clone()).unwrap();
        assert_eq!(UncheckedJobSpec::from(spec), good);
        let err = |s: UncheckedJobSpec| JobSpec::try_from(s).unwrap_err();
        assert!(matches!(
            err(unchecked(&[784], 6, 2, 1)),
            Error::LayerCount { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 2000, 10], 6, 2, 1)),
            Error::Width { index: 1, .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 1], 6, 2, 1)),
            Error::Classes(1)
        ));
        assert!(matches!(
            err(unchecked(&[1024, 1024, 10], 6, 2, 1)),
            Error::Params { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 11, 2, 1)),
            Error::Batch { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 3, 2, 1)),
            Error::Batch { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 6, 17, 1)),
            Error::LrShift { .. }
        ));
        assert!(matches!(
            err(unchecked(&[784, 10], 6, 2, 0)),
            Error::ZeroSteps
        ));
        let mut shape = unchecked(&[784, 10], 6, 2, 1);
        shape.dataset.inputs = 785;
        assert!(matches!(err(shape), Error::DatasetShape { .. }));
        assert_eq!(
            unchecked(&[u32::MAX; 5], 6, 2, 1).model.params_bound(),
            (1 << 20) + 1
        );
        assert_eq!(good.model.params_bound(), 784 * 128 + 1280);
    }

    #[cfg(feature = "scale")]
    #[test]
    fn an_unchecked_spec_encodes_as_the_spec() {
        use codec::{Decode, Encode};
        let good = unchecked(&[784, 128, 10], 6, 2, 1_000);
        let spec = JobSpec::try_from(good.clone()).unwrap();
        assert_eq!(good.encode(), spec.encode());
        assert_eq!(JobSpec::decode(&mut &good.encode()[..]).unwrap(), spec);
        // Bytes the checked spec refuses to decode still decode unchecked.
        let wide = unchecked(&[784, 2000, 10], 6, 2, 1);
        assert!(JobSpec::decode(&mut &wide.encode()[..]).is_err());
        assert_eq!(
            UncheckedJobSpec::decode(&mut &wide.encode()[..]).unwrap(),
            wide
        );
    }

    #[test]
    fn the_reference_job_costs_the_reference_macs() {
        let dataset = DatasetCommitment {
            root: [0; 32],
            samples: 60_000,
            inputs: 784,
        };
        let spec = |dims: &[u32], batch_log2| {
            JobSpec::new(
                Model::new(dims).unwrap(),
                Hyperparams::new(batch_log2, 2, 100).unwrap(),
                DatasetCommitment {
                    inputs: dims[0],
                    ..dataset
                },
            )
            .unwrap()
        };
        assert_eq!(
            spec(&[784, 128, 10], 6).step_macs(),
            crate::pow::REFERENCE_STEP_MACS
        );
        // 1 layer: forward and gradient only.
        assert_eq!(spec(&[784, 10], 4).step_macs(), 16 * 2 * 7840);
        assert_eq!(
            spec(&[784, 256, 128, 10], 6).step_macs(),
            64 * (3 * (784 * 256 + 256 * 128 + 1280) - 784 * 256)
        );
    }
}
