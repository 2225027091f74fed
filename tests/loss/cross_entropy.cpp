// softmax_cross_entropy against a double-precision reference, by hand, and by finite differences.
#include <ctnn/backend/cpu.hpp>  // the CPU backend: the tests run on ctnn::Cpu
#include <ctnn/loss.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace ctnn;

namespace {

struct Reference {
  double loss = 0;            // mean over the batch
  std::vector<double> grad;   // (softmax - target) / N
};

// Naive double-precision CrossEntropyLoss(label_smoothing = eps), reduction = mean.
Reference reference(const std::vector<float>& logits, const std::vector<std::int32_t>& labels,
                    std::size_t C, double eps) {
  const std::size_t N = labels.size();
  Reference r;
  r.grad.resize(N * C);
  for (std::size_t n = 0; n < N; ++n) {
    double m = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < C; ++j) m = std::max(m, static_cast<double>(logits[n * C + j]));
    double s = 0;
    for (std::size_t j = 0; j < C; ++j) s += std::exp(logits[n * C + j] - m);
    for (std::size_t j = 0; j < C; ++j) {
      const double logp = logits[n * C + j] - m - std::log(s);
      const double t = (1 - eps) * (static_cast<std::int32_t>(j) == labels[n] ? 1.0 : 0.0) + eps / C;
      r.loss -= t * logp;
      r.grad[n * C + j] = (std::exp(logp) - t) / N;
    }
  }
  r.loss /= N;
  return r;
}

template <std::size_t C>
Tensor<Shape<C>> make_logits(const std::vector<float>& v) {
  Tensor<Shape<C>> t(v.size() / C);
  t.copy_from(std::span<const float>(v));
  return t;
}

}  // namespace

TEST_CASE("softmax_cross_entropy matches a double reference, with and without label smoothing") {
  constexpr std::size_t C = 10, N = 7;
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.f, 3.f);
  std::vector<float> x(N * C);
  for (auto& v : x) v = dist(rng);
  const std::vector<std::int32_t> labels{0, 9, 3, 3, 5, 1, 7};
  auto logits = make_logits<C>(x);
  Tensor<Shape<C>> grad(16, 1);  // larger capacity, wrong batch: the call sets the batch

  for (float eps : {0.f, 0.1f, 0.5f, 1.f}) {
    CAPTURE(eps);
    const float loss = softmax_cross_entropy(logits, labels, grad, eps);
    const Reference ref = reference(x, labels, C, eps);
    CHECK(grad.batch() == N);
    CHECK(loss == doctest::Approx(ref.loss).epsilon(1e-6));
    for (std::size_t i = 0; i < N * C; ++i) {
      CAPTURE(i);
      CHECK(std::abs(grad.data()[i] - ref.grad[i]) < 1e-7);
    }
  }
}

TEST_CASE("softmax_cross_entropy: huge logits neither overflow nor produce NaN") {
  constexpr std::size_t C = 4;
  const std::vector<float> x{
      1e4f,  -1e4f, 0.f,   5e3f,    // label 1: loss = 2e4
      1e4f,  1e4f,  1e4f,  1e4f,    // all equal: loss = log 4
      -1e4f, -1e4f, -1e4f, -9999.f  // label 3, margin 1: loss = log(1 + 3 e^-1)
  };
  const std::vector<std::int32_t> labels{1, 2, 3};
  auto logits = make_logits<C>(x);
  Tensor<Shape<C>> grad(3);
  for (float eps : {0.f, 0.1f}) {
    CAPTURE(eps);
    const float loss = softmax_cross_entropy(logits, labels, grad, eps);
    REQUIRE(std::isfinite(loss));
    for (float g : grad.span()) REQUIRE(std::isfinite(g));
    const Reference ref = reference(x, labels, C, eps);
    CHECK(loss == doctest::Approx(ref.loss).epsilon(1e-6));
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(std::abs(grad.data()[i] - ref.grad[i]) < 1e-7);
  }
  const float loss = softmax_cross_entropy(logits, labels, grad);
  CHECK(loss == doctest::Approx((2e4 + std::log(4.0) + std::log(1 + 3 * std::exp(-1.0))) / 3).epsilon(1e-6));
  // Row 0: softmax is one-hot on class 0 (to double precision), target one-hot on class 1.
  CHECK(grad(0, 0) == doctest::Approx(1.0 / 3));
  CHECK(grad(0, 1) == doctest::Approx(-1.0 / 3));
  CHECK(grad(1, 2) == doctest::Approx((0.25 - 1) / 3));
}

TEST_CASE("softmax_cross_entropy: label smoothing by hand") {
  // One sample, logits (1, 2, 3), label 0, eps = 0.3: target = (0.8, 0.1, 0.1),
  // loss = lse - (0.8 * 1 + 0.1 * 2 + 0.1 * 3) = lse - 1.3, lse = 3 + log(1 + e^-1 + e^-2).
  auto logits = make_logits<3>({1.f, 2.f, 3.f});
  Tensor<Shape<3>> grad(1);
  const std::vector<std::int32_t> label{0};
  const double lse = 3 + std::log(1 + std::exp(-1.0) + std::exp(-2.0));
  CHECK(softmax_cross_entropy(logits, label, grad, 0.3f) == doctest::Approx(lse - 1.3).epsilon(1e-7));
  const double p0 = std::exp(1 - lse), p1 = std::exp(2 - lse), p2 = std::exp(3 - lse);
  CHECK(grad(0, 0) == doctest::Approx(p0 - 0.8).epsilon(1e-6));
  CHECK(grad(0, 1) == doctest::Approx(p1 - 0.1).epsilon(1e-6));
  CHECK(grad(0, 2) == doctest::Approx(p2 - 0.1).epsilon(1e-6));
  // Without smoothing: -log p0; with eps = 1 the target is uniform: lse - (1 + 2 + 3) / 3.
  CHECK(softmax_cross_entropy(logits, label, grad) == doctest::Approx(lse - 1).epsilon(1e-7));
  CHECK(grad(0, 0) == doctest::Approx(p0 - 1).epsilon(1e-6));
  CHECK(softmax_cross_entropy(logits, label, grad, 1.f) == doctest::Approx(lse - 2).epsilon(1e-7));
  CHECK(grad(0, 1) == doctest::Approx(p1 - 1.0 / 3).epsilon(1e-6));
}

TEST_CASE("softmax_cross_entropy: the gradient matches central finite differences") {
  constexpr std::size_t C = 5, N = 3;
  std::vector<float> x{0.3f, -1.2f, 2.f, 0.5f, 0.f, 1.f, 1.f, -0.5f, 0.7f, -2.f, 3.f, 2.5f, -1.f, 0.1f, 0.2f};
  const std::vector<std::int32_t> labels{2, 4, 1};
  for (float eps : {0.f, 0.2f}) {
    CAPTURE(eps);
    auto logits = make_logits<C>(x);
    Tensor<Shape<C>> grad(N), scratch(N);
    softmax_cross_entropy(logits, labels, grad, eps);
    const float h = 1e-2f;
    for (std::size_t i = 0; i < N * C; ++i) {
      CAPTURE(i);
      const float saved = logits.data()[i];
      logits.data()[i] = saved + h;
      const double up = softmax_cross_entropy(logits, labels, scratch, eps);
      logits.data()[i] = saved - h;
      const double down = softmax_cross_entropy(logits, labels, scratch, eps);
      logits.data()[i] = saved;
      const double fd = (up - down) / (2.0 * static_cast<double>(h));
      CHECK(std::abs(grad.data()[i] - fd) < 2e-4);
    }
  }
}

TEST_CASE("softmax_cross_entropy: the gradient may overwrite the logits") {
  constexpr std::size_t C = 4;
  const std::vector<float> x{0.1f, 0.2f, -0.3f, 4.f, 1.f, 2.f, 3.f, 4.f};
  const std::vector<std::int32_t> labels{3, 0};
  auto separate = make_logits<C>(x);
  Tensor<Shape<C>> grad(2);
  const float l1 = softmax_cross_entropy(separate, labels, grad, 0.1f);
  auto in_place = make_logits<C>(x);
  const float l2 = softmax_cross_entropy(in_place, labels, in_place, 0.1f);
  CHECK(l1 == l2);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(in_place.data()[i] == grad.data()[i]);
}

TEST_CASE("softmax_cross_entropy: bad labels and arguments throw ctnn::Error naming the call") {
  constexpr std::size_t C = 10;
  auto logits = make_logits<C>(std::vector<float>(3 * C, 0.f));
  Tensor<Shape<C>> grad(3);
  const std::vector<std::int32_t> too_big{1, 2, 10};
  CHECK_THROWS_AS(softmax_cross_entropy(logits, too_big, grad), Error);
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, too_big, grad),
                    "ctnn::softmax_cross_entropy: labels[2] = 10 is outside [0, 10)");
  const std::vector<std::int32_t> negative{-1, 2, 3};
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, negative, grad),
                    doctest::Contains("labels[0] = -1 is outside [0, 10)"));
  const std::vector<std::int32_t> short_list{1, 2};
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, short_list, grad),
                    "ctnn::softmax_cross_entropy: 2 labels for a batch of 3 logits");
  const std::vector<std::int32_t> good{1, 2, 3};
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, good, grad, -0.1f), doctest::Contains("label_smoothing"));
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, good, grad, 1.5f), doctest::Contains("label_smoothing"));
  Tensor<Shape<C>> small(2);
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, good, small), doctest::Contains("holds 2 samples"));
  logits.set_batch(0);
  CHECK_THROWS_WITH(softmax_cross_entropy(logits, std::span<const std::int32_t>{}, grad),
                    doctest::Contains("empty"));
  logits.set_batch(3);
  CHECK(softmax_cross_entropy(logits, good, grad) == doctest::Approx(std::log(10.0)));
}
