#pragma once
// CPU pooling over NCHW planes. Max pooling treats padding as -infinity and remembers the winning
// input index for backward; average pooling counts padded positions (PyTorch's default,
// count_include_pad=True).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "../../core/config.hpp"
#include "../../core/memory.hpp"
#include "../../core/threading.hpp"
#include "../../expr/nodes.hpp"
#include "../contract.hpp"
#include "evaluator.hpp"

namespace ctnn::backend::cpu {

class Pool2d {
public:
  Pool2d(const Geometry2d& g, PoolKind kind, std::size_t max_batch) : g_(g), kind_(kind) {
    if (kind == PoolKind::max) argmax_.reserve(max_batch * g.out_size());
  }

  void forward(const float* x, float* y, std::size_t batch);

  void backward(const float* dy, float* dx, std::size_t batch);

  // The argmax indices max pooling keeps from forward for backward.
  template <class Plan>
  void plan(Plan& p) const { p.state(argmax_.bytes()); }

private:
  Geometry2d g_;
  PoolKind kind_;
  ctnn::detail::Scratch<std::int32_t> argmax_;
};

// Mean over each plane: [N, C, HW] -> [N, C], and its adjoint.
class GlobalAvgPool {
public:
  GlobalAvgPool(std::size_t channels, std::size_t plane, std::size_t /*max_batch*/) : C_(channels), HW_(plane) {}

  void forward(const float* x, float* y, std::size_t batch);

  void backward(const float* dy, float* dx, std::size_t batch);

private:
  std::size_t C_, HW_;
};

}  // namespace ctnn::backend::cpu

#if CTNN_HEADER_DEFINITIONS
#include "impl/pool.ipp"
#endif
