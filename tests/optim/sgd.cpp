// ctnn::SGD against PyTorch's documented algorithm: by hand and against a double reference.
#include <ctnn/backend/cpu.hpp>  // the CPU backend: the tests run on ctnn::Cpu
#include <ctnn/optim.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

using namespace ctnn;

namespace {

// Parameters backed by std::vectors; value and grad pointers are stable.
struct Params {
  std::vector<std::vector<float>> values, grads;
  std::vector<Parameter> list;
  explicit Params(const std::vector<std::size_t>& sizes, unsigned seed = 1) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 1.f);
    for (std::size_t s : sizes) {
      values.emplace_back(s);
      grads.emplace_back(s);
      for (auto& v : values.back()) v = dist(rng);
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::string name = "p";  // built with += : g++ 12 warns (-Wrestrict) on "p" + s + ".weight"
      name += std::to_string(i);
      name += ".weight";
      list.push_back(Parameter{name, values[i].data(), grads[i].data(), sizes[i]});
    }
  }
  void random_grads(std::mt19937& rng) {
    std::normal_distribution<float> dist(0.f, 1.f);
    for (auto& g : grads)
      for (std::size_t j = 0; j < g.size(); ++j) g[j] = j % 97 == 5 ? 0.f : dist(rng);
  }
};

// torch.optim.SGD, in double, one element.
struct RefSGD {
  double lr, momentum, wd, dampening;
  bool nesterov;
  std::vector<std::vector<double>> bufs;
  std::size_t steps = 0;
  void step(std::vector<std::vector<double>>& p, const std::vector<std::vector<float>>& grads) {
    if (bufs.empty())
      for (auto& v : p) bufs.emplace_back(v.size(), 0.0);
    for (std::size_t i = 0; i < p.size(); ++i)
      for (std::size_t j = 0; j < p[i].size(); ++j) {
        double g = grads[i][j];
        if (wd != 0) g += wd * p[i][j];
        if (momentum != 0) {
          double& b = bufs[i][j];
          b = steps == 0 ? g : momentum * b + (1 - dampening) * g;
          g = nesterov ? g + momentum * b : b;
        }
        p[i][j] -= lr * g;
      }
    ++steps;
  }
};

float run_scalar(SGD<>& opt, int steps, float grad = 1.f, float start = 1.f) {
  float w = start, g = grad;
  std::vector<Parameter> ps{Parameter{"w", &w, &g, 1}};
  for (int k = 0; k < steps; ++k) opt.step(ps);
  return w;
}

}  // namespace

TEST_CASE("SGD: CTAD, defaults and public hyperparameters") {
  ctnn::SGD opt{0.1f, 0.9f, 5e-4f, true};
  static_assert(std::is_same_v<decltype(opt), SGD<Cpu>>);
  CHECK(opt.lr == 0.1f);
  CHECK(opt.momentum == 0.9f);
  CHECK(opt.weight_decay == 5e-4f);
  CHECK(opt.nesterov);
  CHECK(opt.dampening == 0.f);
  CHECK(opt.steps == 0);
  ctnn::SGD plain{0.01f};
  CHECK(plain.momentum == 0.f);
  CHECK(!plain.nesterov);
}

TEST_CASE("SGD by hand: p = 1, gradient 1 at every step, lr 0.1") {
  SUBCASE("plain") {
    SGD opt{0.1f};
    CHECK(run_scalar(opt, 1) == doctest::Approx(0.9));
    CHECK(run_scalar(opt, 3) == doctest::Approx(0.7));
  }
  SUBCASE("momentum 0.9: buf 1, 1.9, 2.71") {
    SGD a{0.1f, 0.9f}, b{0.1f, 0.9f}, c{0.1f, 0.9f};
    CHECK(run_scalar(a, 1) == doctest::Approx(0.9));
    CHECK(run_scalar(b, 2) == doctest::Approx(0.71));
    CHECK(run_scalar(c, 3) == doctest::Approx(0.439));
  }
  SUBCASE("momentum 0.9, dampening 0.5 (not on the first step): buf 1, 1.4, 1.76") {
    SGD a{0.1f, 0.9f, 0.f, false, 0.5f}, b{0.1f, 0.9f, 0.f, false, 0.5f};
    CHECK(run_scalar(a, 2) == doctest::Approx(0.76));
    CHECK(run_scalar(b, 3) == doctest::Approx(0.584));
  }
  SUBCASE("Nesterov 0.9: steps 0.19, 0.271, 0.3439") {
    SGD a{0.1f, 0.9f, 0.f, true}, b{0.1f, 0.9f, 0.f, true}, c{0.1f, 0.9f, 0.f, true};
    CHECK(run_scalar(a, 1) == doctest::Approx(0.81));
    CHECK(run_scalar(b, 2) == doctest::Approx(0.539));
    CHECK(run_scalar(c, 3) == doctest::Approx(0.1951));
  }
  SUBCASE("weight decay 0.1, no momentum: g = 1 + 0.1 p") {
    SGD a{0.1f, 0.f, 0.1f}, b{0.1f, 0.f, 0.1f};
    CHECK(run_scalar(a, 1) == doctest::Approx(0.89));
    CHECK(run_scalar(b, 3) == doctest::Approx(0.673289));
  }
  SUBCASE("weight decay 0.1 with momentum 0.9 enters the buffer") {
    // step 1: g = 1.1, buf = 1.1, p = 0.89; step 2: g = 1.089, buf = 0.99 + 1.089 = 2.079, p = 0.6821
    SGD a{0.1f, 0.9f, 0.1f};
    CHECK(run_scalar(a, 2) == doctest::Approx(0.6821));
  }
}

TEST_CASE("SGD matches a double-precision PyTorch reference over 3 steps") {
  struct Config {
    float lr, momentum, wd;
    bool nesterov;
    float dampening;
  };
  const Config configs[] = {
      {0.1f, 0.f, 0.f, false, 0.f},     {0.05f, 0.f, 5e-4f, false, 0.f}, {0.1f, 0.9f, 0.f, false, 0.f},
      {0.1f, 0.9f, 5e-4f, false, 0.f},  {0.1f, 0.9f, 0.1f, false, 0.3f}, {0.1f, 0.9f, 5e-4f, true, 0.f},
      {0.2f, 0.5f, 0.05f, true, 0.f},
  };
  // Sizes exercise the scalar tail, whole 4096 blocks, and the threaded path (>= 32768).
  const std::vector<std::size_t> sizes{3, 4096 + 5, 40000, 64};
  for (const Config& c : configs) {
    CAPTURE(c.lr);
    CAPTURE(c.momentum);
    CAPTURE(c.wd);
    CAPTURE(c.nesterov);
    CAPTURE(c.dampening);
    Params ps(sizes);
    std::vector<std::vector<double>> ref_p;
    for (auto& v : ps.values) ref_p.emplace_back(v.begin(), v.end());
    SGD opt{c.lr, c.momentum, c.wd, c.nesterov, c.dampening};
    RefSGD ref{c.lr, c.momentum, c.wd, c.dampening, c.nesterov, {}, 0};
    std::mt19937 rng(7);
    for (int k = 0; k < 3; ++k) {
      ps.random_grads(rng);
      opt.step(ps.list);
      ref.step(ref_p, ps.grads);
    }
    CHECK(opt.steps == 3);
    std::size_t bad = 0;
    double worst = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i)
      for (std::size_t j = 0; j < sizes[i]; ++j) {
        const double err = std::abs(ps.values[i][j] - ref_p[i][j]) / (1 + std::abs(ref_p[i][j]));
        worst = std::max(worst, err);
        bad += err > 2e-6;
      }
    CAPTURE(worst);
    CHECK(bad == 0);
    if (c.momentum != 0) {
      auto st = opt.state(ps.list);
      REQUIRE(st.size() == sizes.size());
      for (std::size_t i = 0; i < sizes.size(); ++i)
        for (std::size_t j = 0; j < sizes[i]; j += 101)
          CHECK(st[i].value[j] == doctest::Approx(ref.bufs[i][j]).epsilon(1e-5));
    }
  }
}

TEST_CASE("SGD skips parameters without a gradient") {
  Params ps({5, 6});
  ps.list[1].grad = nullptr;
  const auto before = ps.values[1];
  for (auto& g : ps.grads[0]) g = 1.f;
  SGD opt{0.1f, 0.9f, 0.1f};
  opt.step(ps.list);
  opt.step(ps.list);
  CHECK(ps.values[1] == before);
  auto st = opt.state(ps.list);
  REQUIRE(st.size() == 2);
  for (std::size_t j = 0; j < 6; ++j) CHECK(st[1].value[j] == 0.f);
}

TEST_CASE("SGD rejects bad hyperparameters with ctnn::Error") {
  CHECK_THROWS_WITH_AS(SGD(0.1f, 0.f, 0.f, true), doctest::Contains("Nesterov momentum requires a momentum > 0"), Error);
  CHECK_THROWS_WITH_AS(SGD(0.1f, 0.9f, 0.f, true, 0.1f), doctest::Contains("zero dampening"), Error);
  CHECK_THROWS_WITH_AS(SGD(-0.1f), "ctnn::SGD: invalid learning rate -0.1 (must be >= 0)", Error);
  CHECK_THROWS_AS(SGD(0.1f, -0.5f), Error);
  CHECK_THROWS_AS(SGD(0.1f, 0.f, -1e-4f), Error);
  CHECK_THROWS_AS(SGD(0.1f, 0.9f, 0.f, false, 2.f), Error);
  // The public fields are checked again at every step.
  SGD opt{0.1f};
  opt.nesterov = true;
  Params ps({4});
  CHECK_THROWS_WITH_AS(opt.step(ps.list), doctest::Contains("ctnn::SGD::step: Nesterov"), Error);
}

TEST_CASE("SGD state: names, sizes, stable pointers, reset and a changed parameter list") {
  Params ps({10, 3, 7});
  SGD opt{0.1f, 0.9f};
  auto st = opt.state(ps.list);  // allocates before the first step
  REQUIRE(st.size() == 3);
  CHECK(st[0].name == "momentum_buffer.p0.weight");
  CHECK(st[2].name == "momentum_buffer.p2.weight");
  CHECK(st[0].size == 10);
  CHECK(st[1].size == 3);
  CHECK(st[2].size == 7);
  for (const auto& b : st)
    for (std::size_t j = 0; j < b.size; ++j) CHECK(b.value[j] == 0.f);
  std::mt19937 rng(3);
  ps.random_grads(rng);
  opt.step(ps.list);
  // First step: buf = g.
  for (std::size_t j = 0; j < 7; ++j) CHECK(st[2].value[j] == ps.grads[2][j]);
  ps.random_grads(rng);
  opt.step(ps.list);
  auto again = opt.state(ps.list);
  for (std::size_t i = 0; i < 3; ++i) CHECK(again[i].value == st[i].value);

  // A different list: fewer parameters, or a different size.
  std::vector<Parameter> fewer(ps.list.begin(), ps.list.begin() + 2);
  CHECK_THROWS_WITH_AS(opt.step(fewer), doctest::Contains("built for 3 parameters, got 2"), Error);
  auto resized = ps.list;
  resized[1].size = 2;
  CHECK_THROWS_WITH_AS(opt.step(resized), doctest::Contains("parameter 1 (p1.weight) has 2 values"), Error);
  CHECK_THROWS_AS(opt.state(fewer), Error);

  opt.reset();
  CHECK(opt.steps == 0);
  opt.step(fewer);  // a new list after reset
  CHECK(opt.steps == 1);
  CHECK(opt.state(fewer).size() == 2);

  // Without momentum there is no state.
  SGD plain{0.1f};
  CHECK(plain.state(ps.list).empty());
  plain.step(ps.list);
  CHECK(plain.state(ps.list).empty());
  CHECK_THROWS_AS(plain.step(fewer), Error);
}
