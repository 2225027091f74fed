#pragma once
// The CPU backend's registration: ctnn::Cpu's kernels (OpenBLAS or Eigen GEMMs, im2col, Winograd,
// fused element-wise passes) and its expression evaluator, checked against the backend contract.

#include "../core/device.hpp"
#include "contract.hpp"
#include "cpu/batchnorm.hpp"
#include "cpu/conv.hpp"
#include "cpu/evaluator.hpp"  // expr::evaluator<Cpu>
#include "cpu/gemm.hpp"
#include "cpu/linear.hpp"
#include "cpu/loss.hpp"
#include "cpu/pool.hpp"
#include "cpu/winograd.hpp"

namespace ctnn::backend {

template <>
struct kernels<Cpu> {
  using conv2d = cpu::Conv2d;
  using batchnorm = cpu::BatchNorm;
  using pool2d = cpu::Pool2d;
  using global_avg_pool = cpu::GlobalAvgPool;
  using linear = cpu::Linear;
  using loss = cpu::Loss;
};

static_assert(Backend<Cpu>, "ctnn::Cpu does not meet the backend contract (backend/contract.hpp)");

}  // namespace ctnn::backend
