// Helpers for the CUDA parity tests: a CPU network and a CUDA network of the same type with the
// same parameters and buffers, host copies of device data and a relative error.
#pragma once

#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace parity {

using namespace ctnn;

inline std::vector<float> random_values(std::size_t n, Rng& rng, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

// max |got - ref| / max |ref| (normwise, so values near zero do not dominate); 0 when both are 0.
inline double rel_error(const std::vector<float>& ref, const std::vector<float>& got) {
  REQUIRE(ref.size() == got.size());
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], g = got[i];
    if (std::isnan(r) != std::isnan(g)) return INFINITY;
    diff = std::max(diff, std::fabs(g - r));
    scale = std::max(scale, std::fabs(r));
  }
  if (scale == 0.0) return diff == 0.0 ? 0.0 : INFINITY;
  return diff / scale;
}

// ||got - ref||_2 / ||ref||_2. Where two correct implementations may disagree at a few elements
// (a ReLU input within rounding of zero goes the other way, a max-pool window holds values that
// rounding made equal), the gradient there differs by O(1) and the max-norm error says nothing
// more; the 2-norm weighs those elements by their share.
inline double rel_l2_error(const std::vector<float>& ref, const std::vector<float>& got) {
  REQUIRE(ref.size() == got.size());
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double r = ref[i], g = got[i];
    if (std::isnan(r) != std::isnan(g)) return INFINITY;
    diff += (g - r) * (g - r);
    scale += r * r;
  }
  if (scale == 0.0) return diff == 0.0 ? 0.0 : INFINITY;
  return std::sqrt(diff / scale);
}

inline std::vector<float> host_copy(const float* p, std::size_t n, Cpu) { return {p, p + n}; }
inline std::vector<float> host_copy(const float* p, std::size_t n, Cuda) {
  std::vector<float> v(n);
  Cuda::download(v.data(), p, n * sizeof(float));
  return v;
}
template <class S, class D>
std::vector<float> host_copy(const Tensor<S, D>& t) {
  return host_copy(t.data(), t.size(), D{});
}

template <class S, class D>
Tensor<S, D> make_tensor(const std::vector<float>& host) {
  Tensor<S, D> t(host.size() / S::size);
  copy_from_host(t, std::span<const float>(host));
  return t;
}

// The worst relative error seen, with what it was measured on, for one summary line per test.
// l2: the checks use rel_l2_error instead of rel_error.
struct Worst {
  double error = 0.0;
  std::string what;
  bool l2 = false;
  void check(const std::string& name, const std::vector<float>& ref, const std::vector<float>& got, double tol) {
    const double e = l2 ? rel_l2_error(ref, got) : rel_error(ref, got);
    INFO(name << ": relative error " << e << std::string(l2 ? " (2-norm" : " (max-norm") << ", tolerance " << tol << ")");
    CHECK(e <= tol);
    if (!(e <= error)) {
      error = e;
      what = name;
    }
  }
};

template <class Spec, class In>
struct Pair {
  Network<Spec, In, Cpu> cpu;
  Network<Spec, In, Cuda> gpu;

  Pair(std::size_t max_batch, std::uint64_t seed) : cpu(max_batch, seed), gpu(max_batch, seed) { copy_state(); }

  // Parameters and buffers of the CPU network onto the GPU network (the constructors already
  // draw the same values from the same seed; this makes the tests independent of that).
  void copy_state() {
    auto cp = cpu.parameters();
    auto gp = gpu.parameters();
    REQUIRE(cp.size() == gp.size());
    for (std::size_t i = 0; i < cp.size(); ++i) {
      REQUIRE(cp[i].name == gp[i].name);
      REQUIRE(cp[i].size == gp[i].size);
      Cuda::upload(gp[i].value, cp[i].value, cp[i].size * sizeof(float));
    }
    auto cb = cpu.buffers();
    auto gb = gpu.buffers();
    REQUIRE(cb.size() == gb.size());
    for (std::size_t i = 0; i < cb.size(); ++i) {
      REQUIRE(cb[i].size == gb[i].size);
      Cuda::upload(gb[i].value, cb[i].value, cb[i].size * sizeof(float));
    }
  }

  void compare_grads(Worst& worst, const std::string& when, double tol) {
    auto cp = cpu.parameters();
    auto gp = gpu.parameters();
    for (std::size_t i = 0; i < cp.size(); ++i)
      worst.check(when + " grad " + cp[i].name, host_copy(cp[i].grad, cp[i].size, Cpu{}),
                  host_copy(gp[i].grad, gp[i].size, Cuda{}), tol);
  }
  // The CPU network's gradients onto the GPU network's (to compare the optimizers on equal input).
  void copy_grads() {
    auto cp = cpu.parameters();
    auto gp = gpu.parameters();
    for (std::size_t i = 0; i < cp.size(); ++i) Cuda::upload(gp[i].grad, cp[i].grad, cp[i].size * sizeof(float));
  }
  void compare_values(Worst& worst, const std::string& when, double tol) {
    auto cp = cpu.parameters();
    auto gp = gpu.parameters();
    for (std::size_t i = 0; i < cp.size(); ++i)
      worst.check(when + " " + cp[i].name, host_copy(cp[i].value, cp[i].size, Cpu{}),
                  host_copy(gp[i].value, gp[i].size, Cuda{}), tol);
  }
  void compare_buffers(Worst& worst, const std::string& when, double tol) {
    auto cb = cpu.buffers();
    auto gb = gpu.buffers();
    for (std::size_t i = 0; i < cb.size(); ++i)
      worst.check(when + " " + cb[i].name, host_copy(cb[i].value, cb[i].size, Cpu{}),
                  host_copy(gb[i].value, gb[i].size, Cuda{}), tol);
  }
};

}  // namespace parity
