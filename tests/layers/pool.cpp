// MaxPool, AvgPool (padding counted, as PyTorch's count_include_pad=True) and GlobalAvgPool against
// the reference, forward and backward, and by finite differences.
#include <ctnn/layers/pool.hpp>
#include <doctest/doctest.h>

#include <limits>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

template <class Spec, std::size_t K, std::size_t S, std::size_t P, class In>
void check_pool(std::size_t batch, bool max) {
  CAPTURE(Spec::name());
  CAPTURE(In::str());
  CAPTURE(batch);
  ref::Harness<Spec, In> h(batch, 21 + batch, batch + 1);
  // Distinct values: no ties for the maximum, none closer than the finite-difference step.
  h.set_input(ref::distinct(h.x.size(), h.rng, 0.01f));
  constexpr std::size_t C = In::template dim<0>, H = In::template dim<1>, W = In::template dim<2>;
  const ref::ConvGeom g{batch, C, H, W, C, K, S, P};
  using Out = output_shape_t<Spec, In>;
  static_assert(std::is_same_v<Out, Shape<C, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1>>);
  const ref::Vec x = h.input(), r = ref::to_double(h.r.span());
  if (max) {
    ref::expect_close(h.forward().span(), ref::max_pool(g, x), 0, 0, "forward");  // a copy: exact
    ref::expect_close(h.backward(), ref::max_pool_backward(g, x, r), 1e-6, 1e-7, "dx");  // overlaps add
  } else {
    ref::expect_close(h.forward().span(), ref::avg_pool(g, x), 1e-5, 1e-6, "forward");
    ref::expect_close(h.backward(), ref::avg_pool_backward(g, r), 1e-5, 1e-6, "dx");
  }
  ref::FdOptions fd;
  fd.h = 2e-3;
  h.check_gradients(Mode::train, fd);
}

}  // namespace

TEST_CASE("Pooling: output shapes") {
  static_assert(std::is_same_v<output_shape_t<MaxPool<2>, Shape<3, 7, 5>>, Shape<3, 3, 2>>);
  static_assert(std::is_same_v<output_shape_t<MaxPool<3, 2, 1>, Shape<64, 112, 112>>, Shape<64, 56, 56>>);
  static_assert(std::is_same_v<output_shape_t<AvgPool<3, 2, 1>, Shape<2, 7, 5>>, Shape<2, 4, 3>>);
  static_assert(std::is_same_v<output_shape_t<GlobalAvgPool, Shape<512, 4, 4>>, Shape<512, 1, 1>>);
  static_assert(parameter_count_v<MaxPool<2>, Shape<3, 8, 8>> == 0);
  CHECK(MaxPool<3, 2, 1>::name() == "MaxPool<3,2,1>");
  CHECK(AvgPool<2>::name() == "AvgPool<2,2,0>");
}

TEST_CASE("MaxPool against the reference (padding never wins)") {
  for (std::size_t batch : {1, 3}) {
    check_pool<MaxPool<2>, 2, 2, 0, Shape<3, 7, 5>>(batch, true);
    check_pool<MaxPool<3, 2, 1>, 3, 2, 1, Shape<2, 7, 5>>(batch, true);  // the ImageNet stem's pool
    check_pool<MaxPool<3, 1, 1>, 3, 1, 1, Shape<2, 5, 4>>(batch, true);  // overlapping windows
    check_pool<MaxPool<3, 3>, 3, 3, 0, Shape<1, 7, 5>>(batch, true);
  }
}

TEST_CASE("MaxPool: an all-negative window next to the padding still picks an input") {
  Rng rng(1);
  layer_t<MaxPool<3, 2, 1>, Shape<1, 2, 2>> pool(1, rng);
  Tensor<Shape<1, 2, 2>> x(1);
  const float in[4] = {-4.f, -3.f, -2.f, -5.f};
  x.copy_from(std::span<const float>(in));
  const auto& y = pool.forward(x, Mode::train);
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(y)>, Tensor<Shape<1, 1, 1>>>);
  CHECK(y(0, 0, 0, 0) == -2.f);  // not 0 from the padding
  Tensor<Shape<1, 1, 1>> g(1);
  g.fill(7.f);
  const auto& dx = pool.backward(g);
  CHECK(dx(0, 0, 1, 0) == 7.f);
  CHECK(dx(0, 0, 0, 0) + dx(0, 0, 0, 1) + dx(0, 0, 1, 1) == 0.f);
}

TEST_CASE("AvgPool against the reference (divides by K*K, padding included)") {
  for (std::size_t batch : {1, 3}) {
    check_pool<AvgPool<2>, 2, 2, 0, Shape<3, 7, 5>>(batch, false);
    check_pool<AvgPool<3, 2, 1>, 3, 2, 1, Shape<2, 7, 5>>(batch, false);
    check_pool<AvgPool<3, 1, 1>, 3, 1, 1, Shape<2, 5, 4>>(batch, false);
  }
  // By hand: a corner window of AvgPool<3, 2, 1> over ones covers 4 inputs and 5 padded zeros.
  Rng rng(1);
  layer_t<AvgPool<3, 2, 1>, Shape<1, 3, 3>> pool(1, rng);
  Tensor<Shape<1, 3, 3>> x(1);
  x.fill(1.f);
  const auto& y = pool.forward(x, Mode::eval);
  CHECK(y(0, 0, 0, 0) == doctest::Approx(4.0 / 9));
  CHECK(y(0, 0, 1, 1) == doctest::Approx(4.0 / 9));
}

TEST_CASE("GlobalAvgPool against the reference") {
  for (std::size_t batch : {1, 3}) {
    CAPTURE(batch);
    ref::Harness<GlobalAvgPool, Shape<4, 7, 5>> h(batch, 3);
    const ref::Vec x = h.input();
    ref::expect_close(h.forward().span(), ref::global_avg_pool(batch * 4, 35, x), 1e-5, 1e-6, "forward");
    ref::expect_close(h.backward(), ref::global_avg_pool_backward(batch * 4, 35, ref::to_double(h.r.span())), 1e-6,
                      1e-7, "dx");
    h.check_gradients();
  }
}

TEST_CASE("Pooling: backward before forward throws ctnn::Error") {
  Rng rng(1);
  layer_t<MaxPool<2>, Shape<1, 4, 4>> maxpool(1, rng);
  layer_t<GlobalAvgPool, Shape<1, 4, 4>> gap(1, rng);
  Tensor<Shape<1, 2, 2>> dy(1);
  Tensor<Shape<1, 1, 1>> dg(1);
  dy.fill(1.f);
  dg.fill(1.f);
  CHECK_THROWS_AS(maxpool.backward(dy), Error);
  CHECK_THROWS_WITH_AS(gap.backward(dg), "ctnn::GlobalAvgPool::backward called before forward", Error);
}
