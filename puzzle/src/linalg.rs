//! Integer matrix products of the step, written so LLVM vectorizes them.
//!
//! Operands are `i16` holding int8 values (|x| ≤ 127, so every product fits
//! `i16` and every sum of ≤ 1024 products fits in 24 bits); results are `i32`.
//! All matrices are row-major slices. Zero rows entries of the left operand
//! are skipped (ReLU activations and input pixels are often zero), which
//! changes nothing in integer arithmetic.

/// `out[M×N] = a[M×K] · b[K×N]`.
pub fn matmul(a: &[i16], b: &[i16], out: &mut [i32], m: usize, k: usize, n: usize) {
    debug_assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n);
    out.fill(0);
    for (a_row, out_row) in a.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
        for (&x, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            if x != 0 {
                axpy(x, b_row, out_row);
            }
        }
    }
}

/// `out[K×N] = aᵀ · b` for `a[M×K]`, `b[M×N]` (the weight gradient).
pub fn matmul_at(a: &[i16], b: &[i16], out: &mut [i32], m: usize, k: usize, n: usize) {
    debug_assert!(a.len() == m * k && b.len() == m * n && out.len() == k * n);
    out.fill(0);
    for (a_row, b_row) in a.chunks_exact(k).zip(b.chunks_exact(n)) {
        for (&x, out_row) in a_row.iter().zip(out.chunks_exact_mut(n)) {
            if x != 0 {
                axpy(x, b_row, out_row);
            }
        }
    }
}

/// `out[M×K] = a[M×N] · bᵀ` for `b[K×N]` (the back-propagated error).
pub fn matmul_bt(a: &[i16], b: &[i16], out: &mut [i32], m: usize, k: usize, n: usize) {
    debug_assert!(a.len() == m * n && b.len() == k * n && out.len() == m * k);
    for (a_row, out_row) in a.chunks_exact(n).zip(out.chunks_exact_mut(k)) {
        for (b_row, o) in b.chunks_exact(n).zip(out_row.iter_mut()) {
            *o = dot(a_row, b_row);
        }
    }
}

/// `out += x · row`, products in `i16` (exact for int8 operands).
#[inline(always)]
fn axpy(x: i16, row: &[i16], out: &mut [i32]) {
    for (o, &r) in out.iter_mut().zip(row) {
        *o += (x * r) as i32;
    }
}

/// `Σ a_i · b_i` in `i32`.
#[inline(always)]
fn dot(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[i16], b: &[i16], m: usize, k: usize, n: usize) -> alloc::vec::Vec<i32> {
        let mut out = alloc::vec![0i32; m * n];
        for i in 0..m {
            for j in 0..n {
                for t in 0..k {
                    out[i * n + j] += a[i * k + t] as i32 * b[t * n + j] as i32;
                }
            }
        }
        out
    }

    fn transpose(x: &[i16], rows: usize, cols: usize) -> alloc::vec::Vec<i16> {
        let mut t = alloc::vec![0; x.len()];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = x[r * cols + c];
            }
        }
        t
    }

    #[test]
    fn products_match_naive() {
        let (m, k, n) = (5, 7, 3);
        let a: alloc::vec::Vec<i16> = (0..m * k)
            .map(|i| ((i * 37 % 255) as i16 - 127) % 128)
            .collect();
        let b: alloc::vec::Vec<i16> = (0..k * n)
            .map(|i| ((i * 91 % 255) as i16 - 127) % 128)
            .collect();
        let mut out = alloc::vec![0; m * n];
        matmul(&a, &b, &mut out, m, k, n);
        assert_eq!(out, naive(&a, &b, m, k, n));

        let at = transpose(&a, m, k); // K×M
        let mut g = alloc::vec![0; m * n];
        // (aᵀ)ᵀ · b where at is K×M viewed as the "a" of matmul_at with rows K.
        matmul_at(&at, &b, &mut g, k, m, n);
        assert_eq!(g, naive(&a, &b, m, k, n));

        let bt = transpose(&b, k, n); // N×K
        let mut d = alloc::vec![0; m * n];
        matmul_bt(&a, &bt, &mut d, m, n, k);
        assert_eq!(d, naive(&a, &b, m, k, n));
    }
}
