//! The candle backend: the training step as candle tensor programs, on the
//! CPU or (feature `cuda`) an NVIDIA GPU.
//!
//! Tensors are f32 holding integers. Matrix products use candle's f32 GEMM,
//! exact because the puzzle's limits keep every partial sum below 2^24
//! (`upow_puzzle::model`); reduced-precision (TF32) GEMM must stay off. All
//! rounding goes through the custom ops of [`ops`].

#[cfg(feature = "cuda")]
mod cuda;
pub mod ops;

use candle_core::{DType, Device, Tensor};
use upow_puzzle::{
    loss::PROB_BITS,
    model::INPUT_EXP,
    prng::{derive_key, Purpose},
    weights::hash_encoded,
    Batch, Hyperparams, Model, Seed, Weights,
};

use super::step::{StepBackend, StepReport};
use crate::error::{BackendError, Result};
use ops::{
    ActivationShift, ComputeWeights, MaxAbsShift, Requantize, SoftmaxCrossEntropy, StochasticRound,
    WeightUpdate,
};

#[cfg(feature = "cuda")]
pub use cuda::{cuda_device, kernel_ptx, KERNEL_NAMES};

/// Wraps a candle error as a [`BackendError::Failed`] of `backend` (the
/// backend's name: "cpu", "cuda", "float32").
pub(crate) fn candle_error(backend: &'static str) -> impl Fn(candle_core::Error) -> BackendError {
    move |e| BackendError::Failed {
        backend,
        message: describe_candle_error(&e),
    }
}

/// A candle error in words (CUDA conditions such as out-of-memory named
/// plainly when the CUDA backend is built in).
fn describe_candle_error(e: &candle_core::Error) -> String {
    #[cfg(feature = "cuda")]
    {
        cuda::describe_error(e)
    }
    #[cfg(not(feature = "cuda"))]
    {
        e.to_string()
    }
}

/// The training step on a candle device.
pub struct CandleBackend {
    device: Device,
    model: Model,
    hyper: Hyperparams,
    /// Master weights: one `d_l × d_{l+1}` f32 tensor per layer.
    weights: Vec<Tensor>,
}

impl CandleBackend {
    /// A backend on `device` starting from `weights`.
    pub fn new(
        device: Device,
        model: Model,
        hyper: Hyperparams,
        weights: &Weights,
    ) -> Result<Self> {
        let mut backend = Self {
            device,
            model,
            hyper,
            weights: Vec::new(),
        };
        backend.load(weights)?;
        Ok(backend)
    }

    fn backend_name(&self) -> &'static str {
        if self.device.is_cuda() {
            "cuda"
        } else {
            "cpu"
        }
    }

    /// A one-element f32 tensor holding `v`.
    fn scalar(&self, v: i32) -> candle_core::Result<Tensor> {
        Tensor::from_vec(vec![v as f32], 1, &self.device)
    }

    fn run(
        &mut self,
        batch: &Batch,
        seed: &Seed,
        global_step: u64,
    ) -> candle_core::Result<(Vec<Tensor>, u64)> {
        #[cfg(feature = "cuda")]
        if self.device.is_cuda() {
            cuda::check_exact_gemm()?;
        }
        let model = &self.model;
        let rows = self.hyper.batch();
        let layers = model.layers();
        let dev = &self.device;
        let inputs: Vec<f32> = batch.inputs.iter().map(|&p| (p >> 1) as f32).collect();
        let labels: Vec<f32> = batch.labels.iter().map(|&l| l as f32).collect();
        let labels = Tensor::from_vec(labels, rows, dev)?;

        // Forward, on the int8 compute copy of the master weights.
        let compute = self
            .weights
            .iter()
            .map(|m| m.apply_op1_no_bwd(&ComputeWeights))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mut a = Tensor::from_vec(inputs, (rows, model.inputs()), dev)?;
        let mut e_a = self.scalar(INPUT_EXP)?;
        let mut activations = Vec::with_capacity(layers);
        let mut activation_exps = Vec::with_capacity(layers);
        let mut preactivations = Vec::with_capacity(layers);
        for (l, w) in compute.iter().enumerate() {
            let z = a.matmul(w)?;
            let e_z = e_a.affine(1.0, model.weight_exp(l) as f64)?;
            activations.push(a);
            activation_exps.push(e_a);
            if l + 1 < layers {
                let s = z.apply_op1_no_bwd(&ActivationShift)?;
                a = z.apply_op2_no_bwd(&s, &Requantize)?;
                e_a = (e_z + s)?;
            } else {
                a = Tensor::zeros(0, DType::F32, dev)?;
                e_a = e_z;
            }
            preactivations.push(z);
        }
        let logits = &preactivations[layers - 1];
        let logit_exp = &e_a;

        // Output error.
        let grad =
            logits.apply_op3_no_bwd(&labels, logit_exp, &SoftmaxCrossEntropy { loss: false })?;
        let loss =
            logits.apply_op3_no_bwd(&labels, logit_exp, &SoftmaxCrossEntropy { loss: true })?;
        let s = grad.apply_op1_no_bwd(&MaxAbsShift)?;
        let key = derive_key(&seed.0, Purpose::OutputError, (layers - 1) as u8);
        let mut err = grad.apply_op2_no_bwd(&s, &StochasticRound { key })?;
        let grad_exp = -(PROB_BITS as i32) - self.hyper.batch_log2() as i32;
        let mut err_exp = s.affine(1.0, grad_exp as f64)?;

        // Backward and update, last layer first.
        let lr_shift = self.hyper.lr_shift_at(global_step);
        let mut next = self.weights.clone();
        for l in (0..layers).rev() {
            let g = activations[l].t()?.matmul(&err)?;
            let g_exp = (&activation_exps[l] + &err_exp)?;
            let propagated = if l > 0 {
                let mask = preactivations[l - 1].gt(0f32)?.to_dtype(DType::F32)?;
                let d = (err.matmul(&compute[l].t()?)? * mask)?;
                let s = d.apply_op1_no_bwd(&MaxAbsShift)?;
                let key = derive_key(&seed.0, Purpose::HiddenError, (l - 1) as u8);
                let rounded = d.apply_op2_no_bwd(&s, &StochasticRound { key })?;
                Some((
                    rounded,
                    (err_exp.affine(1.0, model.weight_exp(l) as f64)? + s)?,
                ))
            } else {
                None
            };
            let update = WeightUpdate {
                key: derive_key(&seed.0, Purpose::Update, l as u8),
                lr_shift,
                weight_exp: model.weight_exp(l),
            };
            next[l] = self.weights[l].apply_op3_no_bwd(&g.contiguous()?, &g_exp, &update)?;
            if let Some((e, ee)) = propagated {
                err = e;
                err_exp = ee;
            }
        }
        let loss = loss.to_vec1::<i64>()?[0] as u64;
        Ok((next, loss))
    }

    /// The current master weights in the canonical encoding (i16 LE); on a
    /// GPU, encoded there and copied back at 2 bytes per weight.
    fn encoded(&self) -> candle_core::Result<Vec<u8>> {
        #[cfg(feature = "cuda")]
        if self.device.is_cuda() {
            return cuda::encode(&self.weights);
        }
        let mut out = Vec::with_capacity(2 * self.model.params());
        for w in &self.weights {
            for v in w.flatten_all()?.to_vec1::<f32>()? {
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
        }
        Ok(out)
    }

    /// The weights hash of the current master weights; on a GPU, encoding
    /// and chunk hashes run there and only the chunk digests come back.
    fn weights_hash(&self) -> candle_core::Result<upow_puzzle::Hash> {
        #[cfg(feature = "cuda")]
        if self.device.is_cuda() {
            return cuda::weights_hash(&self.weights);
        }
        Ok(hash_encoded(&self.encoded()?))
    }
}

impl StepBackend for CandleBackend {
    type Error = BackendError;

    fn name(&self) -> String {
        match &self.device {
            Device::Cpu => "cpu".into(),
            Device::Cuda(_) => "cuda".into(),
            other => format!("{other:?}"),
        }
    }

    fn load(&mut self, weights: &Weights) -> Result<()> {
        let name = self.backend_name();
        self.weights = (0..self.model.layers())
            .map(|l| {
                let values: Vec<f32> = weights.layer(l).iter().map(|&w| w as f32).collect();
                Tensor::from_vec(values, self.model.shape(l), &self.device)
            })
            .collect::<candle_core::Result<_>>()
            .map_err(candle_error(name))?;
        Ok(())
    }

    fn step(&mut self, batch: &Batch, seed: &Seed, global_step: u64) -> Result<StepReport> {
        let name = self.backend_name();
        if batch.rows() != self.hyper.batch() {
            return Err(upow_puzzle::Error::BatchSize {
                got: batch.rows(),
                expected: self.hyper.batch(),
            }
            .into());
        }
        let (next, loss) = self
            .run(batch, seed, global_step)
            .map_err(candle_error(name))?;
        self.weights = next;
        let weights_hash = self.weights_hash().map_err(candle_error(name))?;
        // The step's statistics (docs/puzzle.md §9) stay on the device: the
        // mining loop checks a won trajectory's challenged steps instead.
        Ok(StepReport {
            weights_hash,
            loss,
            stats: None,
        })
    }

    fn weights(&self) -> Result<Weights> {
        let bytes = self.encoded().map_err(candle_error(self.backend_name()))?;
        Weights::decode(&self.model, &bytes).map_err(BackendError::from)
    }
}
