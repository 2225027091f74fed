// Flatten: C x H x W -> C*H*W with the memory layout unchanged; backward is the inverse.
#include <ctnn/layers/flatten.hpp>
#include <ctnn/layers/linear.hpp>
#include <ctnn/layers/sequential.hpp>
#include <doctest/doctest.h>

#include "support/harness.hpp"

using namespace ctnn;

TEST_CASE("Flatten: shapes") {
  static_assert(std::is_same_v<output_shape_t<Flatten, Shape<3, 7, 5>>, Shape<105>>);
  static_assert(std::is_same_v<output_shape_t<Flatten, Shape<512, 1, 1>>, Shape<512>>);
  static_assert(std::is_same_v<output_shape_t<Flatten, Shape<4, 6>>, Shape<24>>);
  static_assert(parameter_count_v<Flatten, Shape<3, 7, 5>> == 0);
}

TEST_CASE("Flatten forward and backward keep every value in place") {
  for (std::size_t batch : {1, 3}) {
    CAPTURE(batch);
    ref::Harness<Flatten, Shape<3, 7, 5>> h(batch, 2, 4);
    const auto& y = h.forward();
    REQUIRE(y.batch() == batch);
    ref::expect_close(y.span(), h.input(), 0, 0, "forward");
    for (std::size_t n = 0; n < batch; ++n) CHECK(y(n, 2 * 35 + 4 * 5 + 3) == h.x(n, 2, 4, 3));
    ref::expect_close(h.backward(), ref::to_double(h.r.span()), 0, 0, "dx");
    h.check_gradients();
  }
}

TEST_CASE("Flatten then Linear: the feature index is c*H*W + h*W + w") {
  Rng rng(1);
  layer_t<Seq<Flatten, Linear<12, 1>>, Shape<3, 2, 2>> net(1, rng);
  auto& fc = net.get<1>();
  fc.weight().fill(0.f);
  fc.weight().data()[2 * 4 + 1 * 2 + 0] = 1.f;  // selects (c=2, h=1, w=0)
  fc.bias().fill(0.f);
  Tensor<Shape<3, 2, 2>> x(1);
  for (std::size_t i = 0; i < 12; ++i) x.data()[i] = float(i);
  CHECK(net.forward(x, Mode::eval)(0, 0) == x(0, 2, 1, 0));
}
