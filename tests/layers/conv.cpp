// Conv against a naive double-precision convolution: forward, backward data and backward filter,
// for kernels 1, 3 and 7, strides 1 and 2 (strided layers with output rows of 8 or more through
// phase planes, backend/cpu/conv.hpp), padding 0, 1 and 3, batches 1 and 3, non-square inputs;
// and by finite differences; the CPU backend's backward without the filter gradient (dw == nullptr).
#include <ctnn/layers/conv.hpp>
#include <doctest/doctest.h>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

template <std::size_t Cin, std::size_t Cout, std::size_t K, std::size_t S, std::size_t P, std::size_t H, std::size_t W>
void check_conv(std::size_t batch, bool finite_differences = false) {
  using Spec = Conv<Cin, Cout, K, S, P>;
  using In = Shape<Cin, H, W>;
  CAPTURE(Spec::name());
  CAPTURE(In::str());
  CAPTURE(batch);
  ref::Harness<Spec, In> h(batch, 100 + batch * 7 + K * 3 + S, batch + 1);  // capacity above the batch
  const ref::ConvGeom g{batch, Cin, H, W, Cout, K, S, P};
  using Out = output_shape_t<Spec, In>;
  static_assert(std::is_same_v<Out, Shape<Cout, (H + 2 * P - K) / S + 1, (W + 2 * P - K) / S + 1>>);
  REQUIRE(g.Ho() == Out::template dim<1>);
  REQUIRE(g.Wo() == Out::template dim<2>);

  const ref::Vec x = h.input(), w = h.value("weight");
  const auto& y = h.forward();
  CHECK(y.batch() == batch);
  ref::expect_close(y.span(), ref::conv2d(g, x, w), 1e-4, 1e-5, "forward");

  ref::Vec dx, dw;
  ref::conv2d_backward(g, x, w, ref::to_double(h.r.span()), dx, dw);
  const ref::Vec got_dx = h.backward();
  ref::expect_close(got_dx, dx, 1e-4, 1e-5, "dx");
  ref::expect_close(std::span<const float>(h.param("weight").grad, w.size()), dw, 1e-4, 1e-4, "dw");

  // Gradients accumulate: a second backward adds the same amount again.
  h.layer.backward(h.r, false);
  ref::Vec dw2 = dw;
  for (auto& v : dw2) v *= 2;
  ref::expect_close(std::span<const float>(h.param("weight").grad, w.size()), dw2, 1e-4, 1e-4, "dw accumulated");

  if (finite_differences) h.check_gradients();
}

}  // namespace

TEST_CASE("Conv: output shapes and parameter counts") {
  static_assert(std::is_same_v<output_shape_t<Conv<3, 64>, Shape<3, 32, 32>>, Shape<64, 32, 32>>);
  static_assert(std::is_same_v<output_shape_t<Conv<3, 64, 7, 2, 3>, Shape<3, 224, 224>>, Shape<64, 112, 112>>);
  static_assert(std::is_same_v<output_shape_t<Conv<64, 128, 1, 2, 0>, Shape<64, 32, 32>>, Shape<128, 16, 16>>);
  static_assert(std::is_same_v<output_shape_t<Conv<2, 3, 3, 2, 0>, Shape<2, 7, 5>>, Shape<3, 3, 2>>);
  static_assert(parameter_count_v<Conv<3, 64>, Shape<3, 32, 32>> == 64 * 3 * 9);
  static_assert(macs_v<Conv<3, 64>, Shape<3, 32, 32>> == 64 * 32 * 32 * 3 * 9);
  CHECK(Conv<3, 64, 7, 2, 3>::name() == "Conv<3,64,7,2,3>");
}

TEST_CASE("Conv 3x3 against the reference") {
  for (std::size_t batch : {1, 3}) {
    check_conv<2, 3, 3, 1, 1, 7, 5>(batch);  // same padding
    check_conv<2, 3, 3, 2, 1, 7, 5>(batch);  // stride 2, odd sizes
    check_conv<3, 2, 3, 1, 0, 7, 5>(batch);  // valid
    check_conv<3, 4, 3, 2, 0, 7, 5>(batch);  // stride 2, no padding, drops the last row
    check_conv<4, 5, 3, 2, 1, 8, 6>(batch);  // stride 2, even sizes
    check_conv<3, 4, 3, 2, 1, 9, 17>(batch);  // stride 2, output rows of 9: through phase planes
  }
}

TEST_CASE("Conv 1x1 (direct path and strided projection) against the reference") {
  for (std::size_t batch : {1, 3}) {
    check_conv<3, 5, 1, 1, 0, 7, 5>(batch);  // no im2col: reads the input directly
    check_conv<3, 5, 1, 2, 0, 7, 5>(batch);  // the ResNet projection shortcut
    check_conv<3, 2, 1, 1, 1, 4, 3>(batch);  // padded 1x1: the border sees only zeros
  }
}

TEST_CASE("Conv 7x7 against the reference") {
  for (std::size_t batch : {1, 3}) {
    check_conv<3, 4, 7, 2, 3, 9, 7>(batch);  // the ImageNet stem's geometry
    check_conv<2, 3, 7, 1, 3, 7, 5>(batch);  // kernel larger than the width
    check_conv<2, 2, 7, 1, 0, 8, 7>(batch);  // valid: 2 x 1 outputs
    check_conv<2, 3, 7, 2, 3, 6, 19>(batch);  // stride 2, output rows of 10: through phase planes
  }
}

TEST_CASE("Conv gradients by finite differences") {
  check_conv<2, 3, 3, 2, 1, 7, 5>(3, true);
  check_conv<3, 2, 1, 1, 0, 5, 4>(1, true);
  check_conv<2, 2, 7, 2, 3, 7, 5>(2, true);
  check_conv<2, 2, 3, 2, 1, 5, 16>(2, true);  // phase planes
}

TEST_CASE("Conv initialisation: Kaiming normal with fan_out, the same for the same seed") {
  Rng a(3), b(3), c(4);
  layer_t<Conv<8, 4, 3>, Shape<8, 5, 5>> la(1, a), lb(1, b), lc(1, c);
  CHECK(std::equal(la.weight().span().begin(), la.weight().span().end(), lb.weight().span().begin()));
  CHECK_FALSE(std::equal(la.weight().span().begin(), la.weight().span().end(), lc.weight().span().begin()));
  for (float g : la.weight_grad().span()) REQUIRE(g == 0.f);
}

TEST_CASE("Conv: backward before forward and a batch mismatch throw ctnn::Error") {
  Rng rng(1);
  layer_t<Conv<2, 2>, Shape<2, 4, 4>> conv(3, rng);
  Tensor<Shape<2, 4, 4>> x(3), dy(3);
  x.fill(1.f);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(conv.backward(dy), "ctnn::Conv::backward called before forward", Error);
  conv.forward(x, Mode::train);
  dy.set_batch(2);
  CHECK_THROWS_WITH_AS(conv.backward(dy), doctest::Contains("differs from the forward batch"), Error);
}

TEST_CASE("Conv on small planes: several images share one GEMM (groups of unequal size)") {
  // 4x4 and 2x2 outputs make the CPU backend group images; batch 5 over 2 threads gives groups of 3 and 2.
  for (std::size_t batch : {2, 5}) {
    check_conv<4, 6, 3, 1, 1, 4, 4>(batch);
    check_conv<4, 6, 3, 2, 1, 4, 4>(batch);
    check_conv<4, 6, 1, 1, 0, 4, 4>(batch);  // direct path, gathered
    check_conv<4, 6, 1, 2, 0, 4, 4>(batch);
  }
  check_conv<3, 4, 3, 1, 1, 4, 3>(5, true);
}

TEST_CASE("Conv2d backward with dw == nullptr: the same dx as with dw, x never read") {
  using ctnn::backend::Geometry2d;
  using ctnn::backend::cpu::Conv2d;
  using ctnn::backend::cpu::ConvAlgorithm;
  struct Case {
    Geometry2d g;
    std::size_t batch;
    ConvAlgorithm algorithm;
  };
  // in_c, in_h, in_w, out_c, out_h, out_w, kernel, stride, pad
  const Case cases[] = {
      {{4, 7, 5, 6, 4, 3, 3, 2, 1}, 5, ConvAlgorithm::im2col},    // strided 3x3, grouped images
      {{3, 6, 5, 4, 6, 5, 3, 1, 1}, 1, ConvAlgorithm::im2col},    // one image per GEMM
      {{4, 4, 4, 6, 4, 4, 1, 1, 0}, 5, ConvAlgorithm::im2col},    // direct 1x1, gathered
      {{4, 4, 4, 6, 4, 4, 1, 1, 0}, 1, ConvAlgorithm::im2col},    // direct 1x1, straight into dx
      {{16, 6, 5, 16, 6, 5, 3, 1, 1}, 3, ConvAlgorithm::winograd},
  };
  for (const Case& c : cases) {
    const Geometry2d& g = c.g;
    CAPTURE(g.in_c);
    CAPTURE(g.kernel);
    CAPTURE(g.stride);
    CAPTURE(c.batch);
    Conv2d conv(g, c.batch + 1, c.algorithm);
    CHECK(conv.winograd() == (c.algorithm == ConvAlgorithm::winograd));
    Rng rng(7 + c.batch);
    const auto x = ref::uniform(c.batch * g.in_size(), rng), w = ref::uniform(g.out_c * g.patch(), rng),
               dy = ref::uniform(c.batch * g.out_size(), rng);
    std::vector<float> dx_both(x.size(), -7.f), dx_only(x.size(), -7.f), dw(w.size(), 0.f);
    conv.backward(x.data(), w.data(), dy.data(), dx_both.data(), dw.data(), c.batch);
    conv.backward(nullptr, w.data(), dy.data(), dx_only.data(), nullptr, c.batch);
    CHECK(dx_only == dx_both);

    const ref::ConvGeom rg{c.batch, g.in_c, g.in_h, g.in_w, g.out_c, g.kernel, g.stride, g.pad};
    ref::Vec rdx, rdw;
    ref::conv2d_backward(rg, ref::to_double(x), ref::to_double(w), ref::to_double(dy), rdx, rdw);
    ref::expect_close(dx_only, rdx, 1e-4, 1e-4, "dx without dw");
    ref::expect_close(dw, rdw, 1e-4, 1e-4, "dw");
  }
}

namespace {

// Grouped convolutions and the bias option against the reference; finite differences too.
template <class Spec, std::size_t H, std::size_t W>
void check_conv_options(std::size_t batch) {
  constexpr std::size_t Cin = 6, G = Spec::group_count;
  using In = Shape<Cin, H, W>;
  using Out = output_shape_t<Spec, In>;
  constexpr std::size_t Cout = Out::template dim<0>, plane = Out::template dim<1> * Out::template dim<2>;
  CAPTURE(Spec::name());
  CAPTURE(batch);
  ref::Harness<Spec, In> h(batch, 31 + batch, batch);
  h.randomize_parameters();
  const ref::ConvGeom g{batch, Cin, H, W, Cout, 3, 1, 1, G};
  const ref::Vec x = h.input(), w = h.value("weight");
  REQUIRE(w.size() == Cout * (Cin / G) * 9);
  ref::Vec want = ref::conv2d(g, x, w);
  if constexpr (Spec::has_bias) want = ref::add_bias(want, h.value("bias"), plane);
  ref::expect_close(h.forward().span(), want, 1e-4, 1e-5, "forward");

  ref::Vec dx, dw;
  const ref::Vec dy = ref::to_double(h.r.span());
  ref::conv2d_backward(g, x, w, dy, dx, dw);
  ref::expect_close(h.backward(), dx, 1e-4, 1e-5, "dx");
  ref::expect_close(h.grad("weight"), dw, 1e-4, 1e-4, "dw");
  if constexpr (Spec::has_bias) ref::expect_close(h.grad("bias"), ref::bias_grad(dy, Cout, plane), 1e-4, 1e-4, "db");
  h.check_gradients();
}

}  // namespace

TEST_CASE("Conv options: groups, depthwise and bias; shapes, names and parameter counts") {
  using Grouped = Conv<6, 4, 3, 1, 1, groups<2>>;
  using Biased = Conv<6, 4, 3, 1, 1, with_bias>;
  using Both = Conv<6, 9, 3, 1, 1, with_bias, groups<3>>;
  static_assert(Grouped::group_count == 2 && !Grouped::has_bias);
  static_assert(Both::group_count == 3 && Both::has_bias);
  static_assert(parameter_count_v<Grouped, Shape<6, 5, 5>> == 4 * 3 * 9);
  static_assert(parameter_count_v<Biased, Shape<6, 5, 5>> == 4 * 6 * 9 + 4);
  static_assert(parameter_count_v<DepthwiseConv<6>, Shape<6, 5, 5>> == 6 * 9);
  static_assert(macs_v<DepthwiseConv<6>, Shape<6, 5, 5>> == 6 * 25 * 9);
  static_assert(std::is_same_v<DepthwiseConv<6, 3, 2>, Conv<6, 6, 3, 2, 1, groups<6>>>);
  static_assert(std::is_same_v<output_shape_t<DepthwiseConv<6, 3, 2>, Shape<6, 9, 7>>, Shape<6, 5, 4>>);
  CHECK(Both::name() == "Conv<6,9,3,1,1, groups<3>, with_bias>");
  Rng rng(1);
  layer_t<Biased, Shape<6, 5, 5>> biased(1, rng);
  Collector c;
  collect_state(biased, c);
  REQUIRE(c.parameters().size() == 2);
  CHECK(c.parameters()[1].name == "bias");
  CHECK(c.parameters()[1].kind == ParamKind::bias);
  // PyTorch's Conv2d bias initialisation: uniform within +-1/sqrt(fan_in), fan_in = 6 * 9.
  const float bound = 1.f / std::sqrt(54.f);
  for (std::size_t i = 0; i < 4; ++i) CHECK(std::abs(c.parameters()[1].value[i]) <= bound);
}

TEST_CASE("grouped, depthwise and biased Conv against the reference and by finite differences") {
  for (std::size_t batch : {1, 3}) {
    check_conv_options<Conv<6, 4, 3, 1, 1, groups<2>>, 5, 4>(batch);
    check_conv_options<Conv<6, 9, 3, 1, 1, groups<3>, with_bias>, 5, 4>(batch);
    check_conv_options<Conv<6, 4, 3, 1, 1, with_bias>, 5, 4>(batch);
    check_conv_options<DepthwiseConv<6>, 5, 4>(batch);
    check_conv_options<DepthwiseConv<6, 3, 1, 1, with_bias>, 16, 20>(batch);  // wide enough to group images
  }
}

TEST_CASE("a depthwise 1x1 stride-1 convolution (the direct path, one channel per group)") {
  using Spec = DepthwiseConv<4, 1, 1, 0>;
  using In = Shape<4, 3, 5>;
  ref::Harness<Spec, In> h(2, 9);
  const ref::ConvGeom g{2, 4, 3, 5, 4, 1, 1, 0, 4};
  ref::expect_close(h.forward().span(), ref::conv2d(g, h.input(), h.value("weight")), 1e-5, 1e-6, "forward");
  ref::Vec dx, dw;
  ref::conv2d_backward(g, h.input(), h.value("weight"), ref::to_double(h.r.span()), dx, dw);
  ref::expect_close(h.backward(), dx, 1e-5, 1e-6, "dx");
  ref::expect_close(h.grad("weight"), dw, 1e-5, 1e-6, "dw");
}
