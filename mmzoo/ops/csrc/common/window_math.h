// Per-element math of mmzoo's window ops, shared by the CPU loops and the
// CUDA kernels so that the CPU tests exercise the arithmetic the GPU runs.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MMZOO_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Forced, so that the CPU's per-ISA clones (cpu/) compile this math for their
// own instruction set rather than call one baseline copy.
#define MMZOO_HD inline __attribute__((always_inline))
#else
#define MMZOO_HD inline
#endif

// `omp simd` lets the host compiler vectorise float reductions without
// -ffast-math; device code has no use for it.
#if defined(__CUDA_ARCH__) || !defined(_OPENMP)
#define MMZOO_SIMD
#define MMZOO_SIMD_SUM(var)
#else
#define MMZOO_PRAGMA(text) _Pragma(#text)
#define MMZOO_SIMD _Pragma("omp simd")
#define MMZOO_SIMD_SUM(var) MMZOO_PRAGMA(omp simd reduction(+ : var))
#endif

namespace mmzoo {

// Largest window the kernels hold on chip (12 x 12 tokens) and head dim.
constexpr int kMaxTokens = 144;
constexpr int kMaxHeadDim = 64;

// ---------------------------------------------------------------- partition
// Where token `t` of window `w` comes from in the (B, H, W, C) input, after
// zero padding to (Hp, Wp) and rolling by (-shift, -shift). Returns the flat
// pixel index b * H * W + h * W + w, or -1 for a padding token.
struct WindowGeometry {
  int64_t H, W, ws, shift, n_h, n_w;  // n_h * n_w windows per image

  MMZOO_HD int64_t source_pixel(int64_t window, int64_t token) const {
    const int64_t per_image = n_h * n_w;
    const int64_t b = window / per_image;
    const int64_t i = (window % per_image) / n_w;
    const int64_t j = window % n_w;
    const int64_t Hp = n_h * ws, Wp = n_w * ws;
    // Rolling by -shift moves padded pixel (y + shift) % Hp to row y.
    const int64_t y = (i * ws + token / ws + shift) % Hp;
    const int64_t x = (j * ws + token % ws + shift) % Wp;
    if (y >= H || x >= W) return -1;
    return (b * H + y) * W + x;
  }

  // The inverse: which window row (window * ws * ws + token) holds input
  // pixel (b, y, x).
  MMZOO_HD int64_t target_row(int64_t b, int64_t y, int64_t x) const {
    const int64_t Hp = n_h * ws, Wp = n_w * ws;
    const int64_t ry = (y - shift + Hp) % Hp;
    const int64_t rx = (x - shift + Wp) % Wp;
    const int64_t window = (b * n_h + ry / ws) * n_w + rx / ws;
    return window * ws * ws + (ry % ws) * ws + rx % ws;
  }
};

MMZOO_HD int64_t windows_per_axis(int64_t size, int64_t ws) {
  return (size + ws - 1) / ws;
}

// ---------------------------------------------------------------- attention
template <typename T>
struct AccType {
  using type = float;  // float, half and bfloat16 accumulate in float
};
template <>
struct AccType<double> {
  using type = double;
};

MMZOO_HD float exp_acc(float x) { return expf(x); }
MMZOO_HD double exp_acc(double x) { return exp(x); }
MMZOO_HD float log_acc(float x) { return logf(x); }
MMZOO_HD double log_acc(double x) { return log(x); }

// A float exp that vectorises on the host (no library call): 2^n * p(r) with
// x = n ln2 + r, |r| <= ln2 / 2, p a degree-6 Taylor polynomial (relative
// error < 3e-7). Below -80 (masked scores: the official mask is -100) it
// returns 0 rather than a denormal, which would slow every later multiply.
MMZOO_HD float exp_poly(float x) {
  const float xc = x < -80.0f ? -80.0f : (x > 88.0f ? 88.0f : x);
  const float t = xc * 1.44269504088896341f;
  // Round to nearest without a library call: 1.5 * 2^23 pushes the fraction
  // out of the mantissa.
  const float n = (t + 12582912.0f) - 12582912.0f;
  const float r = xc - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
#if defined(__CUDA_ARCH__)
  const float two_n = __int_as_float(bits);
#else
  const float two_n = __builtin_bit_cast(float, bits);  // vectorises; memcpy does not
#endif
  return x < -80.0f ? 0.0f : p * two_n;
}
MMZOO_HD double exp_poly(double x) { return exp(x); }

// Dot product of two contiguous rows, accumulated in `acc_t`.
template <typename acc_t, typename A, typename B>
MMZOO_HD acc_t dot(const A* a, const B* b, int n) {
  acc_t sum = 0;
  MMZOO_SIMD_SUM(sum)
  for (int c = 0; c < n; ++c)
    sum += static_cast<acc_t>(a[c]) * static_cast<acc_t>(b[c]);
  return sum;
}

// y[0:n] += alpha * x[0:n]
template <typename acc_t, typename X>
MMZOO_HD void axpy(acc_t alpha, const X* x, acc_t* y, int n) {
  MMZOO_SIMD
  for (int c = 0; c < n; ++c) y[c] += alpha * static_cast<acc_t>(x[c]);
}

// One attention logit: scaled score plus optional bias and mask entries.
template <typename acc_t, typename T>
MMZOO_HD acc_t logit(acc_t score, acc_t scale, const T* bias_ij,
                     const T* mask_ij) {
  acc_t s = score * scale;
  if (bias_ij) s += static_cast<acc_t>(*bias_ij);
  if (mask_ij) s += static_cast<acc_t>(*mask_ij);
  return s;
}

// Online softmax state of one row: running max and sum of exp(s - max).
// Adding a block of logits rescales what was summed before; the CPU, which
// holds a whole row, adds it as one block.
template <typename acc_t>
struct RowSoftmax {
  acc_t max;
  acc_t sum;

  MMZOO_HD void init() {
    max = -INFINITY;
    sum = 0;
  }
  // Factor by which earlier partial sums (and outputs) shrink when a block
  // whose maximum is `block_max` joins the row.
  MMZOO_HD acc_t rescale_for(acc_t block_max) {
    const acc_t new_max = block_max > max ? block_max : max;
    const acc_t factor = max == -INFINITY ? acc_t(0) : exp_acc(max - new_max);
    sum *= factor;
    max = new_max;
    return factor;
  }
  MMZOO_HD acc_t prob_unnormalised(acc_t s) const { return exp_poly(s - max); }
  MMZOO_HD acc_t lse() const { return max + log_acc(sum); }
};

// Probability of logit s from the row's saved log-sum-exp (backward).
template <typename acc_t>
MMZOO_HD acc_t prob_from_lse(acc_t s, acc_t lse) {
  return exp_poly(s - lse);
}

// Softmax backward for one entry: dS = P * (dP - delta), where
// delta_i = sum_j P_ij dP_ij = dO_i . O_i (minus the lse's own gradient,
// since d lse_i / d S_ij = P_ij).
template <typename acc_t>
MMZOO_HD acc_t softmax_grad(acc_t p, acc_t dp, acc_t delta) {
  return p * (dp - delta);
}

template <typename acc_t, typename T>
MMZOO_HD acc_t row_delta(const T* grad_out_i, const T* out_i, int d,
                         const acc_t* grad_lse_i) {
  acc_t delta = dot<acc_t>(grad_out_i, out_i, d);
  if (grad_lse_i) delta -= static_cast<acc_t>(*grad_lse_i);
  return delta;
}

}  // namespace mmzoo
