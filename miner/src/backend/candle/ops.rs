//! candle custom ops of the training step: every element-wise and reduction
//! rule of the puzzle, as candle ops on f32 tensors holding integers.
//!
//! The CPU side of each op calls the puzzle's scalar function
//! (`upow_puzzle::rounding`, `upow_puzzle::loss`), so the arithmetic lives in
//! one place; the CUDA side (feature `cuda`, `cuda.rs`) mirrors it in kernels
//! tested bit-for-bit against these.
//!
//! Data-dependent shifts and exponents travel as one-element f32 tensors on
//! the device, so a step never has to read a value back to the host.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape};
use upow_puzzle::{
    loss::softmax_row,
    prng::draw,
    rounding::{
        activation_shift, compute_weight, dynamic_shift, requantize_activation, round_error,
        update_shift, updated_weight,
    },
};

/// The contiguous f32 data of a CPU tensor.
fn f32_data<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("upow ops need contiguous tensors"),
    }
}

/// The single value of a one-element f32 tensor, as an integer.
fn scalar(storage: &CpuStorage, layout: &Layout) -> Result<i64> {
    match f32_data(storage, layout)? {
        [v] => Ok(*v as i64),
        other => bail!(
            "expected a one-element tensor, got {} elements",
            other.len()
        ),
    }
}

fn one(value: i64) -> (CpuStorage, Shape) {
    (CpuStorage::F32(vec![value as f32]), Shape::from_dims(&[1]))
}

/// `z ↦ [activation_shift(Σ relu z, len)]`.
pub struct ActivationShift;

impl CustomOp1 for ActivationShift {
    fn name(&self) -> &'static str {
        "upow-activation-shift"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let z = f32_data(s, l)?;
        let sum: u64 = z.iter().map(|&v| (v as i64).max(0) as u64).sum();
        Ok(one(activation_shift(sum, z.len()) as i64))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::activation_shift(s, l)
    }
}

/// `(z, [s]) ↦ min(RHU(relu z, s), 127)`.
pub struct Requantize;

impl CustomOp2 for Requantize {
    fn name(&self) -> &'static str {
        "upow-requantize"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let shift = scalar(s2, l2)? as u32;
        let out = f32_data(s1, l1)?
            .iter()
            .map(|&v| requantize_activation(v as i64, shift) as f32)
            .collect();
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::requantize(s1, l1, s2, l2)
    }
}

/// Master weights `M ↦` compute weights `clamp(RHU(M, 8), ±127)`.
pub struct ComputeWeights;

impl CustomOp1 for ComputeWeights {
    fn name(&self) -> &'static str {
        "upow-compute-weights"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = f32_data(s, l)?
            .iter()
            .map(|&m| compute_weight(m as i64) as f32)
            .collect();
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::compute_weights(s, l)
    }
}

/// `x ↦ [dyn(max |x|)]`.
pub struct MaxAbsShift;

impl CustomOp1 for MaxAbsShift {
    fn name(&self) -> &'static str {
        "upow-max-abs-shift"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let max = f32_data(s, l)?
            .iter()
            .map(|&v| (v as i64).unsigned_abs())
            .max()
            .unwrap_or(0);
        Ok(one(dynamic_shift(max) as i64))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s: &candle_core::CudaStorage,
        l: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::max_abs_shift(s, l)
    }
}

/// `(x, [s]) ↦ clamp(SR(x, s), ±127)` with the bits of stream `key`.
pub struct StochasticRound {
    /// PRNG key of this tensor's rounding.
    pub key: u64,
}

impl CustomOp2 for StochasticRound {
    fn name(&self) -> &'static str {
        "upow-stochastic-round"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let shift = scalar(s2, l2)? as u32;
        let out = f32_data(s1, l1)?
            .iter()
            .enumerate()
            .map(|(i, &v)| round_error(v as i64, shift, draw(self.key, i as u64)) as f32)
            .collect();
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::stochastic_round(self.key, s1, l1, s2, l2)
    }
}

/// `(M, G, [e_G]) ↦ clamp(M − SR(G, update_shift(lr, e_W, e_G)), ±MASTER_MAX)`
/// on master weights `M`.
pub struct WeightUpdate {
    /// PRNG key of this layer's update.
    pub key: u64,
    /// Learning-rate shift of the step.
    pub lr_shift: u32,
    /// The layer's fixed weight exponent.
    pub weight_exp: i32,
}

impl CustomOp3 for WeightUpdate {
    fn name(&self) -> &'static str {
        "upow-weight-update"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (w, g) = (f32_data(s1, l1)?, f32_data(s2, l2)?);
        if w.len() != g.len() {
            bail!(
                "weights and gradient differ in size: {} vs {}",
                w.len(),
                g.len()
            );
        }
        let shift = update_shift(self.lr_shift, self.weight_exp, scalar(s3, l3)? as i32);
        let out = w
            .iter()
            .zip(g)
            .enumerate()
            .map(|(i, (&w, &g))| {
                updated_weight(w as i64, g as i64, shift, draw(self.key, i as u64)) as f32
            })
            .collect();
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::weight_update(
            self.key,
            self.lr_shift,
            self.weight_exp,
            s1,
            l1,
            s2,
            l2,
            s3,
            l3,
        )
    }
}

/// `(logits, labels, [e]) ↦ softmax cross-entropy gradient` (exponent −12),
/// or, with `loss = true`, `[Σ row losses]` (sixteenths of a bit).
pub struct SoftmaxCrossEntropy {
    /// Output the summed loss instead of the gradient.
    pub loss: bool,
}

impl CustomOp3 for SoftmaxCrossEntropy {
    fn name(&self) -> &'static str {
        if self.loss {
            "upow-softmax-loss"
        } else {
            "upow-softmax-gradient"
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, classes) = l1.shape().dims2()?;
        let (logits, labels) = (f32_data(s1, l1)?, f32_data(s2, l2)?);
        if labels.len() != rows {
            bail!("{} labels for {rows} rows", labels.len());
        }
        let exp = scalar(s3, l3)? as i32;
        let mut z = vec![0i32; classes];
        let mut g = vec![0i32; classes];
        let mut grad = Vec::with_capacity(if self.loss { 0 } else { rows * classes });
        let mut total = 0u64;
        for (row, &label) in logits.chunks_exact(classes).zip(labels) {
            for (zi, &v) in z.iter_mut().zip(row) {
                *zi = v as i32;
            }
            let label = label as usize;
            if self.loss {
                total += softmax_row(&z, exp, label, None);
            } else {
                softmax_row(&z, exp, label, Some(&mut g));
                grad.extend(g.iter().map(|&v| v as f32));
            }
        }
        if self.loss {
            Ok((CpuStorage::I64(vec![total as i64]), Shape::from_dims(&[1])))
        } else {
            Ok((CpuStorage::F32(grad), l1.shape().clone()))
        }
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        super::cuda::softmax_cross_entropy(self.loss, s1, l1, s2, l2, s3, l3)
    }
}
