#pragma once
// The vectorised kernels of batch normalisation in training, what backend/cuda/batchnorm.hpp runs
// for 16-bit NHWC data (Precision::bf16/fp16) whose channel count is a multiple of 8, and for
// float NCHW data whose planes are a multiple of 4 positions, the tensors 16-byte aligned (the
// layouts: portable/vector_layout.hpp). Every load and store moves 16 bytes, several in flight per
// thread, and each direction's two channel sums come from one pass over the data:
//   forward   sums of d = x - center and of d^2, the center being the channel's first value
//             (bn_moments_shifted turns them into the mean and the squared deviations), one small
//             kernel for the coefficients, then y = x * scale + shift: x is read twice;
//   backward  sums of dy and dy (x - mean) invstd, the coefficients, then
//             dx = dy * k1 + x * k2 + k3: x and dy are read twice.
// On an H200 at batch 512 these replaced kernels that moved 0.5 to 1.5 TB/s: the 16-bit path's
// generic reductions (three passes each way) and cuDNN's float NCHW batch norm.

#include "check.hpp"
#include "context.hpp"
#include "half.hpp"
#include "launch.hpp"
#include "portable/batch_norm_channel.hpp"
#include "portable/vector_layout.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace ctnn::cuda::detail {

// Values per 16-byte vector: 8 of 16 bits (NHWC), 4 floats (NCHW).
template <class T>
inline constexpr unsigned vector_width = is_half_v<T> ? nhwc_vector_width : nchw_vector_width;

union Pack8 {
  uint4 word;
  std::uint16_t bits[nhwc_vector_width];
};

template <class T>
__device__ inline void load_vector(const T* p, float (&v)[vector_width<T>]) {
  if constexpr (is_half_v<T>) {
    Pack8 w;
    w.word = *reinterpret_cast<const uint4*>(p);
#pragma unroll
    for (unsigned k = 0; k < nhwc_vector_width; ++k) v[k] = from_bits<T>(w.bits[k]);
  } else {
    const float4 w = *reinterpret_cast<const float4*>(p);
    v[0] = w.x;
    v[1] = w.y;
    v[2] = w.z;
    v[3] = w.w;
  }
}

template <class T>
__device__ inline void store_vector(T* p, const float (&v)[vector_width<T>]) {
  if constexpr (is_half_v<T>) {
    Pack8 w;
#pragma unroll
    for (unsigned k = 0; k < nhwc_vector_width; ++k) w.bits[k] = to_bits<T>(v[k]);
    *reinterpret_cast<uint4*>(p) = w.word;
  } else {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  }
}

// One channel's (or 8 channels') running sums: forward (Backward false) a = x - center and b = a^2,
// backward a = dy and b = dy (x - center), in double.
template <bool Backward>
__device__ inline void bn_accumulate(float x, float g, float center, double& a, double& b) {
  const double d = static_cast<double>(x - center);
  if constexpr (Backward) {
    a += static_cast<double>(g);
    b += static_cast<double>(g) * d;
  } else {
    a += d;
    b += d * d;
  }
}

// 16-bit NHWC: out[c] += sum over the rows of a, out[C + c] += sum of b (times invstd[c] backward),
// out zeroed before; center: x's row 0 forward, the saved mean backward. Each thread keeps the
// sums of its 8 channels over its rows, a block's rows meet in shared memory, and each block adds
// its 2C partial sums to `out` atomically.
template <class T, bool Backward>
__global__ void __launch_bounds__(block_size)
    bn_sums_nhwc_kernel(const T* x, const T* dy, const float* mean, const float* invstd, std::size_t rows,
                        std::size_t channels, NhwcVectorLayout layout, double* out) {
  constexpr unsigned W = nhwc_vector_width;
  constexpr unsigned R = Backward ? 2 : 4;  // rows in flight per thread
  __shared__ double partial[2 * W][block_size];
  const unsigned t = threadIdx.x;
  const unsigned c0 = layout.first_channel(t);
  float center[W];
  if constexpr (Backward) {
#pragma unroll
    for (unsigned k = 0; k < W; ++k) center[k] = mean[c0 + k];
  } else {
    load_vector(x + c0, center);
  }
  double sa[W] = {}, sb[W] = {};
  const std::size_t step = layout.row_step(gridDim.x);
  std::size_t r = layout.first_row(blockIdx.x, t);
  for (; r + (R - 1) * step < rows; r += R * step) {
    float xv[R][W], gv[R][W] = {};
#pragma unroll
    for (unsigned u = 0; u < R; ++u) {
      load_vector(x + (r + u * step) * channels + c0, xv[u]);
      if constexpr (Backward) load_vector(dy + (r + u * step) * channels + c0, gv[u]);
    }
#pragma unroll
    for (unsigned u = 0; u < R; ++u)
#pragma unroll
      for (unsigned k = 0; k < W; ++k) bn_accumulate<Backward>(xv[u][k], gv[u][k], center[k], sa[k], sb[k]);
  }
  for (; r < rows; r += step) {
    float xv[W], gv[W] = {};
    load_vector(x + r * channels + c0, xv);
    if constexpr (Backward) load_vector(dy + r * channels + c0, gv);
#pragma unroll
    for (unsigned k = 0; k < W; ++k) bn_accumulate<Backward>(xv[k], gv[k], center[k], sa[k], sb[k]);
  }
#pragma unroll
  for (unsigned k = 0; k < W; ++k) {
    partial[k][t] = sa[k];
    partial[W + k][t] = Backward ? sb[k] * static_cast<double>(invstd[c0 + k]) : sb[k];
  }
  __syncthreads();
  // Item (k, g): sum k (channel 8 g + k % 8 of sum a, or of sum b for k >= 8) over the block's rows;
  // thread rr * lanes + g holds row rr's.
  for (unsigned item = t; item < 2 * W * layout.lanes; item += blockDim.x) {
    const unsigned k = item / layout.lanes, g = item % layout.lanes;
    double acc = 0.0;
    for (unsigned rr = 0; rr < layout.rows_per_block; ++rr) acc += partial[k][rr * layout.lanes + g];
    atomicAdd(out + (k < W ? 0 : channels) + W * g + k % W, acc);
  }
}

// float NCHW: the same sums; block (s, c) takes channel c's vectors s, s + splits, ... (of 4
// positions each), 4 in flight per thread forward, 2 (of x and dy) backward.
template <bool Backward>
__global__ void __launch_bounds__(block_size)
    bn_sums_nchw_kernel(const float* x, const float* dy, const float* mean, const float* invstd, std::size_t vectors,
                        std::size_t channels, std::size_t plane, double* out) {
  constexpr unsigned W = nchw_vector_width;
  constexpr unsigned R = Backward ? 2 : 4;
  const std::size_t c = blockIdx.y;
  const float center = Backward ? mean[c] : x[c * plane];  // forward: image 0's first value
  double sa = 0.0, sb = 0.0;
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  std::size_t q = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; q + (R - 1) * step < vectors; q += R * step) {
    float xv[R][W], gv[R][W] = {};
#pragma unroll
    for (unsigned u = 0; u < R; ++u) {
      const std::size_t e = nchw_vector_offset(q + u * step, c, channels, plane);
      load_vector(x + e, xv[u]);
      if constexpr (Backward) load_vector(dy + e, gv[u]);
    }
#pragma unroll
    for (unsigned u = 0; u < R; ++u)
#pragma unroll
      for (unsigned k = 0; k < W; ++k) bn_accumulate<Backward>(xv[u][k], gv[u][k], center, sa, sb);
  }
  for (; q < vectors; q += step) {
    const std::size_t e = nchw_vector_offset(q, c, channels, plane);
    float xv[W], gv[W] = {};
    load_vector(x + e, xv);
    if constexpr (Backward) load_vector(dy + e, gv);
#pragma unroll
    for (unsigned k = 0; k < W; ++k) bn_accumulate<Backward>(xv[k], gv[k], center, sa, sb);
  }
  sa = block_sum(sa);
  sb = block_sum(sb);
  if (threadIdx.x == 0) {
    atomicAdd(out + c, sa);
    atomicAdd(out + channels + c, Backward ? sb * static_cast<double>(invstd[c]) : sb);
  }
}

// Forward: out = x * k[c] + k[C + c] (k: scale, then shift). Backward: out = dy * k[c] + x * k[C + c]
// + k[2C + c]. Two vectors in flight per thread and tensor. The channel of element e: e % C + j for
// NHWC (the vector's j-th value), e / plane % C for NCHW (a vector lies in one plane).
template <class T, bool Backward, class Index>
__global__ void __launch_bounds__(block_size)
    bn_apply_kernel(const T* x, const T* dy, T* out, const float* k, Index vectors, Index channels, Index plane) {
  constexpr unsigned W = vector_width<T>;
  constexpr bool nhwc = is_half_v<T>;
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index v = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors; v += 2 * stride) {
    const bool second = v + stride < vectors;
    float xv[2][W] = {}, gv[2][W] = {};
    load_vector(x + W * v, xv[0]);
    if (second) load_vector(x + W * (v + stride), xv[1]);
    if constexpr (Backward) {
      load_vector(dy + W * v, gv[0]);
      if (second) load_vector(dy + W * (v + stride), gv[1]);
    }
#pragma unroll
    for (unsigned u = 0; u < 2; ++u) {
      if (u == 1 && !second) break;
      const Index e = W * (v + u * stride);
      const Index cb = nhwc ? e % channels : e / plane % channels;
      float o[W];
#pragma unroll
      for (unsigned j = 0; j < W; ++j) {
        const Index c = nhwc ? cb + j : cb;
        if constexpr (Backward)
          o[j] = gv[u][j] * k[c] + xv[u][j] * k[channels + c] + k[2 * channels + c];
        else
          o[j] = xv[u][j] * k[c] + k[channels + c];
      }
      store_vector(out + e, o);
    }
  }
}

// Stores channel c's coefficients and running statistics.
__device__ inline void store_channel(const BnForwardChannel& r, std::size_t c, float* invstd, float* scale, float* shift,
                                     float* running_mean, float* running_var) {
  invstd[c] = r.invstd;
  scale[c] = r.scale;
  shift[c] = r.shift;
  running_mean[c] = r.running_mean;
  running_var[c] = r.running_var;
}

// Forward: a channel's coefficients from the one-pass sums and the center they used, x[c * stride]
// (stride 1 for NHWC, the plane for NCHW).
template <class T>
__global__ void bn_train_shifted_kernel(const double* sums, const T* x, std::size_t stride, double M, const float* gamma,
                                        const float* beta, float* running_mean, float* running_var, float momentum,
                                        float eps, float* mean, float* invstd, float* scale, float* shift,
                                        std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const BnMoments m = bn_moments_shifted(M, static_cast<double>(load(x[c * stride])), sums[c], sums[channels + c]);
  const float mu = static_cast<float>(m.mean);
  const auto r = bn_train_channel(M, mu, m.centered_squares, gamma[c], beta[c], running_mean[c], running_var[c], momentum,
                                  eps);
  mean[c] = mu;
  store_channel(r, c, invstd, scale, shift, running_mean, running_var);
}

// True when the vectorised kernels take T tensors of `channels` channels of `plane` positions at
// these addresses (null pointers are not used).
template <class T>
bool bn_vectorizable(std::size_t channels, std::size_t plane, std::initializer_list<const void*> pointers) {
  if constexpr (is_half_v<T>) {
    if (!nhwc_vector_layout(channels, block_size).usable()) return false;
  } else {
    if (!nchw_vector_layout(plane) || channels > 65535) return false;  // a grid row per channel
  }
  for (const void* p : pointers)
    if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// The channel sums (2C doubles at `out`) of `batch` samples of `channels` x `plane`.
template <class T, bool Backward>
void bn_sums(const T* x, const T* dy, const float* mean, const float* invstd, std::size_t batch, std::size_t channels,
             std::size_t plane, double* out) {
  const cudaStream_t stream = context().stream();
  CTNN_CUDA_CHECK(cudaMemsetAsync(out, 0, 2 * channels * sizeof(double), stream));
  if (batch * plane == 0) return;
  const unsigned max_blocks = static_cast<unsigned>(context().sm_count()) * 4;
  if constexpr (is_half_v<T>) {
    const std::size_t rows = batch * plane;
    const NhwcVectorLayout layout = nhwc_vector_layout(channels, block_size);
    const unsigned grid = nhwc_reduction_blocks(rows, layout, 8, max_blocks);
    bn_sums_nhwc_kernel<T, Backward><<<grid, block_size, 0, stream>>>(x, dy, mean, invstd, rows, channels, layout, out);
  } else {
    const std::size_t vectors = batch * plane / nchw_vector_width;
    const dim3 grid(nchw_reduction_splits(vectors, channels, block_size, 8, max_blocks), static_cast<unsigned>(channels));
    bn_sums_nchw_kernel<Backward><<<grid, block_size, 0, stream>>>(x, dy, mean, invstd, vectors, channels, plane, out);
  }
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::bn_sums");
}

template <class T, bool Backward>
void bn_apply(const T* x, const T* dy, T* out, const float* k, std::size_t elements, std::size_t channels,
              std::size_t plane) {
  constexpr unsigned W = vector_width<T>;
  const std::size_t vectors = elements / W;
  if (vectors == 0) return;
  const unsigned grid = grid_for((vectors + 1) / 2);
  const cudaStream_t stream = context().stream();
  // The largest index a thread forms: below elements + 3 strides of vectors.
  if (elements + std::size_t{grid} * block_size * 3 * W < (std::size_t{1} << 32))
    bn_apply_kernel<T, Backward, std::uint32_t><<<grid, block_size, 0, stream>>>(
        x, dy, out, k, static_cast<std::uint32_t>(vectors), static_cast<std::uint32_t>(channels),
        static_cast<std::uint32_t>(plane));
  else
    bn_apply_kernel<T, Backward, std::size_t><<<grid, block_size, 0, stream>>>(x, dy, out, k, vectors, channels, plane);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::bn_apply_kernel");
}

}  // namespace ctnn::cuda::detail
