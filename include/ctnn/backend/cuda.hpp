#pragma once
// The CUDA backend's registration: ctnn::Cuda, its context, the cuDNN/cuBLAS kernels, the CUDA
// expression evaluator and the fused loss, checked against the backend contract; plus the
// CUDA-only extras (pinned buffers and asynchronous uploads, graphs, settings).
// Compiled by nvcc only (CTNN_HAS_CUDA == 1); <ctnn/ctnn.hpp> includes it there. It may come before
// or after the layer and optimizer headers: they reach the device through class template
// specialisations, which are looked up when a network is instantiated.

#include "../core/config.hpp"

#if !CTNN_HAS_CUDA || !defined(__CUDACC__)
#error "ctnn/backend/cuda.hpp needs nvcc (CTNN_HAS_CUDA == 1); CPU-only code includes <ctnn/ctnn.hpp> without it"
#endif

#include "contract.hpp"
#include "cuda/batchnorm.hpp"
#include "cuda/buffer.hpp"
#include "cuda/check.hpp"
#include "cuda/context.hpp"
#include "cuda/conv.hpp"
#include "cuda/descriptors.hpp"
#include "cuda/device.hpp"
#include "cuda/evaluator.hpp"  // expr::evaluator<Cuda>
#include "cuda/graph.hpp"
#include "cuda/half.hpp"
#include "cuda/launch.hpp"
#include "cuda/linear.hpp"
#include "cuda/loss.hpp"
#include "cuda/loss_scale.hpp"
#include "cuda/mixed.hpp"  // Precision::bf16 / fp16: ctnn::CudaMixed<P> and its kernels
#include "cuda/multi_tensor.hpp"  // backend::multi_tensor<Cuda>: the optimizers' one-launch update
#include "cuda/pool.hpp"
#include "cuda/step_metrics.hpp"
#include "cuda/step_scalars.hpp"
#include "cuda/transfer.hpp"

namespace ctnn::backend {

template <>
struct kernels<Cuda> {
  using conv2d = cuda::Conv2d;
  using batchnorm = cuda::BatchNorm;
  using pool2d = cuda::Pool2d;
  using global_avg_pool = cuda::GlobalAvgPool;
  using linear = cuda::Linear;
  using loss = cuda::Loss;
};

static_assert(Backend<Cuda>, "ctnn::Cuda does not meet the backend contract (backend/contract.hpp)");

}  // namespace ctnn::backend
