#pragma once
// The CUDA evaluator for ctnn::expr: every expression type instantiates one grid-stride kernel,
// launched on the context's stream. Expression nodes are trivially copyable and hold raw
// pointers, so the whole expression travels to the GPU as a kernel argument; tensors in it must be
// Cuda tensors (device pointers).
//
//   expr::assign(y, expr::relu(a + b));                  // Tensor<S, Cuda>
//   expr::assign_flat(Cuda{}, w, n, w - lr * g);         // flat device buffers (optimizers)
//   expr::sum_per_channel<S>(Cuda{}, out, batch, e);     // out: C doubles in device memory
//
// Only for translation units compiled by nvcc (CTNN_HAS_CUDA == 1).

#if !defined(__CUDACC__)
#error "ctnn/expr/cuda_eval.hpp is compiled by nvcc only"
#endif

#include <cstddef>
#include <cstdint>

#include "../backend/cuda/check.hpp"
#include "../backend/cuda/context.hpp"
#include "../backend/cuda/device.hpp"
#include "../backend/cuda/launch.hpp"
#include "../core/tensor.hpp"
#include "nodes.hpp"

namespace ctnn::expr {

namespace cuda_detail {

// dst[i] = e(i, c) with c = (i / plane) % channels.
template <class Index, class T, class E>
__global__ void assign_kernel(T* dst, Index n, Index channels, Index plane, E e) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = static_cast<T>(e(i, (i / plane) % channels));
}

template <class T, class E>
void assign_planes(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
  using ctnn::cuda::detail::block_size;
  const std::size_t n = planes * plane;
  if (n == 0) return;
  const unsigned grid = ctnn::cuda::detail::grid_for(n);
  const cudaStream_t stream = ctnn::cuda::context().stream();
  if (ctnn::cuda::detail::fits_u32(n, grid))
    assign_kernel<std::uint32_t><<<grid, block_size, 0, stream>>>(dst, static_cast<std::uint32_t>(n),
                                                                  static_cast<std::uint32_t>(channels),
                                                                  static_cast<std::uint32_t>(plane), e);
  else
    assign_kernel<std::size_t><<<grid, block_size, 0, stream>>>(dst, n, channels, plane, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::expr::assign_kernel");
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
  acc = ctnn::cuda::detail::block_sum(acc);
  if (threadIdx.x == 0) out[c] = acc;
}

template <class E>
void sum_planes(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
  if (channels == 0) return;
  sum_planes_kernel<<<static_cast<unsigned>(channels), ctnn::cuda::detail::block_size, 0,
                      ctnn::cuda::context().stream()>>>(out, batch, channels, plane, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::expr::sum_planes_kernel");
}

}  // namespace cuda_detail

// dst = e, element by element, over dst's current batch. Operands may alias dst.
template <ShapeType S, class T, Operand E>
void assign(Tensor<S, Cuda, T>& dst, const E& e) {
  cuda_detail::assign_planes(dst.data(), dst.batch() * channels_v<S>, channels_v<S>, spatial_size_v<S>, lift(e));
}

// dst[i] = e(i, 0) for a flat device buffer of n values (parameter-sized work such as an
// optimizer update).
template <Operand E>
void assign_flat(Cuda, float* dst, std::size_t n, const E& e) {
  cuda_detail::assign_planes(dst, 1, 1, n, lift(e));
}

// Per-channel sums of an expression over a batch of shape S into `out`, C doubles in device
// memory (asynchronous; download them to read on the host).
template <ShapeType S, Operand E>
void sum_per_channel(Cuda, double* out, std::size_t batch, const E& e) {
  cuda_detail::sum_planes(out, batch, channels_v<S>, spatial_size_v<S>, lift(e));
}

}  // namespace ctnn::expr
