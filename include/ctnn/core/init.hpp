#pragma once
// Parameter initialisation as in PyTorch's ResNet: Kaiming normal (fan_out, ReLU gain) for
// convolutions, weight 1 and bias 0 for batch norm, and nn.Linear's default (uniform within
// +-1/sqrt(fan_in) for weight and bias). Values are drawn on the host and uploaded.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "config.hpp"
#include "error.hpp"
#include "parameter.hpp"
#include "random.hpp"
#include "tensor.hpp"

namespace ctnn::init {

template <class S, class D, class F>
void fill_with(Tensor<S, D, float>& t, F&& draw) {
  std::vector<float> host(t.size());
  for (auto& v : host) v = draw();
  D::upload(t.data(), host.data(), host.size() * sizeof(float));
}

template <class S, class D>
void constant(Tensor<S, D, float>& t, float value) {
  fill_with(t, [&] { return value; });
}

template <class S, class D>
void kaiming_normal_fan_out(Tensor<S, D, float>& t, std::size_t fan_out, Rng& rng) {
  const double std = std::sqrt(2.0 / double(fan_out));
  fill_with(t, [&] { return static_cast<float>(rng.normal() * std); });
}

template <class S, class D>
void uniform_fan_in(Tensor<S, D, float>& t, std::size_t fan_in, Rng& rng) {
  const float bound = static_cast<float>(1.0 / std::sqrt(double(fan_in)));
  fill_with(t, [&] { return rng.uniform(-bound, bound); });
}

// Re-initialises, as a layer does when it is constructed, every parameter whose name starts with
// `prefix` (the classic new head on a pretrained body): convolution weights (rank 4) Kaiming normal
// with fan_out, Linear weights (rank 2) and biases uniform within +-1/sqrt(fan_in) (the fan_in of
// the weight beside the bias), batch-norm weights 1 and biases 0. Returns how many it changed.
template <class D>
std::size_t reinitialize(std::span<Parameter> params, const std::string& prefix, Rng& rng) {
  std::size_t changed = 0;
  auto fan_in_of = [&](const std::string& bias_name) -> std::size_t {
    const std::string weight = bias_name.substr(0, bias_name.size() - 4) + "weight";
    for (const auto& p : params)
      if (p.name == weight && p.shape.size() >= 2) {
        std::size_t f = 1;
        for (std::size_t i = 1; i < p.shape.size(); ++i) f *= p.shape[i];
        return f;
      }
    return 0;
  };
  for (auto& p : params) {
    if (p.name.rfind(prefix, 0) != 0) continue;
    std::vector<float> v(p.size);
    if (p.kind == ParamKind::norm_weight || p.kind == ParamKind::norm_bias) {
      std::fill(v.begin(), v.end(), p.kind == ParamKind::norm_weight ? 1.f : 0.f);
    } else if (p.kind == ParamKind::weight && p.shape.size() == 4) {
      const double std = std::sqrt(2.0 / double(p.shape[0] * p.shape[2] * p.shape[3]));
      for (auto& x : v) x = static_cast<float>(rng.normal() * std);
    } else {
      std::size_t fan_in = p.kind == ParamKind::bias ? fan_in_of(p.name) : (p.shape.size() == 2 ? p.shape[1] : 0);
      if (fan_in == 0) detail::fail("ctnn::init::reinitialize: cannot tell the fan-in of '", p.name, "'");
      const float bound = static_cast<float>(1.0 / std::sqrt(double(fan_in)));
      for (auto& x : v) x = rng.uniform(-bound, bound);
    }
    D::upload(p.value, v.data(), v.size() * sizeof(float));
    ++changed;
  }
  if (changed == 0) detail::fail("ctnn::init::reinitialize: no parameter's name starts with '", prefix, "'");
  return changed;
}

}  // namespace ctnn::init

namespace ctnn {

// The parameters with those whose names start with one of `prefixes` frozen: their gradient pointer
// is null, so an optimizer stepping this list leaves them as they are (the list keeps its length,
// so the optimizer's state still fits the network). Pass it to optimizer.step() instead of
// net.parameters().
std::vector<Parameter> freeze(std::span<const Parameter> params, const std::vector<std::string>& prefixes);

}  // namespace ctnn

#if CTNN_HEADER_DEFINITIONS
#include "impl/init.ipp"
#endif
