#pragma once
// Precision::bf16 and Precision::fp16 on CUDA: the device tag ctnn::CudaMixed<P>, registered as
// precision_device<Cuda, P> (core/precision.hpp), so that
//
//   ctnn::Network<ResNet18<10>, Shape<3, 32, 32>, ctnn::Cuda, ctnn::Precision::bf16> net(512);
//
// runs its activations, their gradients and its convolutions in 16 bits, NHWC, on tensor cores.
// CudaMixed<P> is ctnn::Cuda's memory (it derives from it) with
//   element_type   __nv_bfloat16 or __half: every activation tensor's element type;
//   layout         Layout::nhwc: a sample is H x W positions of C values (cuDNN's fast layout);
// and its own kernels, the same classes as float32's instantiated for the 16-bit type:
//   convolution    cuDNN, 16-bit NHWC data and a 16-bit KRSC copy of the float32 filter made at each
//                  forward, float32 accumulation (compute type), tensor-core math; the filter
//                  gradient is computed in 16 bits and added to the float32 one;
//   batch norm     cuDNN with 16-bit data and float32 gamma, beta and statistics;
//   pooling        cuDNN (max/average), own kernels (global average, summed in float);
//   linear         cublasGemmEx, 16-bit inputs, float32 accumulation, the weight gradient straight
//                  into the float32 one;
//   loss           softmax cross-entropy read from 16-bit logits in double;
//   expressions    NHWC indexing, computed in float, stored with rounding to nearest even.
// Parameters, their gradients, the optimizer's state and batch-norm statistics stay float32, so an
// optimizer (SGD<Cuda>, AdamW<Cuda>) updates float32 master weights and checkpoints hold float32
// and load into any precision and either device.
//
// Transfers of activations: upload_values(t, host) takes float NCHW values and
// download_values(t) returns them (converted and transposed on the GPU).

#include "batchnorm.hpp"
#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "conv.hpp"
#include "device.hpp"
#include "evaluator.hpp"
#include "half.hpp"
#include "linear.hpp"
#include "loss.hpp"
#include "loss_scale.hpp"
#include "multi_tensor.hpp"
#include "pool.hpp"

#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/precision.hpp"
#include "../../core/shape.hpp"
#include "../../core/tensor.hpp"
#include "../contract.hpp"

namespace ctnn {

template <Precision P>
struct CudaMixed : Cuda {
  static_assert(P == Precision::bf16 || P == Precision::fp16, "ctnn::CudaMixed<P>: P is Precision::bf16 or fp16");
  static constexpr const char* name = P == Precision::bf16 ? "cuda-bf16" : "cuda-fp16";
  using element_type = std::conditional_t<P == Precision::bf16, __nv_bfloat16, __half>;
  static constexpr Layout layout = Layout::nhwc;
  static constexpr Precision precision = P;
};

template <>
struct precision_device<Cuda, Precision::bf16> {
  using type = CudaMixed<Precision::bf16>;
};
template <>
struct precision_device<Cuda, Precision::fp16> {
  using type = CudaMixed<Precision::fp16>;
};

namespace cuda {

template <class D>
inline constexpr bool is_mixed_v = false;
template <Precision P>
inline constexpr bool is_mixed_v<CudaMixed<P>> = true;

// Float NCHW values into a 16-bit NHWC tensor (its batch becomes host.size() / S::size).
template <ShapeType S, Precision P>
void upload_values(Tensor<S, CudaMixed<P>>& t, std::span<const float> host) {
  if (host.size() % S::size != 0)
    ctnn::detail::fail("ctnn::cuda::upload_values: ", host.size(), " values are not a whole number of samples of ", S::size);
  t.set_batch(host.size() / S::size);
  DeviceBuffer<float> staging(host.size(), "the staging of an upload");
  Cuda::upload(staging.data(), host.data(), host.size_bytes());
  detail::convert_samples<typename CudaMixed<P>::element_type>(staging.data(), t.data(), t.batch(), channels_v<S>,
                                                               spatial_size_v<S>, true);
  synchronize();  // the staging buffer is freed next
}

// The values of a 16-bit NHWC tensor as float NCHW.
template <ShapeType S, Precision P>
std::vector<float> download_values(const Tensor<S, CudaMixed<P>>& t) {
  DeviceBuffer<float> staging(std::max<std::size_t>(t.size(), 1), "the staging of a download");
  detail::convert_samples<typename CudaMixed<P>::element_type>(t.data(), staging.data(), t.batch(), channels_v<S>,
                                                               spatial_size_v<S>, false);
  std::vector<float> host(t.size());
  Cuda::download(host.data(), staging.data(), host.size() * sizeof(float));
  return host;
}

}  // namespace cuda

namespace backend {

template <Precision P>
struct kernels<CudaMixed<P>> {
  using T = typename CudaMixed<P>::element_type;
  using conv2d = cuda::Convolution<T>;
  using batchnorm = cuda::BatchNormalization<T>;
  using pool2d = cuda::Pooling<T>;
  using global_avg_pool = cuda::GlobalAveragePooling<T>;
  using linear = cuda::FullyConnected<T>;
  using loss = cuda::CrossEntropy<T>;
};

template <Precision P>
struct multi_tensor<CudaMixed<P>> {
  using type = ctnn::cuda::MultiTensorOptimizer;
};

}  // namespace backend

template <Precision P>
struct expr::evaluator<CudaMixed<P>> : backend::cuda::NhwcEvaluator {};

static_assert(backend::Backend<CudaMixed<Precision::bf16>>, "ctnn::CudaMixed<bf16> does not meet the backend contract");
static_assert(backend::Backend<CudaMixed<Precision::fp16>>, "ctnn::CudaMixed<fp16> does not meet the backend contract");

}  // namespace ctnn
