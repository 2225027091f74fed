#pragma once
// The CUDA backend: ctnn::Cuda, its context, cuDNN/cuBLAS kernels registered as
// backend::kernels<Cuda>, the CUDA expression evaluator, host <-> device transfers and the fused
// softmax cross-entropy hook.
// Compiled by nvcc only (CTNN_HAS_CUDA == 1); <ctnn/ctnn.hpp> includes it there. Include it before
// the layer headers (the umbrella header does): layers call expr::assign by qualified name, which
// binds to the overloads declared before them.

#include "../core/config.hpp"

#if !CTNN_HAS_CUDA || !defined(__CUDACC__)
#error "ctnn/backend/cuda.hpp needs nvcc (CTNN_HAS_CUDA == 1); CPU-only code includes <ctnn/ctnn.hpp> without it"
#endif

#include "../expr/cuda_eval.hpp"
#include "cuda/batchnorm.hpp"
#include "cuda/buffer.hpp"
#include "cuda/check.hpp"
#include "cuda/context.hpp"
#include "cuda/conv.hpp"
#include "cuda/descriptors.hpp"
#include "cuda/device.hpp"
#include "cuda/graph.hpp"
#include "cuda/launch.hpp"
#include "cuda/linear.hpp"
#include "cuda/loss.hpp"
#include "cuda/pool.hpp"
#include "cuda/transfer.hpp"
#include "kernels.hpp"

namespace ctnn::backend {

template <>
struct kernels<Cuda> {
  using conv2d = cuda::Conv2d;
  using batchnorm = cuda::BatchNorm;
  using pool2d = cuda::Pool2d;
  using global_avg_pool = cuda::GlobalAvgPool;
  using linear = cuda::Linear;
};

}  // namespace ctnn::backend
