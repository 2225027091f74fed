// ReLU against the reference, forward and backward (the mask comes from the saved output).
#include <ctnn/layers/activation.hpp>
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
