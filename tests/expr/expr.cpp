// Expression templates: assign() of tensor, scalar and per-channel expressions against plain
// loops; element-wise functions; aliasing (the destination as an operand); the threaded path;
// sum_per_channel; the CPU evaluator's loops on every instruction set this CPU supports.
#include <ctnn/backend/cpu.hpp>  // the CPU evaluator
#include <ctnn/expr.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/reference.hpp"

using namespace ctnn;

namespace {

using S = Shape<3, 5, 4>;  // 3 channels of 20 values
constexpr std::size_t N = 2;

template <class Sh>
Tensor<Sh> random_tensor(std::size_t batch, std::uint64_t seed, float lo = -2.f, float hi = 2.f) {
  Tensor<Sh> t(batch + 1, batch);  // capacity above the batch: only the batch is written
  Rng rng(seed);
  for (std::size_t i = 0; i < t.capacity() * Sh::size; ++i) t.data()[i] = rng.uniform(lo, hi);
  return t;
}

// Equal up to rounding (the compiler may contract a * b + c into an FMA in one loop, not another).
bool near(float got, float want) { return std::abs(got - want) <= 1e-6f * std::max(1.f, std::abs(want)); }

// Runs f() once with each instruction set this CPU supports active (backend/cpu/isa.hpp: the
// evaluator's loops are compiled for each), then restores the active set (also when a REQUIRE in
// f throws).
template <class F>
void on_every_isa(F&& f) {
  namespace cpu = backend::cpu;
  struct Restore {
    cpu::Isa saved = cpu::active_isa();
    ~Restore() { cpu::set_isa(saved); }
  } restore;
  for (cpu::Isa isa : {cpu::Isa::baseline, cpu::Isa::avx2, cpu::Isa::avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu::detected_isa())) continue;
    CAPTURE(std::string(cpu::name(isa)));
    cpu::set_isa(isa);
    f();
  }
}

// Channel of flat element i of a batch of shape Sh.
template <class Sh>
std::size_t channel_of(std::size_t i) {
  return (i / spatial_size_v<Sh>) % channels_v<Sh>;
}

}  // namespace

TEST_CASE("assign: tensors and scalars, against a loop") {
  auto a = random_tensor<S>(N, 1), b = random_tensor<S>(N, 2);
  Tensor<S> y(N + 1, N);
  y.set_batch(N + 1);
  y.fill(123.f);
  y.set_batch(N);
  expr::assign(y, a * 2.f + b - 1.f);
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(near(y.data()[i], a.data()[i] * 2.f + b.data()[i] - 1.f));
  CHECK(y.data()[N * S::size] == 123.f);  // beyond the batch: untouched

  expr::assign(y, 3.f * a / (b * b + 1.f) - -a);
  for (std::size_t i = 0; i < y.size(); ++i)
    REQUIRE(y.data()[i] == doctest::Approx(3.f * a.data()[i] / (b.data()[i] * b.data()[i] + 1.f) + a.data()[i]));

  expr::assign(y, 0.5f);  // a scalar alone fills
  for (float v : y.span()) REQUIRE(v == 0.5f);
  expr::assign(y, a);  // a tensor alone copies
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == a.data()[i]);
}

TEST_CASE("assign: per-channel vectors, as in batch-norm apply") {
  auto x = random_tensor<S>(N, 3);
  const std::vector<float> scale{0.5f, -2.f, 3.f}, shift{1.f, 0.25f, -4.f};
  Tensor<S> y(N);
  expr::assign(y, expr::relu(x * expr::channel(scale.data()) + expr::channel(shift.data())));
  std::size_t positive = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::size_t c = channel_of<S>(i);
    const float want = std::max(0.f, x.data()[i] * scale[c] + shift[c]);
    REQUIRE(y.data()[i] == doctest::Approx(want));
    positive += want > 0;
  }
  CHECK(positive > 10);
  CHECK(positive < y.size() - 10);

  // A channel vector held in a tensor; a rank-1 shape has one value per channel.
  Tensor<Shape<3>> v(1);
  for (std::size_t c = 0; c < 3; ++c) v.data()[c] = float(c + 1);
  expr::assign(y, x * expr::channel(v));
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == x.data()[i] * float(channel_of<S>(i) + 1));
  auto f = random_tensor<Shape<3>>(4, 5);
  Tensor<Shape<3>> g(4);
  expr::assign(g, f + expr::channel(v));
  for (std::size_t n = 0; n < 4; ++n)
    for (std::size_t c = 0; c < 3; ++c) REQUIRE(g(n, c) == f(n, c) + float(c + 1));
}

TEST_CASE("Element-wise functions: relu, greater, select, max, min, abs, square, sqrt, exp, log") {
  auto a = random_tensor<S>(N, 6), b = random_tensor<S>(N, 7);
  a.data()[0] = 0.f;  // relu(0) = 0 and greater(0, 0) = 0
  b.data()[0] = 0.f;
  Tensor<S> y(N);
  auto each = [&](auto&& e, auto&& f) {
    expr::assign(y, e);
    for (std::size_t i = 0; i < y.size(); ++i) {
      CAPTURE(i);
      REQUIRE(y.data()[i] == doctest::Approx(f(a.data()[i], b.data()[i])));
    }
  };
  each(expr::relu(a), [](float x, float) { return x > 0 ? x : 0.f; });
  each(expr::greater(a, b), [](float x, float z) { return x > z ? 1.f : 0.f; });
  each(expr::greater(a, 0.f), [](float x, float) { return x > 0 ? 1.f : 0.f; });
  each(expr::select(expr::greater(a, b), a * 10.f, b), [](float x, float z) { return x > z ? x * 10 : z; });
  each(expr::max(a, b), [](float x, float z) { return std::max(x, z); });
  each(expr::min(a, 0.5f), [](float x, float) { return std::min(x, 0.5f); });
  each(expr::abs(a), [](float x, float) { return std::abs(x); });
  each(expr::square(a - b), [](float x, float z) { return (x - z) * (x - z); });
  each(expr::sqrt(expr::abs(a)), [](float x, float) { return std::sqrt(std::abs(x)); });
  each(expr::exp(a), [](float x, float) { return std::exp(x); });
  each(expr::log(expr::abs(a) + 1.f), [](float x, float) { return std::log(std::abs(x) + 1); });
  each(a * expr::greater(b, 0.f), [](float x, float z) { return z > 0 ? x : 0.f; });  // ReLU backward
  CHECK(y.data()[0] == 0.f);
}

TEST_CASE("assign: the destination may be an operand (element i reads only element i)") {
  auto a = random_tensor<S>(N, 8), b = random_tensor<S>(N, 9);
  const std::vector<float> a0(a.span().begin(), a.span().end());
  expr::assign(a, a * 2.f + b);
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(near(a.data()[i], a0[i] * 2.f + b.data()[i]));
  expr::assign(a, expr::relu(a) * a);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const float t = a0[i] * 2.f + b.data()[i];
    REQUIRE(near(a.data()[i], t > 0 ? t * t : 0.f));
  }
  // The SGD update shape: w = w - lr * (g + wd * w).
  auto w = random_tensor<S>(N, 10), g = random_tensor<S>(N, 11);
  const std::vector<float> w0(w.span().begin(), w.span().end());
  expr::assign(w, w - 0.1f * (g + 0.01f * w));
  for (std::size_t i = 0; i < w.size(); ++i) REQUIRE(w.data()[i] == doctest::Approx(w0[i] - 0.1f * (g.data()[i] + 0.01f * w0[i])));
}

TEST_CASE("assign: large tensors take the threaded path with the same result") {
  using Big = Shape<8, 64, 64>;  // 2 x 32768 values: above the threading threshold
  auto x = random_tensor<Big>(2, 12);
  std::vector<float> scale(8), shift(8);
  for (std::size_t c = 0; c < 8; ++c) {
    scale[c] = 0.25f * float(c) - 1.f;
    shift[c] = float(c) * 0.1f;
  }
  Tensor<Big> y(2);
  expr::assign(y, expr::relu(x * expr::channel(scale.data()) + expr::channel(shift.data())));
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::size_t c = channel_of<Big>(i);
    REQUIRE(near(y.data()[i], std::max(0.f, x.data()[i] * scale[c] + shift[c])));
  }
}

TEST_CASE("assign to a raw buffer of a shape, and assign_flat of any length") {
  auto a = random_tensor<S>(N, 13);
  std::vector<float> out(N * S::size + 1, -7.f);
  const std::vector<float> c{1.f, 2.f, 3.f};
  expr::assign<S>(out.data(), N, a + expr::channel(c.data()));
  for (std::size_t i = 0; i < N * S::size; ++i) REQUIRE(out[i] == a.data()[i] + c[channel_of<S>(i)]);
  CHECK(out.back() == -7.f);

  for (std::size_t n : {std::size_t{1}, std::size_t{4095}, std::size_t{4096}, std::size_t{3 * 4096 + 17}, std::size_t{40000}}) {
    CAPTURE(n);
    std::vector<float> w(n + 1), g(n);
    for (std::size_t i = 0; i < n; ++i) {
      w[i] = float(i % 101) * 0.01f;
      g[i] = float(i % 7) - 3.f;
    }
    w[n] = 99.f;
    const expr::TensorLeaf<float> W{{}, w.data()}, G{{}, g.data()};
    expr::assign_flat(w.data(), n, W - 0.5f * G);
    for (std::size_t i = 0; i < n; ++i) REQUIRE(near(w[i], float(i % 101) * 0.01f - 0.5f * (float(i % 7) - 3.f)));
    CHECK(w[n] == 99.f);
  }
}

TEST_CASE("plane_sums: one, two and three expressions, every length around their blocks, from any offset, over several planes, every set") {
  std::vector<float> v(200);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i % 13) * 0.25f - 1.f + float(i) * 1e-3f;
  const std::vector<float> shift{0.5f};
  const expr::TensorLeaf<float> X{{}, v.data()};
  const auto K = expr::channel(shift.data());
  on_every_isa([&] {
    for (std::size_t base : {0, 3}) {
      for (std::size_t n = 0; n <= 70; ++n) {
        double want = 0, want_square = 0, want_shifted = 0, want_shifted_square = 0;
        for (std::size_t j = 0; j < n; ++j) {
          const double x = v[base + j];
          want += x;
          want_square += x * x;
          want_shifted += x - 0.5;
          want_shifted_square += (x - 0.5) * (x - 0.5);
        }
        CAPTURE(base);
        CAPTURE(n);
        using backend::cpu::detail::plane_sums;
        const auto one = plane_sums(base, 0, n, X);
        REQUIRE(double(one[0]) == doctest::Approx(want).epsilon(1e-5));
        const auto two = plane_sums(base, 0, n, X - K, expr::square(X - K));  // batch norm's statistics
        REQUIRE(double(two[0]) == doctest::Approx(want_shifted).epsilon(1e-5));
        REQUIRE(double(two[1]) == doctest::Approx(want_shifted_square).epsilon(1e-5));
        const auto three = plane_sums(base, 0, n, X * X, X - 0.5f, X);
        REQUIRE(double(three[0]) == doctest::Approx(want_square).epsilon(1e-5));
        REQUIRE(double(three[1]) == doctest::Approx(want_shifted).epsilon(1e-5));
        REQUIRE(double(three[2]) == doctest::Approx(want).epsilon(1e-5));
        if (base == 0) {  // three ranges of n, 65 apart (the planes of one channel), in one call
          double want3 = 0, want3_square = 0;
          for (std::size_t p = 0; p < 3; ++p)
            for (std::size_t j = 0; j < n; ++j) {
              const double x = v[p * 65 + j];
              want3 += x;
              want3_square += (x - 0.5) * (x - 0.5);
            }
          const auto planes = plane_sums(0, 65, 3, 0, n, X, expr::square(X - K));
          REQUIRE(double(planes[0]) == doctest::Approx(want3).epsilon(1e-5));
          REQUIRE(double(planes[1]) == doctest::Approx(want3_square).epsilon(1e-5));
        }
      }
    }
  });
}

TEST_CASE("assign: batch norm's passes on every set, every plane length around a vector, against a loop") {
  // Planes of 1 to 37 values (remainders of every vector width), 3 channels, 2 images.
  const std::vector<float> k1{1.5f, -0.25f, 2.f}, k2{0.5f, 1.f, -3.f}, k3{-0.75f, 0.f, 0.125f};
  on_every_isa([&] {
    for (std::size_t plane = 1; plane <= 37; ++plane) {
      CAPTURE(plane);
      const std::size_t planes = 2 * 3, n = planes * plane;
      std::vector<float> x(n), dy(n), out(n + 1, 99.f);
      Rng rng(plane);
      for (std::size_t i = 0; i < n; ++i) x[i] = rng.uniform(-1, 1), dy[i] = rng.uniform(-1, 1);
      const expr::TensorLeaf<float> X{{}, x.data()}, DY{{}, dy.data()};
      const auto K1 = expr::channel(k1.data()), K2 = expr::channel(k2.data()), K3 = expr::channel(k3.data());
      backend::cpu::detail::assign_planes(out.data(), planes, 3, plane,
                                          DY * expr::greater(X * K1 + K2, 0.f) * K1 + X * K2 + K3);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t c = i / plane % 3;
        const float mask = x[i] * k1[c] + k2[c] > 0.f ? 1.f : 0.f;
        CHECK(near(out[i], dy[i] * mask * k1[c] + x[i] * k2[c] + k3[c]));
      }
      CHECK(out[n] == 99.f);  // nothing past the planes
    }
  });
}

TEST_CASE("sum_per_channel against a double loop") {
  auto x = random_tensor<S>(N, 14);
  std::vector<double> sums(3), squares(3);
  expr::sum_per_channel<S>(sums.data(), N, x);
  expr::sum_per_channel<S>(squares.data(), N, expr::square(x - 1.f));
  ref::Vec want(3, 0.0), want2(3, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    want[channel_of<S>(i)] += x.data()[i];
    want2[channel_of<S>(i)] += (double(x.data()[i]) - 1) * (double(x.data()[i]) - 1);
  }
  for (std::size_t c = 0; c < 3; ++c) {
    CHECK(sums[c] == doctest::Approx(want[c]).epsilon(1e-5));
    CHECK(squares[c] == doctest::Approx(want2[c]).epsilon(1e-5));
  }
  // Threaded path, constant per channel: exact sums.
  using Big = Shape<4, 128, 64>;
  Tensor<Big> ones(2);
  const std::vector<float> value{1.f, 2.f, -0.5f, 0.f};
  expr::assign(ones, expr::channel(value.data()));
  std::vector<double> big(4);
  expr::sum_per_channel<Big>(big.data(), 2, ones);
  for (std::size_t c = 0; c < 4; ++c) CHECK(big[c] == 2.0 * 128 * 64 * value[c]);
  // Planes of 4 values in a batch of 600: summed in float 256 planes at a time (float_sum_values),
  // then in double.
  using Tiny = Shape<3, 2, 2>;
  auto t = random_tensor<Tiny>(600, 15);
  std::vector<double> tiny(3);
  expr::sum_per_channel<Tiny>(tiny.data(), 600, expr::square(t - 1.f));
  ref::Vec want3(3, 0.0);
  for (std::size_t i = 0; i < t.size(); ++i)
    want3[channel_of<Tiny>(i)] += (double(t.data()[i]) - 1) * (double(t.data()[i]) - 1);
  for (std::size_t c = 0; c < 3; ++c) CHECK(tiny[c] == doctest::Approx(want3[c]).epsilon(1e-6));
}
