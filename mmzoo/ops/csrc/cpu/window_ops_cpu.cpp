// CPU kernels of mmzoo's window ops: at::parallel_for over (window, head);
// each block's two (backward: five) matrix products go to torch's BLAS
// straight from the inputs, the row math between them (vectorised softmax,
// its gradient) comes from common/window_math.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <type_traits>

#include <cstring>
#include <tuple>
#include <vector>

#include "../common/checks.h"
#include "../common/window_math.h"

namespace mmzoo {
namespace {

// The hot loops are compiled twice, for x86-64-v3 (AVX2, FMA) and for the x86-64
// baseline, and the loader picks one per machine.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MMZOO_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MMZOO_CPU_CLONES
#endif
// Everything a clone calls is inlined into it, so it is compiled for the
// clone's instruction set too.
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

// Workspace of one block, in elements: the forward holds P, the backward P
// and dS (N x N each); q, k, v and the outputs are used in place.
inline int64_t forward_workspace(int N) { return int64_t(N) * N; }
inline int64_t backward_workspace(int N) { return 2 * int64_t(N) * N; }

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

// Non-template entry points, so that target_clones can version them.
MMZOO_CPU_CLONES void forward_block_f32(const Block<float>& blk, float* out,
                                        int ld_out, float* lse, float* kt) {
  attention_forward_block(blk, out, ld_out, lse, kt);
}
MMZOO_CPU_CLONES void forward_block_f64(const Block<double>& blk, double* out,
                                        int ld_out, double* lse, double* kt) {
  attention_forward_block(blk, out, ld_out, lse, kt);
}
MMZOO_CPU_CLONES void backward_block_f32(
    const Block<float>& blk, const float* grad_out, const float* out,
    int ld_out, const float* lse, const float* grad_lse, float* dq, float* dk,
    float* dv, int ld_grad, float* dbias, float* work) {
  attention_backward_block(blk, grad_out, out, ld_out, lse, grad_lse, dq, dk,
                           dv, ld_grad, dbias, work);
}
MMZOO_CPU_CLONES void backward_block_f64(
    const Block<double>& blk, const double* grad_out, const double* out,
    int ld_out, const double* lse, const double* grad_lse, double* dq,
    double* dk, double* dv, int ld_grad, double* dbias, double* work) {
  attention_backward_block(blk, grad_out, out, ld_out, lse, grad_lse, dq, dk,
                           dv, ld_grad, dbias, work);
}

inline void forward_block(const Block<float>& b, float* o, int ld_o, float* l,
                          float* w) {
  forward_block_f32(b, o, ld_o, l, w);
}
inline void forward_block(const Block<double>& b, double* o, int ld_o,
                          double* l, double* w) {
  forward_block_f64(b, o, ld_o, l, w);
}
inline void backward_block(const Block<float>& b, const float* go,
                           const float* o, int ld_o, const float* l,
                           const float* gl, float* dq, float* dk, float* dv,
                           int ld_g, float* db, float* w) {
  backward_block_f32(b, go, o, ld_o, l, gl, dq, dk, dv, ld_g, db, w);
}
inline void backward_block(const Block<double>& b, const double* go,
                           const double* o, int ld_o, const double* l,
                           const double* gl, double* dq, double* dk,
                           double* dv, int ld_g, double* db, double* w) {
  backward_block_f64(b, go, o, ld_o, l, gl, dq, dk, dv, ld_g, db, w);
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
    std::vector<acc_t> work(forward_workspace(N));
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

}  // namespace mmzoo
