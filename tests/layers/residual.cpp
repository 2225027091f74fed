// Residual<Main, Shortcut, Activation>: y = Activation(Main(x) + Shortcut(x)) with an identity or a
// projection shortcut and an Identity or ReLU activation, against composed references and by finite
// differences.
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

// conv(K, S) then batch norm (training mode): the branches used below.
struct ConvBn {
  ref::ConvGeom g;
  ref::Vec w, gamma, beta;
  ref::Vec a;  // the convolution's output, saved for backward
  ref::BnGeom bn() const { return {g.N, g.O, g.Ho() * g.Wo()}; }
  ref::Vec forward(const ref::Vec& x) {
    a = ref::conv2d(g, x, w);
    ref::Vec rm(g.O, 0.0), rv(g.O, 1.0);
    return ref::batchnorm_train(bn(), a, gamma, beta, rm, rv);
  }
  // Returns dx; fills dw, dgamma, dbeta.
  ref::Vec backward(const ref::Vec& x, const ref::Vec& dy, ref::Vec& dw, ref::Vec& dgamma, ref::Vec& dbeta) {
    ref::Vec da, dx;
    ref::batchnorm_backward_train(bn(), a, gamma, dy, da, dgamma, dbeta);
    ref::conv2d_backward(g, x, w, da, dx, dw);
    return dx;
  }
};

template <class H>
ConvBn branch(const H& h, const std::string& prefix, ref::ConvGeom g) {
  return ConvBn{g, h.value(prefix + "0.weight"), h.value(prefix + "1.weight"), h.value(prefix + "1.bias"), {}};
}

// Main = Seq<Conv<C, O, 3, S>, BatchNorm<O>>; Shortcut = Identity or Seq<Conv<C, O, 1, S, 0>, BatchNorm<O>>.
template <class Spec, class In, std::size_t O, std::size_t S, bool projection, bool relu>
void check_residual(std::size_t batch) {
  CAPTURE(Spec::name());
  CAPTURE(batch);
  constexpr std::size_t C = In::template dim<0>, H = In::template dim<1>, W = In::template dim<2>;
  ref::Harness<Spec, In> h(batch, 40 + batch, 3);
  h.randomize_parameters(-0.5f, 0.5f);
  std::vector<std::string> names;
  for (const auto& p : h.params) names.push_back(p.name);
  if (projection)
    CHECK(names == std::vector<std::string>{"main.0.weight", "main.1.weight", "main.1.bias", "shortcut.0.weight",
                                            "shortcut.1.weight", "shortcut.1.bias"});
  else
    CHECK(names == std::vector<std::string>{"main.0.weight", "main.1.weight", "main.1.bias"});

  const ref::Vec x = h.input();
  ConvBn main = branch(h, "main.", {batch, C, H, W, O, 3, S, 1});
  ConvBn shortcut = projection ? branch(h, "shortcut.", {batch, C, H, W, O, 1, S, 0}) : ConvBn{};
  const ref::Vec z = ref::add(main.forward(x), projection ? shortcut.forward(x) : x);
  ref::expect_close(h.forward().span(), relu ? ref::relu(z) : z, 1e-4, 1e-5, "forward");

  const ref::Vec r = ref::to_double(h.r.span());
  const ref::Vec dz = relu ? ref::relu_backward(z, r) : r;
  ref::Vec dw, dgamma, dbeta, dws, dgammas, dbetas;
  ref::Vec dx = main.backward(x, dz, dw, dgamma, dbeta);
  dx = ref::add(dx, projection ? shortcut.backward(x, dz, dws, dgammas, dbetas) : dz);
  ref::expect_close(h.backward(), dx, 1e-3, 1e-4, "dx");
  ref::expect_close(h.grad("main.0.weight"), dw, 1e-3, 1e-4, "d main.0.weight");
  ref::expect_close(h.grad("main.1.weight"), dgamma, 1e-3, 1e-4, "d main.1.weight");
  ref::expect_close(h.grad("main.1.bias"), dbeta, 1e-3, 1e-4, "d main.1.bias");
  if (projection) {
    ref::expect_close(h.grad("shortcut.0.weight"), dws, 1e-3, 1e-4, "d shortcut.0.weight");
    ref::expect_close(h.grad("shortcut.1.weight"), dgammas, 1e-3, 1e-4, "d shortcut.1.weight");
    ref::expect_close(h.grad("shortcut.1.bias"), dbetas, 1e-3, 1e-4, "d shortcut.1.bias");
  }

  ref::FdOptions fd;
  fd.h = 1e-3;
  fd.kinks = relu;
  fd.atol = 1e-4;
  h.check_gradients(Mode::train, fd);
  h.check_gradients(Mode::eval, fd);
}

using In = Shape<3, 7, 5>;
using Main = Seq<Conv<3, 3, 3, 1>, BatchNorm<3>>;
using MainDown = Seq<Conv<3, 4, 3, 2>, BatchNorm<4>>;
using Projection = Seq<Conv<3, 4, 1, 2, 0>, BatchNorm<4>>;

}  // namespace

TEST_CASE("Residual: shapes, counts and names") {
  static_assert(std::is_same_v<output_shape_t<Residual<Main>, In>, In>);
  static_assert(std::is_same_v<output_shape_t<Residual<MainDown, Projection, ReLU>, In>, Shape<4, 4, 3>>);
  static_assert(parameter_count_v<Residual<MainDown, Projection>, In> == 4 * 3 * 9 + 8 + 4 * 3 + 8);
  static_assert(macs_v<Residual<Main>, In> == macs_v<Main, In> + In::size);
  static_assert(macs_v<Residual<MainDown, Projection>, In> == macs_v<MainDown, In> + macs_v<Projection, In> + 48);
  CHECK(Residual<Main, Identity, ReLU>::name() == "Residual<Seq<Conv<3,3,3,1,1>, BatchNorm<3>>, Identity, ReLU>");
  CHECK(Residual<Main>::name() == "Residual<Seq<Conv<3,3,3,1,1>, BatchNorm<3>>, Identity>");
}

TEST_CASE("Residual with an identity shortcut, no activation") {
  check_residual<Residual<Main>, In, 3, 1, false, false>(1);
  check_residual<Residual<Main>, In, 3, 1, false, false>(3);
}

TEST_CASE("Residual with an identity shortcut and ReLU after the add") {
  check_residual<Residual<Main, Identity, ReLU>, In, 3, 1, false, true>(1);
  check_residual<Residual<Main, Identity, ReLU>, In, 3, 1, false, true>(3);
}

TEST_CASE("Residual with a strided 1x1 projection shortcut, with and without ReLU") {
  check_residual<Residual<MainDown, Projection, ReLU>, In, 4, 2, true, true>(1);
  check_residual<Residual<MainDown, Projection, ReLU>, In, 4, 2, true, true>(3);
  check_residual<Residual<MainDown, Projection>, In, 4, 2, true, false>(2);
}

TEST_CASE("Residual<Identity, Identity, ReLU>: y = relu(2x)") {
  ref::Harness<Residual<Identity, Identity, ReLU>, Shape<2, 3, 3>> h(2);
  h.set_input(ref::distinct(h.x.size(), h.rng));
  const ref::Vec x = h.input();
  ref::expect_close(h.forward().span(), ref::relu(ref::add(x, x)), 0, 0, "forward");
  const ref::Vec g = ref::relu_backward(x, ref::to_double(h.r.span()));
  ref::expect_close(h.backward(), ref::add(g, g), 0, 0, "dx");
}

TEST_CASE("Residual: backward before forward throws ctnn::Error") {
  Rng rng(1);
  layer_t<Residual<Main, Identity, ReLU>, In> res(1, rng);
  Tensor<In> dy(1);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(res.backward(dy), "ctnn::Residual::backward called before forward", Error);
}

namespace {

// y(Mode::inference) against y(Mode::eval) for a residual block, with batch-norm statistics and
// affine parameters far from the identity; then backward refuses until an eval forward.
template <class Block, class X>
void check_inference(std::size_t batch) {
  Network<Block, X> net(batch, 4);
  ref::perturb_parameters_and_statistics(net, 6);
  Rng rng(6);
  Tensor<X> x(batch);
  for (auto& v : x.span()) v = rng.uniform(-1, 1);
  const auto& e = net.forward(x, Mode::eval);
  const std::vector<float> eval(e.span().begin(), e.span().end());
  const auto& y = net.forward(x, Mode::inference);
  double scale = 0;
  std::size_t zeros = 0;
  for (float v : eval) scale = std::max(scale, double(std::fabs(v))), zeros += v == 0.f;
  REQUIRE(scale > 0.1);
  if (layer_t<Block, X>::relu) CHECK(zeros > 0);
  ref::expect_close(y.span(), ref::to_double(eval), 1e-5, 1e-5 * scale, "inference against eval");
  Tensor<output_shape_t<Block, X>> dy(batch);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(net.backward(dy), doctest::Contains("Mode::inference"), Error);
  net.forward(x, Mode::eval);
  CHECK_NOTHROW(net.backward(dy));
}

using Wide = Shape<16, 9, 9>;
using WideMain = Seq<Conv<16, 16>, BatchNorm<16>, ReLU, Conv<16, 16>, BatchNorm<16>>;
using WideDown = Seq<Conv<16, 24, 3, 2>, BatchNorm<24>, ReLU, Conv<24, 24>, BatchNorm<24>>;
using WideProjection = Seq<Conv<16, 24, 1, 2, 0>, BatchNorm<24>>;

}  // namespace

TEST_CASE("Residual in Mode::inference: the add and the ReLU in the main branch's last convolution") {
  check_inference<Residual<WideMain, Identity, ReLU>, Wide>(3);   // Winograd, identity shortcut
  check_inference<Residual<WideMain>, Wide>(2);                   // no ReLU after the add
  check_inference<Residual<WideDown, WideProjection, ReLU>, Wide>(3);  // stride 2 (im2col), projection
  check_inference<Residual<Main, Identity, ReLU>, In>(2);         // few channels: im2col everywhere
}
