//! The model family (integer MLPs without biases), its limits, and the job's
//! hyper-parameters.
//!
//! Limits (docs/puzzle.md §Limits) keep every integer exact on every backend:
//! with |a|, |w|, |err| ≤ 127 and every inner dimension ≤ `MAX_WIDTH` = 1024,
//! every partial sum stays below 1024 · 127² < 2^24, so f32 GEMM on integer
//! values (the candle and CUDA backends) is exact.

use alloc::vec::Vec;

use crate::error::{Error, Result};

/// Largest width of any layer, the input included (the inner-dimension bound).
pub const MAX_WIDTH: u32 = 1024;
/// Most weight layers in a model.
pub const MAX_LAYERS: usize = 4;
/// Most parameters (int8 weights) in a model.
pub const MAX_PARAMS: u64 = 1 << 20;
/// Largest batch (also an inner dimension, of the weight gradient).
pub const MAX_BATCH_LOG2: u32 = 10;
/// Smallest batch of a job (2^4 = 16): below it an honest step can leave
/// every weight unchanged or a hidden layer dead (docs/benchmarks.md
/// §Degeneracy), and the per-step hashing outweighs the products. The step
/// itself is defined for any batch from 1.
pub const MIN_JOB_BATCH_LOG2: u32 = 4;
/// Largest learning-rate shift (lr = 2^-shift).
pub const MAX_LR_SHIFT: u32 = 16;
/// Exponent of the input activations: pixel `p` (u8) enters as `p >> 1`, i.e.
/// the value `(p >> 1) · 2^-7` ∈ [0, 1).
pub const INPUT_EXP: i32 = -7;

/// An MLP `d_0 → d_1 → … → d_L` with ReLU between layers and no biases.
///
/// Weight layer `l` is a `d_l × d_{l+1}` int8 matrix (row-major) with the fixed
/// exponent [`Model::weight_exp`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Model {
    dims: Vec<u32>,
}

impl Model {
    /// Validates a dimension list `[inputs, hidden…, classes]`.
    pub fn new(dims: &[u32]) -> Result<Self> {
        let layers = dims.len().saturating_sub(1);
        if !(1..=MAX_LAYERS).contains(&layers) {
            return Err(Error::LayerCount {
                got: layers,
                max: MAX_LAYERS,
            });
        }
        for (index, &width) in dims.iter().enumerate() {
            if !(1..=MAX_WIDTH).contains(&width) {
                return Err(Error::Width {
                    index,
                    width,
                    max: MAX_WIDTH,
                });
            }
        }
        let classes = dims[layers];
        if classes < 2 {
            return Err(Error::Classes(classes));
        }
        let params: u64 = dims.windows(2).map(|w| w[0] as u64 * w[1] as u64).sum();
        if params > MAX_PARAMS {
            return Err(Error::Params {
                got: params,
                max: MAX_PARAMS,
            });
        }
        Ok(Self {
            dims: dims.to_vec(),
        })
    }

    /// The dimension list `[d_0, …, d_L]`.
    pub fn dims(&self) -> &[u32] {
        &self.dims
    }

    /// Number of weight layers `L`.
    pub fn layers(&self) -> usize {
        self.dims.len() - 1
    }

    /// Inputs per sample `d_0`.
    pub fn inputs(&self) -> usize {
        self.dims[0] as usize
    }

    /// The largest label that is one of the model's classes: `classes − 1`,
    /// or 255 when every byte is a class.
    pub fn largest_label(&self) -> u8 {
        u8::try_from(self.classes() - 1).unwrap_or(u8::MAX)
    }

    /// Output classes `d_L`.
    pub fn classes(&self) -> usize {
        self.dims[self.layers()] as usize
    }

    /// `(rows, cols)` of weight layer `l` (`l < layers()`).
    pub fn shape(&self, l: usize) -> (usize, usize) {
        (self.dims[l] as usize, self.dims[l + 1] as usize)
    }

    /// Total number of weights.
    pub fn params(&self) -> usize {
        (0..self.layers())
            .map(|l| self.shape(l).0 * self.shape(l).1)
            .sum()
    }

    /// Exponent of weight layer `l`: `−⌊(bitlen(fan_in) + 1) / 2⌋ − 4`, so that
    /// He-initialised weights (σ = √(2/fan_in)) have an integer σ of 23–45;
    /// one more (a coarser grid, twice the range) for the output layer, whose
    /// weights grow largest in training (measured: docs/benchmarks.md).
    pub fn weight_exp(&self, l: usize) -> i32 {
        let fan_in = self.dims[l];
        let bits = 32 - fan_in.leading_zeros() as i32;
        let output = (l + 1 == self.layers()) as i32;
        -((bits + 1) / 2) - 4 + output
    }

    /// Bound `r` of the uniform initialisation `[-r, r]` of layer `l`:
    /// `⌊√(6 / fan_in) · 2^-e⌋` clamped to `1..=127` (the He-uniform bound).
    pub fn init_bound(&self, l: usize) -> i32 {
        let fan_in = self.dims[l] as u64;
        let e = (-self.weight_exp(l)) as u32;
        let square = (6u64 << (2 * e)) / fan_in;
        (isqrt(square) as i32).clamp(1, 127)
    }
}

/// Integer square root (floor).
pub(crate) fn isqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    // Newton's iteration from an upper bound.
    let mut x = 1u64 << (bit_length(n).div_ceil(2));
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

fn bit_length(n: u64) -> u32 {
    64 - n.leading_zeros()
}

/// A job's integer hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hyperparams {
    batch_log2: u32,
    lr_shift: u32,
    total_steps: u64,
}

impl Hyperparams {
    /// Batch `2^batch_log2`, base learning rate `2^-lr_shift`, and the job's
    /// planned step count (it sets the learning-rate schedule).
    pub fn new(batch_log2: u32, lr_shift: u32, total_steps: u64) -> Result<Self> {
        if batch_log2 > MAX_BATCH_LOG2 {
            return Err(Error::Batch {
                log2: batch_log2,
                max: 1 << MAX_BATCH_LOG2,
            });
        }
        if lr_shift > MAX_LR_SHIFT {
            return Err(Error::LrShift {
                got: lr_shift,
                max: MAX_LR_SHIFT,
            });
        }
        if total_steps == 0 {
            return Err(Error::ZeroSteps);
        }
        Ok(Self {
            batch_log2,
            lr_shift,
            total_steps,
        })
    }

    /// Samples per step.
    pub fn batch(&self) -> usize {
        1 << self.batch_log2
    }

    /// log2 of the batch size.
    pub fn batch_log2(&self) -> u32 {
        self.batch_log2
    }

    /// Base learning-rate shift.
    pub fn lr_shift(&self) -> u32 {
        self.lr_shift
    }

    /// Planned steps of the job.
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    /// Learning-rate shift of the job's step `t` (0-based): the base shift,
    /// +1 from 1/2 of the planned steps on, +1 more from 3/4 and from 7/8 on.
    pub fn lr_shift_at(&self, t: u64) -> u32 {
        let t = t as u128;
        let total = self.total_steps as u128;
        self.lr_shift
            + (2 * t >= total) as u32
            + (4 * t >= 3 * total) as u32
            + (8 * t >= 7 * total) as u32
    }
}

/// `784-128-10`: the dimensions joined by dashes (the CLI's and the
/// miner's name for a model).
impl core::fmt::Display for Model {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "scale")]
mod scale {
    use super::*;
    use codec::{Decode, Encode, Input, Output};

    impl Encode for Model {
        fn size_hint(&self) -> usize {
            self.dims.size_hint()
        }
        fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
            self.dims.encode_to(dest)
        }
    }

    impl Decode for Model {
        fn decode<I: Input>(input: &mut I) -> Result<Self, codec::Error> {
            let dims = Vec::<u32>::decode(input)?;
            Model::new(&dims).map_err(|_| "model outside the puzzle's limits".into())
        }
    }

    impl codec::DecodeWithMemTracking for Model {}

    impl scale_info::TypeInfo for Model {
        type Identity = Self;
        fn type_info() -> scale_info::Type {
            scale_info::Type::builder()
                .path(scale_info::Path::new("Model", module_path!()))
                .docs(&["MLP dimensions [inputs, hidden…, classes], validated on decode."])
                .composite(
                    scale_info::build::Fields::named()
                        .field(|f| f.ty::<Vec<u32>>().name("dims").type_name("Vec<u32>")),
                )
        }
    }

    impl Encode for Hyperparams {
        fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
            (self.batch_log2 as u8, self.lr_shift as u8, self.total_steps).encode_to(dest)
        }
    }

    impl Decode for Hyperparams {
        fn decode<I: Input>(input: &mut I) -> Result<Self, codec::Error> {
            let (batch_log2, lr_shift, total_steps) = <(u8, u8, u64)>::decode(input)?;
            Hyperparams::new(batch_log2 as u32, lr_shift as u32, total_steps)
                .map_err(|_| "hyper-parameters outside the puzzle's limits".into())
        }
    }

    impl codec::DecodeWithMemTracking for Hyperparams {}

    impl scale_info::TypeInfo for Hyperparams {
        type Identity = Self;
        fn type_info() -> scale_info::Type {
            scale_info::Type::builder()
                .path(scale_info::Path::new("Hyperparams", module_path!()))
                .docs(&["Batch 2^batch_log2, learning rate 2^-lr_shift, planned steps."])
                .composite(
                    scale_info::build::Fields::named()
                        .field(|f| f.ty::<u8>().name("batch_log2").type_name("u8"))
                        .field(|f| f.ty::<u8>().name("lr_shift").type_name("u8"))
                        .field(|f| f.ty::<u64>().name("total_steps").type_name("u64")),
                )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_match_the_recipe() {
        let m = Model::new(&[784, 128, 10]).unwrap();
        assert_eq!(m.weight_exp(0), -9);
        assert_eq!(m.weight_exp(1), -7);
        assert_eq!(m.init_bound(0), 44);
        assert_eq!(m.init_bound(1), 27);
        let deep = Model::new(&[784, 256, 128, 10]).unwrap();
        assert_eq!(
            [deep.weight_exp(0), deep.weight_exp(1), deep.weight_exp(2)],
            [-9, -9, -7]
        );
        assert_eq!(m.params(), 784 * 128 + 1280);
        assert_eq!(m.to_string(), "784-128-10");
    }

    #[test]
    fn limits_are_enforced() {
        assert!(matches!(Model::new(&[784]), Err(Error::LayerCount { .. })));
        assert!(matches!(
            Model::new(&[1, 2, 3, 4, 5, 6]),
            Err(Error::LayerCount { .. })
        ));
        assert!(matches!(
            Model::new(&[1025, 10]),
            Err(Error::Width { index: 0, .. })
        ));
        assert!(matches!(
            Model::new(&[784, 0, 10]),
            Err(Error::Width { index: 1, .. })
        ));
        assert!(matches!(Model::new(&[784, 1]), Err(Error::Classes(1))));
        assert!(matches!(
            Model::new(&[1024, 1024, 10]),
            Err(Error::Params { .. })
        ));
        assert!(Model::new(&[1024, 1000, 10]).is_ok());
        assert!(matches!(
            Hyperparams::new(11, 2, 1),
            Err(Error::Batch { .. })
        ));
        assert!(matches!(
            Hyperparams::new(6, 17, 1),
            Err(Error::LrShift { .. })
        ));
        assert!(matches!(Hyperparams::new(6, 2, 0), Err(Error::ZeroSteps)));
    }

    #[test]
    fn lr_schedule_steps_down_twice() {
        let h = Hyperparams::new(6, 2, 100).unwrap();
        assert_eq!(h.lr_shift_at(0), 2);
        assert_eq!(h.lr_shift_at(49), 2);
        assert_eq!(h.lr_shift_at(50), 3);
        assert_eq!(h.lr_shift_at(74), 3);
        assert_eq!(h.lr_shift_at(75), 4);
        assert_eq!(h.lr_shift_at(87), 4);
        assert_eq!(h.lr_shift_at(88), 5);
        assert_eq!(h.lr_shift_at(u64::MAX), 5);
    }

    #[test]
    fn isqrt_is_floor_sqrt() {
        for n in 0..10_000u64 {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n, "{n}");
        }
        assert_eq!(isqrt(u64::MAX), u32::MAX as u64);
    }
}
