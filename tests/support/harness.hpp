#pragma once
// Test support: one instantiated layer with a random input, and the scalar loss L = sum(y * r) with
// fixed random r (so dL/dy = r), for forward checks and finite-difference gradient checks.

#include <ctnn/backend/cpu.hpp>
#include <ctnn/layers.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reference.hpp"

namespace ref {

template <class Spec, class In>
struct Harness {
  using Out = ctnn::output_shape_t<Spec, In>;
  using Layer = ctnn::layer_t<Spec, In>;

  ctnn::Rng rng;
  Layer layer;
  ctnn::Tensor<In> x;
  ctnn::Tensor<Out> r;  // dL/dy
  std::vector<ctnn::Parameter> params;
  std::vector<ctnn::Buffer> buffers;

  // Capacity `capacity`, current batch `batch`; x uniform in [-1, 1), r uniform in [-1, 1).
  Harness(std::size_t batch, std::uint64_t seed = 1, std::size_t capacity = 0)
      : rng(seed), layer(capacity ? capacity : batch, rng), x(capacity ? capacity : batch, batch),
        r(capacity ? capacity : batch, batch) {
    set_input(uniform(x.size(), rng));
    const auto w = uniform(r.size(), rng);
    std::copy(w.begin(), w.end(), r.data());
    ctnn::Collector c;
    ctnn::collect_state(layer, c);
    params = c.parameters();
    buffers = c.buffers();
  }

  void set_input(const std::vector<float>& v) { std::copy(v.begin(), v.end(), x.data()); }
  Vec input() const { return to_double(x.span()); }

  const ctnn::Parameter& param(const std::string& name) const {
    for (const auto& p : params)
      if (p.name == name) return p;
    FAIL("no parameter named " << name);
    return params.front();
  }
  static Vec values(const float* p, std::size_t n) { return Vec(p, p + n); }
  Vec value(const std::string& name) const { const auto& p = param(name); return values(p.value, p.size); }
  Vec grad(const std::string& name) const { const auto& p = param(name); return values(p.grad, p.size); }

  // Gives every parameter random values in [lo, hi) (BatchNorm's 1 and 0 test too little).
  void randomize_parameters(float lo = -1.f, float hi = 1.f) {
    for (auto& p : params)
      for (std::size_t i = 0; i < p.size; ++i) p.value[i] = rng.uniform(lo, hi);
  }
  void zero_grad() {
    for (auto& p : params) std::fill(p.grad, p.grad + p.size, 0.f);
  }

  const ctnn::Tensor<Out>& forward(ctnn::Mode mode = ctnn::Mode::train) { return layer.forward(x, mode); }

  double loss(ctnn::Mode mode = ctnn::Mode::train) {
    const auto& y = forward(mode);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += double(y.data()[i]) * double(r.data()[i]);
    return s;
  }

  // Forward and backward at the current point; returns dL/dx, leaves the parameter gradients in
  // the layer (zeroed first).
  Vec backward(ctnn::Mode mode = ctnn::Mode::train) {
    zero_grad();
    forward(mode);
    const auto& dx = layer.backward(r, true);
    REQUIRE(dx.batch() == x.batch());
    return to_double(dx.span());
  }

  // Finite-difference check of dL/dx and of every parameter's gradient.
  void check_gradients(ctnn::Mode mode = ctnn::Mode::train, FdOptions o = {}) {
    const Vec dx = backward(mode);
    std::vector<Vec> grads;
    for (const auto& p : params) grads.push_back(values(p.grad, p.size));
    auto L = [&] { return loss(mode); };
    check_gradient(L, x.data(), dx, o, "dL/dx");
    for (std::size_t k = 0; k < params.size(); ++k) check_gradient(L, params[k].value, grads[k], o, "dL/d" + params[k].name);
  }
};

// Every parameter scaled and shifted at random, running means in [-1, 1] and running variances in
// [0.2, 3]: batch-norm evaluation far from the identity, so that a mistake in using it shows.
template <class Net>
void perturb_parameters_and_statistics(Net& net, std::uint64_t seed) {
  ctnn::Rng rng(seed);
  for (const ctnn::Parameter& p : net.parameters())
    for (std::size_t i = 0; i < p.size; ++i) p.value[i] = p.value[i] * rng.uniform(0.5f, 1.5f) + rng.uniform(-0.3f, 0.3f);
  for (const ctnn::Buffer& b : net.buffers()) {
    const bool var = b.name.find("running_var") != std::string::npos;
    for (std::size_t i = 0; i < b.size; ++i) b.value[i] = var ? rng.uniform(0.2f, 3.f) : rng.uniform(-1.f, 1.f);
  }
}

}  // namespace ref
