// Rng: determinism, ranges and rough moments; parameter initialisation as in PyTorch's ResNet
// (Kaiming normal fan_out for convolutions, nn.Linear's uniform, batch norm 1 and 0).
#include <ctnn/backend/cpu.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/layers.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace ctnn;

namespace {

struct Moments {
  double mean = 0, var = 0, min = INFINITY, max = -INFINITY;
};
template <class Range>
Moments moments(const Range& values) {
  Moments m;
  double n = 0;
  for (double v : values) {
    m.mean += v;
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
    ++n;
  }
  m.mean /= n;
  for (double v : values) m.var += (v - m.mean) * (v - m.mean);
  m.var /= n - 1;
  return m;
}

}  // namespace

TEST_CASE("Rng: the same seed gives the same sequence, another seed another one") {
  Rng a(42), b(42), c(43);
  std::vector<std::uint64_t> sa, sb, sc;
  for (int i = 0; i < 100; ++i) {
    sa.push_back(a.next_u64());
    sb.push_back(b.next_u64());
    sc.push_back(c.next_u64());
  }
  CHECK(sa == sb);
  CHECK(sa != sc);
  // reseed restarts; state/set_state resume.
  a.reseed(42);
  CHECK(a.next_u64() == sa[0]);
  const Rng::State saved = a.state();
  const double n1 = a.normal(), u1 = a.uniform();
  a.set_state(saved);
  CHECK(a.normal() == n1);
  CHECK(a.uniform() == u1);
  // Seed 0 is a valid seed (splitmix64 never gives an all-zero state).
  Rng zero(0);
  bool nonzero = false;
  for (int i = 0; i < 4; ++i) nonzero = nonzero || zero.next_u64() != 0;
  CHECK(nonzero);
}

TEST_CASE("Rng: uniform in [0, 1) and [lo, hi), roughly flat") {
  Rng rng(1);
  std::vector<double> u, r, d;
  std::vector<int> bins(10, 0);
  for (int i = 0; i < 100000; ++i) {
    u.push_back(rng.uniform());
    ++bins[static_cast<std::size_t>(u.back() * 10)];
    r.push_back(rng.uniform(-3.f, 5.f));
    d.push_back(rng.uniform_double());
  }
  const Moments mu = moments(u), mr = moments(r), md = moments(d);
  CHECK(mu.min >= 0.0);
  CHECK(mu.max < 1.0);
  CHECK(mr.min >= -3.0);
  CHECK(mr.max <= 5.0);
  CHECK(md.min >= 0.0);
  CHECK(md.max < 1.0);
  CHECK(md.mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(mu.mean == doctest::Approx(0.5).epsilon(0.01));
  CHECK(mu.var == doctest::Approx(1.0 / 12).epsilon(0.02));
  CHECK(mu.min < 1e-3);
  CHECK(mu.max > 1 - 1e-3);
  CHECK(mr.mean == doctest::Approx(1.0).epsilon(0.03));
  CHECK(mr.var == doctest::Approx(64.0 / 12).epsilon(0.02));
  for (int b : bins) CHECK(std::abs(b - 10000) < 500);  // ~5 standard deviations
}

TEST_CASE("Rng: normal has mean 0 and variance 1, with Gaussian tails") {
  Rng rng(2);
  std::vector<double> v;
  std::size_t beyond2 = 0;
  for (int i = 0; i < 200000; ++i) {
    v.push_back(rng.normal());
    beyond2 += std::abs(v.back()) > 2;
  }
  const Moments m = moments(v);
  CHECK(std::isfinite(m.var));
  CHECK(std::abs(m.mean) < 0.01);  // standard error 0.0022
  CHECK(m.var == doctest::Approx(1.0).epsilon(0.015));
  CHECK(double(beyond2) / 200000 == doctest::Approx(0.0455).epsilon(0.05));  // P(|x| > 2)
  CHECK(m.min < -4);
  CHECK(m.max > 4);
}

TEST_CASE("Rng: below(n) stays in [0, n) and hits every value") {
  Rng rng(3);
  for (std::uint64_t n : {1ull, 2ull, 7ull, 1000ull}) {
    CAPTURE(n);
    std::vector<int> hits(n, 0);
    for (std::uint64_t i = 0; i < 50 * n + 100; ++i) {
      const std::uint64_t k = rng.below(n);
      REQUIRE(k < n);
      ++hits[k];
    }
    for (int h : hits) CHECK(h > 0);
  }
  std::vector<double> big;
  for (int i = 0; i < 20000; ++i) big.push_back(double(rng.below(1ull << 40)) / double(1ull << 40));
  CHECK(moments(big).mean == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("init: Conv weights are Kaiming normal with std sqrt(2 / fan_out)") {
  Rng rng(4);
  // fan_out = Out * K * K = 32 * 9; 32 * 16 * 9 = 4608 draws.
  layer_t<Conv<16, 32, 3>, Shape<16, 8, 8>> conv(1, rng);
  const Moments m = moments(conv.weight().span());
  const double std = std::sqrt(2.0 / (32 * 9));
  CHECK(std::abs(m.mean) < 4 * std / std::sqrt(4608.0));
  CHECK(std::sqrt(m.var) == doctest::Approx(std).epsilon(0.05));  // standard error of the std ~1%
  // Not fan_in: sqrt(2 / (16 * 9)) is 41% larger.
  CHECK(std::sqrt(m.var) < 0.9 * std::sqrt(2.0 / (16 * 9)));
  // 1x1: fan_out = Out.
  layer_t<Conv<64, 128, 1, 1, 0>, Shape<64, 4, 4>> pointwise(1, rng);
  CHECK(std::sqrt(moments(pointwise.weight().span()).var) == doctest::Approx(std::sqrt(2.0 / 128)).epsilon(0.03));
}

TEST_CASE("init: Linear weight and bias uniform within 1/sqrt(in)") {
  Rng rng(5);
  layer_t<Linear<64, 100>, Shape<64>> fc(1, rng);
  const double bound = 1.0 / 8;
  const Moments w = moments(fc.weight().span()), b = moments(fc.bias().span());
  CHECK(w.min >= -bound);
  CHECK(w.max <= bound);
  CHECK(w.min < -0.99 * bound);
  CHECK(w.max > 0.99 * bound);
  CHECK(w.var == doctest::Approx(bound * bound / 3).epsilon(0.05));  // uniform(-a, a): a^2 / 3
  CHECK(b.min >= -bound);
  CHECK(b.max <= bound);
  CHECK(b.max - b.min > bound);  // 100 draws spread out
}

TEST_CASE("init: BatchNorm weight 1, bias 0, running mean 0, running variance 1") {
  Rng rng(6);
  layer_t<BatchNorm<16>, Shape<16, 4, 4>> bn(1, rng);
  for (float v : bn.weight().span()) CHECK(v == 1.f);
  for (float v : bn.bias().span()) CHECK(v == 0.f);
  for (float v : bn.running_mean().span()) CHECK(v == 0.f);
  for (float v : bn.running_var().span()) CHECK(v == 1.f);
  // BatchNorm draws nothing: the generator is where it was.
  Rng fresh(6);
  CHECK(rng.next_u64() == fresh.next_u64());
}
