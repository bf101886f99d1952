// Argument checks shared by the CPU and CUDA entry points (host only).
#pragma once

#include <ATen/ATen.h>

#include "window_math.h"

namespace mmzoo {

inline WindowGeometry partition_geometry(int64_t H, int64_t W, int64_t ws,
                                         int64_t shift) {
  TORCH_CHECK(ws >= 1 && shift >= 0 && shift < ws,
              "mmzoo window ops: need window_size >= 1 and 0 <= shift_size < "
              "window_size, got ",
              ws, " and ", shift);
  return WindowGeometry{H, W, ws, shift, windows_per_axis(H, ws),
                        windows_per_axis(W, ws)};
}

// Every tensor an op reads must live on the device of its first input: a
// CUDA kernel handed a host pointer, or another GPU's, reads garbage or
// faults far from the cause.
inline void check_device(const char* op, const at::Tensor& ref,
                         const char* ref_name, const at::Tensor& t,
                         const char* name) {
  TORCH_CHECK(t.device() == ref.device(), op, ": ", name, " is on ",
              t.device(), " but ", ref_name, " is on ", ref.device(),
              "; all inputs must be on one device");
}

inline void check_device(const char* op, const at::Tensor& ref,
                         const char* ref_name,
                         const std::optional<at::Tensor>& t,
                         const char* name) {
  if (t) check_device(op, ref, ref_name, *t, name);
}

inline void check_attention(const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v,
                            const std::optional<at::Tensor>& bias,
                            const std::optional<at::Tensor>& mask) {
  check_device("window_attention", q, "q", k, "k");
  check_device("window_attention", q, "q", v, "v");
  check_device("window_attention", q, "q", bias, "bias");
  check_device("window_attention", q, "q", mask, "mask");
  TORCH_CHECK(q.dim() == 4, "window_attention: q must be (B*nW, heads, N, d)",
              ", got ", q.sizes());
  TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(),
              "window_attention: q, k, v shapes differ: ", q.sizes(), " ",
              k.sizes(), " ", v.sizes());
  // Rows may be strided (q, k, v sliced out of one qkv projection), channels
  // not; the three share one layout.
  TORCH_CHECK(q.stride(3) == 1 && k.strides() == q.strides() &&
                  v.strides() == q.strides(),
              "window_attention: q, k, v need one layout with contiguous "
              "channels, got strides ",
              q.strides(), " ", k.strides(), " ", v.strides());
  TORCH_CHECK(k.scalar_type() == q.scalar_type() &&
                  v.scalar_type() == q.scalar_type(),
              "window_attention: q, k, v dtypes differ");
  const int64_t heads = q.size(1), N = q.size(2), d = q.size(3);
  TORCH_CHECK(N <= kMaxTokens && d <= kMaxHeadDim,
              "window_attention kernels take N <= ", kMaxTokens, " and d <= ",
              kMaxHeadDim, ", got N=", N, ", d=", d);
  if (bias) {
    TORCH_CHECK(bias->sizes() == at::IntArrayRef({heads, N, N}) &&
                    bias->is_contiguous() &&
                    bias->scalar_type() == q.scalar_type(),
                "window_attention: bias must be contiguous (heads, N, N) of "
                "q's dtype, got ",
                bias->sizes(), " ", bias->scalar_type());
  }
  if (mask) {
    TORCH_CHECK(mask->dim() == 3 && mask->size(1) == N && mask->size(2) == N &&
                    mask->is_contiguous() &&
                    mask->scalar_type() == q.scalar_type() &&
                    mask->size(0) > 0 && q.size(0) % mask->size(0) == 0,
                "window_attention: mask must be contiguous (nW, N, N) of q's "
                "dtype with nW dividing B*nW, got ",
                mask->sizes(), " ", mask->scalar_type());
  }
}

inline at::ScalarType lse_dtype(at::ScalarType t) {
  return t == at::kDouble ? at::kDouble : at::kFloat;
}

}  // namespace mmzoo
