// Learning-rate schedules at specific points, against PyTorch's formulas.
#include <ctnn/backend/cpu.hpp>  // the CPU backend: the tests run on ctnn::Cpu
#include <ctnn/optim.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

using namespace ctnn;
using doctest::Approx;

TEST_CASE("MultiStep: gamma at each milestone (MultiStepLR)") {
  const schedule::MultiStep s{0.1f, {100, 150}};
  CHECK(s(0) == Approx(0.1));
  CHECK(s(99) == Approx(0.1));
  CHECK(s(100) == Approx(0.01));
  CHECK(s(149) == Approx(0.01));
  CHECK(s(150) == Approx(0.001));
  CHECK(s(10000) == Approx(0.001));
  CHECK(s.gamma == 0.1f);

  const schedule::MultiStep g{1.f, {2, 2, 5}, 0.5f};  // a repeated milestone multiplies twice
  CHECK(g(1) == 1.f);
  CHECK(g(2) == 0.25f);
  CHECK(g(4) == 0.25f);
  CHECK(g(5) == 0.125f);

  const schedule::MultiStep none{0.3f, {}};
  CHECK(none(0) == 0.3f);
  CHECK(none(1000000) == 0.3f);
}

TEST_CASE("MultiStep with linear warm-up: base * (t + 1) / warmup, milestones absolute") {
  const schedule::MultiStep s{0.4f, {10, 20}, 0.1f, 4};
  CHECK(s(0) == Approx(0.1));
  CHECK(s(1) == Approx(0.2));
  CHECK(s(2) == Approx(0.3));
  CHECK(s(3) == Approx(0.4));
  CHECK(s(4) == Approx(0.4));
  CHECK(s(9) == Approx(0.4));
  CHECK(s(10) == Approx(0.04));
  CHECK(s(20) == Approx(0.004));
}

TEST_CASE("MultiStep validates its arguments") {
  CHECK_THROWS_WITH_AS(schedule::MultiStep(0.1f, {150, 100}),
                       doctest::Contains("milestones must be sorted, but milestones[0] = 150 > milestones[1] = 100"),
                       Error);
  CHECK_THROWS_WITH_AS(schedule::MultiStep(0.1f, {3, 10}, 0.1f, 5), doctest::Contains("inside the warm-up"), Error);
  CHECK_THROWS_AS(schedule::MultiStep(0.1f, {10}, 0.f), Error);
  CHECK_THROWS_AS(schedule::MultiStep(-0.1f, {10}), Error);
  CHECK_NOTHROW(schedule::MultiStep(0.1f, {5, 10}, 0.1f, 5));
}

TEST_CASE("Cosine: CosineAnnealingLR's closed form at start, middle, end") {
  const schedule::Cosine s{0.1f, 200};
  CHECK(s(0) == Approx(0.1));
  CHECK(s(100) == Approx(0.05));
  CHECK(s(50) == Approx(0.05 * (1 + std::cos(std::numbers::pi / 4))));
  CHECK(s(199) == Approx(0.05 * (1 + std::cos(std::numbers::pi * 199 / 200))));
  CHECK(s(200) == 0.f);
  CHECK(s(1000) == 0.f);  // holds min_lr past the end

  const schedule::Cosine m{1.f, 10, 0, 0.1f};
  CHECK(m(0) == Approx(1.0));
  CHECK(m(5) == Approx(0.55));
  CHECK(m(10) == Approx(0.1));
  CHECK(m(3) == Approx(0.1 + 0.9 * (1 + std::cos(std::numbers::pi * 0.3)) / 2));
}

TEST_CASE("Cosine with warm-up: linear rise, then the cosine over total - warmup") {
  const schedule::Cosine s{0.5f, 105, 5, 0.f};
  CHECK(s(0) == Approx(0.1));
  CHECK(s(2) == Approx(0.3));
  CHECK(s(4) == Approx(0.5));
  CHECK(s(5) == Approx(0.5));
  CHECK(s(55) == Approx(0.25));
  CHECK(s(30) == Approx(0.25 * (1 + std::cos(std::numbers::pi / 4))));
  CHECK(s(105) == 0.f);
}

TEST_CASE("Cosine validates its arguments") {
  CHECK_THROWS_WITH_AS(schedule::Cosine(0.1f, 0), doctest::Contains("total must be > 0"), Error);
  CHECK_THROWS_WITH_AS(schedule::Cosine(0.1f, 10, 10), doctest::Contains("warmup = 10 must be below total = 10"), Error);
  CHECK_THROWS_AS(schedule::Cosine(0.1f, 10, 0, 0.2f), Error);
  CHECK_THROWS_AS(schedule::Cosine(0.1f, 10, 0, -0.01f), Error);
  CHECK_THROWS_AS(schedule::Cosine(-1.f, 10), Error);
}

TEST_CASE("OneCycle: OneCycleLR (cos, two phases)") {
  // max 0.1, total 100, pct 0.3: initial 0.004, final 4e-7, peak at t = 29.
  const schedule::OneCycle s{0.1f, 100};
  CHECK(s.peak() == Approx(29.0));
  CHECK(s(0) == Approx(0.004));
  CHECK(s(29) == Approx(0.1));
  CHECK(s(28) < s(29));
  CHECK(s(30) < s(29));
  CHECK(s(99) == Approx(0.1 / (25 * 1e4)).epsilon(1e-6));
  CHECK(s(1000) == Approx(4e-7).epsilon(1e-6));
  // Halfway up: (0.004 + 0.1) / 2 at t = 14.5 is between t = 14 and 15; check t = 14 exactly.
  auto anneal = [](double a, double b, double x) { return b + (a - b) * (1 + std::cos(std::numbers::pi * x)) / 2; };
  CHECK(s(14) == Approx(anneal(0.004, 0.1, 14.0 / 29)));
  CHECK(s(64) == Approx(anneal(0.1, 4e-7, 35.0 / 70)));
  CHECK(s(64) == Approx((0.1 + 4e-7) / 2));
  for (std::size_t t = 1; t < 29; ++t) CHECK(s(t) > s(t - 1));
  for (std::size_t t = 30; t < 100; ++t) CHECK(s(t) < s(t - 1));

  // A fractional phase boundary: total 25, pct 0.25 -> s = 5.25; other factors.
  const schedule::OneCycle f{1.f, 25, 0.25f, 10.f, 100.f};
  CHECK(f(0) == Approx(0.1));
  CHECK(f(5) == Approx(anneal(0.1, 1.0, 5 / 5.25)));
  CHECK(f(6) == Approx(anneal(1.0, 0.001, 0.75 / (24 - 5.25))));
  CHECK(f(24) == Approx(0.001));
}

TEST_CASE("OneCycle validates its arguments") {
  CHECK_THROWS_AS(schedule::OneCycle(0.1f, 1), Error);
  CHECK_THROWS_WITH_AS(schedule::OneCycle(0.1f, 100, 0.f), doctest::Contains("pct_start"), Error);
  CHECK_THROWS_AS(schedule::OneCycle(0.1f, 100, 1.f), Error);
  CHECK_THROWS_WITH_AS(schedule::OneCycle(0.1f, 3, 0.3f), doctest::Contains("must exceed 1"), Error);
  CHECK_THROWS_AS(schedule::OneCycle(0.1f, 100, 0.3f, 0.f), Error);
  CHECK_THROWS_AS(schedule::OneCycle(0.1f, 100, 0.3f, 25.f, -1.f), Error);
  CHECK_THROWS_AS(schedule::OneCycle(-0.1f, 100), Error);
}

TEST_CASE("schedules drive an optimizer's public lr") {
  SGD opt{0.f, 0.9f};
  const schedule::Cosine s{0.1f, 10};
  float w = 1.f, g = 0.f;
  std::vector<Parameter> ps{Parameter{"w", &w, &g, 1}};
  for (std::size_t epoch = 0; epoch < 10; ++epoch) {
    opt.lr = s(epoch);
    opt.step(ps);
  }
  CHECK(opt.lr == Approx(0.05 * (1 + std::cos(std::numbers::pi * 0.9))));
}

TEST_CASE("by_name: each name gives its schedule; an unknown one is refused with the list") {
  const std::size_t total = 100;
  const auto cosine = schedule::by_name("cosine", 0.1f, total);
  const schedule::Cosine c{0.1f, total};
  const auto multistep = schedule::by_name("multistep", 0.1f, total);
  const schedule::MultiStep m{0.1f, {50, 75}, 0.1f};
  const auto onecycle = schedule::by_name("onecycle", 0.1f, total);
  const schedule::OneCycle o{0.1f, total};
  const auto constant = schedule::by_name("constant", 0.1f, total);
  for (std::size_t t : {0u, 1u, 29u, 49u, 50u, 74u, 75u, 99u, 150u}) {
    CAPTURE(t);
    CHECK(cosine(t) == c(t));
    CHECK(multistep(t) == m(t));
    CHECK(onecycle(t) == o(t));
    CHECK(constant(t) == 0.1f);
  }
  CHECK(multistep(49) == 0.1f);
  CHECK(multistep(50) == doctest::Approx(0.01f));
  CHECK(schedule::names().size() == 4);
  for (const auto& n : schedule::names()) CHECK(static_cast<bool>(schedule::by_name(n, 0.05f, total)));
  try {
    schedule::by_name("linear", 0.1f, total);
    FAIL("expected a ctnn::Error");
  } catch (const ctnn::Error& e) {
    CHECK(std::string(e.what()) ==
          "ctnn::schedule::by_name: unknown schedule 'linear': expected cosine, multistep, onecycle or constant");
  }
  CHECK_THROWS_AS(schedule::by_name("constant", -1.f, total), ctnn::Error);
  CHECK_THROWS_AS(schedule::by_name("cosine", 0.1f, 0), ctnn::Error);
}
