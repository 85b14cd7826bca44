//! The float32 yardstick: the same MLP (no biases, ReLU), trained with
//! candle's autograd from the same initial weights, with the same batch size,
//! step count and learning-rate schedule as the integer run.

use candle_core::{DType, Device, Tensor, Var, D};
use upow_puzzle::{
    prng::{below, derive_key, draw, Purpose},
    Dataset, Hyperparams, Model, Weights,
};

use crate::{backend::candle::candle_error, error::Result};

/// Accuracy and loss of the float model on the test set.
#[derive(Clone, Copy, Debug)]
pub struct FloatReport {
    /// Test accuracy in [0, 1].
    pub accuracy: f64,
    /// Mean test cross-entropy (nats).
    pub loss: f64,
    /// Wall-clock seconds of the training steps.
    pub seconds: f64,
}

/// The inputs of a dataset as f32 values `(pixel >> 1) / 128`, the labels as u32.
pub(crate) fn tensors(set: &Dataset, device: &Device) -> candle_core::Result<(Tensor, Tensor)> {
    let n = set.len();
    let width = set.sample_len() - 1;
    let mut x = Vec::with_capacity(n * width);
    let mut y = Vec::with_capacity(n);
    for sample in set.encoded().chunks_exact(set.sample_len()) {
        y.push(sample[0] as u32);
        x.extend(sample[1..].iter().map(|&p| (p >> 1) as f32 / 128.0));
    }
    Ok((
        Tensor::from_vec(x, (n, width), device)?,
        Tensor::from_vec(y, n, device)?,
    ))
}

/// Mean cross-entropy of logits against labels.
pub(crate) fn cross_entropy(logits: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?;
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let log_probs = shifted.broadcast_sub(&log_sum)?;
    let picked = log_probs.gather(&labels.unsqueeze(1)?, 1)?;
    picked.neg()?.mean_all()
}

/// The float32 MLP (no biases, ReLU between layers) with trainable weights.
pub(crate) struct FloatMlp {
    weights: Vec<Var>,
}

impl FloatMlp {
    /// The integer weights' compute copy, scaled by the layers' exponents.
    pub(crate) fn from_weights(
        model: &Model,
        initial: &Weights,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let weights = (0..model.layers())
            .map(|l| {
                let scale = (model.weight_exp(l) as f64).exp2() as f32;
                let values: Vec<f32> = initial
                    .compute_layer(l)
                    .iter()
                    .map(|&w| w as f32 * scale)
                    .collect();
                Var::from_tensor(&Tensor::from_vec(values, model.shape(l), device)?)
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Self { weights })
    }

    /// The logits of a batch of inputs.
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut a = x.clone();
        for (l, w) in self.weights.iter().enumerate() {
            a = a.matmul(w.as_tensor())?;
            if l + 1 < self.weights.len() {
                a = a.relu()?;
            }
        }
        Ok(a)
    }

    /// One SGD step on the mean cross-entropy of the batch `(x, y)` with
    /// learning rate `lr`: forward, backward by autograd, update.
    pub(crate) fn sgd_step(&self, x: &Tensor, y: &Tensor, lr: f64) -> candle_core::Result<()> {
        let loss = cross_entropy(&self.forward(x)?, y)?;
        let grads = loss.backward()?;
        for w in &self.weights {
            if let Some(g) = grads.get(w.as_tensor()) {
                w.set(&(w.as_tensor() - (g * lr)?)?)?;
            }
        }
        Ok(())
    }
}

/// The dataset indices of float step `t`: `below(draw(key, t·batch + b), samples)`
/// for `b < batch`, `key = derive_key(seed, Batch, 0)` (with replacement).
pub(crate) fn float_batch_indices(key: u64, t: u64, batch: usize, samples: usize) -> Vec<u32> {
    (0..batch as u64)
        .map(|b| below(draw(key, t * batch as u64 + b), samples as u64) as u32)
        .collect()
}

fn run(
    model: &Model,
    hyper: &Hyperparams,
    initial: &Weights,
    seed: &[u8; 32],
    train: &Dataset,
    test: &Dataset,
    device: &Device,
) -> candle_core::Result<FloatReport> {
    let mlp = FloatMlp::from_weights(model, initial, device)?;
    let (train_x, train_y) = tensors(train, device)?;
    let key = derive_key(seed, Purpose::Batch, 0);
    let batch = hyper.batch();
    let started = std::time::Instant::now();
    for t in 0..hyper.total_steps() {
        let indices = float_batch_indices(key, t, batch, train.len());
        let indices = Tensor::from_vec(indices, batch, device)?;
        let x = train_x.index_select(&indices, 0)?;
        let y = train_y.index_select(&indices, 0)?;
        mlp.sgd_step(&x, &y, (-(hyper.lr_shift_at(t) as f64)).exp2())?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (test_x, test_y) = tensors(test, device)?;
    let logits = mlp.forward(&test_x)?;
    let loss = cross_entropy(&logits, &test_y)?.to_scalar::<f32>()? as f64;
    let predicted = logits.argmax(D::Minus1)?.to_dtype(DType::U32)?;
    let correct = predicted
        .eq(&test_y)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok(FloatReport {
        accuracy: correct as f64 / test.len() as f64,
        loss,
        seconds,
    })
}

/// Trains the float32 model from the integer run's initial weights (scaled
/// by their exponents) and evaluates it on `test`. Batches are drawn with
/// replacement from a PRNG stream of `seed`, like the integer run's.
pub fn train_float(
    model: &Model,
    hyper: &Hyperparams,
    initial: &Weights,
    seed: &[u8; 32],
    train: &Dataset,
    test: &Dataset,
    device: &Device,
) -> Result<FloatReport> {
    run(model, hyper, initial, seed, train, test, device).map_err(candle_error("float32"))
}
