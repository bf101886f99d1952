// CUDA kernels of mmzoo's window ops. Attention in float16 and bfloat16 runs
// on tensor cores (window_attention_mma.cuh); in float32, on GPUs older than
// sm_80, with a build that has no sm_80+ code for the GPU, or when
// MMZOO_WINDOW_ATTENTION_KERNEL=simt (common/kernel_choice.h), on the SIMT
// kernels here: one block per (window, head), K and V
// (or Q and dO) of the window in shared memory as float, one warp per query
// row (or key row), lanes over tokens for the scores and over channels for
// the outputs. All accumulate in float.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

// ATen/cuda/CUDAContext.h is avoided on purpose: it pulls in cuSPARSE and
// cuBLAS headers that a bare CUDA toolkit lacks.

#include "../common/checks.h"
#include "../common/kernel_choice.h"
#include "../common/window_math.h"

// nvcc lists the architectures it compiles for (the virtual ones, as
// 100 * major + 10 * minor: "800,900") in every pass, the host's included.
#ifndef __CUDA_ARCH_LIST__
#error "mmzoo's CUDA kernels need nvcc 11.5 or newer (__CUDA_ARCH_LIST__)"
#endif

#define MMZOO_DISPATCH_CUDA_HALVES(TYPE, NAME, ...)          \
  AT_DISPATCH_SWITCH(TYPE, NAME,                             \
                     AT_DISPATCH_CASE(at::ScalarType::Half,  \
                                      __VA_ARGS__)           \
                         AT_DISPATCH_CASE(                   \
                             at::ScalarType::BFloat16, __VA_ARGS__))

#define MMZOO_DISPATCH_CUDA_FLOATS(TYPE, NAME, ...)             \
  AT_DISPATCH_SWITCH(TYPE, NAME,                                \
                     AT_DISPATCH_CASE(at::ScalarType::Float,    \
                                      __VA_ARGS__)              \
                         AT_DISPATCH_CASE(at::ScalarType::Half, \
                                          __VA_ARGS__)          \
                             AT_DISPATCH_CASE(                  \
                                 at::ScalarType::BFloat16, __VA_ARGS__))

namespace mmzoo {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTokensPerLane = (kMaxTokens + 31) / 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kCompiledArchs[] = {__CUDA_ARCH_LIST__};

// "8.0, 9.0", as TORCH_CUDA_ARCH_LIST spells them.
std::string compiled_archs_text() {
  std::string text;
  for (int arch : kCompiledArchs)
    text += (text.empty() ? "" : ", ") + arch_name(arch / 10);
  return text;
}

// CUDA's launch limits: gridDim.x up to 2^31 - 1 blocks, y up to 65535.
void check_grid(const char* op, const at::Tensor& q, int64_t x, int64_t y) {
  TORCH_CHECK(x <= std::numeric_limits<int32_t>::max() && y <= 65535, op,
              ": q of shape ", q.sizes(), " needs a grid of ", x, " x ", y,
              " blocks, beyond CUDA's limit of 2147483647 x 65535; split "
              "the windows or the heads over several calls");
}

__device__ __forceinline__ float warp_max(float x) {
  for (int offset = 16; offset; offset >>= 1)
    x = fmaxf(x, __shfl_xor_sync(kFullMask, x, offset));
  return x;
}

__device__ __forceinline__ float warp_sum(float x) {
  for (int offset = 16; offset; offset >>= 1)
    x += __shfl_xor_sync(kFullMask, x, offset);
  return x;
}

// Row stride of the shared-memory tiles: odd, so that lanes reading the same
// column of 32 different rows hit 32 different banks.
__host__ __device__ __forceinline__ int tile_stride(int d) {
  return d % 2 ? d : d + 1;
}

template <typename T>
__device__ __forceinline__ void load_tile(const T* src, float* dst, int N,
                                          int d, int ld) {
  for (int e = threadIdx.x; e < N * d; e += blockDim.x)
    dst[(e / d) * ld + e % d] = static_cast<float>(src[e]);
}

template <typename T>
__device__ __forceinline__ const T* entry(const T* rows, int i, int j, int N) {
  return rows ? rows + i * N + j : nullptr;
}

int blocks_for(int64_t n, int threads) {
  return static_cast<int>(std::min<int64_t>((n + threads - 1) / threads,
                                            int64_t(1) << 20));
}

template <typename Kernel>
void allow_shared_memory(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024) {
    C10_CUDA_CHECK(cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
        static_cast<int>(bytes)));
  }
}

size_t max_shared_memory() {
  int device = 0, bytes = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(
      &bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return static_cast<size_t>(bytes);
}

// ---------------------------------------------------------------- partition

template <typename T>
__global__ void partition_kernel(const T* x, T* out, WindowGeometry g,
                                 int64_t total, int64_t C) {
  const int64_t N = g.ws * g.ws;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / C;
    const int64_t pixel = g.source_pixel(row / N, row % N);
    out[e] = pixel < 0 ? static_cast<T>(0.0f) : x[pixel * C + e % C];
  }
}

template <typename T>
__global__ void reverse_kernel(const T* windows, T* out, WindowGeometry g,
                               int64_t total, int64_t C) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = e / C;
    const int64_t row = g.target_row(p / (g.H * g.W), (p / g.W) % g.H, p % g.W);
    out[e] = windows[row * C + e % C];
  }
}

// The virtual architecture (10 * major + minor, the __CUDA_ARCH__) of the
// kernel image that the driver loads on `device`, 0 when none of the
// compiled architectures runs there: an sm_80 binary on an sm_86 GPU gives
// 80; compute_75 PTX that the driver compiles for an sm_90 GPU gives 75, an
// image whose tensor-core kernels are empty. Every kernel of this file is
// compiled for the same architectures, so one answers for all. (CUB's
// PtxVersion asks the same way.)
int loaded_arch(int device) {
  constexpr int kCachedDevices = 64;
  static std::atomic<int> cached[kCachedDevices];  // arch + 1; 0: not asked
  if (device < kCachedDevices && cached[device].load() > 0)
    return cached[device].load() - 1;
  cudaFuncAttributes attributes;
  const cudaError_t error =
      cudaFuncGetAttributes(&attributes, partition_kernel<float>);
  int arch = 0;
  if (error == cudaSuccess) {
    arch = attributes.ptxVersion;
  } else if (error == cudaErrorNoKernelImageForDevice ||
             error == cudaErrorInvalidDeviceFunction) {
    // Not sticky, but the next launch check would report it: clear it.
    (void)cudaGetLastError();
  } else {
    C10_CUDA_CHECK(error);
  }
  if (device < kCachedDevices) cached[device].store(arch + 1);
  return arch;
}

int device_arch(int device) {
  int major = 0, minor = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(
      &major, cudaDevAttrComputeCapabilityMajor, device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(
      &minor, cudaDevAttrComputeCapabilityMinor, device));
  return 10 * major + minor;
}

// The attention kernel for q on the current GPU (kernel_choice.h); refuses,
// naming the compiled architectures, when none of them runs on it.
AttentionKernel attention_kernel(const at::Tensor& q, bool fits_shared_memory) {
  int device = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  const char* request = std::getenv("MMZOO_WINDOW_ATTENTION_KERNEL");
  return choose_attention_kernel(
      q.scalar_type() == at::kHalf || q.scalar_type() == at::kBFloat16,
      fits_shared_memory, device_arch(device), loaded_arch(device),
      compiled_archs_text(), request ? request : "");
}

// The same refusal for the partition kernels, in place of CUDA's "no kernel
// image is available".
void check_kernel_image() {
  int device = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  check_loaded_arch(device_arch(device), loaded_arch(device),
                    compiled_archs_text());
}

at::Tensor window_partition_cuda(const at::Tensor& x, int64_t window_size,
                                 int64_t shift_size) {
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous(),
              "window_partition: x must be contiguous (B, H, W, C), got ",
              x.sizes());
  c10::cuda::CUDAGuard guard(x.device());
  check_kernel_image();
  const WindowGeometry g =
      partition_geometry(x.size(1), x.size(2), window_size, shift_size);
  const int64_t N = window_size * window_size, C = x.size(3);
  at::Tensor out = at::empty({x.size(0) * g.n_h * g.n_w, N, C}, x.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, x.scalar_type(), "window_partition_cuda", [&] {
        partition_kernel<scalar_t>
            <<<blocks_for(total, 256), 256, 0,
               c10::cuda::getCurrentCUDAStream()>>>(
                x.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), g,
                total, C);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return out;
}

at::Tensor window_reverse_cuda(const at::Tensor& windows, int64_t window_size,
                               int64_t shift_size, int64_t H, int64_t W) {
  const WindowGeometry g = partition_geometry(H, W, window_size, shift_size);
  const int64_t N = window_size * window_size, per_image = g.n_h * g.n_w;
  TORCH_CHECK(windows.dim() == 3 && windows.size(1) == N &&
                  windows.size(0) % per_image == 0 && windows.is_contiguous(),
              "window_reverse: windows must be contiguous (B*", per_image,
              ", ", N, ", C), got ", windows.sizes());
  c10::cuda::CUDAGuard guard(windows.device());
  check_kernel_image();
  const int64_t C = windows.size(2);
  at::Tensor out =
      at::empty({windows.size(0) / per_image, H, W, C}, windows.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, windows.scalar_type(), "window_reverse_cuda",
      [&] {
        reverse_kernel<scalar_t><<<blocks_for(total, 256), 256, 0,
                                   c10::cuda::getCurrentCUDAStream()>>>(
            windows.const_data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), g,
            total, C);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
  return out;
}

// ---------------------------------------------------------------- attention

struct AttentionShape {
  int heads, N, d, nW;
  float scale;
};

// Grid: one block per (window, head). Shared: K, V tiles, then per warp the
// query row and the row's probabilities.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    attention_fwd_kernel(const T* q, const T* k, const T* v, const T* bias,
                         const T* mask, T* out, float* lse, AttentionShape s) {
  extern __shared__ float smem[];
  const int N = s.N, d = s.d, ld = tile_stride(d);
  const int64_t index = blockIdx.x;
  const int64_t base = index * N * d;
  float* ks = smem;
  float* vs = ks + N * ld;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* q_row = vs + N * ld + warp * (d + N);
  float* p_row = q_row + d;
  const T* bias_h = bias ? bias + int64_t(index % s.heads) * N * N : nullptr;
  const T* mask_w =
      mask ? mask + int64_t((index / s.heads) % s.nW) * N * N : nullptr;
  load_tile(k + base, ks, N, d, ld);
  load_tile(v + base, vs, N, d, ld);
  __syncthreads();
  for (int i = warp; i < N; i += kWarps) {
    for (int c = lane; c < d; c += 32)
      q_row[c] = static_cast<float>(q[base + i * d + c]);
    __syncwarp();
    float logits[kTokensPerLane];
    float block_max = -INFINITY;
#pragma unroll
    for (int t = 0; t < kTokensPerLane; ++t) {
      const int j = lane + 32 * t;
      logits[t] = -INFINITY;
      if (j < N) {
        logits[t] = logit<float>(dot<float>(q_row, ks + j * ld, d), s.scale,
                                 entry(bias_h, i, j, N), entry(mask_w, i, j, N));
        block_max = fmaxf(block_max, logits[t]);
      }
    }
    RowSoftmax<float> row;
    row.init();
    row.rescale_for(warp_max(block_max));
    float sum = 0;
#pragma unroll
    for (int t = 0; t < kTokensPerLane; ++t) {
      const int j = lane + 32 * t;
      if (j < N) {
        const float p = row.prob_unnormalised(logits[t]);
        p_row[j] = p;
        sum += p;
      }
    }
    row.sum = warp_sum(sum);
    __syncwarp();
    const float inv = 1.0f / row.sum;
    for (int c = lane; c < d; c += 32) {
      float o = 0;
      for (int j = 0; j < N; ++j) o += p_row[j] * vs[j * ld + c];
      out[base + i * d + c] = static_cast<T>(o * inv);
    }
    if (lane == 0) lse[index * N + i] = row.lse();
    __syncwarp();
  }
}

// delta_r = dO_r . O_r - dlse_r for every row r.
template <typename T>
__global__ void attention_delta_kernel(const T* grad_out, const T* out,
                                       const float* grad_lse, float* delta,
                                       int64_t rows, int d) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    delta[r] = row_delta<float>(grad_out + r * d, out + r * d, d,
                                grad_lse ? grad_lse + r : nullptr);
  }
}

// dK, dV: one block per (window, head), one warp per key row j, lanes over
// the query rows i. Shared: Q, dO tiles, lse and delta of the window, then
// per warp k_j, v_j and the column's P and dS.
template <typename T>
__global__ void __launch_bounds__(kThreads) attention_bwd_dkdv_kernel(
    const T* q, const T* k, const T* v, const T* bias, const T* mask,
    const T* grad_out, const float* lse, const float* delta, T* dk, T* dv,
    AttentionShape s) {
  extern __shared__ float smem[];
  const int N = s.N, d = s.d, ld = tile_stride(d);
  const int64_t index = blockIdx.x;
  const int64_t base = index * N * d;
  float* qs = smem;
  float* dos = qs + N * ld;
  float* lse_s = dos + N * ld;
  float* delta_s = lse_s + N;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* k_row = delta_s + N + warp * (2 * d + 2 * N);
  float* v_row = k_row + d;
  float* p_col = v_row + d;
  float* ds_col = p_col + N;
  const T* bias_h = bias ? bias + int64_t(index % s.heads) * N * N : nullptr;
  const T* mask_w =
      mask ? mask + int64_t((index / s.heads) % s.nW) * N * N : nullptr;
  load_tile(q + base, qs, N, d, ld);
  load_tile(grad_out + base, dos, N, d, ld);
  for (int i = threadIdx.x; i < N; i += blockDim.x) {
    lse_s[i] = lse[index * N + i];
    delta_s[i] = delta[index * N + i];
  }
  __syncthreads();
  for (int j = warp; j < N; j += kWarps) {
    for (int c = lane; c < d; c += 32) {
      k_row[c] = static_cast<float>(k[base + j * d + c]);
      v_row[c] = static_cast<float>(v[base + j * d + c]);
    }
    __syncwarp();
    for (int i = lane; i < N; i += 32) {
      const float p = prob_from_lse(
          logit<float>(dot<float>(qs + i * ld, k_row, d), s.scale,
                       entry(bias_h, i, j, N), entry(mask_w, i, j, N)),
          lse_s[i]);
      const float dp = dot<float>(dos + i * ld, v_row, d);
      p_col[i] = p;
      ds_col[i] = softmax_grad(p, dp, delta_s[i]);
    }
    __syncwarp();
    for (int c = lane; c < d; c += 32) {
      float dv_acc = 0, dk_acc = 0;
      for (int i = 0; i < N; ++i) {
        dv_acc += p_col[i] * dos[i * ld + c];
        dk_acc += ds_col[i] * qs[i * ld + c];
      }
      dv[base + j * d + c] = static_cast<T>(dv_acc);
      dk[base + j * d + c] = static_cast<T>(dk_acc * s.scale);
    }
    __syncwarp();
  }
}

// dQ and dbias: grid (window chunks, heads); a block walks its windows of one
// head, one warp per query row i, lanes over keys j. The bias gradient sums
// in shared memory over the block's windows (each (i, j) belongs to one
// lane), then goes to the float buffer with one atomicAdd per entry; when
// that does not fit in shared memory, every entry is added atomically.
template <typename T>
__global__ void __launch_bounds__(kThreads) attention_bwd_dq_kernel(
    const T* q, const T* k, const T* v, const T* bias, const T* mask,
    const T* grad_out, const float* lse, const float* delta, T* dq,
    float* dbias, int64_t windows, bool dbias_in_shared, AttentionShape s) {
  extern __shared__ float smem[];
  const int N = s.N, d = s.d, ld = tile_stride(d);
  const int h = blockIdx.y;
  float* ks = smem;
  float* vs = ks + N * ld;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* q_row = vs + N * ld + warp * (2 * d + N);
  float* do_row = q_row + d;
  float* ds_row = do_row + d;
  float* dbias_s = vs + N * ld + kWarps * (2 * d + N);
  float* dbias_h = dbias ? dbias + int64_t(h) * N * N : nullptr;
  if (dbias && dbias_in_shared)
    for (int e = threadIdx.x; e < N * N; e += blockDim.x) dbias_s[e] = 0;
  const T* bias_h = bias ? bias + int64_t(h) * N * N : nullptr;
  for (int64_t w = blockIdx.x; w < windows; w += gridDim.x) {
    const int64_t index = w * s.heads + h;
    const int64_t base = index * N * d;
    const T* mask_w = mask ? mask + int64_t(w % s.nW) * N * N : nullptr;
    __syncthreads();  // the previous window is done with the tiles
    load_tile(k + base, ks, N, d, ld);
    load_tile(v + base, vs, N, d, ld);
    __syncthreads();
    for (int i = warp; i < N; i += kWarps) {
      for (int c = lane; c < d; c += 32) {
        q_row[c] = static_cast<float>(q[base + i * d + c]);
        do_row[c] = static_cast<float>(grad_out[base + i * d + c]);
      }
      __syncwarp();
      const float lse_i = lse[index * N + i], delta_i = delta[index * N + i];
      for (int j = lane; j < N; j += 32) {
        const float p = prob_from_lse(
            logit<float>(dot<float>(q_row, ks + j * ld, d), s.scale,
                         entry(bias_h, i, j, N), entry(mask_w, i, j, N)),
            lse_i);
        const float ds =
            softmax_grad(p, dot<float>(do_row, vs + j * ld, d), delta_i);
        ds_row[j] = ds;
        if (dbias) {
          if (dbias_in_shared)
            dbias_s[i * N + j] += ds;
          else
            atomicAdd(dbias_h + i * N + j, ds);
        }
      }
      __syncwarp();
      for (int c = lane; c < d; c += 32) {
        float acc = 0;
        for (int j = 0; j < N; ++j) acc += ds_row[j] * ks[j * ld + c];
        dq[base + i * d + c] = static_cast<T>(acc * s.scale);
      }
      __syncwarp();
    }
  }
  if (dbias && dbias_in_shared) {
    __syncthreads();
    for (int e = threadIdx.x; e < N * N; e += blockDim.x)
      atomicAdd(dbias_h + e, dbias_s[e]);
  }
}

AttentionShape attention_shape(const at::Tensor& q,
                               const std::optional<at::Tensor>& mask,
                               double scale) {
  return AttentionShape{static_cast<int>(q.size(1)),
                        static_cast<int>(q.size(2)),
                        static_cast<int>(q.size(3)),
                        mask ? static_cast<int>(mask->size(0)) : 1,
                        static_cast<float>(scale)};
}

#include "window_attention_mma.cuh"

// Tensor cores take float16 and bfloat16 from sm_80 on, when the loaded
// image has them (attention_kernel); float32 stays on the SIMT kernels,
// which keep full float precision in the products.
bool use_tensor_cores(const at::Tensor& q, size_t shared_bytes) {
  return attention_kernel(q, shared_bytes <= max_shared_memory()) ==
         AttentionKernel::kTensorCores;
}

QkvStrides qkv_strides(const at::Tensor& q) {
  return QkvStrides{q.stride(0), q.stride(1), q.stride(2)};
}

// Whether every row of these tensors (dense channels) starts on a 16-byte
// boundary and holds whole 16-byte vectors.
bool rows_are_vectors(std::initializer_list<at::Tensor> tensors) {
  for (const at::Tensor& t : tensors) {
    const int64_t vec = 16 / t.element_size();
    if (t.size(3) % vec || t.stride(0) % vec || t.stride(1) % vec ||
        t.stride(2) % vec ||
        reinterpret_cast<uintptr_t>(t.const_data_ptr()) % 16)
      return false;
  }
  return true;
}

// q, k, v as given when they share one layout with dense channels (slices
// of one qkv projection), else contiguous copies.
std::tuple<at::Tensor, at::Tensor, at::Tensor> one_layout(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (q.stride(3) == 1 && k.strides() == q.strides() &&
      v.strides() == q.strides())
    return {q, k, v};
  return {q.contiguous(), k.contiguous(), v.contiguous()};
}

template <typename T>
const T* optional_ptr(const std::optional<at::Tensor>& t) {
  return t ? t->const_data_ptr<T>() : nullptr;
}

// The kernels read the bias in q's dtype. The caller's keeps its own
// (float32 under autocast), and so does its gradient, which sums over every
// window and would overflow float16 under a GradScaler's scale.
std::optional<at::Tensor> bias_as_q(const std::optional<at::Tensor>& bias,
                                    const at::Tensor& q) {
  if (!bias) return std::nullopt;
  TORCH_CHECK(bias->is_floating_point(),
              "window_attention: bias must be floating point, got ",
              bias->scalar_type());
  return bias->to(q.scalar_type()).contiguous();
}

void check_cuda_dtype(const at::Tensor& q) {
  TORCH_CHECK(q.scalar_type() == at::kFloat || q.scalar_type() == at::kHalf ||
                  q.scalar_type() == at::kBFloat16,
              "window_attention on CUDA takes float32, float16 or bfloat16, "
              "got ",
              q.scalar_type());
}

std::tuple<at::Tensor, at::Tensor> window_attention_fwd_cuda(
    const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
    const std::optional<at::Tensor>& bias_in,
    const std::optional<at::Tensor>& mask, double scale) {
  const char* op = "window_attention_fwd";
  check_device(op, q_in, "q", k_in, "k");
  check_device(op, q_in, "q", v_in, "v");
  check_device(op, q_in, "q", bias_in, "bias");
  check_device(op, q_in, "q", mask, "mask");
  TORCH_CHECK(q_in.dim() == 4, op, ": q must be (B*nW, heads, N, d), got ",
              q_in.sizes());
  // One block per (window, head).
  check_grid(op, q_in, q_in.size(0) * q_in.size(1), 1);
  at::Tensor q, k, v;
  std::tie(q, k, v) = one_layout(q_in, k_in, v_in);
  const std::optional<at::Tensor> bias = bias_as_q(bias_in, q);
  check_attention(q, k, v, bias, mask);
  check_cuda_dtype(q);
  c10::cuda::CUDAGuard guard(q.device());
  const AttentionShape s = attention_shape(q, mask, scale);
  const int64_t blocks = q.size(0) * s.heads;
  at::Tensor out = at::empty(q.sizes(), q.options());
  at::Tensor lse = at::empty({q.size(0), s.heads, s.N}, q.options().dtype(at::kFloat));
  if (q.numel() == 0) return {out, lse};
  const MmaLayout layout(s.N, s.d);
  const bool staged = layout.forward_bytes(s.N, true) <= max_shared_memory();
  const size_t smem_mma = layout.forward_bytes(s.N, staged);
  if (use_tensor_cores(q, smem_mma)) {
    MMZOO_DISPATCH_CUDA_HALVES(q.scalar_type(), "window_attention_fwd_mma", [&] {
      auto kernel = attention_fwd_mma_kernel<scalar_t>;
      allow_shared_memory(kernel, smem_mma);
      kernel<<<blocks, kThreads, smem_mma, c10::cuda::getCurrentCUDAStream()>>>(
          q.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(),
          v.const_data_ptr<scalar_t>(), qkv_strides(q),
          rows_are_vectors({q, k, v}), staged, optional_ptr<scalar_t>(bias),
          optional_ptr<scalar_t>(mask), out.data_ptr<scalar_t>(),
          lse.data_ptr<float>(), s);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    return {out, lse};
  }
  // The SIMT kernels index q, k, v densely.
  q = q.contiguous();
  k = k.contiguous();
  v = v.contiguous();
  const size_t smem =
      (2 * s.N * tile_stride(s.d) + kWarps * (s.d + s.N)) * sizeof(float);
  MMZOO_DISPATCH_CUDA_FLOATS(q.scalar_type(), "window_attention_fwd_cuda", [&] {
    auto kernel = attention_fwd_kernel<scalar_t>;
    allow_shared_memory(kernel, smem);
    kernel<<<blocks, kThreads, smem, c10::cuda::getCurrentCUDAStream()>>>(
        q.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(),
        v.const_data_ptr<scalar_t>(), optional_ptr<scalar_t>(bias),
        optional_ptr<scalar_t>(mask), out.data_ptr<scalar_t>(),
        lse.data_ptr<float>(), s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>
window_attention_bwd_cuda(const at::Tensor& grad_out,
                          const std::optional<at::Tensor>& grad_lse,
                          const at::Tensor& q_in, const at::Tensor& k_in,
                          const at::Tensor& v_in, const at::Tensor& out,
                          const at::Tensor& lse,
                          const std::optional<at::Tensor>& bias_in,
                          const std::optional<at::Tensor>& mask, double scale) {
  const char* op = "window_attention_bwd";
  check_device(op, q_in, "q", grad_out, "grad_out");
  check_device(op, q_in, "q", grad_lse, "grad_lse");
  check_device(op, q_in, "q", k_in, "k");
  check_device(op, q_in, "q", v_in, "v");
  check_device(op, q_in, "q", out, "out");
  check_device(op, q_in, "q", lse, "lse");
  check_device(op, q_in, "q", bias_in, "bias");
  check_device(op, q_in, "q", mask, "mask");
  TORCH_CHECK(q_in.dim() == 4, op, ": q must be (B*nW, heads, N, d), got ",
              q_in.sizes());
  // dK, dV: one block per (window, head); dQ: (window chunks, heads).
  check_grid(op, q_in, q_in.size(0) * q_in.size(1), q_in.size(1));
  at::Tensor q, k, v;
  std::tie(q, k, v) = one_layout(q_in, k_in, v_in);
  const std::optional<at::Tensor> bias = bias_as_q(bias_in, q);
  check_attention(q, k, v, bias, mask);
  check_cuda_dtype(q);
  TORCH_CHECK(grad_out.sizes() == q.sizes() && grad_out.is_contiguous() &&
                  out.sizes() == q.sizes() && out.is_contiguous() &&
                  grad_out.scalar_type() == q.scalar_type() &&
                  out.scalar_type() == q.scalar_type(),
              "window_attention_bwd: grad_out and out must be contiguous like "
              "q");
  TORCH_CHECK(lse.scalar_type() == at::kFloat && lse.is_contiguous() &&
                  lse.numel() == q.size(0) * q.size(1) * q.size(2),
              "window_attention_bwd: lse must be contiguous float32 "
              "(B*nW, heads, N)");
  TORCH_CHECK(!grad_lse || grad_lse->numel() == lse.numel(),
              "window_attention_bwd: grad_lse must have lse's ", lse.numel(),
              " elements, got ", grad_lse ? grad_lse->numel() : 0);
  c10::cuda::CUDAGuard guard(q.device());
  const AttentionShape s = attention_shape(q, mask, scale);
  const int64_t windows = q.size(0), rows = windows * s.heads * s.N;
  at::Tensor dq = at::empty(q.sizes(), q.options()),
             dk = at::empty(q.sizes(), q.options()),
             dv = at::empty(q.sizes(), q.options());
  at::Tensor dbias_f32 =
      bias ? at::zeros({s.heads, s.N, s.N}, q.options().dtype(at::kFloat))
           : at::Tensor();
  if (q.numel() == 0) {
    return {dq.zero_(), dk.zero_(), dv.zero_(),
            bias ? dbias_f32.to(bias_in->scalar_type())
                 : at::empty({0}, q.options())};
  }
  at::Tensor grad_lse_f32 =
      grad_lse ? grad_lse->to(at::kFloat).contiguous() : at::Tensor();
  auto stream = c10::cuda::getCurrentCUDAStream();
  // Enough blocks to fill the GPU, few enough that each sums the bias
  // gradient of many windows before its atomics.
  const int chunks = static_cast<int>(std::min<int64_t>(
      windows, std::max<int64_t>(1, 2048 / s.heads)));
  // Shared memory first for the staged bias and mask, then for the bias
  // gradient, as far as the GPU has it.
  const MmaLayout layout(s.N, s.d);
  const size_t shared_max = max_shared_memory();
  const bool staged =
      layout.backward_bytes(s.N, true, false) <= shared_max;
  const bool mma_dbias_in_shared =
      bias && layout.backward_bytes(s.N, staged, true) <= shared_max;
  const size_t smem_mma =
      layout.backward_bytes(s.N, staged, mma_dbias_in_shared);
  if (use_tensor_cores(q, smem_mma)) {
    MMZOO_DISPATCH_CUDA_HALVES(q.scalar_type(), "window_attention_bwd_mma", [&] {
      auto kernel = attention_bwd_mma_kernel<scalar_t>;
      allow_shared_memory(kernel, smem_mma);
      kernel<<<dim3(chunks, s.heads), kThreads, smem_mma, stream>>>(
          q.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(),
          v.const_data_ptr<scalar_t>(), qkv_strides(q),
          rows_are_vectors({q, k, v, grad_out, out}), staged,
          optional_ptr<scalar_t>(bias),
          optional_ptr<scalar_t>(mask), grad_out.const_data_ptr<scalar_t>(),
          out.const_data_ptr<scalar_t>(),
          grad_lse_f32.defined() ? grad_lse_f32.const_data_ptr<float>()
                                 : nullptr,
          lse.const_data_ptr<float>(), dq.data_ptr<scalar_t>(),
          dk.data_ptr<scalar_t>(), dv.data_ptr<scalar_t>(),
          bias ? dbias_f32.data_ptr<float>() : nullptr, windows,
          mma_dbias_in_shared, s);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    at::Tensor dbias = bias ? dbias_f32.to(bias_in->scalar_type())
                            : at::empty({0}, q.options());
    return {dq, dk, dv, dbias};
  }
  // The SIMT kernels index q, k, v densely.
  q = q.contiguous();
  k = k.contiguous();
  v = v.contiguous();
  const int ld = tile_stride(s.d);
  const size_t smem_dkdv =
      (2 * s.N * ld + 2 * s.N + kWarps * (2 * s.d + 2 * s.N)) * sizeof(float);
  const size_t smem_dq_tiles =
      (2 * s.N * ld + kWarps * (2 * s.d + s.N)) * sizeof(float);
  const size_t smem_dbias = size_t(s.N) * s.N * sizeof(float);
  const bool dbias_in_shared =
      bias && smem_dq_tiles + smem_dbias <= max_shared_memory();
  const size_t smem_dq = smem_dq_tiles + (dbias_in_shared ? smem_dbias : 0);
  at::Tensor delta = at::empty({rows}, q.options().dtype(at::kFloat));
  MMZOO_DISPATCH_CUDA_FLOATS(q.scalar_type(), "window_attention_bwd_cuda", [&] {
    attention_delta_kernel<scalar_t><<<blocks_for(rows, 256), 256, 0, stream>>>(
        grad_out.const_data_ptr<scalar_t>(), out.const_data_ptr<scalar_t>(),
        grad_lse_f32.defined() ? grad_lse_f32.const_data_ptr<float>() : nullptr,
        delta.data_ptr<float>(), rows, s.d);
    C10_CUDA_KERNEL_LAUNCH_CHECK();

    auto dkdv_kernel = attention_bwd_dkdv_kernel<scalar_t>;
    allow_shared_memory(dkdv_kernel, smem_dkdv);
    dkdv_kernel<<<windows * s.heads, kThreads, smem_dkdv, stream>>>(
        q.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(),
        v.const_data_ptr<scalar_t>(), optional_ptr<scalar_t>(bias),
        optional_ptr<scalar_t>(mask), grad_out.const_data_ptr<scalar_t>(),
        lse.const_data_ptr<float>(), delta.const_data_ptr<float>(),
        dk.data_ptr<scalar_t>(), dv.data_ptr<scalar_t>(), s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();

    auto dq_kernel = attention_bwd_dq_kernel<scalar_t>;
    allow_shared_memory(dq_kernel, smem_dq);
    dq_kernel<<<dim3(chunks, s.heads), kThreads, smem_dq, stream>>>(
        q.const_data_ptr<scalar_t>(), k.const_data_ptr<scalar_t>(),
        v.const_data_ptr<scalar_t>(), optional_ptr<scalar_t>(bias),
        optional_ptr<scalar_t>(mask), grad_out.const_data_ptr<scalar_t>(),
        lse.const_data_ptr<float>(), delta.const_data_ptr<float>(),
        dq.data_ptr<scalar_t>(),
        bias ? dbias_f32.data_ptr<float>() : nullptr, windows,
        dbias_in_shared, s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  at::Tensor dbias = bias ? dbias_f32.to(bias_in->scalar_type())
                          : at::empty({0}, q.options());
  return {dq, dk, dv, dbias};
}

// The architectures this build compiled, as 10 * major + minor.
std::vector<int64_t> compiled_cuda_archs() {
  std::vector<int64_t> archs;
  for (int arch : kCompiledArchs) archs.push_back(arch / 10);
  return archs;
}

// The architecture of the code that the driver loads on `device` (as
// loaded_arch), for the GPU tests.
int64_t loaded_cuda_arch(int64_t device) {
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  return loaded_arch(static_cast<int>(device));
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(mmzoo, m) {
  m.def("_compiled_cuda_archs() -> int[]", &compiled_cuda_archs);
  m.def("_loaded_cuda_arch(int device) -> int", &loaded_cuda_arch);
}

TORCH_LIBRARY_IMPL(mmzoo, CUDA, m) {
  m.impl("window_partition", &window_partition_cuda);
  m.impl("window_reverse", &window_reverse_cuda);
  m.impl("window_attention_fwd", &window_attention_fwd_cuda);
  m.impl("window_attention_bwd", &window_attention_bwd_cuda);
}

}  // namespace mmzoo
