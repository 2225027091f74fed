#pragma once
// The vectorised kernels of batch normalisation over 16-bit NHWC data (Precision::bf16/fp16), what
// backend/cuda/batchnorm.hpp runs when the channel count is a multiple of 8 and the tensors are
// 16-byte aligned (the layout: portable/nhwc_vector_layout.hpp). Every load and store moves 16
// bytes (8 channels of one row), several of them in flight per thread, and each direction's two
// channel sums come from one pass over the data:
//   forward   sums of d = x - x[row 0] and of d^2 (bn_moments_shifted turns them into the mean and
//             the squared deviations), one small kernel for the coefficients, then
//             y = x * scale + shift: x is read twice (three times on the generic path);
//   backward  sums of dy and dy (x - mean) (times invstd), the coefficients, then
//             dx = dy * k1 + x * k2 + k3: x and dy are read twice (three times for dy before).
// On an H200 at batch 512 the generic path moved about 1.4 TB/s.

#include "check.hpp"
#include "context.hpp"
#include "half.hpp"
#include "launch.hpp"
#include "portable/batch_norm_channel.hpp"
#include "portable/nhwc_vector_layout.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

namespace ctnn::cuda::detail {

inline constexpr unsigned W8 = nhwc_vector_width;

union Pack8 {
  uint4 word;
  std::uint16_t bits[W8];
};

template <class T>
__device__ inline void load8(const T* p, float (&v)[W8]) {
  Pack8 w;
  w.word = *reinterpret_cast<const uint4*>(p);
#pragma unroll
  for (unsigned k = 0; k < W8; ++k) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>)
      v[k] = bf16_bits_to_float(w.bits[k]);
    else
      v[k] = half_bits_to_float(w.bits[k]);
  }
}

template <class T>
__device__ inline void store8(T* p, const float (&v)[W8]) {
  Pack8 w;
#pragma unroll
  for (unsigned k = 0; k < W8; ++k) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>)
      w.bits[k] = float_to_bf16_bits(v[k]);
    else
      w.bits[k] = float_to_half_bits(v[k]);
  }
  *reinterpret_cast<uint4*>(p) = w.word;
}

// out[c] += sum over the rows of a(c), out[C + c] += sum of b(c), in double (out zeroed before):
//   forward  (Backward false): a = x - x[row 0], b = a^2;
//   backward (Backward true):  a = dy, b = dy (x - mean) invstd.
// Each thread keeps the sums of its 8 channels over its rows, a block's rows meet in shared
// memory, and each block adds its 2C partial sums to `out` atomically.
template <class T, bool Backward>
__global__ void __launch_bounds__(block_size)
    bn_sums_vec_kernel(const T* x, const T* dy, const float* mean, const float* invstd, std::size_t rows,
                       std::size_t channels, NhwcVectorLayout layout, double* out) {
  constexpr unsigned R = Backward ? 2 : 4;  // rows in flight per thread
  __shared__ double partial[2 * W8][block_size];
  const unsigned t = threadIdx.x;
  const unsigned c0 = layout.first_channel(t);
  float center[W8];
  if constexpr (Backward) {
#pragma unroll
    for (unsigned k = 0; k < W8; ++k) center[k] = mean[c0 + k];
  } else {
    load8(x + c0, center);  // row 0: a value of each channel, the shift of the one-pass sums
  }
  double sa[W8] = {}, sb[W8] = {};
  auto accumulate = [&](const float (&xv)[W8], const float (&gv)[W8]) {
#pragma unroll
    for (unsigned k = 0; k < W8; ++k) {
      const double d = static_cast<double>(xv[k] - center[k]);
      if constexpr (Backward) {
        sa[k] += static_cast<double>(gv[k]);
        sb[k] += static_cast<double>(gv[k]) * d;
      } else {
        sa[k] += d;
        sb[k] += d * d;
      }
    }
  };
  const std::size_t step = layout.row_step(gridDim.x);
  std::size_t r = layout.first_row(blockIdx.x, t);
  for (; r + (R - 1) * step < rows; r += R * step) {
    float xv[R][W8], gv[R][W8];
#pragma unroll
    for (unsigned u = 0; u < R; ++u) {
      load8(x + (r + u * step) * channels + c0, xv[u]);
      if constexpr (Backward) load8(dy + (r + u * step) * channels + c0, gv[u]);
    }
#pragma unroll
    for (unsigned u = 0; u < R; ++u) accumulate(xv[u], gv[u]);
  }
  for (; r < rows; r += step) {
    float xv[W8], gv[W8];
    load8(x + r * channels + c0, xv);
    if constexpr (Backward) load8(dy + r * channels + c0, gv);
    accumulate(xv, gv);
  }
#pragma unroll
  for (unsigned k = 0; k < W8; ++k) {
    partial[k][t] = sa[k];
    partial[W8 + k][t] = Backward ? sb[k] * static_cast<double>(invstd[c0 + k]) : sb[k];
  }
  __syncthreads();
  // Item (k, g): sum k (channel 8 g + k % 8 of sum a, or of sum b for k >= 8) over the block's rows;
  // thread rr * lanes + g holds row rr's.
  for (unsigned item = t; item < 2 * W8 * layout.lanes; item += blockDim.x) {
    const unsigned k = item / layout.lanes, g = item % layout.lanes;
    double acc = 0.0;
    for (unsigned rr = 0; rr < layout.rows_per_block; ++rr) acc += partial[k][rr * layout.lanes + g];
    atomicAdd(out + (k < W8 ? 0 : channels) + W8 * g + k % W8, acc);
  }
}

// Forward: out = x * k[c] + k[C + c] (k: scale, then shift). Backward: out = dy * k[c] + x * k[C + c]
// + k[2C + c]. Two 16-byte vectors in flight per thread and leaf.
template <class T, bool Backward, class Index>
__global__ void __launch_bounds__(block_size)
    bn_apply_vec_kernel(const T* x, const T* dy, T* out, const float* k, Index vectors, Index channels) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index v = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; v < vectors; v += 2 * stride) {
    const bool second = v + stride < vectors;
    float xv[2][W8] = {}, gv[2][W8] = {};
    load8(x + W8 * v, xv[0]);
    if (second) load8(x + W8 * (v + stride), xv[1]);
    if constexpr (Backward) {
      load8(dy + W8 * v, gv[0]);
      if (second) load8(dy + W8 * (v + stride), gv[1]);
    }
#pragma unroll
    for (unsigned u = 0; u < 2; ++u) {
      if (u == 1 && !second) break;
      const Index e = W8 * (v + u * stride);
      const Index c0 = e % channels;
      float o[W8];
#pragma unroll
      for (unsigned j = 0; j < W8; ++j) {
        if constexpr (Backward)
          o[j] = gv[u][j] * k[c0 + j] + xv[u][j] * k[channels + c0 + j] + k[2 * channels + c0 + j];
        else
          o[j] = xv[u][j] * k[c0 + j] + k[channels + c0 + j];
      }
      store8(out + e, o);
    }
  }
}

// Forward: the coefficients of a channel from the one-pass sums (bn_sums_vec_kernel<T, false>) and
// the shift it used (x's row 0).
template <class T>
__global__ void bn_train_shifted_kernel(const double* sums, const T* x, double M, const float* gamma, const float* beta,
                                        float* running_mean, float* running_var, float momentum, float eps, float* mean,
                                        float* invstd, float* scale, float* shift, std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const BnMoments m = bn_moments_shifted(M, static_cast<double>(load(x[c])), sums[c], sums[channels + c]);
  const float mu = static_cast<float>(m.mean);
  const auto r = bn_train_channel(M, mu, m.centered_squares, gamma[c], beta[c], running_mean[c], running_var[c], momentum,
                                  eps);
  mean[c] = mu;
  invstd[c] = r.invstd;
  scale[c] = r.scale;
  shift[c] = r.shift;
  running_mean[c] = r.running_mean;
  running_var[c] = r.running_var;
}

// True when the vectorised kernels can take tensors of `channels` channels at these addresses
// (null pointers are not used).
inline bool bn_vectorizable(std::size_t channels, std::initializer_list<const void*> pointers) {
  if (!nhwc_vector_layout(channels, block_size).usable()) return false;
  for (const void* p : pointers)
    if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0) return false;
  return true;
}

template <class T, bool Backward>
void bn_sums_vec(const T* x, const T* dy, const float* mean, const float* invstd, std::size_t rows, std::size_t channels,
                 double* out) {
  const cudaStream_t stream = context().stream();
  CTNN_CUDA_CHECK(cudaMemsetAsync(out, 0, 2 * channels * sizeof(double), stream));
  if (rows == 0) return;
  const NhwcVectorLayout layout = nhwc_vector_layout(channels, block_size);
  const unsigned grid = nhwc_reduction_blocks(rows, layout, 8, static_cast<unsigned>(context().sm_count()) * 4);
  bn_sums_vec_kernel<T, Backward><<<grid, block_size, 0, stream>>>(x, dy, mean, invstd, rows, channels, layout, out);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::bn_sums_vec_kernel");
}

template <class T, bool Backward>
void bn_apply_vec(const T* x, const T* dy, T* out, const float* k, std::size_t elements, std::size_t channels) {
  const std::size_t vectors = elements / W8;
  if (vectors == 0) return;
  const unsigned grid = grid_for((vectors + 1) / 2);
  const cudaStream_t stream = context().stream();
  // The largest index a thread forms: below elements + 3 strides of vectors.
  if (elements + std::size_t{grid} * block_size * 3 * W8 < (std::size_t{1} << 32))
    bn_apply_vec_kernel<T, Backward, std::uint32_t><<<grid, block_size, 0, stream>>>(
        x, dy, out, k, static_cast<std::uint32_t>(vectors), static_cast<std::uint32_t>(channels));
  else
    bn_apply_vec_kernel<T, Backward, std::size_t><<<grid, block_size, 0, stream>>>(x, dy, out, k, vectors, channels);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::bn_apply_vec_kernel");
}

}  // namespace ctnn::cuda::detail
