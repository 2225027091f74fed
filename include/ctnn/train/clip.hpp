#pragma once
// Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_: with
//   norm = sqrt(sum over every gradient element g of g^2)
// every gradient is scaled by max_norm / (norm + 1e-6) when that is below 1. The squares are summed
// on the gradients' device (one reduction per tensor), the per-tensor sums downloaded and added up in
// double on the host; the scaling is one fused pass per tensor. Returns the norm before clipping.

#include <cmath>
#include <cstddef>
#include <span>
#include <vector>

#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"

namespace ctnn::train {

template <class D>
class GradClipper {
public:
  double clip(std::span<const Parameter> params, float max_norm) {
    if (!(max_norm > 0.f)) detail::fail("ctnn::train::GradClipper: max_norm ", max_norm, " must be positive");
    if (sums_.capacity() < params.size()) {
      sums_ = Tensor<Shape<1>, D, double>(params.size());
      host_.resize(params.size());
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const expr::TensorLeaf<float> g{{}, params[i].grad};
      expr::evaluator<D>::sum(sums_.data() + i, 1, 1, params[i].size, expr::square(g));
    }
    D::download(host_.data(), sums_.data(), params.size() * sizeof(double));
    double total = 0;
    for (std::size_t i = 0; i < params.size(); ++i) total += host_[i];
    const double norm = std::sqrt(total);
    const double coef = double(max_norm) / (norm + 1e-6);
    if (coef < 1.0) {
      const auto c = static_cast<float>(coef);
      for (const auto& p : params) {
        const expr::TensorLeaf<float> g{{}, p.grad};
        expr::assign_flat<D>(p.grad, p.size, g * c);
      }
    }
    return norm;
  }

private:
  Tensor<Shape<1>, D, double> sums_;
  std::vector<double> host_;
};

}  // namespace ctnn::train
