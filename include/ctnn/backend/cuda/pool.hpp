#pragma once
// CUDA pooling, mirroring backend::cpu::Pool2d and backend::cpu::GlobalAvgPool (device pointers).
//   Pool2d(geometry, kind, max_batch): forward(x, y, batch), backward(dy, dx, batch)
//     cuDNN pooling: max as CUDNN_POOLING_MAX_DETERMINISTIC (padding never wins, NaN propagates),
//     average as CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING (divides by kernel^2, PyTorch's
//     default). cuDNN's backward needs the forward input and output: forward() remembers both
//     (the layer keeps x alive and y unchanged until backward, as the layer concept requires).
//   GlobalAvgPool(channels, plane, max_batch): forward(x, y, batch), backward(dy, dx, batch)
//     own kernels: one warp per plane forward, a grid-stride broadcast backward.

#include "check.hpp"
#include "context.hpp"
#include "descriptors.hpp"
#include "half.hpp"
#include "launch.hpp"

#include <cstddef>

#include "../../core/error.hpp"
#include "../contract.hpp"

namespace ctnn::backend::cuda {

// T: float (NCHW) or a 16-bit type (NHWC).
template <class T>
class Pooling {
public:
  Pooling(const Geometry2d& g, PoolKind kind, std::size_t /*max_batch*/)
      : g_(g), kind_(kind),
        pool_(kind == PoolKind::max ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
              g.kernel, g.stride, g.pad) {
    set_batch(1);
    int n = 0, c = 0, h = 0, w = 0;
    CTNN_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool_, x_desc_, &n, &c, &h, &w));
    if (std::size_t(c) != g.out_c || std::size_t(h) != g.out_h || std::size_t(w) != g.out_w)
      ctnn::detail::fail("ctnn::Cuda Pool2d: cuDNN computes an output of ", c, "x", h, "x", w, " for pooling ", g.in_c, "x",
                         g.in_h, "x", g.in_w, " -> ", g.out_c, "x", g.out_h, "x", g.out_w);
  }

  void forward(const T* x, T* y, std::size_t batch) {
    x_ = x;
    y_ = y;
    if (batch == 0) return;
    set_batch(batch);
    const float one = 1.f, zero = 0.f;
    CTNN_CUDNN_CHECK(cudnnPoolingForward(ctnn::cuda::context().cudnn(), pool_, &one, x_desc_, x, &zero, y_desc_, y));
  }

  void backward(const T* dy, T* dx, std::size_t batch) {
    if (batch == 0) return;
    if (!x_ || !y_) ctnn::detail::fail("ctnn::Cuda Pool2d::backward called before forward");
    set_batch(batch);
    const float one = 1.f, zero = 0.f;
    CTNN_CUDNN_CHECK(cudnnPoolingBackward(ctnn::cuda::context().cudnn(), pool_, &one, y_desc_, y_, y_desc_, dy, x_desc_, x_,
                                          &zero, x_desc_, dx));
  }

  PoolKind kind() const { return kind_; }

private:
  void set_batch(std::size_t batch) {
    if (batch == batch_) return;
    constexpr cudnnDataType_t type = ctnn::cuda::cudnn_type<T>();
    constexpr cudnnTensorFormat_t format = ctnn::cuda::cudnn_format<T>();
    x_desc_.set(batch, g_.in_c, g_.in_h, g_.in_w, type, format);
    y_desc_.set(batch, g_.out_c, g_.out_h, g_.out_w, type, format);
    batch_ = batch;
  }

  Geometry2d g_;
  PoolKind kind_;
  ctnn::cuda::detail::PoolingDescriptor pool_;
  ctnn::cuda::detail::TensorDescriptor x_desc_, y_desc_;
  std::size_t batch_ = 0;
  const T* x_ = nullptr;
  const T* y_ = nullptr;
};

using Pool2d = Pooling<float>;

namespace detail {

// y[p] = mean of plane p; one warp per plane.
template <class T>
__global__ void global_avg_pool_forward(const T* x, T* y, std::size_t planes, std::size_t plane, T inv) {
  const std::size_t warps_per_block = blockDim.x / 32;
  const std::size_t lane = threadIdx.x & 31;
  const std::size_t total_warps = static_cast<std::size_t>(gridDim.x) * warps_per_block;
  for (std::size_t p = blockIdx.x * warps_per_block + threadIdx.x / 32; p < planes; p += total_warps) {
    const T* xp = x + p * plane;
    T s = 0;
    for (std::size_t j = lane; j < plane; j += 32) s += xp[j];
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0) y[p] = s * inv;
  }
}

// dx[p * plane + j] = dy[p] / plane.
template <class T>
__global__ void global_avg_pool_backward(const T* dy, T* dx, std::size_t n, std::size_t plane, T inv) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = dy[i / plane] * inv;
}

// NHWC: y[n * C + c] = the mean over j of x[(n * plane + j) * C + c], one thread per (n, c), summed
// in float; and its adjoint.
template <class T>
__global__ void global_avg_pool_forward_nhwc(const T* x, T* y, std::size_t batch, std::size_t channels, std::size_t plane,
                                             float inv) {
  const std::size_t n = batch * channels, stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::size_t s = i / channels, c = i - s * channels;
    float acc = 0.f;
    for (std::size_t j = 0; j < plane; ++j) acc += ctnn::cuda::load(x[(s * plane + j) * channels + c]);
    y[i] = ctnn::cuda::store<T>(acc * inv);
  }
}

template <class T>
__global__ void global_avg_pool_backward_nhwc(const T* dy, T* dx, std::size_t batch, std::size_t channels, std::size_t plane,
                                              float inv) {
  const std::size_t n = batch * plane * channels, stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::size_t s = i / (plane * channels), c = i % channels;
    dx[i] = ctnn::cuda::store<T>(ctnn::cuda::load(dy[s * channels + c]) * inv);
  }
}

}  // namespace detail

template <class T>
class GlobalAveragePooling {
  static constexpr bool half = ctnn::cuda::is_half_v<T>;

public:
  GlobalAveragePooling(std::size_t channels, std::size_t plane, std::size_t /*max_batch*/) : C_(channels), HW_(plane) {}

  void forward(const T* x, T* y, std::size_t batch) {
    const std::size_t planes = batch * C_;
    if (planes == 0) return;
    using ctnn::cuda::detail::block_size;
    if constexpr (half) {
      detail::global_avg_pool_forward_nhwc<T><<<ctnn::cuda::detail::grid_for(planes), block_size, 0,
                                                ctnn::cuda::context().stream()>>>(x, y, batch, C_, HW_, 1.f / float(HW_));
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::global_avg_pool_forward_nhwc");
    } else {
      const unsigned grid = ctnn::cuda::detail::grid_for(planes * 32);
      detail::global_avg_pool_forward<float><<<grid, block_size, 0, ctnn::cuda::context().stream()>>>(
          x, y, planes, HW_, 1.f / float(HW_));
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::global_avg_pool_forward");
    }
  }

  void backward(const T* dy, T* dx, std::size_t batch) {
    const std::size_t n = batch * C_ * HW_;
    if (n == 0) return;
    using ctnn::cuda::detail::block_size;
    if constexpr (half) {
      detail::global_avg_pool_backward_nhwc<T><<<ctnn::cuda::detail::grid_for(n), block_size, 0,
                                                 ctnn::cuda::context().stream()>>>(dy, dx, batch, C_, HW_, 1.f / float(HW_));
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::global_avg_pool_backward_nhwc");
    } else {
      detail::global_avg_pool_backward<float><<<ctnn::cuda::detail::grid_for(n), block_size, 0,
                                                ctnn::cuda::context().stream()>>>(dy, dx, n, HW_, 1.f / float(HW_));
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::global_avg_pool_backward");
    }
  }

private:
  std::size_t C_, HW_;
};

using GlobalAvgPool = GlobalAveragePooling<float>;

}  // namespace ctnn::backend::cuda
