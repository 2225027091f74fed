// Linear against the reference: y = x W^T + b, W of shape [Out, In]; backward for the input, the
// weight and the bias, and by finite differences.
#include <ctnn/layers/linear.hpp>
#include <doctest/doctest.h>

#include <cmath>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

template <std::size_t In, std::size_t Out>
void check_linear(std::size_t batch, bool finite_differences) {
  using Spec = Linear<In, Out>;
  CAPTURE(Spec::name());
  CAPTURE(batch);
  ref::Harness<Spec, Shape<In>> h(batch, 31 + batch, batch + 2);
  static_assert(std::is_same_v<output_shape_t<Spec, Shape<In>>, Shape<Out>>);
  const ref::Vec x = h.input(), w = h.value("weight"), b = h.value("bias");
  ref::expect_close(h.forward().span(), ref::linear(batch, In, Out, x, w, b), 1e-5, 1e-6, "forward");
  ref::Vec dx, dw, db;
  ref::linear_backward(batch, In, Out, x, w, ref::to_double(h.r.span()), dx, dw, db);
  ref::expect_close(h.backward(), dx, 1e-5, 1e-6, "dx");
  ref::expect_close(h.layer.weight_grad().span(), dw, 1e-5, 1e-6, "dw");
  ref::expect_close(h.layer.bias_grad().span(), db, 1e-5, 1e-6, "db");
  // A second backward accumulates.
  h.layer.backward(h.r, true);
  for (auto* v : {&dw, &db})
    for (auto& e : *v) e *= 2;
  ref::expect_close(h.layer.weight_grad().span(), dw, 1e-5, 1e-6, "dw accumulated");
  ref::expect_close(h.layer.bias_grad().span(), db, 1e-5, 1e-6, "db accumulated");
  if (finite_differences) h.check_gradients();
}

}  // namespace

TEST_CASE("Linear: shapes, parameter count, names") {
  static_assert(parameter_count_v<Linear<512, 10>, Shape<512>> == 5130);
  static_assert(macs_v<Linear<512, 10>, Shape<512>> == 5120);
  CHECK(Linear<512, 10>::name() == "Linear<512,10>");
  Rng rng(1);
  layer_t<Linear<3, 2>, Shape<3>> fc(1, rng);
  Collector c;
  fc.collect(c);
  REQUIRE(c.parameters().size() == 2);
  CHECK(c.parameters()[0].name == "weight");
  CHECK(c.parameters()[0].size == 6);
  CHECK(c.parameters()[0].kind == ParamKind::weight);
  CHECK(c.parameters()[1].name == "bias");
  CHECK(c.parameters()[1].size == 2);
  CHECK(c.parameters()[1].kind == ParamKind::bias);
}

TEST_CASE("Linear against the reference, batch 1, 3 and 7") {
  check_linear<7, 5>(1, true);
  check_linear<7, 5>(3, true);
  check_linear<1, 1>(3, true);
  check_linear<13, 1>(7, false);
  check_linear<64, 33>(7, false);  // wider than a SIMD register both ways
}

TEST_CASE("Linear by hand") {
  Rng rng(1);
  layer_t<Linear<2, 3>, Shape<2>> fc(2, rng);
  const float w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0.5f, -1, 2};
  std::copy(w, w + 6, fc.weight().data());
  std::copy(b, b + 3, fc.bias().data());
  Tensor<Shape<2>> x(2);
  const float in[4] = {1, -1, 2, 0.5f};
  x.copy_from(std::span<const float>(in));
  const auto& y = fc.forward(x, Mode::eval);
  CHECK(y(0, 0) == -0.5f);  // 1 - 2 + 0.5
  CHECK(y(0, 2) == 1.f);    // 5 - 6 + 2
  CHECK(y(1, 1) == 7.f);    // 6 + 2 - 1
}

TEST_CASE("Linear initialisation: uniform within 1/sqrt(In) for weight and bias, as nn.Linear") {
  Rng rng(5);
  layer_t<Linear<100, 50>, Shape<100>> fc(1, rng);
  const float bound = 0.1f;
  float wmax = 0, bmax = 0;
  double wsum = 0;
  for (float v : fc.weight().span()) {
    REQUIRE(std::abs(v) <= bound);
    wmax = std::max(wmax, std::abs(v));
    wsum += v;
  }
  for (float v : fc.bias().span()) {
    REQUIRE(std::abs(v) <= bound);
    bmax = std::max(bmax, std::abs(v));
  }
  CHECK(wmax > 0.099f);  // 5000 draws fill the range
  CHECK(bmax > 0.08f);   // 50 draws
  CHECK(std::abs(wsum / 5000) < 0.005);
  for (float v : fc.weight_grad().span()) REQUIRE(v == 0.f);
  for (float v : fc.bias_grad().span()) REQUIRE(v == 0.f);
}

TEST_CASE("Linear: backward before forward throws ctnn::Error") {
  Rng rng(1);
  layer_t<Linear<3, 2>, Shape<3>> fc(1, rng);
  Tensor<Shape<2>> dy(1);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(fc.backward(dy), "ctnn::Linear::backward called before forward", Error);
}
