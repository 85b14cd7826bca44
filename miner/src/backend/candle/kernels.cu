// upow's CUDA kernels: the puzzle's integer rounding rules, reductions,
// softmax cross-entropy and weights hashing, mirroring upow-puzzle
// (puzzle/src/{prng,rounding,loss,weights,hash}.rs) bit for bit.
//
// Compiled at run time with NVRTC (miner/src/backend/candle/cuda.rs). The
// part above the kernels is plain C++ too: with UPOW_HOST_TEST defined it
// compiles with a host compiler, and miner/tests/cuda_kernels.rs checks it
// against upow-puzzle without a GPU.
//
// Conventions: tensors are f32 holding integers (|v| < 2^31), converted with
// exact casts; all arithmetic is on 64-bit integers; `>>` of a signed value
// is an arithmetic shift (nvcc, NVRTC, gcc and clang all guarantee it), and
// left shifts of possibly negative values go through unsigned.

#ifdef UPOW_HOST_TEST
#define UPOW_FN static inline
#define UPOW_CONST static const
#define UPOW_CLZLL(x) ((x) == 0 ? 64 : __builtin_clzll(x))
#else
#define UPOW_FN __device__ __forceinline__
#define UPOW_CONST __constant__ const
#define UPOW_CLZLL(x) __clzll((long long)(x))
#endif

typedef long long upow_i64;
typedef unsigned long long upow_u64;

// ------------------------------------------------------------ PRNG (prng.rs)

UPOW_FN upow_u64 upow_mix64(upow_u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// draw(key, i) = mix64(key + (i + 1) * GAMMA), wrapping.
UPOW_FN upow_u64 upow_draw(upow_u64 key, upow_u64 i) {
    return upow_mix64(key + (i + 1ULL) * 0x9E3779B97F4A7C15ULL);
}

// ------------------------------------------------------- rounding (rounding.rs)

#define UPOW_MAX_SHIFT 62u
#define UPOW_I8_MAX 127LL
#define UPOW_MASTER_MAX 32639LL
#define UPOW_MASTER_BITS 8u
#define UPOW_ACTIVATION_HEADROOM 16ULL

UPOW_FN unsigned int upow_cap_shift(unsigned int s) {
    return s < UPOW_MAX_SHIFT ? s : UPOW_MAX_SHIFT;
}

UPOW_FN upow_i64 upow_clamp(upow_i64 x, upow_i64 bound) {
    return x < -bound ? -bound : (x > bound ? bound : x);
}

// RHU(x, s) = (x + 2^(s-1)) >> s; x when s = 0; s capped at 62.
UPOW_FN upow_i64 upow_round_half_up(upow_i64 x, unsigned int shift) {
    unsigned int s = upow_cap_shift(shift);
    if (s == 0) return x;
    return (x + (1LL << (s - 1))) >> s;
}

// SR(x, s, d) = (x + (d >> (64 - s))) >> s; x when s = 0; s capped at 62.
UPOW_FN upow_i64 upow_stochastic_round(upow_i64 x, unsigned int shift, upow_u64 draw) {
    unsigned int s = upow_cap_shift(shift);
    if (s == 0) return x;
    return (x + (upow_i64)(draw >> (64 - s))) >> s;
}

UPOW_FN unsigned int upow_bit_length(upow_u64 x) {
    return 64u - (unsigned int)UPOW_CLZLL(x);
}

// dyn(m) = max(0, bitlen(m) - 7).
UPOW_FN unsigned int upow_dynamic_shift(upow_u64 max_abs) {
    unsigned int b = upow_bit_length(max_abs);
    return b > 7u ? b - 7u : 0u;
}

// dyn(16 * floor(sum / count)); 0 for an empty tensor.
UPOW_FN unsigned int upow_activation_shift(upow_u64 relu_sum, upow_u64 count) {
    if (count == 0) return 0u;
    return upow_dynamic_shift(UPOW_ACTIVATION_HEADROOM * (relu_sum / count));
}

// min(RHU(relu(z), s), 127).
UPOW_FN upow_i64 upow_requantize_activation(upow_i64 z, unsigned int shift) {
    upow_i64 r = upow_round_half_up(z > 0 ? z : 0, shift);
    return r < UPOW_I8_MAX ? r : UPOW_I8_MAX;
}

// clamp(SR(x, s, d), +-127).
UPOW_FN upow_i64 upow_round_error(upow_i64 x, unsigned int shift, upow_u64 draw) {
    return upow_clamp(upow_stochastic_round(x, shift, draw), UPOW_I8_MAX);
}

// clamp(RHU(m, 8), +-127).
UPOW_FN upow_i64 upow_compute_weight(upow_i64 master) {
    return upow_clamp(upow_round_half_up(master, UPOW_MASTER_BITS), UPOW_I8_MAX);
}

// clamp(lr + e_W - 8 - e_G, 0, 62).
UPOW_FN unsigned int upow_update_shift(unsigned int lr_shift, int weight_exp, int grad_exp) {
    upow_i64 s = (upow_i64)lr_shift + (upow_i64)weight_exp - (upow_i64)UPOW_MASTER_BITS
                 - (upow_i64)grad_exp;
    return (unsigned int)(s < 0 ? 0 : (s > (upow_i64)UPOW_MAX_SHIFT ? (upow_i64)UPOW_MAX_SHIFT : s));
}

// clamp(m - SR(g, s, d), +-32639).
UPOW_FN upow_i64 upow_updated_weight(upow_i64 master, upow_i64 grad, unsigned int shift,
                                     upow_u64 draw) {
    return upow_clamp(master - upow_stochastic_round(grad, shift, draw), UPOW_MASTER_MAX);
}

// The integer an f32 tensor value holds (values are integers, |v| < 2^31).
UPOW_FN upow_i64 upow_int(float v) {
    return (upow_i64)v;
}

// An f32 tensor value as i32, saturating like Rust's `as i32`.
UPOW_FN int upow_i32(float v) {
    upow_i64 x = upow_int(v);
    return (int)(x < -2147483647LL - 1 ? -2147483647LL - 1 : (x > 2147483647LL ? 2147483647LL : x));
}

// A one-element shift tensor's value as a shift (non-negative, small).
UPOW_FN unsigned int upow_shift_of(float v) {
    return (unsigned int)(upow_i64)v;
}

// ----------------------------------------------------------- loss (loss.rs)

UPOW_CONST upow_u64 UPOW_EXP2_LUT[16] = {
    16384ULL, 17109ULL, 17867ULL, 18658ULL, 19484ULL, 20347ULL, 21247ULL, 22188ULL,
    23170ULL, 24196ULL, 25268ULL, 26386ULL, 27554ULL, 28774ULL, 30048ULL, 31379ULL};

#define UPOW_LOG2E_Q15 47274LL
#define UPOW_PROB_BITS 12u
#define UPOW_MAX_SIXTEENTHS (1LL << 40)

// A logit z * 2^e in sixteenths of a bit.
UPOW_FN upow_i64 upow_sixteenth_bits(int z, int e) {
    int s = e + 4;
    upow_i64 nats;
    if (s >= 0) {
        unsigned int sh = (unsigned int)(s < 24 ? s : 24);
        nats = (upow_i64)((upow_u64)(upow_i64)z << sh);
        nats = upow_clamp(nats, UPOW_MAX_SIXTEENTHS);
    } else {
        nats = upow_round_half_up((upow_i64)z, (unsigned int)(-s));
    }
    return (nats * UPOW_LOG2E_Q15) >> 15;
}

// EXP2_LUT[u mod 16] >> min(-floor(u / 16), 63), for u <= 0.
UPOW_FN upow_u64 upow_exp2_sixteenths(upow_i64 u) {
    upow_i64 sh = -(u >> 4);
    if (sh > 63) sh = 63;
    return UPOW_EXP2_LUT[u & 15] >> (unsigned int)sh;
}

// log2(x) in sixteenths, floored to the LUT grid, for x >= 1.
UPOW_FN upow_i64 upow_log2_sixteenths(upow_u64 x) {
    upow_i64 k = (upow_i64)upow_bit_length(x) - 1;
    upow_u64 mantissa = k >= 14 ? x >> (unsigned int)(k - 14) : x << (unsigned int)(14 - k);
    upow_i64 f = -1;
    for (int i = 0; i < 16; ++i) {
        if (UPOW_EXP2_LUT[i] <= mantissa) f = i;
    }
    return 16 * k + f;
}

// Softmax cross-entropy of one row (softmax_row): writes the gradient
// (exponent -12) to `grad` when it is not null; returns the row's loss in
// sixteenths of a bit.
UPOW_FN upow_u64 upow_softmax_row(const float* z, unsigned int classes, int e, upow_i64 label,
                                  float* grad) {
    upow_i64 t_max = -9223372036854775807LL - 1;
    for (unsigned int j = 0; j < classes; ++j) {
        upow_i64 t = upow_sixteenth_bits(upow_i32(z[j]), e);
        if (t > t_max) t_max = t;
    }
    upow_u64 sum = 0;
    upow_i64 u_label = 0;
    for (unsigned int j = 0; j < classes; ++j) {
        upow_i64 u = upow_sixteenth_bits(upow_i32(z[j]), e) - t_max;
        sum += upow_exp2_sixteenths(u);
        if ((upow_i64)j == label) u_label = u;
    }
    if (grad) {
        for (unsigned int j = 0; j < classes; ++j) {
            upow_i64 u = upow_sixteenth_bits(upow_i32(z[j]), e) - t_max;
            int prob = (int)((upow_exp2_sixteenths(u) << UPOW_PROB_BITS) / sum);
            grad[j] = (float)(prob - ((upow_i64)j == label ? (1 << UPOW_PROB_BITS) : 0));
        }
    }
    upow_i64 loss = upow_log2_sixteenths(sum) - 16 * 14 - u_label;
    return loss > 0 ? (upow_u64)loss : 0ULL;
}

// ------------------------------------------------- weights hash (weights.rs)
//
// c_j = BLAKE2b-256("upow/weights-chunk/v1" || chunk_j) over 4096-byte chunks
// of the canonical encoding (i16 little-endian master weights).

#define UPOW_HASH_CHUNK 4096ULL
#define UPOW_CHUNK_TAG_LEN 21u

UPOW_CONST unsigned char UPOW_CHUNK_TAG[UPOW_CHUNK_TAG_LEN] = {
    'u', 'p', 'o', 'w', '/', 'w', 'e', 'i', 'g', 'h', 't', 's', '-', 'c', 'h', 'u', 'n', 'k',
    '/', 'v', '1'};

UPOW_CONST upow_u64 UPOW_BLAKE2B_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

UPOW_CONST unsigned char UPOW_BLAKE2B_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

UPOW_FN upow_u64 upow_rotr64(upow_u64 x, unsigned int n) {
    return (x >> n) | (x << (64u - n));
}

#define UPOW_B2_G(a, b, c, d, x, y)          \
    do {                                     \
        v[a] = v[a] + v[b] + (x);            \
        v[d] = upow_rotr64(v[d] ^ v[a], 32); \
        v[c] = v[c] + v[d];                  \
        v[b] = upow_rotr64(v[b] ^ v[c], 24); \
        v[a] = v[a] + v[b] + (y);            \
        v[d] = upow_rotr64(v[d] ^ v[a], 16); \
        v[c] = v[c] + v[d];                  \
        v[b] = upow_rotr64(v[b] ^ v[c], 63); \
    } while (0)

// One BLAKE2b compression of the 128-byte block `m` (16 little-endian words);
// `t` bytes hashed so far including this block.
UPOW_FN void upow_blake2b_compress(upow_u64 h[8], const upow_u64 m[16], upow_u64 t, int last) {
    upow_u64 v[16];
    for (int i = 0; i < 8; ++i) {
        v[i] = h[i];
        v[i + 8] = UPOW_BLAKE2B_IV[i];
    }
    v[12] ^= t;
    if (last) v[14] = ~v[14];
    for (int r = 0; r < 12; ++r) {
        const unsigned char* s = UPOW_BLAKE2B_SIGMA[r];
        UPOW_B2_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        UPOW_B2_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        UPOW_B2_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        UPOW_B2_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        UPOW_B2_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        UPOW_B2_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        UPOW_B2_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        UPOW_B2_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
}

// BLAKE2b-256(tag || data[0..len]) with the chunk tag; `len` >= 1 bytes.
UPOW_FN void upow_chunk_hash(const unsigned char* data, upow_u64 len, unsigned char out[32]) {
    upow_u64 h[8];
    for (int i = 0; i < 8; ++i) h[i] = UPOW_BLAKE2B_IV[i];
    h[0] ^= 0x01010000ULL ^ 32ULL;  // digest length 32, no key, fanout 1, depth 1
    upow_u64 total = (upow_u64)UPOW_CHUNK_TAG_LEN + len;
    upow_u64 done = 0;
    upow_u64 m[16];
    while (done < total) {
        upow_u64 take = total - done < 128ULL ? total - done : 128ULL;
        for (int w = 0; w < 16; ++w) m[w] = 0;
        for (upow_u64 k = 0; k < take; ++k) {
            upow_u64 pos = done + k;
            upow_u64 byte = pos < UPOW_CHUNK_TAG_LEN ? (upow_u64)UPOW_CHUNK_TAG[pos]
                                                     : (upow_u64)data[pos - UPOW_CHUNK_TAG_LEN];
            m[k >> 3] |= byte << (8u * (unsigned int)(k & 7));
        }
        done += take;
        upow_blake2b_compress(h, m, done, done == total);
    }
    for (int i = 0; i < 32; ++i) out[i] = (unsigned char)(h[i >> 3] >> (8u * (unsigned int)(i & 7)));
}

// Weight i of the canonical encoding: i16 little-endian at out[2i].
UPOW_FN void upow_encode_at(const float* m, upow_u64 i, unsigned char* out) {
    unsigned short v = (unsigned short)(short)upow_i32(m[i]);
    out[2 * i] = (unsigned char)(v & 0xffu);
    out[2 * i + 1] = (unsigned char)(v >> 8);
}

// The digest of chunk j of an encoding of `len` bytes, at digests[32 j].
UPOW_FN void upow_chunk_hash_at(const unsigned char* bytes, upow_u64 len, upow_u64 j,
                                unsigned char* digests) {
    upow_u64 start = j * UPOW_HASH_CHUNK;
    upow_u64 size = len - start < UPOW_HASH_CHUNK ? len - start : UPOW_HASH_CHUNK;
    upow_chunk_hash(bytes + start, size, digests + 32 * j);
}

// ================================================================ kernels

#ifndef UPOW_HOST_TEST

#define UPOW_GRID_STRIDE(i, n)                                                             \
    for (upow_u64 i = (upow_u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (upow_u64)blockDim.x * gridDim.x)

// Block-wide sum (op 0) or max (op 1) of one value per thread, then one
// atomic per block into `acc`. Block size: a multiple of 32, at most 1024.
__device__ __forceinline__ void upow_block_reduce(upow_u64 value, int op, upow_u64* acc) {
    __shared__ upow_u64 partial[32];
    for (int offset = 16; offset > 0; offset >>= 1) {
        upow_u64 other = __shfl_down_sync(0xffffffffu, value, offset);
        value = op == 0 ? value + other : (other > value ? other : value);
    }
    unsigned int lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    if (warp == 0) {
        value = lane < (blockDim.x + 31u) / 32u ? partial[lane] : 0ULL;
        for (int offset = 16; offset > 0; offset >>= 1) {
            upow_u64 other = __shfl_down_sync(0xffffffffu, value, offset);
            value = op == 0 ? value + other : (other > value ? other : value);
        }
        if (lane == 0 && value != 0) {
            if (op == 0) {
                atomicAdd(acc, value);
            } else {
                atomicMax(acc, value);
            }
        }
    }
}

// acc[0] += sum of relu(z) (exact, u64).
extern "C" __global__ void upow_relu_sum(const float* z, upow_u64 n, upow_u64* acc) {
    upow_u64 local = 0;
    UPOW_GRID_STRIDE(i, n) {
        upow_i64 v = upow_int(z[i]);
        if (v > 0) local += (upow_u64)v;
    }
    upow_block_reduce(local, 0, acc);
}

// out[0] = activation_shift(acc[0], count).
extern "C" __global__ void upow_activation_shift_finish(const upow_u64* acc, upow_u64 count,
                                                        float* out) {
    if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = (float)upow_activation_shift(acc[0], count);
}

// acc[0] = max(acc[0], max |x|) (exact, u64).
extern "C" __global__ void upow_max_abs(const float* x, upow_u64 n, upow_u64* acc) {
    upow_u64 local = 0;
    UPOW_GRID_STRIDE(i, n) {
        upow_i64 v = upow_int(x[i]);
        upow_u64 a = v < 0 ? (upow_u64)0 - (upow_u64)v : (upow_u64)v;
        if (a > local) local = a;
    }
    upow_block_reduce(local, 1, acc);
}

// out[0] = dyn(acc[0]).
extern "C" __global__ void upow_max_abs_shift_finish(const upow_u64* acc, float* out) {
    if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = (float)upow_dynamic_shift(acc[0]);
}

// out = min(RHU(relu(z), shift[0]), 127).
extern "C" __global__ void upow_requantize(const float* z, upow_u64 n, const float* shift,
                                           float* out) {
    unsigned int s = upow_shift_of(shift[0]);
    UPOW_GRID_STRIDE(i, n) { out[i] = (float)upow_requantize_activation(upow_int(z[i]), s); }
}

// out = clamp(RHU(m, 8), +-127).
extern "C" __global__ void upow_compute_weights(const float* m, upow_u64 n, float* out) {
    UPOW_GRID_STRIDE(i, n) { out[i] = (float)upow_compute_weight(upow_int(m[i])); }
}

// out[i] = clamp(SR(x[i], shift[0], draw(key, i)), +-127).
extern "C" __global__ void upow_stochastic_round_kernel(const float* x, upow_u64 n,
                                                        const float* shift, upow_u64 key,
                                                        float* out) {
    unsigned int s = upow_shift_of(shift[0]);
    UPOW_GRID_STRIDE(i, n) {
        out[i] = (float)upow_round_error(upow_int(x[i]), s, upow_draw(key, i));
    }
}

// out[i] = clamp(m[i] - SR(g[i], update_shift(lr, e_W, grad_exp[0]), draw(key, i)), +-32639).
extern "C" __global__ void upow_weight_update(const float* m, const float* g, upow_u64 n,
                                              const float* grad_exp, upow_u64 key,
                                              unsigned int lr_shift, int weight_exp,
                                              float* out) {
    unsigned int s = upow_update_shift(lr_shift, weight_exp, (int)upow_int(grad_exp[0]));
    UPOW_GRID_STRIDE(i, n) {
        out[i] = (float)upow_updated_weight(upow_int(m[i]), upow_int(g[i]), s, upow_draw(key, i));
    }
}

// grad[row] = softmax cross-entropy gradient of logits[row]; one thread per row.
extern "C" __global__ void upow_softmax_grad(const float* logits, const float* labels,
                                             const float* exp, upow_u64 rows,
                                             unsigned int classes, float* grad) {
    int e = (int)upow_int(exp[0]);
    UPOW_GRID_STRIDE(row, rows) {
        upow_softmax_row(logits + row * classes, classes, e, upow_int(labels[row]),
                         grad + row * classes);
    }
}

// total[0] += sum of the rows' losses; one thread per row.
extern "C" __global__ void upow_softmax_loss(const float* logits, const float* labels,
                                             const float* exp, upow_u64 rows,
                                             unsigned int classes, upow_u64* total) {
    int e = (int)upow_int(exp[0]);
    upow_u64 local = 0;
    UPOW_GRID_STRIDE(row, rows) {
        local += upow_softmax_row(logits + row * classes, classes, e, upow_int(labels[row]),
                                  (float*)0);
    }
    upow_block_reduce(local, 0, total);
}

// The canonical encoding of n master weights: i16 little-endian.
extern "C" __global__ void upow_encode(const float* m, upow_u64 n, unsigned char* out) {
    UPOW_GRID_STRIDE(i, n) { upow_encode_at(m, i, out); }
}

// digests[32 j .. 32 j + 32] = chunk hash of bytes[4096 j ..]; one thread per chunk.
extern "C" __global__ void upow_chunk_hashes(const unsigned char* bytes, upow_u64 len,
                                             unsigned char* digests) {
    upow_u64 chunks = (len + UPOW_HASH_CHUNK - 1) / UPOW_HASH_CHUNK;
    UPOW_GRID_STRIDE(j, chunks) { upow_chunk_hash_at(bytes, len, j, digests); }
}

#endif  // UPOW_HOST_TEST
