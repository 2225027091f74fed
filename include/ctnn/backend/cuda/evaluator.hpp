#pragma once
// The CUDA evaluator of ctnn::expr, registered as expr::evaluator<Cuda>: every expression type
// instantiates one grid-stride kernel, launched on the context's stream. Expression nodes are
// trivially copyable and hold raw pointers, so the whole expression travels to the GPU as a kernel
// argument; tensors in it must be Cuda tensors (device pointers).
//
//   expr::assign(y, expr::relu(a + b));                  // Tensor<S, Cuda>
//   expr::assign_flat<Cuda>(w, n, w - lr * g);           // flat device buffers (optimizers)
//   expr::sum_per_channel<S, Cuda>(out, batch, e);       // out: C doubles in device memory

#include "check.hpp"
#include "context.hpp"
#include "device.hpp"
#include "half.hpp"
#include "launch.hpp"

#include <cstddef>
#include <cstdint>

#include "../../expr/evaluator.hpp"
#include "../../expr/nodes.hpp"

namespace ctnn::cuda::detail {

// Element-wise kernels are grid-stride loops that take `unroll` elements per thread per round, all
// loaded before any is stored: one 2- or 4-byte load in flight per thread leaves an H200's memory
// three times under its bandwidth (a bf16 ReLU moved 1.4 TB/s).
inline constexpr int unroll = 4;

// dst[i] = e(i, c) with c = (i / plane) % channels.
template <class Index, class T, class E>
__global__ void assign_kernel(T* dst, Index n, Index channels, Index plane, E e) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += unroll * stride) {
    T v[unroll];
#pragma unroll
    for (int k = 0; k < unroll; ++k) {
      const Index j = i + k * stride;
      if (j < n) v[k] = static_cast<T>(e(j, (j / plane) % channels));
    }
#pragma unroll
    for (int k = 0; k < unroll; ++k)
      if (i + k * stride < n) dst[i + k * stride] = v[k];
  }
}

template <class T, class E>
void assign_planes(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
  const std::size_t n = planes * plane;
  if (n == 0) return;
  const unsigned grid = grid_for((n + unroll - 1) / unroll);
  const cudaStream_t stream = context().stream();
  if (fits_u32(n, grid * unroll))
    assign_kernel<std::uint32_t><<<grid, block_size, 0, stream>>>(dst, static_cast<std::uint32_t>(n),
                                                                  static_cast<std::uint32_t>(channels),
                                                                  static_cast<std::uint32_t>(plane), e);
  else
    assign_kernel<std::size_t><<<grid, block_size, 0, stream>>>(dst, n, channels, plane, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::assign_kernel");
}

// out[c] = sum over n < batch, j < plane of e((n * channels + c) * plane + j, c), one block per
// channel, accumulated in double.
template <class E>
__global__ void sum_planes_kernel(double* out, std::size_t batch, std::size_t channels, std::size_t plane, E e) {
  const std::size_t c = blockIdx.x;
  const std::size_t m = batch * plane;
  double acc = 0.0;
  for (std::size_t k = threadIdx.x; k < m; k += blockDim.x) {
    const std::size_t n = k / plane, j = k - n * plane;
    acc += static_cast<double>(e((n * channels + c) * plane + j, c));
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[c] = acc;
}

template <class E>
void sum_planes(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
  if (channels == 0) return;
  sum_planes_kernel<<<static_cast<unsigned>(channels), block_size, 0, context().stream()>>>(out, batch, channels, plane, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::sum_planes_kernel");
}

// The same for NHWC data (Precision::bf16/fp16): element i lies in channel i % channels, and a
// 16-bit destination is written through cuda::store (nearest, ties to even). 16-bit elements are
// taken 8 per thread and round (the same bytes in flight as 4 floats).
template <class T>
inline constexpr int nhwc_unroll = sizeof(T) == 2 ? 2 * unroll : unroll;

template <class Index, class T, class E>
__global__ void assign_nhwc_kernel(T* dst, Index n, Index channels, E e) {
  constexpr int U = nhwc_unroll<T>;
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += U * stride) {
    float v[U];
#pragma unroll
    for (int k = 0; k < U; ++k) {
      const Index j = i + k * stride;
      if (j < n) v[k] = static_cast<float>(e(j, j % channels));
    }
#pragma unroll
    for (int k = 0; k < U; ++k)
      if (i + k * stride < n) dst[i + k * stride] = store<T>(v[k]);
  }
}

template <class T, class E>
void assign_nhwc(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
  constexpr int U = nhwc_unroll<T>;
  const std::size_t n = planes * plane;
  if (n == 0) return;
  const unsigned grid = grid_for((n + U - 1) / U);
  const cudaStream_t stream = context().stream();
  if (fits_u32(n, grid * U))
    assign_nhwc_kernel<std::uint32_t><<<grid, block_size, 0, stream>>>(dst, static_cast<std::uint32_t>(n),
                                                                       static_cast<std::uint32_t>(channels), e);
  else
    assign_nhwc_kernel<std::size_t><<<grid, block_size, 0, stream>>>(dst, n, channels, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::assign_nhwc_kernel");
}

// out[c] = sum over n < batch, j < plane of e((n * plane + j) * channels + c, c), in double. A
// channel's values lie `channels` apart, so a block per channel would read one value per memory
// sector; instead the 32 lanes of a warp read 32 neighbouring channels of one row (position), the
// 8 warps of a block 8 rows, each block a grid-strided share of the rows for every channel; a
// block's partial sums meet in shared memory and are added to out[c] atomically (in double: the
// order of those few additions changes only the last bits of the double sum).
inline constexpr unsigned nhwc_lanes = 32, nhwc_rows = block_size / nhwc_lanes;

template <class E>
__global__ void sum_nhwc_kernel(double* out, std::size_t rows, std::size_t channels, E e) {
  __shared__ double partial[nhwc_rows][nhwc_lanes];
  const unsigned lane = threadIdx.x % nhwc_lanes, row = threadIdx.x / nhwc_lanes;
  const std::size_t step = static_cast<std::size_t>(gridDim.x) * nhwc_rows;
  for (std::size_t c0 = 0; c0 < channels; c0 += nhwc_lanes) {
    const std::size_t c = c0 + lane;
    double acc = 0.0;
    if (c < channels) {
      double part[unroll] = {};  // independent sums: `unroll` loads in flight
      for (std::size_t r = static_cast<std::size_t>(blockIdx.x) * nhwc_rows + row; r < rows; r += unroll * step) {
#pragma unroll
        for (int k = 0; k < unroll; ++k)
          if (r + k * step < rows) part[k] += static_cast<double>(e((r + k * step) * channels + c, c));
      }
#pragma unroll
      for (int k = 0; k < unroll; ++k) acc += part[k];
    }
    partial[row][lane] = acc;
    __syncthreads();
    if (row == 0 && c < channels) {
      for (unsigned k = 1; k < nhwc_rows; ++k) acc += partial[k][lane];
      atomicAdd(out + c, acc);
    }
    __syncthreads();
  }
}

template <class E>
void sum_nhwc(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
  if (channels == 0) return;
  const cudaStream_t stream = context().stream();
  CTNN_CUDA_CHECK(cudaMemsetAsync(out, 0, channels * sizeof(double), stream));
  const std::size_t rows = batch * plane;
  if (rows == 0) return;
  // About 128 rows per block (fewer atomics per value: each thread takes 16), at most 1024 blocks.
  const std::size_t blocks = (rows + 16 * nhwc_rows - 1) / (16 * nhwc_rows);
  sum_nhwc_kernel<<<static_cast<unsigned>(blocks < 1024 ? blocks : 1024), block_size, 0, stream>>>(out, rows, channels, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::sum_nhwc_kernel");
}

}  // namespace ctnn::cuda::detail

namespace ctnn::backend::cuda {

// The evaluator of an NHWC device (backend/cuda/mixed.hpp).
struct NhwcEvaluator {
  template <class T, class E>
  static void assign(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
    ctnn::cuda::detail::assign_nhwc(dst, planes, channels, plane, e);
  }
  template <class E>
  static void sum(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
    ctnn::cuda::detail::sum_nhwc(out, batch, channels, plane, e);
  }
};

struct Evaluator {
  template <class T, class E>
  static void assign(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
    ctnn::cuda::detail::assign_planes(dst, planes, channels, plane, e);
  }
  template <class E>
  static void sum(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
    ctnn::cuda::detail::sum_planes(out, batch, channels, plane, e);
  }
};

}  // namespace ctnn::backend::cuda

template <>
struct ctnn::expr::evaluator<ctnn::Cuda> : ctnn::backend::cuda::Evaluator {};
