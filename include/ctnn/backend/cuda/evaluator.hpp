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

// dst[i] = e(i, c) with c = (i / plane) % channels.
template <class Index, class T, class E>
__global__ void assign_kernel(T* dst, Index n, Index channels, Index plane, E e) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = static_cast<T>(e(i, (i / plane) % channels));
}

template <class T, class E>
void assign_planes(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
  const std::size_t n = planes * plane;
  if (n == 0) return;
  const unsigned grid = grid_for(n);
  const cudaStream_t stream = context().stream();
  if (fits_u32(n, grid))
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
// 16-bit destination is written through cuda::store (nearest, ties to even).
template <class Index, class T, class E>
__global__ void assign_nhwc_kernel(T* dst, Index n, Index channels, E e) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = store<T>(static_cast<float>(e(i, i % channels)));
}

template <class T, class E>
void assign_nhwc(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
  const std::size_t n = planes * plane;
  if (n == 0) return;
  const unsigned grid = grid_for(n);
  const cudaStream_t stream = context().stream();
  if (fits_u32(n, grid))
    assign_nhwc_kernel<std::uint32_t><<<grid, block_size, 0, stream>>>(dst, static_cast<std::uint32_t>(n),
                                                                       static_cast<std::uint32_t>(channels), e);
  else
    assign_nhwc_kernel<std::size_t><<<grid, block_size, 0, stream>>>(dst, n, channels, e);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::assign_nhwc_kernel");
}

// out[c] = sum over n < batch, j < plane of e((n * plane + j) * channels + c, c), one block per
// channel, in double.
template <class E>
__global__ void sum_nhwc_kernel(double* out, std::size_t batch, std::size_t channels, std::size_t plane, E e) {
  const std::size_t c = blockIdx.x;
  const std::size_t m = batch * plane;
  double acc = 0.0;
  for (std::size_t k = threadIdx.x; k < m; k += blockDim.x) acc += static_cast<double>(e(k * channels + c, c));
  acc = block_sum(acc);
  if (threadIdx.x == 0) out[c] = acc;
}

template <class E>
void sum_nhwc(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
  if (channels == 0) return;
  sum_nhwc_kernel<<<static_cast<unsigned>(channels), block_size, 0, context().stream()>>>(out, batch, channels, plane, e);
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
