#pragma once
// The CPU backend: Eigen-backed kernels, registered as backend::kernels<Cpu>.

#include "../core/device.hpp"
#include "cpu/batchnorm.hpp"
#include "cpu/conv.hpp"
#include "cpu/gemm.hpp"
#include "cpu/linear.hpp"
#include "cpu/pool.hpp"
#include "cpu/winograd.hpp"
#include "kernels.hpp"

namespace ctnn::backend {

template <>
struct kernels<Cpu> {
  using conv2d = cpu::Conv2d;
  using batchnorm = cpu::BatchNorm;
  using pool2d = cpu::Pool2d;
  using global_avg_pool = cpu::GlobalAvgPool;
  using linear = cpu::Linear;
};

}  // namespace ctnn::backend
