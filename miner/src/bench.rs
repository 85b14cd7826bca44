//! `upow-miner bench`: the speed of the training step on every backend, of
//! its verification, and of a float32 step of the same MLP, side by side.
//!
//! One run measures, for each shape (model and batch):
//!
//! * a float32 candle training step (matmul forward, ReLU, softmax
//!   cross-entropy, autograd backward, SGD update; [`crate::baseline`]'s
//!   code), the yardstick;
//! * the integer step on each selected backend (reference, candle CPU,
//!   candle CUDA), as the miner runs it: the batch the seed selects, the
//!   step, and the hash of the new weights (the next seed needs it);
//! * the reference verification of one proven step
//!   ([`upow_puzzle::verify_step`]): weights decode and hash, Merkle proofs,
//!   the batch's dataset proofs, re-execution, hash of the result.
//!
//! The machine may be noisy, so the ratios of one run (integer step time over
//! float32 step time) mean more than absolute speeds. Every measurement is
//! warmed up (a quarter of its budget, at most one second, at least one
//! call) and then repeated for a fixed wall time.
//!
//! The data are synthetic: uniformly random pixels and labels, which gives
//! the reference's zero-skipping products no help from empty pixels (real
//! images are slower to fake but faster to train on).

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use candle_core::{Device, Tensor};
use serde::Serialize;
use upow_puzzle::{
    batch_indices,
    prng::{below, derive_key, draw, Purpose},
    verify_step, verify_trajectory, Dataset, Error as PuzzleError, Hyperparams, JobProgress,
    JobSpec, Liveness, Model, TrainingStep, Trajectory, TrajectoryContext, Weights,
};

use crate::{
    backend::{self, candle::candle_error, BackendKind},
    baseline::{float_batch_indices, tensors, FloatMlp},
    error::{BackendError, Result},
    train::batch_for,
};

/// Base learning-rate shift of the benchmark's jobs (the miner's default).
const LR_SHIFT: u32 = 2;
/// Planned steps of the benchmark's jobs: long enough that the learning
/// rate never changes during a run.
const TOTAL_STEPS: u64 = 1 << 40;
/// Global step number of the benchmark's first step.
const FIRST_STEP: u64 = 0;
/// The liveness threshold the benchmark verifies at: its shapes are no
/// listed workload's, so the degeneracy rule's own.
const LIVENESS: Liveness = Liveness::MINIMUM;
/// Most samples the float32 step's input table holds (the step reads only a
/// batch of it, so a bigger table changes nothing but memory).
const FLOAT_SAMPLES: usize = 4096;

/// One shape to measure: a model and a batch size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchShape {
    /// The model.
    pub model: Model,
    /// log2 of the batch size.
    pub batch_log2: u32,
}

impl BenchShape {
    /// A shape, checked against the puzzle's limits.
    pub fn new(model: Model, batch_log2: u32) -> Result<Self> {
        Hyperparams::new(batch_log2, LR_SHIFT, TOTAL_STEPS)?;
        Ok(Self { model, batch_log2 })
    }

    /// The default shapes: 784-128-10, 784-256-128-10 and 1024-1000-10 (the
    /// largest), all at batch 64.
    pub fn defaults() -> Result<Vec<Self>> {
        Self::grid(&[], &[])
    }

    /// Every model of `models` at every batch of `batch_log2s`, model by
    /// model (in the given orders). No models: the default three
    /// (784-128-10, 784-256-128-10, 1024-1000-10); no batches: 64.
    pub fn grid(models: &[Model], batch_log2s: &[u32]) -> Result<Vec<Self>> {
        let defaults;
        let models = if models.is_empty() {
            defaults = [&[784, 128, 10][..], &[784, 256, 128, 10], &[1024, 1000, 10]]
                .into_iter()
                .map(Model::new)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            &defaults[..]
        } else {
            models
        };
        let batch_log2s = if batch_log2s.is_empty() {
            &[6][..]
        } else {
            batch_log2s
        };
        let mut shapes = Vec::with_capacity(models.len() * batch_log2s.len());
        for model in models {
            for &batch_log2 in batch_log2s {
                shapes.push(Self::new(model.clone(), batch_log2)?);
            }
        }
        Ok(shapes)
    }

    /// The model as written on the command line ("784-128-10").
    pub fn name(&self) -> String {
        self.model
            .dims()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Samples per step.
    pub fn batch(&self) -> usize {
        1 << self.batch_log2
    }

    fn hyper(&self) -> Result<Hyperparams> {
        Ok(Hyperparams::new(self.batch_log2, LR_SHIFT, TOTAL_STEPS)?)
    }

    /// Multiply-adds of one training step (`upow_puzzle::cost::step_macs`):
    /// the same count for the integer and the float32 step, so op rates
    /// compare.
    pub fn macs_per_step(&self) -> u64 {
        upow_puzzle::cost::step_macs(&self.model, self.batch())
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Shapes, measured one after the other.
    pub shapes: Vec<BenchShape>,
    /// Integer-step backends to measure (the float32 step and the reference
    /// verification are always measured).
    pub backends: Vec<BackendKind>,
    /// Wall time of each measurement, in seconds, after its warm-up.
    pub seconds: f64,
    /// Samples in each shape's synthetic dataset (the depth of its Merkle
    /// proofs, which verification checks).
    pub samples: usize,
    /// GPU index for the CUDA backend.
    pub device: usize,
    /// Measure the float32 step (the `×float32` yardstick) on the CPU, and
    /// on the GPU beside a CUDA row.
    pub float32: bool,
    /// Measure the reference verification of one proven step.
    pub verify: bool,
}

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measurement {
    /// The float32 candle training step on the CPU (the yardstick).
    Float32,
    /// The same float32 step on the GPU (the CUDA backend's yardstick;
    /// measured only when a CUDA device opens).
    Float32Cuda,
    /// The integer step on the reference backend (one thread).
    Reference,
    /// The integer step on the sparse host kernel (one thread).
    Sparse,
    /// The integer step on the candle CPU backend.
    Cpu,
    /// The integer step on the candle CUDA backend.
    Cuda,
    /// Verification of one proven step by the reference (one thread).
    ReferenceVerify,
}

impl Measurement {
    /// Name in the table.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Float32 => "float32 candle cpu",
            Self::Float32Cuda => "float32 candle cuda",
            Self::Reference => "reference",
            Self::Sparse => "sparse",
            Self::Cpu => "candle cpu",
            Self::Cuda => "candle cuda",
            Self::ReferenceVerify => "reference verify",
        }
    }

    fn of_backend(kind: BackendKind) -> Self {
        match kind {
            BackendKind::Reference => Self::Reference,
            BackendKind::Sparse => Self::Sparse,
            BackendKind::Cpu => Self::Cpu,
            BackendKind::Cuda => Self::Cuda,
        }
    }

    /// Threads the measurement runs on: one for the reference, candle's
    /// thread count for the candle CPU work, one host thread for CUDA.
    fn threads(&self) -> usize {
        match self {
            Self::Float32 | Self::Cpu => candle_threads(),
            Self::Reference
            | Self::Sparse
            | Self::ReferenceVerify
            | Self::Cuda
            | Self::Float32Cuda => 1,
        }
    }
}

/// Threads candle's CPU kernels use (`RAYON_NUM_THREADS`, else the number of
/// physical cores).
pub fn candle_threads() -> usize {
    candle_core::utils::get_num_threads()
}

/// Hardware threads the OS offers this process.
pub fn available_parallelism() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// Calls and wall time of one measurement (warm-up excluded).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Timing {
    /// Calls measured.
    pub iterations: u64,
    /// Their wall time in seconds.
    pub seconds: f64,
}

impl Timing {
    /// Calls per second.
    pub fn per_second(&self) -> f64 {
        self.iterations as f64 / self.seconds
    }

    /// Milliseconds per call.
    pub fn ms_per_call(&self) -> f64 {
        1e3 * self.seconds / self.iterations as f64
    }
}

/// One line of the benchmark's output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchRow {
    /// The model ("784-128-10").
    pub model: String,
    /// Samples per step.
    pub batch: usize,
    /// What was measured.
    pub measurement: Measurement,
    /// Threads it ran on.
    pub threads: usize,
    /// The timing, absent when the backend could not run (see `note`).
    pub timing: Option<Timing>,
    /// Steps (or verifications) per second.
    pub steps_per_second: Option<f64>,
    /// Milliseconds per step (or verification).
    pub ms_per_step: Option<f64>,
    /// For integer steps: this step's time over the float32 step's time
    /// (absent when the float32 step was not measured).
    pub vs_float32: Option<f64>,
    /// Multiply-adds of one training step of this shape
    /// ([`BenchShape::macs_per_step`]).
    pub macs_per_step: u64,
    /// For training steps (integer and float32): arithmetic operations per
    /// second, two per multiply-add (compare with a device's peak).
    pub ops_per_second: Option<f64>,
    /// Why there is no timing ("not built", the backend's error).
    pub note: Option<String>,
}

impl BenchRow {
    fn new(shape: &BenchShape, measurement: Measurement, timing: Option<Timing>) -> Self {
        let macs = shape.macs_per_step();
        let is_step = measurement != Measurement::ReferenceVerify;
        Self {
            model: shape.name(),
            batch: shape.batch(),
            measurement,
            threads: measurement.threads(),
            timing,
            steps_per_second: timing.map(|t| t.per_second()),
            ms_per_step: timing.map(|t| t.ms_per_call()),
            vs_float32: None,
            macs_per_step: macs,
            ops_per_second: timing
                .filter(|_| is_step)
                .map(|t| 2.0 * macs as f64 * t.per_second()),
            note: None,
        }
    }
}

/// Runs `f` for a warm-up (a quarter of `budget`, at most one second, at
/// least one call), then repeatedly until `budget` has passed (at least one
/// call), and returns the calls and time of the second part.
pub fn time_for(budget: Duration, mut f: impl FnMut() -> Result<()>) -> Result<Timing> {
    let warm_up = (budget / 4).min(Duration::from_secs(1));
    let started = Instant::now();
    loop {
        f()?;
        if started.elapsed() >= warm_up {
            break;
        }
    }
    let started = Instant::now();
    let mut iterations = 0u64;
    loop {
        f()?;
        iterations += 1;
        let elapsed = started.elapsed();
        if elapsed >= budget {
            return Ok(Timing {
                iterations,
                seconds: elapsed.as_secs_f64(),
            });
        }
    }
}

/// A dataset of `samples` uniformly random samples for `model` (pixels
/// 0..=255, labels below the class count), reproducible from `key`.
pub fn synthetic_dataset(model: &Model, samples: usize, key: u64) -> Result<Dataset> {
    let width = model.inputs();
    let classes = model.classes() as u64;
    let labels: Vec<u8> = (0..samples as u64)
        .map(|i| below(draw(key, i), classes) as u8)
        .collect();
    let pixel_key = draw(key ^ 0x5049_5845_4c53, 0);
    let pixels: Vec<u8> = (0..(samples * width) as u64)
        .map(|i| (draw(pixel_key, i) >> 56) as u8)
        .collect();
    Ok(Dataset::new(width as u32, &labels, &pixels)?)
}

/// Everything one shape's measurements share.
struct Fixture {
    shape: BenchShape,
    hyper: Hyperparams,
    dataset: Dataset,
    initial: Weights,
    ctx: TrajectoryContext,
}

impl Fixture {
    fn new(shape: &BenchShape, samples: usize) -> Result<Self> {
        if samples == 0 {
            return Err(BackendError::Input(
                "the synthetic dataset needs at least one sample".into(),
            ));
        }
        let dataset = synthetic_dataset(&shape.model, samples, 0x7570_6f77)?;
        Ok(Self {
            shape: shape.clone(),
            hyper: shape.hyper()?,
            initial: Weights::initial(&shape.model, &[0x42; 32]),
            ctx: TrajectoryContext {
                parent: [1; 32],
                author: [2; 32],
                job: 0,
                salt: 0,
            },
            dataset,
        })
    }

    /// The float32 step on `device`: batch gather, forward, loss, backward,
    /// SGD update (on a GPU, waiting for the device after each step).
    fn float32(&self, budget: Duration, device: &Device) -> Result<Timing> {
        let device = device.clone();
        let model = &self.shape.model;
        let set = self
            .dataset
            .slice(0..self.dataset.len().min(FLOAT_SAMPLES))?;
        let float = candle_error("float32");
        let mlp = FloatMlp::from_weights(model, &self.initial, &device).map_err(&float)?;
        let (x, y) = tensors(&set, &device).map_err(&float)?;
        let key = derive_key(&self.ctx.parent, Purpose::Batch, 0);
        let batch = self.shape.batch();
        let lr = (-(LR_SHIFT as f64)).exp2();
        let mut t = 0u64;
        time_for(budget, || {
            let indices = float_batch_indices(key, t, batch, set.len());
            let step = || -> candle_core::Result<()> {
                let indices = Tensor::from_vec(indices, batch, &device)?;
                let xb = x.index_select(&indices, 0)?;
                let yb = y.index_select(&indices, 0)?;
                mlp.sgd_step(&xb, &yb, lr)?;
                device.synchronize()
            };
            step().map_err(&float)?;
            t += 1;
            Ok(())
        })
    }

    /// The float32 step on CUDA device `index`.
    #[cfg(feature = "cuda")]
    fn float32_cuda(&self, index: usize, budget: Duration) -> Result<Timing> {
        self.float32(budget, &backend::candle::cuda_device(index)?)
    }

    /// Without the `cuda` feature there is no GPU float32 step.
    #[cfg(not(feature = "cuda"))]
    fn float32_cuda(&self, _index: usize, _budget: Duration) -> Result<Timing> {
        Err(BackendError::NotBuilt {
            backend: "cuda",
            feature: "cuda",
        })
    }

    /// The integer step on a backend, as a miner runs it: the seed from the
    /// trajectory's running root, the batch it selects, the step, the new
    /// weights hash, the new leaf, root and ticket.
    fn integer(&self, kind: BackendKind, device: usize, budget: Duration) -> Result<Timing> {
        let model = &self.shape.model;
        let mut backend = backend::create(kind, device, model, &self.hyper, &self.initial)?;
        let mut trajectory = Trajectory::start(self.ctx, self.initial.hash());
        let mut step = 0u64;
        time_for(budget, || {
            let seed = trajectory.next_seed();
            let indices = batch_indices(&seed, self.hyper.batch(), self.dataset.len() as u64);
            let batch = batch_for(model, &self.dataset, &indices)?;
            let report = backend.step(&batch, &seed, FIRST_STEP + step)?;
            std::hint::black_box(trajectory.push(report.weights_hash));
            step += 1;
            Ok(())
        })
    }

    /// Verification of one proven step: a one-step trajectory is mined and
    /// proven against the synthetic dataset, checked once as a whole, and
    /// then its step proof is verified repeatedly.
    fn verify(&self, budget: Duration) -> Result<Timing> {
        let model = &self.shape.model;
        let job = JobSpec::new(model.clone(), self.hyper, self.dataset.commitment())?;
        let start = self.initial.hash();
        let mut trajectory = Trajectory::start(self.ctx, start);
        let seed = trajectory.next_seed();
        let indices = batch_indices(&seed, self.hyper.batch(), self.dataset.len() as u64);
        let batch = batch_for(model, &self.dataset, &indices)?;
        let next = TrainingStep::new(model, &self.hyper)
            .run(&self.initial, &batch, &seed, FIRST_STEP)?
            .weights;
        trajectory.push(next.hash());
        let claim = trajectory
            .claim(next.hash())
            .ok_or(PuzzleError::EmptyTrajectory)?;
        let weights = [&self.initial, &next];
        let proof = trajectory.prove(&claim, &job, &self.dataset, |i| {
            weights
                .get(i as usize)
                .map(|w| (*w).clone())
                .ok_or(PuzzleError::StepIndex {
                    index: i,
                    steps: claim.steps,
                })
        })?;
        let progress = JobProgress {
            weights: start,
            steps: FIRST_STEP,
        };
        verify_trajectory(&job, LIVENESS, &self.ctx, &progress, 1, &claim, &proof)?;
        let step = proof.steps.last().ok_or(PuzzleError::EmptyTrajectory)?;
        time_for(budget, || {
            verify_step(&job, LIVENESS, &self.ctx, &claim, FIRST_STEP, step)?;
            Ok(())
        })
    }
}

/// Runs the benchmark: for each shape, the float32 step first (unless
/// `config.float32` is off), then the integer step on each backend of
/// `config.backends` (a CUDA row after its GPU float32 row), then the
/// reference verification (unless `config.verify` is off). Each row goes to
/// `on_row` as soon as it is measured; all rows are returned. A CUDA backend
/// that is not built or finds no GPU gives a row with a note instead of an
/// error.
pub fn run(config: &BenchConfig, mut on_row: impl FnMut(&BenchRow)) -> Result<Vec<BenchRow>> {
    let budget = Duration::try_from_secs_f64(config.seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| BackendError::Input(format!("bad measurement time {} s", config.seconds)))?;
    let mut rows = Vec::new();
    let mut emit = |row: BenchRow| {
        on_row(&row);
        rows.push(row);
    };
    for shape in &config.shapes {
        let fixture = Fixture::new(shape, config.samples)?;
        let float = if config.float32 {
            let float = fixture.float32(budget, &Device::Cpu)?;
            emit(BenchRow::new(shape, Measurement::Float32, Some(float)));
            Some(float)
        } else {
            None
        };
        for &kind in &config.backends {
            let measurement = Measurement::of_backend(kind);
            let row = match fixture.integer(kind, config.device, budget) {
                Ok(timing) => {
                    // The GPU step's yardstick is the float32 step on the GPU.
                    let yardstick = match kind {
                        BackendKind::Cuda if config.float32 => {
                            let gpu_float = fixture.float32_cuda(config.device, budget)?;
                            emit(BenchRow::new(
                                shape,
                                Measurement::Float32Cuda,
                                Some(gpu_float),
                            ));
                            Some(gpu_float)
                        }
                        BackendKind::Cuda => None,
                        _ => float,
                    };
                    BenchRow {
                        vs_float32: yardstick.map(|y| timing.ms_per_call() / y.ms_per_call()),
                        ..BenchRow::new(shape, measurement, Some(timing))
                    }
                }
                Err(e @ (BackendError::NotBuilt { .. } | BackendError::NoGpu(_)))
                    if kind == BackendKind::Cuda =>
                {
                    let note = match e {
                        BackendError::NotBuilt { .. } => "not built".to_string(),
                        other => other.to_string(),
                    };
                    BenchRow {
                        note: Some(note),
                        ..BenchRow::new(shape, measurement, None)
                    }
                }
                Err(e) => return Err(e),
            };
            emit(row);
        }
        if config.verify {
            let verify = fixture.verify(budget)?;
            emit(BenchRow::new(
                shape,
                Measurement::ReferenceVerify,
                Some(verify),
            ));
        }
    }
    Ok(rows)
}

/// The table's title: the measurement time and the thread counts.
pub fn table_header(config: &BenchConfig) -> String {
    format!(
        "{} s per measurement after warm-up; candle CPU threads {}, available_parallelism {}; \
         reference step and verify on 1 thread; synthetic dataset of {} random samples\n\
         {:<16} {:>5}  {:<20} {:>7} {:>10} {:>10} {:>9}",
        config.seconds,
        candle_threads(),
        available_parallelism(),
        config.samples,
        "model",
        "batch",
        "measurement",
        "threads",
        "steps/s",
        "ms/step",
        "×float32",
    )
}

/// One row of the table.
pub fn table_row(row: &BenchRow) -> String {
    let mut line = format!(
        "{:<16} {:>5}  {:<20} {:>7}",
        row.model,
        row.batch,
        row.measurement.label(),
        row.threads
    );
    let number = |v: Option<f64>, digits: usize| match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".to_string(),
    };
    // Writing to a String cannot fail.
    let _ = write!(
        line,
        " {:>10} {:>10} {:>9}",
        number(row.steps_per_second, 1),
        number(row.ms_per_step, 3),
        number(row.vs_float32, 2)
    );
    if let Some(note) = &row.note {
        let _ = write!(line, "  {note}");
    }
    line
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn every_row_has_finite_positive_numbers() {
        let config = BenchConfig {
            shapes: vec![BenchShape::new(Model::new(&[12, 6, 3]).unwrap(), 4).unwrap()],
            backends: vec![
                BackendKind::Reference,
                BackendKind::Sparse,
                BackendKind::Cpu,
            ],
            seconds: 0.005,
            samples: 50,
            device: 0,
            float32: true,
            verify: true,
        };
        let mut streamed = 0;
        let rows = run(&config, |_| streamed += 1).unwrap();
        assert_eq!(streamed, rows.len());
        let measured: Vec<Measurement> = rows.iter().map(|r| r.measurement).collect();
        assert_eq!(
            measured,
            [
                Measurement::Float32,
                Measurement::Reference,
                Measurement::Sparse,
                Measurement::Cpu,
                Measurement::ReferenceVerify
            ]
        );
        for row in &rows {
            let timing = row.timing.unwrap();
            assert!(timing.iterations > 0, "{row:?}");
            for v in [
                row.steps_per_second.unwrap(),
                row.ms_per_step.unwrap(),
                timing.seconds,
            ] {
                assert!(v.is_finite() && v > 0.0, "{row:?}");
            }
            assert!(row.threads > 0);
            if matches!(
                row.measurement,
                Measurement::Reference | Measurement::Sparse | Measurement::Cpu
            ) {
                let ratio = row.vs_float32.unwrap();
                assert!(ratio.is_finite() && ratio > 0.0, "{row:?}");
            }
            // 12-6-3 at batch 16: 16 · (3 · (72 + 18) − 72) multiply-adds.
            assert_eq!(row.macs_per_step, 16 * (3 * 90 - 72));
            match row.measurement {
                Measurement::ReferenceVerify => assert_eq!(row.ops_per_second, None),
                _ => {
                    let ops = row.ops_per_second.unwrap();
                    let expected = 2.0 * row.macs_per_step as f64 * row.steps_per_second.unwrap();
                    assert!((ops - expected).abs() <= 1e-9 * expected, "{row:?}");
                }
            }
            assert!(table_row(row).starts_with("12-6-3"));
            assert!(serde_json::to_string(row).unwrap().contains("\"batch\":16"));
        }
    }

    #[test]
    fn without_float32_and_verify_only_the_integer_rows_remain() {
        let config = BenchConfig {
            shapes: vec![BenchShape::new(Model::new(&[12, 6, 3]).unwrap(), 2).unwrap()],
            backends: vec![BackendKind::Reference, BackendKind::Cpu],
            seconds: 0.002,
            samples: 20,
            device: 0,
            float32: false,
            verify: false,
        };
        let rows = run(&config, |_| {}).unwrap();
        let measured: Vec<Measurement> = rows.iter().map(|r| r.measurement).collect();
        assert_eq!(measured, [Measurement::Reference, Measurement::Cpu]);
        for row in &rows {
            assert!(row.timing.is_some(), "{row:?}");
            assert_eq!(row.vs_float32, None, "no yardstick, no ratio: {row:?}");
            assert!(row.ops_per_second.unwrap() > 0.0);
            assert!(serde_json::to_string(row)
                .unwrap()
                .contains("\"vs_float32\":null"));
        }
    }

    #[test]
    fn multiply_adds_per_step_match_the_docs() {
        let shape = |dims: &[u32], batch_log2| {
            BenchShape::new(Model::new(dims).unwrap(), batch_log2).unwrap()
        };
        // docs/benchmarks.md §CUDA: 13.1 M for 784-128-10 at batch 64,
        // 2.13 G for 1024-1000-10 at batch 1024.
        assert_eq!(shape(&[784, 128, 10], 6).macs_per_step(), 13_090_816);
        assert_eq!(shape(&[1024, 1000, 10], 10).macs_per_step(), 2_127_872_000);
        // Two layers: the second layer's error propagation counts.
        assert_eq!(shape(&[4, 3, 2], 0).macs_per_step(), 3 * (12 + 6) - 12);
        // One layer: forward and weight gradient only.
        assert_eq!(shape(&[4, 2], 1).macs_per_step(), 2 * (3 * 8 - 8));
    }

    #[test]
    fn the_grid_is_every_model_at_every_batch() {
        let a = Model::new(&[784, 128, 10]).unwrap();
        let b = Model::new(&[1024, 1000, 10]).unwrap();
        let grid = BenchShape::grid(&[a, b], &[6, 8, 10]).unwrap();
        let got: Vec<(String, usize)> = grid.iter().map(|s| (s.name(), s.batch())).collect();
        let want: Vec<(String, usize)> = ["784-128-10", "1024-1000-10"]
            .iter()
            .flat_map(|name| [64, 256, 1024].map(|batch| (name.to_string(), batch)))
            .collect();
        assert_eq!(got, want);
        let defaults = BenchShape::grid(&[], &[]).unwrap();
        assert_eq!(defaults, BenchShape::defaults().unwrap());
        assert_eq!(defaults.len(), 3);
        assert!(defaults.iter().all(|s| s.batch() == 64));
        assert_eq!(BenchShape::grid(&[], &[8, 10]).unwrap().len(), 6);
        // A batch beyond the puzzle's limit is refused for the whole grid.
        assert!(BenchShape::grid(&[], &[6, 11]).is_err());
    }

    #[test]
    fn cuda_without_the_feature_is_a_note() {
        if cfg!(feature = "cuda") {
            return;
        }
        let config = BenchConfig {
            shapes: vec![BenchShape::new(Model::new(&[4, 2]).unwrap(), 4).unwrap()],
            backends: vec![BackendKind::Cuda],
            seconds: 0.001,
            samples: 3,
            device: 0,
            float32: true,
            verify: true,
        };
        let rows = run(&config, |_| {}).unwrap();
        assert_eq!(rows[1].measurement, Measurement::Cuda);
        assert_eq!(rows[1].note.as_deref(), Some("not built"));
        assert!(rows[1].timing.is_none());
        assert!(table_row(&rows[1]).ends_with("not built"));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let shape = BenchShape::new(Model::new(&[4, 2]).unwrap(), 0).unwrap();
        for (seconds, samples) in [(0.0, 3), (f64::NAN, 3), (-1.0, 3), (0.001, 0)] {
            let config = BenchConfig {
                shapes: vec![shape.clone()],
                backends: vec![],
                seconds,
                samples,
                device: 0,
                float32: true,
                verify: true,
            };
            assert!(run(&config, |_| {}).is_err(), "{seconds} {samples}");
        }
        assert!(BenchShape::new(Model::new(&[4, 2]).unwrap(), 11).is_err());
        assert_eq!(BenchShape::defaults().unwrap().len(), 3);
    }
}
