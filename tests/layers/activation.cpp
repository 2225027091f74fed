// ReLU, LeakyReLU, GELU, Sigmoid and Tanh against double-precision references, forward and backward,
// and by finite differences.
#include <ctnn/layers/activation.hpp>

#include <cmath>
#include <doctest/doctest.h>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

template <class In>
void check_relu(std::size_t batch) {
  CAPTURE(In::str());
  CAPTURE(batch);
  ref::Harness<ReLU, In> h(batch, 5 + batch, batch + 1);
  // Distinct values 0.01 apart, none within 0.005 of the kink at 0: finite differences with a
  // smaller step see a smooth function.
  h.set_input(ref::distinct(h.x.size(), h.rng, 0.01f));
  const ref::Vec x = h.input();
  ref::expect_close(h.forward().span(), ref::relu(x), 0, 0, "forward");  // exact
  ref::expect_close(h.backward(), ref::relu_backward(x, ref::to_double(h.r.span())), 0, 0, "dx");
  ref::FdOptions fd;
  fd.h = 2e-3;
  h.check_gradients(Mode::train, fd);
}

}  // namespace

TEST_CASE("ReLU: shape and no parameters") {
  static_assert(std::is_same_v<output_shape_t<ReLU, Shape<3, 7, 5>>, Shape<3, 7, 5>>);
  static_assert(parameter_count_v<ReLU, Shape<3, 7, 5>> == 0);
  Rng rng(1);
  layer_t<ReLU, Shape<4>> relu(1, rng);
  Collector c;
  collect_state(relu, c);
  CHECK(c.parameters().empty());
}

TEST_CASE("ReLU against the reference, forward exact, backward exact, and by finite differences") {
  check_relu<Shape<3, 7, 5>>(1);
  check_relu<Shape<3, 7, 5>>(3);
  check_relu<Shape<13>>(2);
  check_relu<Shape<64, 32, 32>>(2);  // large enough for the threaded evaluator
}

TEST_CASE("ReLU: zero and negative zero give zero gradient, positive values pass the gradient") {
  Rng rng(1);
  layer_t<ReLU, Shape<4>> relu(1, rng);
  Tensor<Shape<4>> x(1), dy(1);
  const float in[4] = {0.f, -0.f, -3.f, 2.f};
  x.copy_from(std::span<const float>(in));
  dy.fill(5.f);
  const auto& y = relu.forward(x, Mode::train);
  CHECK(y(0, 0) == 0.f);
  CHECK(y(0, 2) == 0.f);
  CHECK(y(0, 3) == 2.f);
  const auto& dx = relu.backward(dy);
  CHECK(dx(0, 0) == 0.f);
  CHECK(dx(0, 1) == 0.f);
  CHECK(dx(0, 2) == 0.f);
  CHECK(dx(0, 3) == 5.f);
}

TEST_CASE("ReLU: backward before forward and a batch mismatch throw ctnn::Error") {
  Rng rng(1);
  layer_t<ReLU, Shape<2, 2, 2>> relu(3, rng);
  Tensor<Shape<2, 2, 2>> x(3), dy(3);
  x.fill(1.f);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(relu.backward(dy), "ctnn::ReLU::backward called before forward", Error);
  relu.forward(x, Mode::eval);
  dy.set_batch(1);
  CHECK_THROWS_WITH_AS(relu.backward(dy), doctest::Contains("differs from the forward batch"), Error);
}

namespace {

// An activation against its double-precision reference f and derivative df, forward and backward,
// and by finite differences, on inputs in [-3, 3] (kinks, if any, avoided by `distinct`).
template <class Spec, class In>
void check_activation(std::size_t batch, double (*f)(double), double (*df)(double), double rtol) {
  CAPTURE(Spec::name());
  CAPTURE(In::str());
  CAPTURE(batch);
  ref::Harness<Spec, In> h(batch, 17 + batch, batch + 1);
  auto x = ref::distinct(h.x.size(), h.rng, 0.01f);
  for (auto& v : x) v *= 3.f;
  h.set_input(x);
  const ref::Vec xd = h.input();
  ref::expect_close(h.forward().span(), ref::map(xd, f), rtol, 1e-6, "forward");
  const ref::Vec dy = ref::to_double(h.r.span());
  ref::Vec want = ref::map(xd, df);
  for (std::size_t i = 0; i < want.size(); ++i) want[i] *= dy[i];
  ref::expect_close(h.backward(), want, rtol, 1e-6, "dx");
  ref::FdOptions fd;
  fd.h = 2e-3;
  h.check_gradients(Mode::train, fd);
}

double leaky(double x) { return ref::leaky_relu(x, 0.01); }
double leaky_grad(double x) { return x > 0 ? 1.0 : 0.01; }
double steep(double x) { return ref::leaky_relu(x, -0.5); }
double steep_grad(double x) { return x > 0 ? 1.0 : -0.5; }
double tanh_(double x) { return std::tanh(x); }

}  // namespace

TEST_CASE("LeakyReLU, GELU, Sigmoid and Tanh: names, shapes, no parameters") {
  static_assert(std::is_same_v<output_shape_t<GELU, Shape<3, 7, 5>>, Shape<3, 7, 5>>);
  static_assert(parameter_count_v<LeakyReLU<>, Shape<8>> == 0);
  static_assert(LayerSpec<Sigmoid, Shape<4, 2, 2>> && LayerSpec<Tanh, Shape<4>> && LayerSpec<LeakyReLU<0.2>, Shape<4>>);
  CHECK(LeakyReLU<>::name() == "LeakyReLU<0.01>");
  CHECK(LeakyReLU<0.2>::name() == "LeakyReLU<0.2>");
  CHECK(GELU::name() == "GELU");
  CHECK(Sigmoid::name() == "Sigmoid");
  CHECK(Tanh::name() == "Tanh");
}

TEST_CASE("LeakyReLU against the reference (default slope, and a negative slope) and by finite differences") {
  check_activation<LeakyReLU<>, Shape<3, 7, 5>>(2, leaky, leaky_grad, 1e-6);
  check_activation<LeakyReLU<-0.5>, Shape<13>>(3, steep, steep_grad, 1e-6);
  check_activation<LeakyReLU<>, Shape<64, 32, 32>>(1, leaky, leaky_grad, 1e-6);  // threaded evaluator
}

TEST_CASE("GELU (exact, erf) against the reference and by finite differences") {
  check_activation<GELU, Shape<3, 7, 5>>(2, ref::gelu, ref::gelu_grad, 1e-5);
  check_activation<GELU, Shape<64, 32, 32>>(1, ref::gelu, ref::gelu_grad, 1e-5);
}

TEST_CASE("Sigmoid and Tanh against the reference and by finite differences") {
  check_activation<Sigmoid, Shape<3, 7, 5>>(2, ref::sigmoid, ref::sigmoid_grad, 1e-5);
  check_activation<Tanh, Shape<3, 7, 5>>(2, tanh_, ref::tanh_grad, 1e-5);
  check_activation<Sigmoid, Shape<11>>(1, ref::sigmoid, ref::sigmoid_grad, 1e-5);
}

TEST_CASE("Sigmoid and Tanh saturate without NaN; GELU of a large negative input is 0") {
  Rng rng(1);
  Tensor<Shape<4>> x(1), dy(1);
  const float in[4] = {-1000.f, -90.f, 90.f, 1000.f};
  x.copy_from(std::span<const float>(in));
  dy.fill(1.f);
  layer_t<Sigmoid, Shape<4>> s(1, rng);
  const auto& ys = s.forward(x, Mode::train);
  CHECK(ys(0, 0) == 0.f);
  CHECK(ys(0, 3) == 1.f);
  for (std::size_t i = 0; i < 4; ++i) CHECK(std::isfinite(s.backward(dy)(0, i)));
  layer_t<Tanh, Shape<4>> t(1, rng);
  CHECK(t.forward(x, Mode::train)(0, 0) == -1.f);
  layer_t<GELU, Shape<4>> g(1, rng);
  const auto& yg = g.forward(x, Mode::train);
  CHECK(yg(0, 0) == 0.f);
  CHECK(yg(0, 3) == 1000.f);
}
