//! The CUDA backend's kernels, tested as far as each machine allows.
//!
//! * Always (no GPU, no CUDA, no feature): the arithmetic of
//!   `src/backend/candle/kernels.cu` — everything above its `__global__`
//!   kernels is plain C++ — is compiled with the host C++ compiler and
//!   checked against `upow-puzzle` on many random and extreme inputs: PRNG,
//!   RHU/SR with the shift cap, activation and dynamic shifts, requantize,
//!   compute weights, weight updates, the softmax cross-entropy rows, the
//!   canonical encoding and the chunked BLAKE2b weights hash.
//! * With `--features cuda` (no GPU needed): `cuda_device(0)` on a machine
//!   without a usable GPU is a clear `NoGpu` error, and every kernel compiles
//!   with NVRTC.
//! * With `--features cuda` and `UPOW_GPU_TESTS=1` on a GPU: every custom op
//!   on the GPU against the CPU op, element by element.
#![allow(clippy::unwrap_used)]

use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use upow_puzzle::{
    hash::{hash_parts, tag},
    loss::{sixteenth_bits, softmax_row},
    prng::{below, draw},
    rounding::{
        activation_shift, compute_weight, dynamic_shift, requantize_activation, round_error,
        round_half_up, stochastic_round, update_shift, updated_weight, MASTER_MAX,
    },
    weights::{hash_encoded, HASH_CHUNK},
};

/// A deterministic stream of test randomness.
struct Rng(u64, u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.1 += 1;
        draw(self.0, self.1)
    }
    fn below(&mut self, n: u64) -> u64 {
        below(self.next(), n)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// A value of `bits` random bits, sign random, in i64.
    fn signed_bits(&mut self, max_bits: u32) -> i64 {
        let bits = self.below(max_bits as u64 + 1) as u32;
        let v = if bits == 0 {
            0
        } else {
            (self.next() >> (64 - bits)) as i64
        };
        if self.next() & 1 == 0 {
            v
        } else {
            -v
        }
    }
}

const HARNESS: &str = r#"
#define UPOW_HOST_TEST
#include KERNELS_PATH
#include <cstdio>
#include <cstring>

static float z[1024];
static float g[1024];
static unsigned char data[1 << 16];
static unsigned char digests[32 * 16];

int main() {
    char op[32];
    while (std::scanf("%31s", op) == 1) {
        if (!std::strcmp(op, "draw")) {
            unsigned long long k, i;
            std::scanf("%llu %llu", &k, &i);
            std::printf("%llu\n", upow_draw(k, i));
        } else if (!std::strcmp(op, "rhu")) {
            long long x; unsigned s;
            std::scanf("%lld %u", &x, &s);
            std::printf("%lld\n", upow_round_half_up(x, s));
        } else if (!std::strcmp(op, "sr")) {
            long long x; unsigned s; unsigned long long d;
            std::scanf("%lld %u %llu", &x, &s, &d);
            std::printf("%lld %lld\n", upow_stochastic_round(x, s, d), upow_round_error(x, s, d));
        } else if (!std::strcmp(op, "requant")) {
            long long v; unsigned s;
            std::scanf("%lld %u", &v, &s);
            std::printf("%lld\n", upow_requantize_activation(upow_int((float)v), s));
        } else if (!std::strcmp(op, "compute")) {
            long long v;
            std::scanf("%lld", &v);
            std::printf("%lld\n", upow_compute_weight(upow_int((float)v)));
        } else if (!std::strcmp(op, "update")) {
            long long m, gv; unsigned lr; int we, ge; unsigned long long d;
            std::scanf("%lld %lld %u %d %d %llu", &m, &gv, &lr, &we, &ge, &d);
            unsigned s = upow_update_shift(lr, we, (int)upow_int((float)ge));
            std::printf("%u %lld\n", s, upow_updated_weight(upow_int((float)m), upow_int((float)gv), s, d));
        } else if (!std::strcmp(op, "act")) {
            unsigned long long sum, count;
            std::scanf("%llu %llu", &sum, &count);
            std::printf("%u\n", upow_activation_shift(sum, count));
        } else if (!std::strcmp(op, "dyn")) {
            unsigned long long m;
            std::scanf("%llu", &m);
            std::printf("%u\n", upow_dynamic_shift(m));
        } else if (!std::strcmp(op, "sixteenth")) {
            int v, e;
            std::scanf("%d %d", &v, &e);
            std::printf("%lld\n", upow_sixteenth_bits(v, e));
        } else if (!std::strcmp(op, "softmax")) {
            int e; long long label; unsigned c;
            std::scanf("%d %lld %u", &e, &label, &c);
            for (unsigned j = 0; j < c; ++j) { long long v; std::scanf("%lld", &v); z[j] = (float)v; }
            unsigned long long loss = upow_softmax_row(z, c, e, label, g);
            unsigned long long loss2 = upow_softmax_row(z, c, e, label, (float*)0);
            std::printf("%llu %llu", loss, loss2);
            for (unsigned j = 0; j < c; ++j) std::printf(" %lld", upow_int(g[j]));
            std::printf("\n");
        } else if (!std::strcmp(op, "encode")) {
            long long v;
            std::scanf("%lld", &v);
            z[0] = (float)v;
            upow_encode_at(z, 0, data);
            std::printf("%u %u\n", (unsigned)data[0], (unsigned)data[1]);
        } else if (!std::strcmp(op, "chunks")) {
            unsigned long long len;
            std::scanf("%llu", &len);
            for (unsigned long long k = 0; k < len; ++k) { unsigned b; std::scanf("%2x", &b); data[k] = (unsigned char)b; }
            unsigned long long chunks = (len + UPOW_HASH_CHUNK - 1) / UPOW_HASH_CHUNK;
            for (unsigned long long j = 0; j < chunks; ++j) upow_chunk_hash_at(data, len, j, digests);
            for (unsigned long long k = 0; k < 32 * chunks; ++k) std::printf("%02x", digests[k]);
            std::printf("\n");
        } else {
            std::printf("unknown op %s\n", op);
            return 1;
        }
    }
    return 0;
}
"#;

fn kernels_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/backend/candle/kernels.cu")
}

/// The first host C++ compiler that runs.
fn host_compiler() -> Option<String> {
    let candidates = std::env::var("CXX")
        .into_iter()
        .chain(["c++", "g++", "clang++"].map(String::from));
    candidates.into_iter().find(|cxx| {
        Command::new(cxx)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Compiles the harness and runs it on `input`; `None` (test skipped) when
/// the machine has no C++ compiler.
fn run_harness(input: &str) -> Option<Vec<String>> {
    let Some(cxx) = host_compiler() else {
        eprintln!("skipped: no host C++ compiler (c++, g++, clang++ or $CXX)");
        return None;
    };
    let dir = std::env::temp_dir().join(format!("upow-kernel-harness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("harness.cpp");
    let exe = dir.join("harness");
    let include = format!("{:?}", kernels_path().display().to_string());
    std::fs::write(&src, HARNESS.replace("KERNELS_PATH", &include)).unwrap();
    let out = Command::new(&cxx)
        .args([
            "-O1",
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wno-unused-function",
            "-o",
        ])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cxx} could not compile kernels.cu as host code:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut child = Command::new(&exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "harness failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect(),
    )
}

/// One harness query and the line `upow-puzzle` says it must print.
struct Cases {
    input: String,
    expected: Vec<String>,
}

impl Cases {
    fn add(&mut self, query: String, expected: String) {
        self.input.push_str(&query);
        self.input.push('\n');
        self.expected.push(expected);
    }
}

#[test]
fn kernel_arithmetic_matches_the_puzzle_on_the_host() {
    let mut rng = Rng(0xc0da, 0);
    let mut c = Cases {
        input: String::new(),
        expected: Vec::new(),
    };

    for i in 0..2000u64 {
        let (k, idx) = match i {
            0 => (0, 0),
            1 => (0, 1),
            2 => (u64::MAX, u64::MAX),
            _ => (rng.next(), rng.next() >> rng.below(64)),
        };
        c.add(format!("draw {k} {idx}"), draw(k, idx).to_string());
    }
    for _ in 0..4000 {
        let x = rng.signed_bits(44);
        let s = rng.below(70) as u32;
        c.add(format!("rhu {x} {s}"), round_half_up(x, s).to_string());
        let d = match rng.below(4) {
            0 => 0,
            1 => u64::MAX,
            _ => rng.next(),
        };
        let x32 = rng.signed_bits(31);
        c.add(
            format!("sr {x32} {s} {d}"),
            format!("{} {}", stochastic_round(x32, s, d), round_error(x32, s, d)),
        );
    }
    for _ in 0..3000 {
        let z = rng.signed_bits(24);
        let s = rng.below(40) as u32;
        c.add(
            format!("requant {z} {s}"),
            requantize_activation(z, s).to_string(),
        );
        let m = rng.range(-32767, 32767);
        c.add(format!("compute {m}"), compute_weight(m).to_string());
        let master = rng.range(-(MASTER_MAX as i64), MASTER_MAX as i64);
        let grad = rng.signed_bits(24);
        let lr = rng.below(20) as u32;
        let we = rng.range(-20, 5) as i32;
        let ge = rng.range(-80, 20) as i32;
        let d = rng.next();
        let s = update_shift(lr, we, ge);
        c.add(
            format!("update {master} {grad} {lr} {we} {ge} {d}"),
            format!("{s} {}", updated_weight(master, grad, s, d)),
        );
        let count = 1 + rng.below(1 << 20);
        let sum = rng.next() >> (20 + rng.below(44));
        c.add(
            format!("act {sum} {count}"),
            activation_shift(sum, count as usize).to_string(),
        );
        let m = rng.next() >> rng.below(64);
        c.add(format!("dyn {m}"), dynamic_shift(m).to_string());
        let v = rng.signed_bits(31).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        let e = rng.range(-80, 40) as i32;
        c.add(
            format!("sixteenth {v} {e}"),
            sixteenth_bits(v, e).to_string(),
        );
        let w = rng.range(-(MASTER_MAX as i64), MASTER_MAX as i64) as i16;
        let [lo, hi] = w.to_le_bytes();
        c.add(format!("encode {w}"), format!("{lo} {hi}"));
    }
    c.add("act 12345 0".into(), activation_shift(12345, 0).to_string());
    c.add("dyn 0".into(), "0".into());
    for v in [i32::MAX, i32::MIN, 0, 1, -1] {
        for e in [-100, -40, -4, 0, 20, 30] {
            c.add(
                format!("sixteenth {v} {e}"),
                sixteenth_bits(v, e).to_string(),
            );
        }
    }
    // Softmax rows: widths up to 1024, logit magnitudes up to the GEMM bound
    // (2^24), exponents from far negative to positive.
    for i in 0..1500 {
        let classes = match i % 50 {
            0 => 1024,
            1 => 2,
            _ => 2 + rng.below(30) as usize,
        };
        let bits = rng.below(25) as u32;
        let z: Vec<i32> = (0..classes)
            .map(|_| rng.signed_bits(bits).clamp(-(1 << 24), 1 << 24) as i32)
            .collect();
        let e = rng.range(-60, 10) as i32;
        let label = rng.below(classes as u64) as usize;
        let mut grad = vec![0i32; classes];
        let loss = softmax_row(&z, e, label, Some(&mut grad));
        let loss_only = softmax_row(&z, e, label, None);
        let zs: Vec<String> = z.iter().map(i32::to_string).collect();
        let gs: Vec<String> = grad.iter().map(i32::to_string).collect();
        c.add(
            format!("softmax {e} {label} {classes} {}", zs.join(" ")),
            format!("{loss} {loss_only} {}", gs.join(" ")),
        );
    }
    // Chunk hashes and the two-level weights hash, at and around block and
    // chunk boundaries.
    let lengths = [
        1usize, 2, 106, 107, 108, 234, 235, 236, 4095, 4096, 4097, 8192, 10_000, 40_000,
    ];
    for &len in &lengths {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let expected: Vec<u8> = bytes
            .chunks(HASH_CHUNK)
            .flat_map(|chunk| hash_parts(tag::WEIGHTS_CHUNK, &[chunk]))
            .collect();
        c.add(format!("chunks {len} {}", hex(&bytes)), hex(&expected));
        // The host's final level over those digests is hash_encoded.
        let mut h = upow_puzzle::hash::Hasher::new(tag::WEIGHTS);
        h.update(&(len as u64).to_le_bytes());
        for d in expected.chunks(32) {
            h.update(d);
        }
        assert_eq!(h.finish(), hash_encoded(&bytes));
    }

    let Some(lines) = run_harness(&c.input) else {
        return;
    };
    assert_eq!(lines.len(), c.expected.len(), "harness output lines");
    let queries: Vec<&str> = c.input.lines().collect();
    let mut failures = 0;
    for ((got, want), query) in lines.iter().zip(&c.expected).zip(&queries) {
        if got != want {
            failures += 1;
            if failures <= 10 {
                let q: String = query.chars().take(200).collect();
                eprintln!("mismatch for `{q}`:\n  kernel: {got:.200}\n  puzzle: {want:.200}");
            }
        }
    }
    assert_eq!(
        failures,
        0,
        "{failures} of {} kernel results differ",
        c.expected.len()
    );
}

#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::{DType, Device, Tensor};
    use upow_miner::{
        backend::candle::{
            cuda_device, kernel_ptx,
            ops::{
                ActivationShift, ComputeWeights, MaxAbsShift, Requantize, SoftmaxCrossEntropy,
                StochasticRound, WeightUpdate,
            },
            KERNEL_NAMES,
        },
        BackendError,
    };

    use super::Rng;

    fn gpu_tests() -> bool {
        std::env::var("UPOW_GPU_TESTS").as_deref() == Ok("1")
    }

    #[test]
    fn no_gpu_is_a_clear_error() {
        if gpu_tests() {
            let device = cuda_device(0).expect("UPOW_GPU_TESTS=1 needs a GPU");
            assert!(device.is_cuda());
            assert!(!candle_core::cuda_backend::gemm_reduced_precision_f32());
            return;
        }
        match cuda_device(0) {
            Err(BackendError::NoGpu(message)) => {
                eprintln!("cuda_device(0): {message}");
                assert!(message.len() > 20, "{message}");
                assert!(
                    !message.contains("DriverError"),
                    "raw driver error leaked: {message}"
                );
            }
            Err(other) => panic!("expected NoGpu, got {other}"),
            Ok(_) => panic!("a CUDA device opened; run with UPOW_GPU_TESTS=1 on a GPU machine"),
        }
        // An index beyond any machine's devices is refused the same way.
        assert!(matches!(cuda_device(4096), Err(BackendError::NoGpu(_))));
    }

    #[test]
    fn kernels_compile_with_nvrtc() {
        let ptx = match kernel_ptx() {
            Ok(ptx) => ptx,
            Err(e) if std::env::var("UPOW_REQUIRE_NVRTC").as_deref() != Ok("1") => {
                eprintln!("skipped: NVRTC is not usable here ({e}); source ~/.cache/upow/cuda/env");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        for name in KERNEL_NAMES {
            assert!(
                ptx.contains(&format!(".entry {name}(")),
                "kernel {name} missing from the PTX"
            );
        }
    }

    fn random_tensor(rng: &mut Rng, dims: (usize, usize), bits: u32) -> Vec<f32> {
        (0..dims.0 * dims.1)
            .map(|_| rng.signed_bits(bits) as f32)
            .collect()
    }

    fn same(cpu: &Tensor, gpu: &Tensor, what: &str) {
        let a = cpu
            .flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let b = gpu
            .flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        assert_eq!(a.len(), b.len(), "{what}: sizes");
        if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
            panic!("{what}: element {i} differs: cpu {} vs cuda {}", a[i], b[i]);
        }
    }

    /// Every custom op, on the GPU and on the CPU, element by element.
    #[test]
    fn ops_on_the_gpu_match_the_cpu() {
        if !gpu_tests() {
            eprintln!("skipped: set UPOW_GPU_TESTS=1 on a GPU machine");
            return;
        }
        let gpu = cuda_device(0).unwrap();
        let cpu = Device::Cpu;
        let mut rng = Rng(0x9e7, 0);
        let shapes = [
            (1, 1),
            (1, 2),
            (3, 7),
            (64, 10),
            (64, 128),
            (1024, 1000),
            (1024, 1024),
        ];
        for (case, &dims) in shapes.iter().cycle().take(60).enumerate() {
            let bits = 1 + rng.below(24) as u32;
            let x = random_tensor(&mut rng, dims, bits);
            let xc = Tensor::from_vec(x.clone(), dims, &cpu).unwrap();
            let xg = Tensor::from_vec(x, dims, &gpu).unwrap();
            let what = |op: &str| format!("case {case} {dims:?} {bits} bits: {op}");

            let sc = xc.apply_op1_no_bwd(&ActivationShift).unwrap();
            let sg = xg.apply_op1_no_bwd(&ActivationShift).unwrap();
            same(&sc, &sg, &what("activation shift"));
            same(
                &xc.apply_op2_no_bwd(&sc, &Requantize).unwrap(),
                &xg.apply_op2_no_bwd(&sg, &Requantize).unwrap(),
                &what("requantize"),
            );
            let mc = xc.apply_op1_no_bwd(&MaxAbsShift).unwrap();
            let mg = xg.apply_op1_no_bwd(&MaxAbsShift).unwrap();
            same(&mc, &mg, &what("max-abs shift"));
            let key = rng.next();
            same(
                &xc.apply_op2_no_bwd(&mc, &StochasticRound { key }).unwrap(),
                &xg.apply_op2_no_bwd(&mg, &StochasticRound { key }).unwrap(),
                &what("stochastic round"),
            );
            let m: Vec<f32> = (0..dims.0 * dims.1)
                .map(|_| rng.range(-32639, 32639) as f32)
                .collect();
            let mcpu = Tensor::from_vec(m.clone(), dims, &cpu).unwrap();
            let mgpu = Tensor::from_vec(m, dims, &gpu).unwrap();
            same(
                &mcpu.apply_op1_no_bwd(&ComputeWeights).unwrap(),
                &mgpu.apply_op1_no_bwd(&ComputeWeights).unwrap(),
                &what("compute weights"),
            );
            let ge = rng.range(-40, 0) as f32;
            let gec = Tensor::from_vec(vec![ge], 1, &cpu).unwrap();
            let geg = Tensor::from_vec(vec![ge], 1, &gpu).unwrap();
            let update = WeightUpdate {
                key: rng.next(),
                lr_shift: rng.below(20) as u32,
                weight_exp: rng.range(-9, -4) as i32,
            };
            same(
                &mcpu.apply_op3_no_bwd(&xc, &gec, &update).unwrap(),
                &mgpu.apply_op3_no_bwd(&xg, &geg, &update).unwrap(),
                &what("weight update"),
            );
            if dims.1 >= 2 {
                let labels: Vec<f32> = (0..dims.0)
                    .map(|_| rng.below(dims.1 as u64) as f32)
                    .collect();
                let lc = Tensor::from_vec(labels.clone(), dims.0, &cpu).unwrap();
                let lg = Tensor::from_vec(labels, dims.0, &gpu).unwrap();
                let e = rng.range(-40, 0) as f32;
                let ec = Tensor::from_vec(vec![e], 1, &cpu).unwrap();
                let eg = Tensor::from_vec(vec![e], 1, &gpu).unwrap();
                for loss in [false, true] {
                    let op = SoftmaxCrossEntropy { loss };
                    same(
                        &xc.apply_op3_no_bwd(&lc, &ec, &op).unwrap(),
                        &xg.apply_op3_no_bwd(&lg, &eg, &op).unwrap(),
                        &what(if loss {
                            "softmax loss"
                        } else {
                            "softmax gradient"
                        }),
                    );
                }
            }
        }
    }
}
