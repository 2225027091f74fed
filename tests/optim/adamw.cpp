// ctnn::AdamW against PyTorch's documented algorithm: by hand and against a double reference.
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
      std::string name = "layer";
      name += std::to_string(i);
      name += ".weight";
      list.push_back(Parameter{name, values[i].data(), grads[i].data(), sizes[i]});
    }
  }
  void random_grads(std::mt19937& rng, float scale) {
    std::normal_distribution<float> dist(0.f, scale);
    for (auto& g : grads)
      for (std::size_t j = 0; j < g.size(); ++j) g[j] = j % 89 == 3 ? 0.f : dist(rng);
  }
};

// torch.optim.AdamW (amsgrad = False), in double.
struct RefAdamW {
  double lr, b1, b2, eps, wd;
  std::vector<std::vector<double>> m, v;
  std::size_t steps = 0;
  void step(std::vector<std::vector<double>>& p, const std::vector<std::vector<float>>& grads) {
    if (m.empty())
      for (auto& x : p) {
        m.emplace_back(x.size(), 0.0);
        v.emplace_back(x.size(), 0.0);
      }
    ++steps;
    const double bc1 = 1 - std::pow(b1, steps), bc2 = 1 - std::pow(b2, steps);
    for (std::size_t i = 0; i < p.size(); ++i)
      for (std::size_t j = 0; j < p[i].size(); ++j) {
        const double g = grads[i][j];
        p[i][j] *= 1 - lr * wd;
        m[i][j] = b1 * m[i][j] + (1 - b1) * g;
        v[i][j] = b2 * v[i][j] + (1 - b2) * g * g;
        p[i][j] -= lr / bc1 * m[i][j] / (std::sqrt(v[i][j]) / std::sqrt(bc2) + eps);
      }
  }
};

float run_scalar(AdamW<>& opt, const std::vector<float>& grads) {
  float w = 1.f, g = 0.f;
  std::vector<Parameter> ps{Parameter{"w", &w, &g, 1}};
  for (float x : grads) {
    g = x;
    opt.step(ps);
  }
  return w;
}

}  // namespace

TEST_CASE("AdamW: CTAD and PyTorch's defaults") {
  ctnn::AdamW opt;
  static_assert(std::is_same_v<decltype(opt), AdamW<Cpu>>);
  CHECK(opt.lr == 1e-3f);
  CHECK(opt.beta1 == 0.9f);
  CHECK(opt.beta2 == 0.999f);
  CHECK(opt.eps == 1e-8f);
  CHECK(opt.weight_decay == 1e-2f);
  ctnn::AdamW other{3e-4f, 0.9f, 0.95f, 1e-6f, 0.1f};
  static_assert(std::is_same_v<decltype(other), AdamW<Cpu>>);
  CHECK(other.beta2 == 0.95f);
}

TEST_CASE("AdamW by hand: p = 1, lr 0.1") {
  SUBCASE("constant gradient: bias correction makes every step exactly lr") {
    AdamW a{0.1f, 0.9f, 0.999f, 1e-8f, 0.f}, b{0.1f, 0.9f, 0.999f, 1e-8f, 0.f};
    CHECK(run_scalar(a, {1.f}) == doctest::Approx(0.9));
    CHECK(run_scalar(b, {1.f, 1.f, 1.f}) == doctest::Approx(0.7));
  }
  SUBCASE("decoupled weight decay 0.1: p = 0.99 p - 0.1") {
    AdamW a{0.1f, 0.9f, 0.999f, 1e-8f, 0.1f}, b{0.1f, 0.9f, 0.999f, 1e-8f, 0.1f};
    CHECK(run_scalar(a, {1.f}) == doctest::Approx(0.89));
    CHECK(run_scalar(b, {5.f, 5.f, 5.f}) == doctest::Approx(0.673289));
  }
  SUBCASE("gradient 1 then -1: m = -0.01, bc1 = 0.19, v / bc2 = 1, so p = 0.9 + 0.1 / 19") {
    AdamW a{0.1f, 0.9f, 0.999f, 1e-8f, 0.f};
    CHECK(run_scalar(a, {1.f, -1.f}) == doctest::Approx(0.9 + 0.1 / 19));
  }
  SUBCASE("zero gradient: no update besides the decay") {
    AdamW a{0.1f, 0.9f, 0.999f, 1e-8f, 0.5f};
    CHECK(run_scalar(a, {0.f, 0.f}) == doctest::Approx(0.95 * 0.95));
  }
}

TEST_CASE("AdamW matches a double-precision PyTorch reference over 3 steps") {
  struct Config {
    float lr, b1, b2, eps, wd, grad_scale;
  };
  const Config configs[] = {
      {1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, 1.f},
      {0.01f, 0.8f, 0.99f, 1e-6f, 0.1f, 0.01f},
      {0.05f, 0.5f, 0.9f, 1e-3f, 0.f, 3.f},
  };
  const std::vector<std::size_t> sizes{2, 4096 * 2 + 7, 40000, 100};
  for (const Config& c : configs) {
    CAPTURE(c.lr);
    CAPTURE(c.wd);
    Params ps(sizes);
    std::vector<std::vector<double>> ref_p;
    for (auto& v : ps.values) ref_p.emplace_back(v.begin(), v.end());
    AdamW opt{c.lr, c.b1, c.b2, c.eps, c.wd};
    RefAdamW ref{c.lr, c.b1, c.b2, c.eps, c.wd, {}, {}, 0};
    std::mt19937 rng(11);
    for (int k = 0; k < 3; ++k) {
      ps.random_grads(rng, c.grad_scale);
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
    auto st = opt.state(ps.list);
    REQUIRE(st.size() == 2 * sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i)
      for (std::size_t j = 0; j < sizes[i]; j += 97) {
        CHECK(st[2 * i].value[j] == doctest::Approx(ref.m[i][j]).epsilon(1e-6).scale(c.grad_scale));
        CHECK(st[2 * i + 1].value[j] == doctest::Approx(ref.v[i][j]).epsilon(1e-6).scale(c.grad_scale * c.grad_scale));
      }
  }
}

TEST_CASE("AdamW skips parameters without a gradient") {
  Params ps({4, 9});
  ps.list[0].grad = nullptr;
  const auto before = ps.values[0];
  std::mt19937 rng(5);
  ps.random_grads(rng, 1.f);
  AdamW opt{0.1f};
  opt.step(ps.list);
  opt.step(ps.list);
  CHECK(ps.values[0] == before);  // not even decayed
  CHECK(ps.values[1] != std::vector<float>(ps.values[1].size(), 0.f));
  auto st = opt.state(ps.list);
  for (std::size_t j = 0; j < 4; ++j) CHECK((st[0].value[j] == 0.f && st[1].value[j] == 0.f));
}

TEST_CASE("AdamW rejects bad hyperparameters with ctnn::Error") {
  CHECK_THROWS_WITH_AS(AdamW(-1e-3f), "ctnn::AdamW: invalid learning rate -0.001 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(AdamW(1e-3f, 1.f), doctest::Contains("invalid beta1 1"), Error);
  CHECK_THROWS_WITH_AS(AdamW(1e-3f, 0.9f, -0.1f), doctest::Contains("invalid beta2"), Error);
  CHECK_THROWS_WITH_AS(AdamW(1e-3f, 0.9f, 0.999f, -1e-8f), doctest::Contains("invalid eps"), Error);
  CHECK_THROWS_WITH_AS(AdamW(1e-3f, 0.9f, 0.999f, 1e-8f, -1.f), doctest::Contains("invalid weight_decay"), Error);
  AdamW opt;
  opt.beta1 = 1.5f;
  Params ps({3});
  CHECK_THROWS_WITH_AS(opt.step(ps.list), doctest::Contains("ctnn::AdamW::step: invalid beta1"), Error);
}

TEST_CASE("AdamW state: names, sizes, stable pointers, steps, reset and a changed parameter list") {
  Params ps({6, 2});
  AdamW opt{0.01f};
  std::mt19937 rng(9);
  ps.random_grads(rng, 1.f);
  opt.step(ps.list);
  auto st = opt.state(ps.list);
  REQUIRE(st.size() == 4);
  CHECK(st[0].name == "exp_avg.layer0.weight");
  CHECK(st[1].name == "exp_avg_sq.layer0.weight");
  CHECK(st[2].name == "exp_avg.layer1.weight");
  CHECK(st[3].name == "exp_avg_sq.layer1.weight");
  CHECK(st[0].size == 6);
  CHECK(st[1].size == 6);
  CHECK(st[3].size == 2);
  // After one step: m = 0.1 g, v = 0.001 g^2.
  for (std::size_t j = 0; j < 6; ++j) {
    CHECK(st[0].value[j] == doctest::Approx(0.1 * ps.grads[0][j]));
    CHECK(st[1].value[j] == doctest::Approx(0.001 * ps.grads[0][j] * ps.grads[0][j]));
  }
  opt.step(ps.list);
  CHECK(opt.steps == 2);
  auto again = opt.state(ps.list);
  for (std::size_t i = 0; i < 4; ++i) CHECK(again[i].value == st[i].value);

  std::vector<Parameter> one(ps.list.begin(), ps.list.begin() + 1);
  CHECK_THROWS_WITH_AS(opt.step(one), doctest::Contains("ctnn::AdamW::step: the optimizer's state was built for 2 parameters, got 1"), Error);
  auto resized = ps.list;
  resized[0].size = 5;
  CHECK_THROWS_AS(opt.state(resized), Error);

  // Restoring a checkpoint: write the moments and `steps`, then continue like the original.
  Params copy({6, 2});
  copy.values = ps.values;
  copy.grads = ps.grads;
  AdamW restored{0.01f};
  auto dst = restored.state(copy.list);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < st[i].size; ++j) dst[i].value[j] = st[i].value[j];
  restored.steps = opt.steps;
  ps.random_grads(rng, 1.f);
  copy.grads = ps.grads;
  opt.step(ps.list);
  restored.step(copy.list);
  CHECK(copy.values == ps.values);

  opt.reset();
  CHECK(opt.steps == 0);
  opt.step(one);
  CHECK(opt.state(one).size() == 2);
}
