// CPU kernels of mmzoo's window ops: at::parallel_for over (window, head).
// The float forward runs its two matrix products as register-tiled loops on
// the compiler's vector types (below); the backward, and shapes those loops
// do not take, hand each block's products to torch's BLAS straight from the
// inputs. The row math between them (vectorised softmax, its gradient) comes
// from common/window_math.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../common/checks.h"
#include "../common/window_math.h"

namespace mmzoo {
namespace {

// ---------------------------------------------------------------- SIMD level
// The attention kernels are compiled once per x86 level: x86-64-v4 (AVX-512),
// x86-64-v3 (AVX2, FMA) and the x86-64 baseline. The level follows the one
// PyTorch runs its own kernels at (ATEN_CPU_CAPABILITY=default|avx2|avx512
// switches both), capped by what the CPU supports, so that one machine can
// time both at each level. Chosen once per process, as PyTorch does.
enum class SimdLevel { kDefault = 0, kAvx2 = 1, kAvx512 = 2 };

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MMZOO_X86_LEVELS 1
#define MMZOO_TARGET_AVX512 \
  __attribute__((target("arch=x86-64-v4,prefer-vector-width=512")))
#define MMZOO_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#endif

SimdLevel machine_level() {
#ifdef MMZOO_X86_LEVELS
  // Feature by feature: GCC before 12 does not know the level names here.
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") &&
                  __builtin_cpu_supports("fma") &&
                  __builtin_cpu_supports("bmi") &&
                  __builtin_cpu_supports("bmi2");
  if (v3 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return SimdLevel::kAvx512;
  if (v3) return SimdLevel::kAvx2;
#endif
  return SimdLevel::kDefault;
}

SimdLevel torch_level() {
  const std::string capability = at::get_cpu_capability();
  if (capability == "AVX512") return SimdLevel::kAvx512;
  if (capability == "AVX2") return SimdLevel::kAvx2;
  return SimdLevel::kDefault;
}

SimdLevel simd_level() {
  static const SimdLevel level = std::min(torch_level(), machine_level());
  return level;
}

// Named as torch.backends.cpu.get_cpu_capability() names PyTorch's level.
std::string cpu_simd_level() {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return "AVX512";
    case SimdLevel::kAvx2:
      return "AVX2";
    default:
      return "DEFAULT";
  }
}

// Everything a level's entry point calls is inlined into it, so it is
// compiled for that level's instruction set too.
#define MMZOO_INLINE inline __attribute__((always_inline))

// ---------------------------------------------------------------- partition

at::Tensor window_partition_cpu(const at::Tensor& x, int64_t window_size,
                                int64_t shift_size) {
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous(),
              "window_partition: x must be contiguous (B, H, W, C), got ",
              x.sizes());
  const int64_t B = x.size(0), C = x.size(3);
  const WindowGeometry g =
      partition_geometry(x.size(1), x.size(2), window_size, shift_size);
  const int64_t rows = B * g.n_h * g.n_w * window_size * window_size;
  at::Tensor out = at::empty({rows / (window_size * window_size),
                              window_size * window_size, C},
                             x.options());
  const int64_t row_bytes = C * x.element_size();
  const char* src = static_cast<const char*>(x.const_data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  const int64_t N = window_size * window_size;
  at::parallel_for(0, rows, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t pixel = g.source_pixel(r / N, r % N);
      if (pixel < 0)
        std::memset(dst + r * row_bytes, 0, row_bytes);
      else
        std::memcpy(dst + r * row_bytes, src + pixel * row_bytes, row_bytes);
    }
  });
  return out;
}

at::Tensor window_reverse_cpu(const at::Tensor& windows, int64_t window_size,
                              int64_t shift_size, int64_t H, int64_t W) {
  const WindowGeometry g = partition_geometry(H, W, window_size, shift_size);
  const int64_t N = window_size * window_size, per_image = g.n_h * g.n_w;
  TORCH_CHECK(windows.dim() == 3 && windows.size(1) == N &&
                  windows.size(0) % per_image == 0 && windows.is_contiguous(),
              "window_reverse: windows must be contiguous (B*", per_image,
              ", ", N, ", C), got ", windows.sizes());
  const int64_t B = windows.size(0) / per_image, C = windows.size(2);
  at::Tensor out = at::empty({B, H, W, C}, windows.options());
  const int64_t row_bytes = C * windows.element_size();
  const char* src = static_cast<const char*>(windows.const_data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  at::parallel_for(0, B * H * W, 256, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t row = g.target_row(p / (H * W), (p / W) % H, p % W);
      std::memcpy(dst + p * row_bytes, src + row * row_bytes, row_bytes);
    }
  });
  return out;
}

// ---------------------------------------------------------------- attention

// Shapes and pointers of one (window, head) block; rows of q, k, v, out are
// d long, bias and mask rows N long (nullptr when absent).
template <typename T>
struct Block {
  const T *q, *k, *v, *bias, *mask;
  int N, d;
  int ld;  // row stride of q, k, v
  typename AccType<T>::type scale;
};

// The BLAS that libtorch_cpu carries (MKL on x86) and exports; weak, so that
// a torch without it still loads this extension and takes the loops below.
extern "C" {
void sgemm_(const char* ta, const char* tb, const int* m, const int* n,
            const int* k, const float* alpha, const float* a, const int* lda,
            const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc) __attribute__((weak));
void dgemm_(const char* ta, const char* tb, const int* m, const int* n,
            const int* k, const double* alpha, const double* a,
            const int* lda, const double* b, const int* ldb,
            const double* beta, double* c, const int* ldc)
    __attribute__((weak));
}

template <typename acc_t>
struct Blas;
template <>
struct Blas<float> {
  static constexpr auto* gemm = &sgemm_;
};
template <>
struct Blas<double> {
  static constexpr auto* gemm = &dgemm_;
};

// C (M x n, row-major, ldc) = alpha * op(A) . op(B), op(A) M x K and op(B)
// K x n, where A and B are row-major and stored transposed when ta / tb.
// BLAS is column-major, so it computes C^T = op(B)^T . op(A)^T, which needs
// no copies: a row-major matrix is its transpose in column-major order.
template <typename acc_t>
MMZOO_INLINE void matmul(bool ta, bool tb, int M, int n, int K, acc_t alpha,
                         const acc_t* A, int lda, const acc_t* B, int ldb,
                         acc_t* C, int ldc) {
  if (Blas<acc_t>::gemm) {
    const char op_b = tb ? 'T' : 'N', op_a = ta ? 'T' : 'N';
    const acc_t beta = 0;
    Blas<acc_t>::gemm(&op_b, &op_a, &n, &M, &K, &alpha, B, &ldb, A, &lda,
                      &beta, C, &ldc);
    return;
  }
  for (int i = 0; i < M; ++i) {
    acc_t* c = C + i * ldc;
    for (int j = 0; j < n; ++j) c[j] = 0;
    for (int k = 0; k < K; ++k) {
      const acc_t a = alpha * (ta ? A[k * lda + i] : A[i * lda + k]);
      if (!tb) {
        axpy<acc_t>(a, B + k * ldb, c, n);
      } else {
        for (int j = 0; j < n; ++j) c[j] += a * B[j * ldb + k];
      }
    }
  }
}

// Adds the bias and mask rows to row i of the scaled scores.
template <typename T, typename acc_t>
MMZOO_INLINE void add_bias_and_mask(const Block<T>& blk, int i, acc_t* row) {
  if (blk.bias) axpy<acc_t>(1, blk.bias + i * blk.N, row, blk.N);
  if (blk.mask) axpy<acc_t>(1, blk.mask + i * blk.N, row, blk.N);
}

// `out` rows are `ld_out` apart: d for (B*nW, heads, N, d) outputs, C for
// the packed op's (B*nW, N, C), whose heads sit side by side in each row.
template <typename T>
MMZOO_INLINE void attention_forward_block(const Block<T>& blk, T* out,
                                          int ld_out, T* lse, T* work) {
  static_assert(std::is_same_v<T, typename AccType<T>::type>,
                "the CPU kernels take float and double");
  const int N = blk.N, d = blk.d;
  T* p = work;
  T inv_sum[kMaxTokens];
  matmul<T>(false, true, N, N, d, blk.scale, blk.q, blk.ld, blk.k, blk.ld, p,
            N);
  for (int i = 0; i < N; ++i) {
    T* row = p + i * N;
    add_bias_and_mask(blk, i, row);
    T block_max = row[0];
    for (int j = 1; j < N; ++j) block_max = row[j] > block_max ? row[j] : block_max;
    RowSoftmax<T> softmax;
    softmax.init();
    softmax.rescale_for(block_max);
    MMZOO_SIMD
    for (int j = 0; j < N; ++j) row[j] = softmax.prob_unnormalised(row[j]);
    T sum = 0;
    MMZOO_SIMD_SUM(sum)
    for (int j = 0; j < N; ++j) sum += row[j];
    softmax.sum = sum;
    inv_sum[i] = T(1) / sum;
    lse[i] = softmax.lse();
  }
  matmul<T>(false, false, N, d, N, T(1), p, N, blk.v, blk.ld, out, ld_out);
  for (int i = 0; i < N; ++i) {
    MMZOO_SIMD
    for (int c = 0; c < d; ++c) out[i * ld_out + c] *= inv_sum[i];
  }
}

// Rows of grad_out and out are `ld_out` apart, rows of dq, dk, dv `ld_grad`
// (d, or the packed op's C and 3C).
template <typename T>
MMZOO_INLINE void attention_backward_block(const Block<T>& blk,
                                           const T* grad_out, const T* out,
                                           int ld_out, const T* lse,
                                           const T* grad_lse, T* dq, T* dk,
                                           T* dv, int ld_grad, T* dbias,
                                           T* work) {
  const int N = blk.N, d = blk.d;
  T* p = work;       // P
  T* ds = p + N * N; // dP, then dS
  matmul<T>(false, true, N, N, d, blk.scale, blk.q, blk.ld, blk.k, blk.ld, p,
            N);
  matmul<T>(false, true, N, N, d, T(1), grad_out, ld_out, blk.v, blk.ld, ds,
            N);
  for (int i = 0; i < N; ++i) {
    T* p_row = p + i * N;
    T* ds_row = ds + i * N;
    add_bias_and_mask(blk, i, p_row);
    const T delta = row_delta<T>(grad_out + i * ld_out, out + i * ld_out, d,
                                 grad_lse ? grad_lse + i : nullptr);
    const T lse_i = lse[i];
    MMZOO_SIMD
    for (int j = 0; j < N; ++j) {
      p_row[j] = prob_from_lse(p_row[j], lse_i);
      ds_row[j] = softmax_grad(p_row[j], ds_row[j], delta);
    }
    if (dbias) axpy<T>(1, ds_row, dbias + i * N, N);
  }
  matmul<T>(false, false, N, d, N, blk.scale, ds, N, blk.k, blk.ld, dq,
            ld_grad);
  matmul<T>(true, false, N, d, N, blk.scale, ds, N, blk.q, blk.ld, dk,
            ld_grad);
  matmul<T>(true, false, N, d, N, T(1), p, N, grad_out, ld_out, dv, ld_grad);
}

// ------------------------------------------------- float forward on vectors
// `Vec<W>` is W floats in the compiler's generic vector type: one zmm at
// W = 16 in the AVX-512 entry points, one ymm at 8 in the AVX2 ones, one xmm
// at 4 in the baseline. Each block computes
//   S = scale * Q K^T + bias + mask   (N x NP, rows padded to NP = W * m),
//   P = exp(S - rowmax),  out = (P V) / rowsum(P),
// with S held in `work` (L1-sized: N, d <= 144, 64): Q K^T as outer
// products of Q's entries with rows of K^T (K transposed once per block,
// padding columns zero) and P V as outer products of P's entries with rows
// of V, each in tiles of R rows by J vectors of accumulators that stay in
// registers over the whole reduction.
template <int W>
struct Vec {
  typedef float type __attribute__((vector_size(W * sizeof(float))));
};
template <int W>
using vec_t = typename Vec<W>::type;

template <int W>
MMZOO_INLINE vec_t<W> load(const float* p) {
  vec_t<W> v;
  std::memcpy(&v, p, sizeof v);  // unaligned: rows of the packed qkv
  return v;
}
template <int W>
MMZOO_INLINE void store(float* p, vec_t<W> v) {
  std::memcpy(p, &v, sizeof v);
}

inline int padded(int n, int w) { return (n + w - 1) / w * w; }

// The low (H = 0) or high (H = 1) halves of a and b, interleaved: a0 b0 a1
// b1 ... for the low ones.
template <int W, int H, size_t... I>
MMZOO_INLINE vec_t<W> interleave(vec_t<W> a, vec_t<W> b,
                                 std::index_sequence<I...>) {
#if defined(__clang__) || __GNUC__ >= 12
  return __builtin_shufflevector(a, b,
                                 ((I % 2 ? W : 0) + H * W / 2 + I / 2)...);
#else  // GCC before 12 has no __builtin_shufflevector
  typedef int32_t lanes_t __attribute__((vector_size(W * sizeof(int32_t))));
  return __builtin_shuffle(a, b,
                           lanes_t{((I % 2 ? W : 0) + H * W / 2 + I / 2)...});
#endif
}

// Transposes the W x W matrix in `rows` in registers: each round
// interleaves row i with row i + W / 2, which rotates an entry's address
// (row bits, then column bits) by one bit; log2(W) rounds swap the two.
template <int W>
MMZOO_INLINE void transpose(vec_t<W> (&rows)[W]) {
  constexpr auto lanes = std::make_index_sequence<W>{};
#pragma GCC unroll 4
  for (int round = 1; round < W; round *= 2) {
    vec_t<W> next[W];
#pragma GCC unroll 16
    for (int i = 0; i < W / 2; ++i) {
      next[2 * i] = interleave<W, 0>(rows[i], rows[i + W / 2], lanes);
      next[2 * i + 1] = interleave<W, 1>(rows[i], rows[i + W / 2], lanes);
    }
#pragma GCC unroll 16
    for (int i = 0; i < W; ++i) rows[i] = next[i];
  }
}

// kt (d x np) = K^T, zero past N; d is a multiple of W, np of W.
template <int W>
MMZOO_INLINE void transpose_keys(const float* k, int ld, int N, int d, int np,
                                 float* kt) {
  for (int j0 = 0; j0 < np; j0 += W) {
    for (int c0 = 0; c0 < d; c0 += W) {
      vec_t<W> rows[W];
#pragma GCC unroll 16
      for (int r = 0; r < W; ++r)
        rows[r] = j0 + r < N ? load<W>(k + (j0 + r) * ld + c0) : vec_t<W>{};
      transpose<W>(rows);
#pragma GCC unroll 16
      for (int c = 0; c < W; ++c) store<W>(kt + (c0 + c) * np + j0, rows[c]);
    }
  }
}

// Runs tile.template operator()<r, j>(i, v) over a grid of `rows` by
// `vectors` in tiles of R by J, the last row and column of tiles as large
// as what is left, so that every tile keeps its accumulators in registers.
template <int R, int J, typename Tile>
MMZOO_INLINE void rest_columns(int i, int v, int n, const Tile& tile) {
  if constexpr (J >= 1) {
    if (n == J)
      tile.template operator()<R, J>(i, v);
    else
      rest_columns<R, J - 1>(i, v, n, tile);
  }
}
template <int R, int J, typename Tile>
MMZOO_INLINE void tile_row(int i, int vectors, const Tile& tile) {
  int v = 0;
  for (; v + J <= vectors; v += J) tile.template operator()<R, J>(i, v);
  if (v < vectors) rest_columns<R, J - 1>(i, v, vectors - v, tile);
}
template <int R, int J, typename Tile>
MMZOO_INLINE void rest_rows(int i, int n, int vectors, const Tile& tile) {
  if constexpr (R >= 1) {
    if (n == R)
      tile_row<R, J>(i, vectors, tile);
    else
      rest_rows<R - 1, J>(i, n, vectors, tile);
  }
}
template <int R, int J, typename Tile>
MMZOO_INLINE void for_tiles(int rows, int vectors, const Tile& tile) {
  int i = 0;
  for (; i + R <= rows; i += R) tile_row<R, J>(i, vectors, tile);
  if (i < rows) rest_rows<R - 1, J>(i, rows - i, vectors, tile);
}

// S[i0:i0+R, W*v0:W*(v0+J)] = scale * Q[i0:i0+R] . Kt[:, W*v0:W*(v0+J)]
template <int W>
struct QkTile {
  const float *q, *kt;
  int ld, np, d;
  float scale;
  float* s;

  template <int R, int J>
  MMZOO_INLINE void operator()(int i0, int v0) const {
    vec_t<W> acc[R][J] = {};
    const float* k_col = kt + v0 * W;
    for (int c = 0; c < d; ++c) {
      vec_t<W> kv[J];
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j) kv[j] = load<W>(k_col + c * np + j * W);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const float qv = q[(i0 + r) * ld + c];
#pragma GCC unroll 16
        for (int j = 0; j < J; ++j) acc[r][j] += qv * kv[j];
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int j = 0; j < J; ++j)
        store<W>(s + (i0 + r) * np + (v0 + j) * W, acc[r][j] * scale);
    }
  }
};

// out[i0:i0+R, W*v0:W*(v0+J)] = P[i0:i0+R] . V[:, W*v0:W*(v0+J)] / rowsum
template <int W>
struct PvTile {
  const float *p, *v;
  int np, ld, N;
  const float* inv_sum;
  float* out;
  int ld_out;

  template <int R, int J>
  MMZOO_INLINE void operator()(int i0, int v0) const {
    vec_t<W> acc[R][J] = {};
    const float* v_col = v + v0 * W;
    for (int j = 0; j < N; ++j) {
      vec_t<W> vv[J];
#pragma GCC unroll 16
      for (int c = 0; c < J; ++c) vv[c] = load<W>(v_col + j * ld + c * W);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const float pv = p[(i0 + r) * np + j];
#pragma GCC unroll 16
        for (int c = 0; c < J; ++c) acc[r][c] += pv * vv[c];
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
      for (int c = 0; c < J; ++c)
        store<W>(out + (i0 + r) * ld_out + (v0 + c) * W,
                 acc[r][c] * inv_sum[i0 + r]);
    }
  }
};

// Tile shapes per vector width: AVX-512 has 32 vector registers, AVX2 and
// the baseline 16, which hold the accumulators, a tile's row of K^T or V and
// the broadcast entry. Chosen by timing Swin-T's stage 1 (N = 49, d = 32)
// on an AMD EPYC at both levels.
template <int W>
struct Tiles {
  static constexpr int qk_rows = 4, qk_vectors = 3;
  static constexpr int pv_rows = 6, pv_vectors = 2;
};
template <>
struct Tiles<16> {
  static constexpr int qk_rows = 6, qk_vectors = 4;
  static constexpr int pv_rows = 12, pv_vectors = 1;
};

// Takes d a multiple of W; `work` holds forward_workspace(N, d) floats.
template <int W>
MMZOO_INLINE void forward_block_vec(const Block<float>& blk, float* out,
                                    int ld_out, float* lse, float* work) {
  using tiles = Tiles<W>;
  const int N = blk.N, d = blk.d, ld = blk.ld, np = padded(N, W);
  float* kt = work;        // d x np
  float* s = kt + d * np;  // N x np: S, then P
  const float* q = blk.q;
  const float* v = blk.v;
  int ld_qv = ld;
  // Rows strided in a packed qkv are copied together first: read in place
  // they cost the tiles below about 15% more, copied about 8%.
  if (ld != d) {
    float* q_rows = s + N * np;
    float* v_rows = q_rows + N * d;
    for (int i = 0; i < N; ++i) {
      std::memcpy(q_rows + i * d, q + i * ld, d * sizeof(float));
      std::memcpy(v_rows + i * d, v + i * ld, d * sizeof(float));
    }
    q = q_rows;
    v = v_rows;
    ld_qv = d;
  }
  float inv_sum[kMaxTokens];
  transpose_keys<W>(blk.k, ld, N, d, np, kt);

  for_tiles<tiles::qk_rows, tiles::qk_vectors>(
      N, np / W, QkTile<W>{q, kt, ld_qv, np, d, blk.scale, s});

  for (int i = 0; i < N; ++i) {
    float* row = s + i * np;
    add_bias_and_mask(blk, i, row);
    float row_max = -INFINITY;
#ifdef _OPENMP
#pragma omp simd reduction(max : row_max)
#endif
    for (int j = 0; j < N; ++j) row_max = std::max(row_max, row[j]);
    float sum = 0;
    MMZOO_SIMD_SUM(sum)
    for (int j = 0; j < N; ++j) {
      row[j] = exp_poly(row[j] - row_max);
      sum += row[j];
    }
    inv_sum[i] = 1.0f / sum;
    lse[i] = row_max + std::log(sum);
  }

  for_tiles<tiles::pv_rows, tiles::pv_vectors>(
      N, d / W, PvTile<W>{s, v, np, ld_qv, N, inv_sum, out, ld_out});
}

// Workspace of one block, in elements: the forward holds K^T and S (d x NP
// and N x NP, NP = N padded to the widest vector) and copies of strided q
// and v rows (N x d each), the backward P and dS (N x N each); otherwise
// q, k, v and the outputs are used in place.
inline int64_t forward_workspace(int N, int d) {
  return int64_t(padded(N, 16)) * (N + d) + 2 * int64_t(N) * d;
}
inline int64_t backward_workspace(int N) { return 2 * int64_t(N) * N; }

template <int W>
MMZOO_INLINE void forward_block_f32_at(const Block<float>& blk, float* out,
                                       int ld_out, float* lse, float* work) {
  if (blk.d % W == 0)
    forward_block_vec<W>(blk, out, ld_out, lse, work);
  else
    attention_forward_block(blk, out, ld_out, lse, work);
}

// The per-block kernels of one level.
struct LevelKernels {
  void (*forward_f32)(const Block<float>&, float*, int, float*, float*);
  void (*forward_f64)(const Block<double>&, double*, int, double*, double*);
  void (*backward_f32)(const Block<float>&, const float*, const float*, int,
                       const float*, const float*, float*, float*, float*,
                       int, float*, float*);
  void (*backward_f64)(const Block<double>&, const double*, const double*,
                       int, const double*, const double*, double*, double*,
                       double*, int, double*, double*);
};

// The entry points of one level, compiled with `TARGET`, and their table.
#define MMZOO_LEVEL_KERNELS(NAME, TARGET, W)                                  \
  TARGET void NAME##_forward_f32(const Block<float>& blk, float* out,         \
                                 int ld_out, float* lse, float* work) {       \
    forward_block_f32_at<W>(blk, out, ld_out, lse, work);                     \
  }                                                                           \
  TARGET void NAME##_forward_f64(const Block<double>& blk, double* out,       \
                                 int ld_out, double* lse, double* work) {     \
    attention_forward_block(blk, out, ld_out, lse, work);                     \
  }                                                                           \
  TARGET void NAME##_backward_f32(                                            \
      const Block<float>& blk, const float* grad_out, const float* out,       \
      int ld_out, const float* lse, const float* grad_lse, float* dq,         \
      float* dk, float* dv, int ld_grad, float* dbias, float* work) {         \
    attention_backward_block(blk, grad_out, out, ld_out, lse, grad_lse, dq,   \
                             dk, dv, ld_grad, dbias, work);                   \
  }                                                                           \
  TARGET void NAME##_backward_f64(                                            \
      const Block<double>& blk, const double* grad_out, const double* out,    \
      int ld_out, const double* lse, const double* grad_lse, double* dq,      \
      double* dk, double* dv, int ld_grad, double* dbias, double* work) {     \
    attention_backward_block(blk, grad_out, out, ld_out, lse, grad_lse, dq,   \
                             dk, dv, ld_grad, dbias, work);                   \
  }                                                                           \
  constexpr LevelKernels NAME{NAME##_forward_f32, NAME##_forward_f64,         \
                              NAME##_backward_f32, NAME##_backward_f64};

MMZOO_LEVEL_KERNELS(default_kernels, , 4)
#ifdef MMZOO_X86_LEVELS
MMZOO_LEVEL_KERNELS(avx2_kernels, MMZOO_TARGET_AVX2, 8)
MMZOO_LEVEL_KERNELS(avx512_kernels, MMZOO_TARGET_AVX512, 16)
#endif

const LevelKernels& level_kernels() {
#ifdef MMZOO_X86_LEVELS
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return avx512_kernels;
    case SimdLevel::kAvx2:
      return avx2_kernels;
    default:
      break;
  }
#endif
  return default_kernels;
}

inline void forward_block(const Block<float>& b, float* o, int ld_o, float* l,
                          float* w) {
  level_kernels().forward_f32(b, o, ld_o, l, w);
}
inline void forward_block(const Block<double>& b, double* o, int ld_o,
                          double* l, double* w) {
  level_kernels().forward_f64(b, o, ld_o, l, w);
}
inline void backward_block(const Block<float>& b, const float* go,
                           const float* o, int ld_o, const float* l,
                           const float* gl, float* dq, float* dk, float* dv,
                           int ld_g, float* db, float* w) {
  level_kernels().backward_f32(b, go, o, ld_o, l, gl, dq, dk, dv, ld_g, db,
                               w);
}
inline void backward_block(const Block<double>& b, const double* go,
                           const double* o, int ld_o, const double* l,
                           const double* gl, double* dq, double* dk,
                           double* dv, int ld_g, double* db, double* w) {
  level_kernels().backward_f64(b, go, o, ld_o, l, gl, dq, dk, dv, ld_g, db,
                               w);
}

template <typename T>
Block<T> block_at(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const std::optional<at::Tensor>& bias,
                  const std::optional<at::Tensor>& mask, double scale,
                  int64_t index) {
  const int64_t heads = q.size(1), N = q.size(2), d = q.size(3);
  const int64_t w = index / heads, h = index % heads;
  const int64_t offset = w * q.stride(0) + h * q.stride(1);
  return Block<T>{q.const_data_ptr<T>() + offset,
                  k.const_data_ptr<T>() + offset,
                  v.const_data_ptr<T>() + offset,
                  bias ? bias->const_data_ptr<T>() + h * N * N : nullptr,
                  mask ? mask->const_data_ptr<T>() + (w % mask->size(0)) * N * N
                       : nullptr,
                  static_cast<int>(N), static_cast<int>(d),
                  static_cast<int>(q.stride(2)),
                  static_cast<typename AccType<T>::type>(scale)};
}

// A few (window, head) blocks per task keep scheduling overhead small.
constexpr int64_t kGrain = 8;

// Where the (N, d) rows of block (window w, head h) sit in an output or
// gradient: at w * window + h * head, rows `ld` apart.
struct RowsLayout {
  int64_t window, head;
  int ld;

  int64_t offset(int64_t index, int64_t heads) const {
    return index / heads * window + index % heads * head;
  }
};

// The layout of a dense (B*nW, heads, N, d) tensor.
RowsLayout dense_rows(int64_t heads, int64_t N, int64_t d) {
  return RowsLayout{heads * N * d, N * d, static_cast<int>(d)};
}

// The packed op's views of qkv (B*nW, N, 3C): q, k, v of shape
// (B*nW, heads, N, d), read in place.
std::tuple<at::Tensor, at::Tensor, at::Tensor> split_qkv(const at::Tensor& qkv,
                                                          int64_t heads) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.is_contiguous() && heads > 0 &&
                  qkv.size(2) % (3 * heads) == 0,
              "window_attention_qkv: qkv must be contiguous (B*nW, N, 3C) "
              "with C divisible by heads=", heads, ", got ", qkv.sizes());
  const at::Tensor parts =
      qkv.view({qkv.size(0), qkv.size(1), 3, heads, qkv.size(2) / 3 / heads})
          .permute({2, 0, 3, 1, 4});
  return {parts[0], parts[1], parts[2]};
}

template <typename scalar_t>
void attention_forward(const at::Tensor& q, const at::Tensor& k,
                       const at::Tensor& v,
                       const std::optional<at::Tensor>& bias,
                       const std::optional<at::Tensor>& mask, double scale,
                       scalar_t* out, RowsLayout out_rows, at::Tensor& lse) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t heads = q.size(1), N = q.size(2);
  acc_t* lse_ptr = lse.data_ptr<acc_t>();
  at::parallel_for(0, q.size(0) * heads, kGrain,
                   [&](int64_t begin, int64_t end) {
    std::vector<acc_t> work(forward_workspace(N, q.size(3)));
    for (int64_t index = begin; index < end; ++index) {
      forward_block(block_at<scalar_t>(q, k, v, bias, mask, scale, index),
                    out + out_rows.offset(index, heads), out_rows.ld,
                    lse_ptr + index * N, work.data());
    }
  });
}

at::Tensor new_lse(const at::Tensor& q) {
  return at::empty({q.size(0), q.size(1), q.size(2)},
                   q.options().dtype(lse_dtype(q.scalar_type())));
}

std::tuple<at::Tensor, at::Tensor> window_attention_fwd_cpu(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const std::optional<at::Tensor>& bias,
    const std::optional<at::Tensor>& mask, double scale) {
  check_attention(q, k, v, bias, mask);
  at::Tensor out = at::empty(q.sizes(), q.options());
  at::Tensor lse = new_lse(q);
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "window_attention_fwd_cpu", [&] {
    attention_forward<scalar_t>(q, k, v, bias, mask, scale,
                                out.data_ptr<scalar_t>(),
                                dense_rows(q.size(1), q.size(2), q.size(3)),
                                lse);
  });
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor> window_attention_qkv_fwd_cpu(
    const at::Tensor& qkv, int64_t heads,
    const std::optional<at::Tensor>& bias,
    const std::optional<at::Tensor>& mask, double scale) {
  const auto [q, k, v] = split_qkv(qkv, heads);
  check_attention(q, k, v, bias, mask);
  const int64_t N = qkv.size(1), C = qkv.size(2) / 3, d = C / heads;
  at::Tensor out = at::empty({qkv.size(0), N, C}, qkv.options());
  at::Tensor lse = new_lse(q);
  AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "window_attention_qkv_fwd_cpu",
                             [&] {
    attention_forward<scalar_t>(q, k, v, bias, mask, scale,
                                out.data_ptr<scalar_t>(),
                                RowsLayout{N * C, d, static_cast<int>(C)},
                                lse);
  });
  return {out, lse};
}

// Gradients of one call: grad_out and out share `out_rows`; dq, dk, dv
// start at their pointers and share `grad_rows`. Returns the bias gradient.
template <typename scalar_t>
at::Tensor attention_backward(
    const scalar_t* grad_out, const scalar_t* out, RowsLayout out_rows,
    const std::optional<at::Tensor>& grad_lse, const at::Tensor& q,
    const at::Tensor& k, const at::Tensor& v, const at::Tensor& lse,
    const std::optional<at::Tensor>& bias,
    const std::optional<at::Tensor>& mask, double scale, scalar_t* dq,
    scalar_t* dk, scalar_t* dv, RowsLayout grad_rows) {
  using acc_t = typename AccType<scalar_t>::type;
  const int64_t BW = q.size(0), heads = q.size(1), N = q.size(2);
  const auto acc_type = lse_dtype(q.scalar_type());
  TORCH_CHECK(lse.sizes() == at::IntArrayRef({BW, heads, N}) &&
                  lse.scalar_type() == acc_type && lse.is_contiguous(),
              "window_attention_bwd: lse must be contiguous (B*nW, heads, N) "
              "in ", acc_type);
  at::Tensor grad_lse_c;
  if (grad_lse) grad_lse_c = grad_lse->to(acc_type).contiguous();
  // Each thread sums the bias gradient of its windows privately; the
  // partial sums are reduced once at the end.
  const int64_t threads = at::get_num_threads();
  at::Tensor dbias_parts =
      bias ? at::zeros({threads, heads, N, N}, q.options().dtype(acc_type))
           : at::Tensor();
  const acc_t* l = lse.const_data_ptr<acc_t>();
  const acc_t* gl =
      grad_lse_c.defined() ? grad_lse_c.const_data_ptr<acc_t>() : nullptr;
  acc_t* parts = bias ? dbias_parts.data_ptr<acc_t>() : nullptr;
  at::parallel_for(0, BW * heads, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> work(backward_workspace(N));
    const int64_t thread = at::get_thread_num();
    TORCH_CHECK(thread < threads, "window_attention_bwd: thread id ", thread,
                " beyond the ", threads, " threads counted");
    for (int64_t index = begin; index < end; ++index) {
      const int64_t rows = index * N;
      const int64_t o = out_rows.offset(index, heads),
                    g = grad_rows.offset(index, heads);
      acc_t* dbias =
          parts ? parts + (thread * heads + index % heads) * N * N : nullptr;
      backward_block(block_at<scalar_t>(q, k, v, bias, mask, scale, index),
                     grad_out + o, out + o, out_rows.ld, l + rows,
                     gl ? gl + rows : nullptr, dq + g, dk + g, dv + g,
                     grad_rows.ld, dbias, work.data());
    }
  });
  return bias ? dbias_parts.sum(0).to(q.scalar_type())
              : at::empty({0}, q.options());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>
window_attention_bwd_cpu(const at::Tensor& grad_out,
                         const std::optional<at::Tensor>& grad_lse,
                         const at::Tensor& q, const at::Tensor& k,
                         const at::Tensor& v, const at::Tensor& out,
                         const at::Tensor& lse,
                         const std::optional<at::Tensor>& bias,
                         const std::optional<at::Tensor>& mask, double scale) {
  check_attention(q, k, v, bias, mask);
  TORCH_CHECK(grad_out.sizes() == q.sizes() && grad_out.is_contiguous() &&
                  out.sizes() == q.sizes() && out.is_contiguous(),
              "window_attention_bwd: grad_out and out must be contiguous like "
              "q");
  at::Tensor dq = at::empty(q.sizes(), q.options()),
             dk = at::empty(q.sizes(), q.options()),
             dv = at::empty(q.sizes(), q.options()), dbias;
  const RowsLayout rows = dense_rows(q.size(1), q.size(2), q.size(3));
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "window_attention_bwd_cpu", [&] {
    dbias = attention_backward<scalar_t>(
        grad_out.const_data_ptr<scalar_t>(), out.const_data_ptr<scalar_t>(),
        rows, grad_lse, q, k, v, lse, bias, mask, scale,
        dq.data_ptr<scalar_t>(), dk.data_ptr<scalar_t>(),
        dv.data_ptr<scalar_t>(), rows);
  });
  return {dq, dk, dv, dbias};
}

std::tuple<at::Tensor, at::Tensor> window_attention_qkv_bwd_cpu(
    const at::Tensor& grad_out, const std::optional<at::Tensor>& grad_lse,
    const at::Tensor& qkv, const at::Tensor& out, const at::Tensor& lse,
    const std::optional<at::Tensor>& bias,
    const std::optional<at::Tensor>& mask, int64_t heads, double scale) {
  const auto [q, k, v] = split_qkv(qkv, heads);
  check_attention(q, k, v, bias, mask);
  const int64_t N = qkv.size(1), C = qkv.size(2) / 3, d = C / heads;
  const std::vector<int64_t> out_shape{qkv.size(0), N, C};
  TORCH_CHECK(grad_out.sizes() == at::IntArrayRef(out_shape) &&
                  grad_out.is_contiguous() &&
                  out.sizes() == at::IntArrayRef(out_shape) &&
                  out.is_contiguous() &&
                  grad_out.scalar_type() == qkv.scalar_type() &&
                  out.scalar_type() == qkv.scalar_type(),
              "window_attention_qkv_bwd: grad_out and out must be contiguous "
              "(B*nW, N, C) of qkv's dtype");
  at::Tensor dqkv = at::empty(qkv.sizes(), qkv.options()), dbias;
  AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "window_attention_qkv_bwd_cpu",
                             [&] {
    scalar_t* dq = dqkv.data_ptr<scalar_t>();
    dbias = attention_backward<scalar_t>(
        grad_out.const_data_ptr<scalar_t>(), out.const_data_ptr<scalar_t>(),
        RowsLayout{N * C, d, static_cast<int>(C)}, grad_lse, q, k, v, lse,
        bias, mask, scale, dq, dq + C, dq + 2 * C,
        RowsLayout{N * 3 * C, d, static_cast<int>(3 * C)});
  });
  return {dqkv, dbias};
}

}  // namespace

TORCH_LIBRARY_IMPL(mmzoo, CPU, m) {
  m.impl("window_partition", &window_partition_cpu);
  m.impl("window_reverse", &window_reverse_cpu);
  m.impl("window_attention_fwd", &window_attention_fwd_cpu);
  m.impl("window_attention_bwd", &window_attention_bwd_cpu);
  m.impl("window_attention_qkv_fwd", &window_attention_qkv_fwd_cpu);
  m.impl("window_attention_qkv_bwd", &window_attention_qkv_bwd_cpu);
}

// Which level the kernels above run at ("DEFAULT", "AVX2", "AVX512"), for
// benchmarks and tests; a query, so it lives with the kernels it describes.
TORCH_LIBRARY_FRAGMENT(mmzoo, m) {
  m.def("cpu_simd_level() -> str", &cpu_simd_level);
}

}  // namespace mmzoo
