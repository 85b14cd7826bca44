//! The CUDA side of the candle backend: device creation with clear errors,
//! and the kernels of the custom ops in [`super::ops`].
//!
//! The kernels (`kernels.cu`, CUDA C) mirror `upow-puzzle`'s scalar rules
//! bit for bit. They are compiled with NVRTC once per process at first use
//! and loaded once per device. Data-dependent shifts never leave the device:
//! a reduction kernel accumulates `Σ relu(z)` or `max |x|` exactly (u64
//! atomics), a one-thread kernel turns it into the shift in a one-element
//! tensor, and the next kernel reads that tensor.
//!
//! The weights hash is computed on the device too ([`weights_hash`]): the
//! master weights are encoded (i16 LE) into one device buffer, one thread
//! per 4096-byte chunk computes the chunk's BLAKE2b (docs/puzzle.md §2),
//! and only the 32-byte chunk digests come back for the final hash.
//!
//! Launching a kernel is `unsafe` (FFI with untyped arguments): every launch
//! below passes exactly the kernel's C parameter types, and every buffer it
//! writes is allocated here with the length the kernel's bounds use.
#![allow(unsafe_code)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use candle_core::{
    bail,
    cuda_backend::{
        cudarc::{
            driver::{
                result as driver, sys, CudaFunction, CudaModule, CudaView, DriverError,
                LaunchConfig, PushKernelArg,
            },
            nvrtc::{self, Ptx},
        },
        CudaDevice, CudaError, CudaStorage, DeviceId, WrapErr,
    },
    Device, Layout, Result, Shape, Storage, Tensor,
};
use upow_puzzle::{
    hash::{tag, Hash, Hasher},
    weights::HASH_CHUNK,
};

use crate::error::BackendError;

/// The CUDA C source of every kernel.
pub(crate) const KERNELS: &str = include_str!("kernels.cu");

/// Every kernel entry point of the CUDA backend (`kernels.cu`).
pub const KERNEL_NAMES: [&str; 12] = [
    "upow_relu_sum",
    "upow_activation_shift_finish",
    "upow_max_abs",
    "upow_max_abs_shift_finish",
    "upow_requantize",
    "upow_compute_weights",
    "upow_stochastic_round_kernel",
    "upow_weight_update",
    "upow_softmax_grad",
    "upow_softmax_loss",
    "upow_encode",
    "upow_chunk_hashes",
];

/// The lowest driver API version the miner runs on: it is built against
/// CUDA 13.0 (cudarc's bindings, candle's PTX, NVRTC 13.0's PTX).
const MIN_DRIVER_VERSION: i32 = 13000;

/// Threads per block of every grid-stride kernel (a multiple of 32).
const BLOCK: u32 = 256;

// ------------------------------------------------------------------ devices

/// Opens CUDA device `index` for the candle backend.
///
/// Checks, in order, with a clear [`BackendError::NoGpu`] for each: that the
/// driver library is a real one and initialises (not the build-time stub,
/// not too old for CUDA 13.0), that it sees a device, that `index` is one of
/// them, and that the context (with cuBLAS) can be created (out of memory,
/// device busy or in exclusive mode). Reduced-precision (TF32) f32 GEMM is
/// switched off and checked, because the puzzle's exactness argument needs
/// full f32 products.
pub fn cuda_device(index: usize) -> std::result::Result<Device, BackendError> {
    driver::init().map_err(|e| BackendError::NoGpu(driver_message(e)))?;
    let mut version = 0i32;
    // SAFETY: cuDriverGetVersion writes one int through a valid pointer.
    unsafe { sys::cuDriverGetVersion(&mut version) }
        .result()
        .map_err(|e| BackendError::NoGpu(driver_message(e)))?;
    if version < MIN_DRIVER_VERSION {
        return Err(BackendError::NoGpu(format!(
            "the NVIDIA driver supports CUDA {}.{} only; this miner is built for CUDA 13.0 \
             and needs a driver that supports it (R580 or newer)",
            version / 1000,
            (version % 1000) / 10
        )));
    }
    let count = driver::device::get_count().map_err(|e| BackendError::NoGpu(driver_message(e)))?;
    if count <= 0 {
        return Err(BackendError::NoGpu(
            "the NVIDIA driver reports no CUDA device".into(),
        ));
    }
    if index >= count as usize {
        return Err(BackendError::NoGpu(format!(
            "device index {index} is out of range: this machine has {count} CUDA device{} \
             (indices 0..={})",
            if count == 1 { "" } else { "s" },
            count - 1
        )));
    }
    candle_core::cuda_backend::set_gemm_reduced_precision_f32(false);
    if candle_core::cuda_backend::gemm_reduced_precision_f32() {
        return Err(BackendError::Failed {
            backend: "cuda",
            message: "reduced-precision (TF32) f32 GEMM is on; the puzzle needs exact f32 \
                      products"
                .into(),
        });
    }
    // An explicit stream rather than the per-thread default stream: a backend
    // may be created on one thread and stepped on another.
    Device::new_cuda_with_stream(index).map_err(|e| {
        BackendError::NoGpu(format!(
            "cannot open CUDA device {index}: {}",
            describe_error(&e)
        ))
    })
}

/// Fails when reduced-precision (TF32) f32 GEMM is on: something in the
/// process switched it on after [`cuda_device`] switched it off.
pub(super) fn check_exact_gemm() -> Result<()> {
    if candle_core::cuda_backend::gemm_reduced_precision_f32() {
        bail!("reduced-precision (TF32) f32 GEMM was switched on; the puzzle needs exact f32 products");
    }
    Ok(())
}

/// A plain-words description of a candle error, naming the CUDA condition
/// (out of memory, driver too old, …) when there is one.
pub(crate) fn describe_error(error: &candle_core::Error) -> String {
    let mut e = error;
    loop {
        match e {
            candle_core::Error::WithBacktrace { inner, .. }
            | candle_core::Error::WithPath { inner, .. } => e = inner,
            candle_core::Error::Context { inner, context } => {
                return format!("{context}: {}", describe_error(inner));
            }
            candle_core::Error::Cuda(boxed) => {
                return match boxed.downcast_ref::<CudaError>() {
                    Some(CudaError::Cuda(d)) => driver_message(*d),
                    Some(CudaError::Load { cuda, module_name }) => {
                        format!("loading kernels {module_name}: {}", driver_message(*cuda))
                    }
                    Some(CudaError::Cublas(c)) => format!("cuBLAS: {c:?}"),
                    Some(other) => other.to_string(),
                    None => boxed.to_string(),
                };
            }
            other => return other.to_string(),
        }
    }
}

/// A clear message for a CUDA driver error.
fn driver_message(error: DriverError) -> String {
    use sys::CUresult as R;
    match error.0 {
        R::CUDA_ERROR_STUB_LIBRARY => "libcuda.so.1 is the build-time stub, not an NVIDIA \
             driver: install the driver (R580+ for CUDA 13.0) or run on a machine with a GPU"
            .into(),
        R::CUDA_ERROR_NO_DEVICE => "no CUDA-capable device is detected (no GPU, or \
             CUDA_VISIBLE_DEVICES hides them all)"
            .into(),
        R::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH => {
            "the NVIDIA driver is too old for CUDA 13.0: update it to R580 or newer".into()
        }
        R::CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE => "the CUDA forward-compatibility \
             package does not support this GPU: use a driver that supports CUDA 13.0"
            .into(),
        R::CUDA_ERROR_INVALID_DEVICE => "invalid CUDA device index".into(),
        R::CUDA_ERROR_OUT_OF_MEMORY => "out of GPU memory (free the device or use a smaller \
             batch or model)"
            .into(),
        R::CUDA_ERROR_DEVICE_UNAVAILABLE => "the GPU is busy or in exclusive-process mode \
             (another process holds it)"
            .into(),
        R::CUDA_ERROR_NOT_INITIALIZED | R::CUDA_ERROR_DEINITIALIZED => {
            "the CUDA driver is not initialised".into()
        }
        R::CUDA_ERROR_UNSUPPORTED_PTX_VERSION | R::CUDA_ERROR_INVALID_PTX => {
            "the driver cannot load the kernels' PTX: update the NVIDIA driver (R580+)".into()
        }
        R::CUDA_ERROR_NO_BINARY_FOR_GPU => "no kernel image for this GPU".into(),
        code => {
            let detail = error
                .error_string()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "no description".into());
            format!("CUDA driver error {code:?}: {detail}")
        }
    }
}

// ------------------------------------------------------------------ kernels

/// The kernels' PTX, compiled once per process.
fn ptx() -> Result<Ptx> {
    static PTX: OnceLock<std::result::Result<Ptx, String>> = OnceLock::new();
    match PTX.get_or_init(|| compile_kernels().map_err(|e| e.to_string())) {
        Ok(ptx) => Ok(ptx.clone()),
        Err(e) => bail!("compiling the upow CUDA kernels with NVRTC failed: {e}"),
    }
}

/// Compiles [`KERNELS`] with NVRTC (for the default virtual architecture;
/// the driver JIT-compiles the PTX for the GPU at load).
pub(crate) fn compile_kernels() -> std::result::Result<Ptx, nvrtc::CompileError> {
    nvrtc::compile_ptx_with_opts(
        KERNELS,
        nvrtc::CompileOptions {
            name: Some("upow_kernels.cu".into()),
            // Exact integer code: no fast-math, no flush-to-zero.
            use_fast_math: Some(false),
            ftz: Some(false),
            ..Default::default()
        },
    )
}

/// Compiles the kernels with NVRTC and returns their PTX: proves the kernel
/// sources compile (tests, diagnostics) without a GPU; needs only libnvrtc.
pub fn kernel_ptx() -> std::result::Result<String, BackendError> {
    let ptx = compile_kernels().map_err(|e| BackendError::Failed {
        backend: "cuda",
        message: format!("NVRTC could not compile the kernels: {e}"),
    })?;
    std::panic::catch_unwind(move || ptx.to_src()).map_err(|_| BackendError::Failed {
        backend: "cuda",
        message: "NVRTC returned PTX that is not text".into(),
    })
}

/// Loaded modules (one per device) and the functions looked up in them.
#[derive(Default)]
struct KernelCache {
    modules: HashMap<DeviceId, Arc<CudaModule>>,
    functions: HashMap<(DeviceId, &'static str), CudaFunction>,
}

/// Kernel `name` on `dev`, loading the module on first use on that device.
fn function(dev: &CudaDevice, name: &'static str) -> Result<CudaFunction> {
    static CACHE: OnceLock<Mutex<KernelCache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let mut guard = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let KernelCache { modules, functions } = &mut *guard;
    if let Some(f) = functions.get(&(dev.id(), name)) {
        return Ok(f.clone());
    }
    let module = match modules.get(&dev.id()) {
        Some(m) => m.clone(),
        None => {
            let m = dev.cuda_stream().context().load_module(ptx()?).w()?;
            modules.insert(dev.id(), m.clone());
            m
        }
    };
    let f = module.load_function(name).w()?;
    functions.insert((dev.id(), name), f.clone());
    Ok(f)
}

/// A grid-stride launch over `n` items.
fn grid(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(BLOCK as usize).clamp(1, 65_535) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One thread.
fn single() -> LaunchConfig {
    LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (1, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// The contiguous f32 data of a CUDA tensor, and its element count.
fn f32_view<'a>(s: &'a CudaStorage, l: &Layout) -> Result<(CudaView<'a, f32>, usize)> {
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("upow ops need contiguous tensors")
    };
    let data = s.as_cuda_slice::<f32>()?;
    match data.try_slice(start..end) {
        Some(view) => Ok((view, end - start)),
        None => bail!(
            "tensor layout {start}..{end} is outside its storage ({})",
            data.len()
        ),
    }
}

/// The data of a one-element f32 tensor (a shift or an exponent).
fn scalar_view<'a>(s: &'a CudaStorage, l: &Layout) -> Result<CudaView<'a, f32>> {
    let (view, n) = f32_view(s, l)?;
    if n != 1 {
        bail!("expected a one-element tensor, got {n} elements");
    }
    Ok(view)
}

fn one_element(
    out: candle_core::cuda_backend::cudarc::driver::CudaSlice<f32>,
    dev: &CudaDevice,
) -> (CudaStorage, Shape) {
    (
        CudaStorage::wrap_cuda_slice(out, dev.clone()),
        Shape::from_dims(&[1]),
    )
}

/// Reduces `x` with `reduce` into a u64, then `finish` turns it into a
/// one-element f32 shift tensor; nothing leaves the device.
fn reduce_to_shift(
    s: &CudaStorage,
    l: &Layout,
    reduce: &'static str,
    finish: &'static str,
) -> Result<(CudaStorage, Shape)> {
    let dev = &s.device;
    let stream = dev.cuda_stream();
    let (x, n) = f32_view(s, l)?;
    let n64 = n as u64;
    let mut acc = dev.alloc_zeros::<u64>(1)?;
    if n > 0 {
        let f = function(dev, reduce)?;
        let mut b = stream.launch_builder(&f);
        b.arg(&x).arg(&n64).arg(&mut acc);
        // SAFETY: (const float*, u64, u64*): x has n elements, acc one.
        unsafe { b.launch(grid(n)) }.w()?;
    }
    let mut out = dev.alloc_zeros::<f32>(1)?;
    let f = function(dev, finish)?;
    let mut b = stream.launch_builder(&f);
    if finish == "upow_activation_shift_finish" {
        b.arg(&acc).arg(&n64).arg(&mut out);
    } else {
        b.arg(&acc).arg(&mut out);
    }
    // SAFETY: (const u64*, [u64,] float*): one element each.
    unsafe { b.launch(single()) }.w()?;
    Ok(one_element(out, dev))
}

/// CUDA side of [`super::ops::ActivationShift`].
pub(super) fn activation_shift(s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
    reduce_to_shift(s, l, "upow_relu_sum", "upow_activation_shift_finish")
}

/// CUDA side of [`super::ops::MaxAbsShift`].
pub(super) fn max_abs_shift(s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
    reduce_to_shift(s, l, "upow_max_abs", "upow_max_abs_shift_finish")
}

/// One argument of an element-wise kernel, in the kernel's parameter order
/// (the output pointer, always last, is added by [`elementwise`]).
enum KernelArg<'a> {
    /// `const float*` with one value per element.
    Elements(&'a CudaView<'a, f32>),
    /// `const float*` to a one-element tensor (a shift or an exponent).
    Scalar(&'a CudaView<'a, f32>),
    /// `u64`: the element count.
    Count,
    /// `u64`.
    U64(u64),
    /// `unsigned int`.
    U32(u32),
    /// `int`.
    I32(i32),
}

/// Launches the element-wise kernel `name`, which writes `out[i]` for every
/// `i < n` from the `i`-th value of its [`KernelArg::Elements`] arguments
/// (and its scalars), into a new f32 tensor of `shape`.
///
/// The buffers' lengths are checked here: every `Elements` argument must
/// hold `n` values and every `Scalar` one. `args` must list exactly the
/// kernel's C parameters before its output pointer, with these types.
fn elementwise(
    dev: &CudaDevice,
    name: &'static str,
    n: usize,
    shape: &Shape,
    args: &[KernelArg<'_>],
) -> Result<(CudaStorage, Shape)> {
    if shape.elem_count() != n {
        bail!("{name}: {n} elements for an output of shape {shape:?}");
    }
    for arg in args {
        match arg {
            KernelArg::Elements(view) if view.len() != n => {
                bail!("{name}: an input has {} elements, expected {n}", view.len())
            }
            KernelArg::Scalar(view) if view.len() != 1 => {
                bail!(
                    "{name}: expected a one-element tensor, got {} elements",
                    view.len()
                )
            }
            _ => {}
        }
    }
    let mut out = dev.alloc_zeros::<f32>(n)?;
    if n > 0 {
        let f = function(dev, name)?;
        let stream = dev.cuda_stream();
        let count = n as u64;
        let mut b = stream.launch_builder(&f);
        for arg in args {
            match arg {
                KernelArg::Elements(view) | KernelArg::Scalar(view) => b.arg(*view),
                KernelArg::Count => b.arg(&count),
                KernelArg::U64(v) => b.arg(v),
                KernelArg::U32(v) => b.arg(v),
                KernelArg::I32(v) => b.arg(v),
            };
        }
        b.arg(&mut out);
        // SAFETY: the arguments are the kernel's C parameters in order (the
        // caller lists them as its signature says); every input it indexes
        // by element holds n values and every scalar one (checked above), and
        // `out` holds n values; the kernel touches indices below n only.
        unsafe { b.launch(grid(n)) }.w()?;
    }
    Ok((
        CudaStorage::wrap_cuda_slice(out, dev.clone()),
        shape.clone(),
    ))
}

/// CUDA side of [`super::ops::Requantize`].
pub(super) fn requantize(
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let (z, n) = f32_view(s1, l1)?;
    let shift = scalar_view(s2, l2)?;
    // (const float* z, u64 n, const float* shift, float* out)
    elementwise(
        &s1.device,
        "upow_requantize",
        n,
        l1.shape(),
        &[
            KernelArg::Elements(&z),
            KernelArg::Count,
            KernelArg::Scalar(&shift),
        ],
    )
}

/// CUDA side of [`super::ops::ComputeWeights`].
pub(super) fn compute_weights(s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
    let (m, n) = f32_view(s, l)?;
    // (const float* m, u64 n, float* out)
    elementwise(
        &s.device,
        "upow_compute_weights",
        n,
        l.shape(),
        &[KernelArg::Elements(&m), KernelArg::Count],
    )
}

/// CUDA side of [`super::ops::StochasticRound`] with PRNG stream `key`.
pub(super) fn stochastic_round(
    key: u64,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let (x, n) = f32_view(s1, l1)?;
    let shift = scalar_view(s2, l2)?;
    // (const float* x, u64 n, const float* shift, u64 key, float* out)
    elementwise(
        &s1.device,
        "upow_stochastic_round_kernel",
        n,
        l1.shape(),
        &[
            KernelArg::Elements(&x),
            KernelArg::Count,
            KernelArg::Scalar(&shift),
            KernelArg::U64(key),
        ],
    )
}

/// CUDA side of [`super::ops::WeightUpdate`]: master weights `(s1, l1)`,
/// gradient `(s2, l2)` and its one-element exponent `(s3, l3)`, with the
/// layer's PRNG stream `key`, the step's `lr_shift` and the layer's
/// `weight_exp`.
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_update(
    key: u64,
    lr_shift: u32,
    weight_exp: i32,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    s3: &CudaStorage,
    l3: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let (m, n) = f32_view(s1, l1)?;
    let (g, gn) = f32_view(s2, l2)?;
    if n != gn {
        bail!("weights and gradient differ in size: {n} vs {gn}");
    }
    let grad_exp = scalar_view(s3, l3)?;
    // (const float* m, const float* g, u64 n, const float* grad_exp, u64 key,
    //  unsigned int lr_shift, int weight_exp, float* out)
    elementwise(
        &s1.device,
        "upow_weight_update",
        n,
        l1.shape(),
        &[
            KernelArg::Elements(&m),
            KernelArg::Elements(&g),
            KernelArg::Count,
            KernelArg::Scalar(&grad_exp),
            KernelArg::U64(key),
            KernelArg::U32(lr_shift),
            KernelArg::I32(weight_exp),
        ],
    )
}

/// CUDA side of [`super::ops::SoftmaxCrossEntropy`]: the gradient (f32,
/// `rows × classes`) or the summed loss (one i64).
pub(super) fn softmax_cross_entropy(
    loss: bool,
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    s3: &CudaStorage,
    l3: &Layout,
) -> Result<(CudaStorage, Shape)> {
    let dev = &s1.device;
    let (rows, classes) = l1.shape().dims2()?;
    let (logits, n) = f32_view(s1, l1)?;
    let (labels, label_count) = f32_view(s2, l2)?;
    if label_count != rows || n != rows * classes {
        bail!("{label_count} labels for {rows} rows");
    }
    let exp = scalar_view(s3, l3)?;
    let stream = dev.cuda_stream();
    let rows64 = rows as u64;
    let classes32 = u32::try_from(classes)?;
    if loss {
        let mut total = dev.alloc_zeros::<i64>(1)?;
        if rows > 0 {
            let f = function(dev, "upow_softmax_loss")?;
            let mut b = stream.launch_builder(&f);
            b.arg(&logits)
                .arg(&labels)
                .arg(&exp)
                .arg(&rows64)
                .arg(&classes32)
                .arg(&mut total);
            // SAFETY: (const float*, const float*, const float*, u64, unsigned int, u64*):
            // rows × classes logits, rows labels, one exponent, one total.
            unsafe { b.launch(grid(rows)) }.w()?;
        }
        Ok((
            CudaStorage::wrap_cuda_slice(total, dev.clone()),
            Shape::from_dims(&[1]),
        ))
    } else {
        let mut grad = dev.alloc_zeros::<f32>(n)?;
        if rows > 0 {
            let f = function(dev, "upow_softmax_grad")?;
            let mut b = stream.launch_builder(&f);
            b.arg(&logits)
                .arg(&labels)
                .arg(&exp)
                .arg(&rows64)
                .arg(&classes32)
                .arg(&mut grad);
            // SAFETY: (const float*, const float*, const float*, u64, unsigned int, float*):
            // rows × classes logits and gradient, rows labels, one exponent.
            unsafe { b.launch(grid(rows)) }.w()?;
        }
        Ok((
            CudaStorage::wrap_cuda_slice(grad, dev.clone()),
            l1.shape().clone(),
        ))
    }
}

// ------------------------------------------------------------ weights hash

/// The canonical encoding of master weight tensors (i16 LE, layers in
/// order), left on the device; returns the buffer and its device.
fn encode_on_device(
    weights: &[Tensor],
) -> Result<(
    candle_core::cuda_backend::cudarc::driver::CudaSlice<u8>,
    CudaDevice,
)> {
    let Some(first) = weights.first() else {
        bail!("no weight layers")
    };
    let dev = first.device().as_cuda_device()?.clone();
    let total: usize = weights.iter().map(Tensor::elem_count).sum();
    let mut bytes = dev.alloc_zeros::<u8>(2 * total)?;
    let stream = dev.cuda_stream();
    let f = function(&dev, "upow_encode")?;
    let mut offset = 0usize;
    for w in weights {
        let (storage, layout) = w.storage_and_layout();
        let Storage::Cuda(s) = &*storage else {
            bail!("weights are not on the CUDA device")
        };
        let (m, n) = f32_view(s, layout)?;
        if n > 0 {
            let Some(mut dst) = bytes.try_slice_mut(2 * offset..2 * (offset + n)) else {
                bail!("weights encoding buffer too small")
            };
            let mut b = stream.launch_builder(&f);
            let n64 = n as u64;
            b.arg(&m).arg(&n64).arg(&mut dst);
            // SAFETY: (const float*, u64, unsigned char*): m has n elements, dst 2n bytes.
            unsafe { b.launch(grid(n)) }.w()?;
        }
        offset += n;
    }
    Ok((bytes, dev))
}

/// The canonical encoding of master weight tensors on a CUDA device, copied
/// to the host (2 bytes per weight instead of the f32 tensors' 4).
pub(super) fn encode(weights: &[Tensor]) -> Result<Vec<u8>> {
    let (bytes, dev) = encode_on_device(weights)?;
    dev.clone_dtoh(&bytes)
}

/// The weights hash (`upow_puzzle::weights::hash_encoded`) of master weight
/// tensors on a CUDA device: encoding and chunk hashes on the device, only
/// the 32-byte chunk digests copied back.
pub(super) fn weights_hash(weights: &[Tensor]) -> Result<Hash> {
    let (bytes, dev) = encode_on_device(weights)?;
    let len = bytes.len();
    let chunks = len.div_ceil(HASH_CHUNK);
    let mut digests = dev.alloc_zeros::<u8>(32 * chunks)?;
    if chunks > 0 {
        let f = function(&dev, "upow_chunk_hashes")?;
        let stream = dev.cuda_stream();
        let mut b = stream.launch_builder(&f);
        let len64 = len as u64;
        b.arg(&bytes).arg(&len64).arg(&mut digests);
        // SAFETY: (const unsigned char*, u64, unsigned char*): len bytes in, 32 per chunk out.
        unsafe { b.launch(grid(chunks)) }.w()?;
    }
    let digests = dev.clone_dtoh(&digests)?;
    let mut hasher = Hasher::new(tag::WEIGHTS);
    hasher.update(&(len as u64).to_le_bytes());
    for digest in digests.chunks_exact(32) {
        hasher.update(digest);
    }
    Ok(hasher.finish())
}
