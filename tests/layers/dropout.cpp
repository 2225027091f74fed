// Dropout: the mask's statistics and scaling in training, the same mask in backward (against a
// double reference built from the forward output), identity in evaluation, determinism from the
// initialisation seed, and finite differences through a layer whose mask is replayed.
#include <ctnn/layers/dropout.hpp>
#include <doctest/doctest.h>

#include <cmath>

#include "support/harness.hpp"

using namespace ctnn;

TEST_CASE("Dropout: shape, name, no parameters") {
  static_assert(std::is_same_v<output_shape_t<Dropout<>, Shape<3, 4, 4>>, Shape<3, 4, 4>>);
  static_assert(parameter_count_v<Dropout<0.3>, Shape<8>> == 0);
  static_assert(LayerSpec<Dropout<0.1>, Shape<8>>);
  CHECK(Dropout<>::name() == "Dropout<0.5>");
  CHECK(Dropout<0.25>::name() == "Dropout<0.25>");
}

TEST_CASE("Dropout in training: about P of the elements are zeroed, the rest scaled by 1 / (1 - P)") {
  using In = Shape<16, 32, 32>;
  ref::Harness<Dropout<0.3>, In> h(4, 3);
  h.set_input(std::vector<float>(h.x.size(), 2.f));
  const auto& y = h.forward();
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float v = y.data()[i];
    if (v == 0.f) ++zeros;
    else REQUIRE(v == doctest::Approx(2.0 / 0.7).epsilon(1e-6));
  }
  const double frac = double(zeros) / double(y.size());
  MESSAGE("dropped fraction " << frac << " of " << y.size());
  CHECK(std::abs(frac - 0.3) < 0.01);  // 65,536 draws: the standard deviation is 0.0018
  // A second step draws another mask.
  std::vector<float> first(y.data(), y.data() + y.size());
  const auto& y2 = h.forward();
  std::size_t differ = 0;
  for (std::size_t i = 0; i < y2.size(); ++i) differ += y2.data()[i] != first[i];
  CHECK(differ > y2.size() / 4);
}

TEST_CASE("Dropout backward applies the forward's mask: dx = dy * y / x") {
  using In = Shape<3, 5, 7>;
  ref::Harness<Dropout<0.5>, In> h(3, 11);
  h.set_input(ref::distinct(h.x.size(), h.rng, 0.01f));  // no zero inputs
  const ref::Vec x = h.input();
  const ref::Vec y = ref::to_double(h.forward().span());
  const auto& dx = h.layer.backward(h.r, true);
  ref::Vec want(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = double(h.r.data()[i]) * y[i] / x[i];
  ref::expect_close(dx.span(), want, 1e-5, 1e-7, "dx");
}

TEST_CASE("Dropout in evaluation (and Dropout<0>) passes the input through") {
  ref::Harness<Dropout<0.5>, Shape<6>> h(2, 1);
  const auto& y = h.forward(Mode::eval);
  CHECK(&y == &h.x);
  // The gradient is a copy: backward's result is always the layer's own buffer (the memory plan's slot).
  const auto& dx = h.layer.backward(h.r, true);
  CHECK(&dx != &h.r);
  CHECK(std::equal(dx.span().begin(), dx.span().end(), h.r.span().begin(), h.r.span().end()));
  ref::Harness<Dropout<0.0>, Shape<6>> none(2, 1);
  CHECK(&none.forward(Mode::train) == &none.x);
}

TEST_CASE("Dropout masks are a function of the initialisation seed and the step") {
  using In = Shape<4, 8, 8>;
  auto masks = [](std::uint64_t seed) {
    Rng rng(seed);
    layer_t<Dropout<0.5>, In> d(2, rng);
    Tensor<In> x(2);
    x.fill(1.f);
    std::vector<float> out;
    for (int step = 0; step < 3; ++step) {
      const auto& y = d.forward(x, Mode::train);
      out.insert(out.end(), y.data(), y.data() + y.size());
    }
    return out;
  };
  CHECK(masks(5) == masks(5));
  CHECK(masks(5) != masks(6));
}

TEST_CASE("Dropout by finite differences (each evaluation replays the same mask)") {
  using In = Shape<2, 3, 4>;
  constexpr std::size_t batch = 2;
  Rng rng(21);
  std::vector<float> x = ref::uniform(batch * In::size, rng), r = ref::uniform(batch * In::size, rng);
  Tensor<In> xt(batch), rt(batch);
  std::copy(r.begin(), r.end(), rt.data());
  // A fresh layer from the same seed draws the same first mask: L(x) = sum(r * dropout(x)).
  auto loss = [&] {
    Rng init(4);
    layer_t<Dropout<0.4>, In> d(batch, init);
    std::copy(x.begin(), x.end(), xt.data());
    const auto& y = d.forward(xt, Mode::train);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += double(y.data()[i]) * double(r[i]);
    return s;
  };
  Rng init(4);
  layer_t<Dropout<0.4>, In> d(batch, init);
  std::copy(x.begin(), x.end(), xt.data());
  d.forward(xt, Mode::train);
  const ref::Vec dx = ref::to_double(d.backward(rt, true).span());
  ref::check_gradient(loss, x.data(), dx, ref::FdOptions{}, "dL/dx");
}
