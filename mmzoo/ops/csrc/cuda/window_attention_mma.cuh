// Tensor-core window attention for float16 and bfloat16 (sm_80 and newer).
//
// One block holds a whole window of one head in shared memory: Q, K, V (and
// dO) padded with zeros to multiples of the 16x16x16 MMA tile, the scores of
// the window, its probabilities as half precision for the second product.
// A window has at most 144 tokens, so everything fits on chip and the
// attention matrix never goes to global memory. The per-element math (logit,
// softmax, its gradient) is csrc/common's, as in the CPU and SIMT kernels;
// only the products run on tensor cores, accumulating in float.
//
// Included by window_ops_cuda.cu inside its anonymous namespace, after the
// SIMT kernels' helpers (and <mma.h>) that it uses.
#pragma once

constexpr int kMma = 16;  // side of a wmma tile

template <typename T>
struct MmaElement;
template <>
struct MmaElement<at::Half> {
  using type = __half;
};
template <>
struct MmaElement<at::BFloat16> {
  using type = __nv_bfloat16;
};

namespace wmma = nvcuda::wmma;
using FragAcc = wmma::fragment<wmma::accumulator, kMma, kMma, kMma, float>;

__host__ __device__ __forceinline__ int round_up(int x, int multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

__host__ __device__ __forceinline__ size_t aligned_bytes(size_t bytes) {
  return (bytes + 127) / 128 * 128;
}

// Shared-memory layout of one window. Row strides are padded (8 halves, 4
// floats) so that the 16 rows of a tile start in different banks; wmma wants
// them multiples of 16 bytes, and every tile 32-byte aligned.
struct MmaLayout {
  int NP, DP;  // tokens and channels, padded to whole tiles
  int ld_x;    // (N, d) tiles: Q, K, V, dO
  int ld_p;    // (N, N) half tiles: P, dS
  int ld_s;    // (N, N) float scores

  __host__ __device__ MmaLayout(int N, int d)
      : NP(round_up(N, kMma)),
        DP(round_up(d, kMma)),
        ld_x(DP + 8),
        ld_p(NP + 8),
        ld_s(NP + 4) {}

  __host__ __device__ size_t x_bytes() const {
    return aligned_bytes(size_t(NP) * ld_x * sizeof(__half));
  }
  __host__ __device__ size_t p_bytes() const {
    return aligned_bytes(size_t(NP) * ld_p * sizeof(__half));
  }
  __host__ __device__ size_t s_bytes() const {
    return aligned_bytes(size_t(NP) * ld_s * sizeof(float));
  }
  __host__ __device__ size_t row_bytes() const {
    return aligned_bytes(size_t(NP) * sizeof(float));
  }
  // Bias of one head, mask of one window: N x N, unpadded (never MMA
  // operands); the bias gradient sums likewise in floats.
  __host__ __device__ size_t nn_bytes(int N) const {
    return aligned_bytes(size_t(N) * N * sizeof(__half));
  }
  __host__ __device__ size_t dbias_bytes(int N) const {
    return aligned_bytes(size_t(N) * N * sizeof(float));
  }
  // One 16x16 float tile per warp (two in the backward), to move an
  // accumulator out of its fragment.
  __host__ __device__ static size_t scratch_bytes(int tiles_per_warp) {
    return size_t(kWarps) * tiles_per_warp * kMma * kMma * sizeof(float);
  }

  // `staged`: bias and mask are copied to shared memory (when they fit;
  // else read from global memory where used).
  __host__ __device__ size_t forward_bytes(int N, bool staged) const {
    return 3 * x_bytes() + s_bytes() + p_bytes() + row_bytes() +
           (staged ? 2 * nn_bytes(N) : 0) + scratch_bytes(1);
  }
  // Q, K, V, dO and O (for delta), P and dS, lse and delta.
  __host__ __device__ size_t backward_bytes(int N, bool staged,
                                            bool dbias_in_shared) const {
    return 5 * x_bytes() + 2 * p_bytes() + 2 * row_bytes() +
           (staged ? 2 * nn_bytes(N) : 0) + scratch_bytes(2) +
           (dbias_in_shared ? dbias_bytes(N) : 0);
  }
};

// Strides of q, k and v over (window, head, token); channels are dense.
// Slices of one qkv projection share them, so they are read in place.
struct QkvStrides {
  int64_t window, head, token;
};

template <typename P>
__device__ __forceinline__ P* carve(unsigned char*& cursor, size_t bytes) {
  P* p = reinterpret_cast<P*>(cursor);
  cursor += bytes;
  return p;
}

// The loaders below first read all of a thread's elements into registers,
// then write them to shared memory, so that its global loads are in flight
// together rather than one latency after another.
constexpr int kVec = 8;  // elements per 16-byte vector
constexpr int kMaxVectorsPerThread =
    (kMaxTokens * kMaxHeadDim / kVec + kThreads - 1) / kThreads;
constexpr int kLoadBatch = 8;

// (N, d) rows at `src` (row stride `token_stride`) into an (NP, DP) tile
// padded with zeros, which the products then ignore. `vectorised`: rows and
// strides are whole 16-byte vectors (d % 8 == 0, aligned), moved as such.
template <typename T>
__device__ __forceinline__ void load_padded(const T* src, int64_t token_stride,
                                            T* dst, int N, int d,
                                            const MmaLayout& L,
                                            bool vectorised) {
  if (vectorised) {
    const int per_row = L.DP / kVec, total = L.NP * per_row;
    uint4 values[kMaxVectorsPerThread];
#pragma unroll
    for (int n = 0; n < kMaxVectorsPerThread; ++n) {
      const int e = threadIdx.x + n * kThreads;
      const int r = e / per_row, c = e % per_row * kVec;
      values[n] = make_uint4(0, 0, 0, 0);
      if (e < total && r < N && c < d)
        values[n] = *reinterpret_cast<const uint4*>(src + r * token_stride + c);
    }
#pragma unroll
    for (int n = 0; n < kMaxVectorsPerThread; ++n) {
      const int e = threadIdx.x + n * kThreads;
      if (e < total)
        *reinterpret_cast<uint4*>(dst + e / per_row * L.ld_x +
                                  e % per_row * kVec) = values[n];
    }
    return;
  }
  for (int first = threadIdx.x; first < L.NP * L.DP;
       first += kLoadBatch * kThreads) {
    T values[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int e = first + u * kThreads, r = e / L.DP, c = e % L.DP;
      values[u] = e < L.NP * L.DP && r < N && c < d ? src[r * token_stride + c]
                                                  : static_cast<T>(0.0f);
    }
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int e = first + u * kThreads;
      if (e < L.NP * L.DP) dst[e / L.DP * L.ld_x + e % L.DP] = values[u];
    }
  }
}

// n contiguous elements (a head's bias, a window's mask) into shared memory.
template <typename T>
__device__ __forceinline__ void load_flat(const T* src, T* dst, int n) {
  for (int first = threadIdx.x; first < n; first += kLoadBatch * kThreads) {
    T values[kLoadBatch];
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int e = first + u * kThreads;
      if (e < n) values[u] = src[e];
    }
#pragma unroll
    for (int u = 0; u < kLoadBatch; ++u) {
      const int e = first + u * kThreads;
      if (e < n) dst[e] = values[u];
    }
  }
}

// acc += A (16 x K) * B (K x 16), both in shared memory. `a_step` and
// `b_step` are how far one step along K moves each pointer: 1 along a row,
// the stride across rows.
template <typename T, typename LayoutA, typename LayoutB>
__device__ __forceinline__ void mma_accumulate(FragAcc& acc, const T* a,
                                               int lda, int a_step, const T* b,
                                               int ldb, int b_step, int K) {
  using M = typename MmaElement<T>::type;
  wmma::fragment<wmma::matrix_a, kMma, kMma, kMma, M, LayoutA> fa;
  wmma::fragment<wmma::matrix_b, kMma, kMma, kMma, M, LayoutB> fb;
  for (int k = 0; k < K; k += kMma) {
    wmma::load_matrix_sync(fa, reinterpret_cast<const M*>(a + k * a_step), lda);
    wmma::load_matrix_sync(fb, reinterpret_cast<const M*>(b + k * b_step), ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
}

// Writes a warp's accumulator tile (rows r0.., channels c0..) into a dense
// (N, d) output, times `scale` and, if given, the row's `row_scale`.
template <typename T>
__device__ __forceinline__ void store_rows(const FragAcc& acc, float* scratch,
                                           T* dst, int r0, int c0, int N,
                                           int d, float scale,
                                           const float* row_scale) {
  wmma::store_matrix_sync(scratch, acc, kMma, wmma::mem_row_major);
  __syncwarp();
  for (int e = threadIdx.x % 32; e < kMma * kMma; e += 32) {
    const int r = r0 + e / kMma, c = c0 + e % kMma;
    if (r < N && c < d) {
      const float f = row_scale ? scale * row_scale[r] : scale;
      dst[r * d + c] = static_cast<T>(scratch[e] * f);
    }
  }
  __syncwarp();
}

// Forward: grid of (window, head) blocks. After the loads, each warp works
// alone on its 16-row blocks: S = Q K^T for the block's rows on tensor cores
// into shared floats, the rows' softmax (two lanes per row) into
// unnormalised probabilities (half) and log-sum-exps, then O = P V on tensor
// cores, each row divided by its sum on the way out.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    attention_fwd_mma_kernel(const T* q, const T* k, const T* v,
                             QkvStrides qkv, bool vectorised, bool staged,
                             const T* bias, const T* mask, T* out, float* lse,
                             AttentionShape s) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) unsigned char mma_smem[];
  const int N = s.N, d = s.d;
  const MmaLayout L(N, d);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  unsigned char* cursor = mma_smem;
  T* qs = carve<T>(cursor, L.x_bytes());
  T* ks = carve<T>(cursor, L.x_bytes());
  T* vs = carve<T>(cursor, L.x_bytes());
  float* scores = carve<float>(cursor, L.s_bytes());
  T* probs = carve<T>(cursor, L.p_bytes());
  float* inv_sum = carve<float>(cursor, L.row_bytes());
  T* bias_s = carve<T>(cursor, staged ? L.nn_bytes(N) : 0);
  T* mask_s = carve<T>(cursor, staged ? L.nn_bytes(N) : 0);
  float* scratch = carve<float>(cursor, 0) + warp * kMma * kMma;

  const int64_t index = blockIdx.x;
  const int64_t window = index / s.heads, head = index % s.heads;
  const int64_t in = window * qkv.window + head * qkv.head;
  load_padded(q + in, qkv.token, qs, N, d, L, vectorised);
  load_padded(k + in, qkv.token, ks, N, d, L, vectorised);
  load_padded(v + in, qkv.token, vs, N, d, L, vectorised);
  const T* bias_h = bias ? bias + head * N * N : nullptr;
  const T* mask_w = mask ? mask + (window % s.nW) * N * N : nullptr;
  if (staged) {
    if (bias_h) load_flat(bias_h, bias_s, N * N);
    if (mask_w) load_flat(mask_w, mask_s, N * N);
    bias_h = bias_h ? bias_s : nullptr;
    mask_w = mask_w ? mask_s : nullptr;
  }
  __syncthreads();

  const int tiles_n = L.NP / kMma, tiles_d = L.DP / kMma;
  for (int rb = warp; rb < tiles_n; rb += kWarps) {
    const int r0 = rb * kMma;
    for (int tj = 0; tj < tiles_n; ++tj) {
      FragAcc acc;
      wmma::fill_fragment(acc, 0.0f);
      mma_accumulate<T, wmma::row_major, wmma::col_major>(
          acc, qs + r0 * L.ld_x, L.ld_x, 1, ks + tj * kMma * L.ld_x, L.ld_x, 1,
          L.DP);
      wmma::store_matrix_sync(scores + r0 * L.ld_s + tj * kMma, acc, L.ld_s,
                              wmma::mem_row_major);
    }
    __syncwarp();

    // Lanes 2r and 2r + 1 share row r0 + r, taking alternate columns.
    const int i = r0 + lane / 2, first = lane % 2;
    float* s_i = scores + i * L.ld_s;
    T* p_i = probs + i * L.ld_p;
    RowSoftmax<float> row;
    row.init();
    float row_max = -INFINITY;
    if (i < N) {
      for (int j = first; j < N; j += 2) {
        s_i[j] = logit<float>(s_i[j], s.scale, entry(bias_h, i, j, N),
                              entry(mask_w, i, j, N));
        row_max = fmaxf(row_max, s_i[j]);
      }
    }
    row.rescale_for(fmaxf(row_max, __shfl_xor_sync(kFullMask, row_max, 1)));
    float sum = 0;
    for (int j = first; j < L.NP; j += 2) {
      const float p = i < N && j < N ? row.prob_unnormalised(s_i[j]) : 0.0f;
      p_i[j] = static_cast<T>(p);
      sum += p;
    }
    row.sum = sum + __shfl_xor_sync(kFullMask, sum, 1);
    if (i < N && first == 0) {
      inv_sum[i] = 1.0f / row.sum;
      lse[index * N + i] = row.lse();
    }
    __syncwarp();

    for (int tc = 0; tc < tiles_d; ++tc) {
      FragAcc acc;
      wmma::fill_fragment(acc, 0.0f);
      mma_accumulate<T, wmma::row_major, wmma::row_major>(
          acc, probs + r0 * L.ld_p, L.ld_p, 1, vs + tc * kMma, L.ld_x, L.ld_x,
          L.NP);
      store_rows(acc, scratch, out + index * N * d, r0, tc * kMma, N, d, 1.0f,
                 inv_sum);
    }
  }
#endif
}

// Backward: grid (window chunks, heads); a block walks its windows of one
// head. Per window: the loads, delta_i = dO_i . O_i - dlse_i per row, then
// per 16x16 tile of the window's (N, N) matrix a warp recomputes the scores
// and dP = dO V^T on tensor cores, then P (from the saved lse) and
// dS = P (dP - delta) per element, kept as half for the products
// dV = P^T dO, dK = dS^T Q scale and dQ = dS K scale. The bias gradient (the
// sum of dS over windows) collects in shared floats when they fit, one
// owner thread per entry, and goes out with one atomicAdd per entry.
template <typename T>
__global__ void __launch_bounds__(kThreads) attention_bwd_mma_kernel(
    const T* q, const T* k, const T* v, QkvStrides qkv, bool vectorised,
    bool staged, const T* bias, const T* mask, const T* grad_out, const T* out,
    const float* grad_lse, const float* lse, T* dq, T* dk, T* dv, float* dbias,
    int64_t windows, bool dbias_in_shared, AttentionShape s) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) unsigned char mma_smem[];
  const int N = s.N, d = s.d;
  const MmaLayout L(N, d);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  unsigned char* cursor = mma_smem;
  T* qs = carve<T>(cursor, L.x_bytes());
  T* ks = carve<T>(cursor, L.x_bytes());
  T* vs = carve<T>(cursor, L.x_bytes());
  T* dos = carve<T>(cursor, L.x_bytes());
  T* os = carve<T>(cursor, L.x_bytes());
  T* probs = carve<T>(cursor, L.p_bytes());
  T* dscores = carve<T>(cursor, L.p_bytes());
  float* lse_s = carve<float>(cursor, L.row_bytes());
  float* delta_s = carve<float>(cursor, L.row_bytes());
  T* bias_s = carve<T>(cursor, staged ? L.nn_bytes(N) : 0);
  T* mask_s = carve<T>(cursor, staged ? L.nn_bytes(N) : 0);
  float* score_tile =
      carve<float>(cursor, MmaLayout::scratch_bytes(2)) + warp * 2 * kMma * kMma;
  float* dp_tile = score_tile + kMma * kMma;
  float* dbias_s = dbias_in_shared ? carve<float>(cursor, L.dbias_bytes(N))
                                   : nullptr;

  // The block's head is fixed: its bias is staged once.
  const int h = blockIdx.y;
  const T* bias_h = bias ? bias + int64_t(h) * N * N : nullptr;
  if (staged && bias_h) {
    load_flat(bias_h, bias_s, N * N);
    bias_h = bias_s;
  }
  float* dbias_h = dbias ? dbias + int64_t(h) * N * N : nullptr;
  if (dbias_s)
    for (int e = threadIdx.x; e < N * N; e += blockDim.x) dbias_s[e] = 0;
  const int tiles_n = L.NP / kMma, tiles_d = L.DP / kMma;

  for (int64_t w = blockIdx.x; w < windows; w += gridDim.x) {
    const int64_t index = w * s.heads + h;
    const int64_t in = w * qkv.window + h * qkv.head;
    const T* mask_w = mask ? mask + (w % s.nW) * N * N : nullptr;
    __syncthreads();  // the previous window is done with the tiles
    load_padded(q + in, qkv.token, qs, N, d, L, vectorised);
    load_padded(k + in, qkv.token, ks, N, d, L, vectorised);
    load_padded(v + in, qkv.token, vs, N, d, L, vectorised);
    load_padded(grad_out + index * N * d, int64_t(d), dos, N, d, L,
                vectorised);
    load_padded(out + index * N * d, int64_t(d), os, N, d, L, vectorised);
    if (staged && mask_w) {
      load_flat(mask_w, mask_s, N * N);
      mask_w = mask_s;
    }
    for (int i = threadIdx.x; i < L.NP; i += blockDim.x)
      lse_s[i] = i < N ? lse[index * N + i] : 0.0f;
    __syncthreads();
    for (int i = threadIdx.x; i < L.NP; i += blockDim.x) {
      float delta_i = 0;
      if (i < N) {
        delta_i = grad_lse ? -grad_lse[index * N + i] : 0.0f;
        for (int c = 0; c < d; ++c)
          delta_i += static_cast<float>(dos[i * L.ld_x + c]) *
                     static_cast<float>(os[i * L.ld_x + c]);
      }
      delta_s[i] = delta_i;
    }
    __syncthreads();

    for (int t = warp; t < tiles_n * tiles_n; t += kWarps) {
      const int ti = t / tiles_n, tj = t % tiles_n;
      FragAcc score_acc, dp_acc;
      wmma::fill_fragment(score_acc, 0.0f);
      wmma::fill_fragment(dp_acc, 0.0f);
      mma_accumulate<T, wmma::row_major, wmma::col_major>(
          score_acc, qs + ti * kMma * L.ld_x, L.ld_x, 1,
          ks + tj * kMma * L.ld_x, L.ld_x, 1, L.DP);
      mma_accumulate<T, wmma::row_major, wmma::col_major>(
          dp_acc, dos + ti * kMma * L.ld_x, L.ld_x, 1, vs + tj * kMma * L.ld_x,
          L.ld_x, 1, L.DP);
      wmma::store_matrix_sync(score_tile, score_acc, kMma, wmma::mem_row_major);
      wmma::store_matrix_sync(dp_tile, dp_acc, kMma, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < kMma * kMma; e += 32) {
        const int i = ti * kMma + e / kMma, j = tj * kMma + e % kMma;
        float p = 0.0f, ds = 0.0f;
        if (i < N && j < N) {
          p = prob_from_lse(
              logit<float>(score_tile[e], s.scale, entry(bias_h, i, j, N),
                           entry(mask_w, i, j, N)),
              lse_s[i]);
          ds = softmax_grad(p, dp_tile[e], delta_s[i]);
          if (dbias_s)
            dbias_s[i * N + j] += ds;
          else if (dbias_h)
            atomicAdd(dbias_h + i * N + j, ds);
        }
        probs[i * L.ld_p + j] = static_cast<T>(p);
        dscores[i * L.ld_p + j] = static_cast<T>(ds);
      }
      __syncwarp();
    }
    __syncthreads();

    // dV, dK, dQ tiles, spread over the warps; the branch is warp-uniform.
    const int out_tiles = tiles_n * tiles_d;
    for (int t = warp; t < 3 * out_tiles; t += kWarps) {
      const int which = t / out_tiles;
      const int tr = t % out_tiles / tiles_d, tc = t % tiles_d;
      FragAcc acc;
      wmma::fill_fragment(acc, 0.0f);
      if (which == 0) {  // dV = P^T dO
        mma_accumulate<T, wmma::col_major, wmma::row_major>(
            acc, probs + tr * kMma, L.ld_p, L.ld_p, dos + tc * kMma, L.ld_x,
            L.ld_x, L.NP);
        store_rows(acc, score_tile, dv + index * N * d, tr * kMma, tc * kMma,
                   N, d, 1.0f, nullptr);
      } else if (which == 1) {  // dK = dS^T Q scale
        mma_accumulate<T, wmma::col_major, wmma::row_major>(
            acc, dscores + tr * kMma, L.ld_p, L.ld_p, qs + tc * kMma, L.ld_x,
            L.ld_x, L.NP);
        store_rows(acc, score_tile, dk + index * N * d, tr * kMma, tc * kMma,
                   N, d, s.scale, nullptr);
      } else {  // dQ = dS K scale
        mma_accumulate<T, wmma::row_major, wmma::row_major>(
            acc, dscores + tr * kMma * L.ld_p, L.ld_p, 1, ks + tc * kMma,
            L.ld_x, L.ld_x, L.NP);
        store_rows(acc, score_tile, dq + index * N * d, tr * kMma, tc * kMma,
                   N, d, s.scale, nullptr);
      }
    }
  }
  if (dbias_s) {
    __syncthreads();
    for (int e = threadIdx.x; e < N * N; e += blockDim.x)
      atomicAdd(dbias_h + e, dbias_s[e]);
  }
#endif
}
