#pragma once
// Parameter initialisation as in PyTorch's ResNet: Kaiming normal (fan_out, ReLU gain) for
// convolutions, weight 1 and bias 0 for batch norm, and nn.Linear's default (uniform within
// +-1/sqrt(fan_in) for weight and bias). Values are drawn on the host and uploaded.

#include <cmath>
#include <cstddef>
#include <vector>

#include "random.hpp"
#include "tensor.hpp"

namespace ctnn::init {

template <class S, class D, class F>
void fill_with(Tensor<S, D>& t, F&& draw) {
  std::vector<float> host(t.size());
  for (auto& v : host) v = draw();
  D::upload(t.data(), host.data(), host.size() * sizeof(float));
}

template <class S, class D>
void constant(Tensor<S, D>& t, float value) {
  fill_with(t, [&] { return value; });
}

template <class S, class D>
void kaiming_normal_fan_out(Tensor<S, D>& t, std::size_t fan_out, Rng& rng) {
  const double std = std::sqrt(2.0 / double(fan_out));
  fill_with(t, [&] { return static_cast<float>(rng.normal() * std); });
}

template <class S, class D>
void uniform_fan_in(Tensor<S, D>& t, std::size_t fan_in, Rng& rng) {
  const float bound = static_cast<float>(1.0 / std::sqrt(double(fan_in)));
  fill_with(t, [&] { return rng.uniform(-bound, bound); });
}

}  // namespace ctnn::init
