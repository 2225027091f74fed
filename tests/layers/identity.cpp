// Identity: passes its input and gradient through without a copy.
#include <ctnn/layers/identity.hpp>
#include <ctnn/layers/residual.hpp>
#include <doctest/doctest.h>

#include "support/harness.hpp"

using namespace ctnn;

TEST_CASE("Identity passes tensors through by reference") {
  static_assert(std::is_same_v<output_shape_t<Identity, Shape<3, 7, 5>>, Shape<3, 7, 5>>);
  static_assert(parameter_count_v<Identity, Shape<3, 7, 5>> == 0);
  static_assert(macs_v<Identity, Shape<3, 7, 5>> == 0);
  Rng rng(1);
  layer_t<Identity, Shape<3, 7, 5>> id(2, rng);
  Tensor<Shape<3, 7, 5>> x(2), dy(2);
  x.fill(1.5f);
  dy.fill(-2.f);
  CHECK(&id.forward(x, Mode::train) == &x);
  CHECK(&id.backward(dy) == &dy);
  Collector c;
  collect_state(id, c);
  CHECK(c.parameters().empty());
}

TEST_CASE("Identity in a Residual: y = x + x, dx = 2 dy, by finite differences") {
  for (std::size_t batch : {1, 3}) {
    CAPTURE(batch);
    ref::Harness<Residual<Identity>, Shape<2, 3, 5>> h(batch, 4);
    const ref::Vec x = h.input();
    ref::expect_close(h.forward().span(), ref::add(x, x), 0, 0, "forward");
    const ref::Vec r = ref::to_double(h.r.span());
    ref::expect_close(h.backward(), ref::add(r, r), 0, 0, "dx");
    h.check_gradients();
  }
}
