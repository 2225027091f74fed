// Seq: shapes flow through the list, the forward pass is the composition of the layers, the
// backward pass the reversed chain rule; children are named by position; parameters are drawn in
// order.
#include <ctnn/layers.hpp>
#include <ctnn/network.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

using Chain = Seq<Conv<2, 3, 3, 2, 1>, BatchNorm<3>, ReLU, Conv<3, 4, 1, 1, 0>>;
using ChainIn = Shape<2, 7, 5>;

}  // namespace

TEST_CASE("Seq: shapes, counts and names at compile time") {
  static_assert(std::is_same_v<output_shape_t<Chain, ChainIn>, Shape<4, 4, 3>>);
  static_assert(std::is_same_v<Chain::inputs<ChainIn>, std::tuple<Shape<2, 7, 5>, Shape<3, 4, 3>, Shape<3, 4, 3>, Shape<3, 4, 3>>>);
  static_assert(parameter_count_v<Chain, ChainIn> == 3 * 2 * 9 + 2 * 3 + 4 * 3);
  static_assert(macs_v<Chain, ChainIn> == 36 * 18 + 36 + 0 + 48 * 3);
  static_assert(std::is_same_v<output_shape_t<Seq<Flatten>, Shape<2, 3>>, Shape<6>>);
  CHECK(Chain::name() == "Seq<Conv<2,3,3,2,1>, BatchNorm<3>, ReLU, Conv<3,4,1,1,0>>");
}

TEST_CASE("Seq: forward and backward equal the composed references, batch 1 and 3") {
  for (std::size_t batch : {1, 3}) {
    CAPTURE(batch);
    ref::Harness<Chain, ChainIn> h(batch, 8 + batch, 4);
    h.randomize_parameters(-0.5f, 0.5f);
    REQUIRE(h.params.size() == 4);
    CHECK(h.params[0].name == "0.weight");
    CHECK(h.params[1].name == "1.weight");
    CHECK(h.params[2].name == "1.bias");
    CHECK(h.params[3].name == "3.weight");
    REQUIRE(h.buffers.size() == 2);
    CHECK(h.buffers[0].name == "1.running_mean");
    CHECK(h.buffers[1].name == "1.running_var");

    const ref::ConvGeom g1{batch, 2, 7, 5, 3, 3, 2, 1}, g2{batch, 3, 4, 3, 4, 1, 1, 0};
    const ref::BnGeom gb{batch, 3, 12};
    const ref::Vec x = h.input(), w1 = h.value("0.weight"), gamma = h.value("1.weight"), beta = h.value("1.bias"),
                   w2 = h.value("3.weight");
    ref::Vec rm(3, 0.0), rv(3, 1.0);
    const ref::Vec a = ref::conv2d(g1, x, w1);
    const ref::Vec b = ref::batchnorm_train(gb, a, gamma, beta, rm, rv);
    const ref::Vec c = ref::relu(b);
    const ref::Vec y = ref::conv2d(g2, c, w2);
    ref::expect_close(h.forward().span(), y, 1e-4, 1e-5, "forward");

    // Backward through the chain, in reverse.
    ref::Vec dc, dw2, db, dgamma, dbeta, da, dx, dw1;
    ref::conv2d_backward(g2, c, w2, ref::to_double(h.r.span()), dc, dw2);
    db = ref::relu_backward(b, dc);
    ref::batchnorm_backward_train(gb, a, gamma, db, da, dgamma, dbeta);
    ref::conv2d_backward(g1, x, w1, da, dx, dw1);
    ref::expect_close(h.backward(), dx, 1e-3, 1e-4, "dx");
    ref::expect_close(h.grad("0.weight"), dw1, 1e-3, 1e-4, "d 0.weight");
    ref::expect_close(h.grad("1.weight"), dgamma, 1e-3, 1e-4, "d 1.weight");
    ref::expect_close(h.grad("1.bias"), dbeta, 1e-3, 1e-4, "d 1.bias");
    ref::expect_close(h.grad("3.weight"), dw2, 1e-3, 1e-4, "d 3.weight");

    // Without the input gradient, the parameter gradients are the same.
    h.zero_grad();
    h.forward();
    h.layer.backward(h.r, false);
    ref::expect_close(h.grad("0.weight"), dw1, 1e-3, 1e-4, "d 0.weight, need_dx = false");
    ref::expect_close(h.grad("3.weight"), dw2, 1e-3, 1e-4, "d 3.weight, need_dx = false");
  }
}

TEST_CASE("Seq gradients by finite differences (train and eval)") {
  ref::Harness<Chain, ChainIn> h(3, 77);
  h.randomize_parameters(-0.5f, 0.5f);
  ref::FdOptions fd;
  fd.h = 1e-3;
  fd.kinks = true;
  fd.atol = 1e-4;
  h.check_gradients(Mode::train, fd);
  h.check_gradients(Mode::eval, fd);
}

TEST_CASE("Seq: nested sequences are named by path") {
  using Nested = Seq<Seq<Conv<1, 2, 3>, BatchNorm<2>>, ReLU, Seq<Flatten, Linear<2 * 4 * 4, 3>>>;
  static_assert(std::is_same_v<output_shape_t<Nested, Shape<1, 4, 4>>, Shape<3>>);
  static_assert(parameter_count_v<Nested, Shape<1, 4, 4>> == 18 + 4 + 32 * 3 + 3);
  ref::Harness<Nested, Shape<1, 4, 4>> h(2);
  std::vector<std::string> names;
  for (const auto& p : h.params) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"0.0.weight", "0.1.weight", "0.1.bias", "2.1.weight", "2.1.bias"});
  std::size_t total = 0;
  for (const auto& p : h.params) total += p.size;
  CHECK(total == parameter_count_v<Nested, Shape<1, 4, 4>>);
  ref::FdOptions fd;
  fd.h = 1e-3;
  fd.kinks = true;
  fd.atol = 1e-4;
  h.check_gradients(Mode::train, fd);
}

TEST_CASE("Seq: parameters are drawn left to right from one generator") {
  Rng a(9), b(9);
  layer_t<Seq<Conv<2, 2>, Conv<2, 3>>, Shape<2, 4, 4>> seq(1, a);
  layer_t<Conv<2, 2>, Shape<2, 4, 4>> first(1, b);
  layer_t<Conv<2, 3>, Shape<2, 4, 4>> second(1, b);
  const auto s0 = seq.get<0>().weight().span(), f = first.weight().span();
  const auto s1 = seq.get<1>().weight().span(), s = second.weight().span();
  CHECK(std::equal(s0.begin(), s0.end(), f.begin(), f.end()));
  CHECK(std::equal(s1.begin(), s1.end(), s.begin(), s.end()));
}

namespace {

// A layer that can be neither copied nor moved, and logs its construction and destruction.
std::vector<int> pinned_log;
template <int Id>
struct Pinned {
  template <class X>
  using output = X;
  template <class X, class D>
  class layer {
  public:
    layer(std::size_t, Rng& rng) : draw_(rng.uniform()) { pinned_log.push_back(Id); }
    layer(const layer&) = delete;
    layer(layer&&) = delete;
    ~layer() { pinned_log.push_back(-Id); }
    const Tensor<X, D>& forward(const Tensor<X, D>& x, Mode) { return x; }
    const Tensor<X, D>& backward(const Tensor<X, D>& dy, bool) { return dy; }
    float draw() const { return draw_; }

  private:
    float draw_;
  };
};

}  // namespace

TEST_CASE("Seq: each layer is built once, in place and in order: layers need no move constructor") {
  pinned_log.clear();
  Rng a(4), b(4);
  {
    layer_t<Seq<Pinned<1>, Seq<Pinned<2>, Pinned<3>>, Residual<Pinned<4>, Pinned<5>>>, Shape<5>> seq(2, a);
    CHECK(pinned_log == std::vector<int>{1, 2, 3, 4, 5});
    // One draw each, in order.
    CHECK(seq.get<0>().draw() == b.uniform());
    CHECK(seq.get<1>().get<0>().draw() == b.uniform());
    CHECK(seq.get<1>().get<1>().draw() == b.uniform());
    Tensor<Shape<5>> x(2);
    x.fill(1.5f);
    const auto& y = seq.forward(x, Mode::train);  // x + x by the residual's add
    CHECK(y.batch() == 2);
    for (float v : y.span()) CHECK(v == 3.f);
  }
  // Each destroyed once (no temporaries), in reverse order.
  CHECK(pinned_log == std::vector<int>{1, 2, 3, 4, 5, -5, -4, -3, -2, -1});
}

TEST_CASE("Seq: backward before forward throws ctnn::Error") {
  Rng rng(1);
  layer_t<Chain, ChainIn> seq(1, rng);
  Tensor<Shape<4, 4, 3>> dy(1);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(seq.backward(dy), doctest::Contains("backward called before forward"), Error);
}

namespace {

// Convolutions each followed by a batch norm (and a ReLU, but the last): Winograd F(4x4) at 12x12,
// im2col at stride 2, a direct 1x1 and a convolution with a bias (not folded).
using Folding = Seq<Conv<16, 24, 3, 1, 1>, BatchNorm<24>, ReLU, Conv<24, 24, 3, 2, 1>, BatchNorm<24>, ReLU,
                    Conv<24, 16, 1, 1, 0>, BatchNorm<16>, ReLU, Conv<16, 16, 3, 1, 1, with_bias>, BatchNorm<16>, ReLU,
                    Conv<16, 16, 3, 1, 1>, BatchNorm<16>>;
using FoldingIn = Shape<16, 12, 12>;

template <class T>
std::vector<float> copy_of(const T& t) {
  return {t.span().begin(), t.span().end()};
}

}  // namespace

TEST_CASE("Seq: Mode::inference folds batch norms and ReLUs into the convolutions, with eval's results") {
  Network<Folding, FoldingIn> net(5, 3);
  ref::perturb_parameters_and_statistics(net, 5);
  Tensor<FoldingIn> x(5);
  Rng rng(11);
  for (auto& v : x.span()) v = rng.uniform(-1, 1);
  const std::vector<float> eval = copy_of(net.forward(x, Mode::eval));
  const std::vector<float> inference = copy_of(net.forward(x, Mode::inference));
  double scale = 0;
  for (float v : eval) scale = std::max(scale, double(std::fabs(v)));
  REQUIRE(scale > 0.1);
  ref::expect_close(inference, ref::to_double(eval), 1e-5, 1e-5 * scale, "inference against eval");

  // Nothing is kept for backward...
  Tensor<typename decltype(net)::output_shape> dy(5);
  dy.fill(0.5f);
  CHECK_THROWS_WITH_AS(net.backward(dy), doctest::Contains("Mode::inference"), Error);
  // ... and an eval forward afterwards has everything again: the same gradients as before.
  auto gradients = [&] {
    net.zero_grad();
    net.forward(x, Mode::eval);
    std::vector<float> g = copy_of(net.backward(dy, true));
    for (const Parameter& p : net.parameters()) g.insert(g.end(), p.grad, p.grad + p.size);
    return g;
  };
  const std::vector<float> before = gradients();
  net.forward(x, Mode::inference);
  CHECK(gradients() == before);
}

TEST_CASE("Seq: after a Mode::inference forward the folded layers refuse backward") {
  Rng rng(1);
  layer_t<Folding, FoldingIn> seq(2, rng);
  Tensor<FoldingIn> x(2);
  x.fill(0.25f);
  seq.forward(x, Mode::eval);
  seq.forward(x, Mode::inference);
  Tensor<Shape<24, 12, 12>> d24(2);
  d24.fill(1.f);
  CHECK_THROWS_WITH_AS(seq.get<0>().backward(d24), doctest::Contains("Conv::backward called before forward"), Error);
  CHECK_THROWS_WITH_AS(seq.get<1>().backward(d24), doctest::Contains("BatchNorm::backward called before forward"), Error);
  CHECK_THROWS_WITH_AS(seq.get<2>().backward(d24), doctest::Contains("ReLU::backward called before forward"), Error);
  // The convolution with a bias ran on its own (eval's forward kept its input).
  Tensor<Shape<16, 6, 6>> d16(2);
  d16.fill(1.f);
  CHECK_NOTHROW(seq.get<10>().backward(d16));
}
