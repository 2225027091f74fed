// BatchNorm against a double-precision reference with PyTorch's semantics: batch statistics in
// training (biased variance for normalising, unbiased variance folded into running_var with
// momentum 0.1), running statistics in evaluation, eps 1e-5; backward in both modes, also by
// finite differences.
#include <ctnn/layers/activation.hpp>
#include <ctnn/layers/batchnorm.hpp>
#include <doctest/doctest.h>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

// Inputs far from zero mean with a per-channel offset: a one-pass variance would lose digits.
template <class H>
void offset_input(H& h, float offset) {
  for (std::size_t i = 0; i < h.x.size(); ++i) {
    const std::size_t c = (i / spatial_size_v<typename H::Out>) % channels_v<typename H::Out>;
    h.x.data()[i] = h.x.data()[i] * (0.5f + float(c)) + offset * float(c + 1);
  }
}

template <std::size_t C, class In>
void check_batchnorm(std::size_t batch) {
  using Spec = BatchNorm<C>;
  CAPTURE(In::str());
  CAPTURE(batch);
  ref::Harness<Spec, In> h(batch, 11 + batch, batch + 2);
  h.randomize_parameters(0.5f, 1.5f);
  const ref::BnGeom g{batch, C, In::size / C};
  const ref::Vec gamma = h.value("weight"), beta = h.value("bias");
  auto& layer = h.layer;
  ref::FdOptions fd;
  fd.h = g.count() < 10 ? 1e-3 : 1e-2;  // normalising a few values is strongly non-linear
  fd.atol = 2e-4;  // with batch 2 and one value per sample, dL/dx is exactly 0: only noise remains
  REQUIRE(h.buffers.size() == 2);
  CHECK(h.buffers[0].name == "running_mean");
  CHECK(h.buffers[1].name == "running_var");

  // Fresh running statistics: mean 0, variance 1.
  for (float v : layer.running_mean().span()) REQUIRE(v == 0.f);
  for (float v : layer.running_var().span()) REQUIRE(v == 1.f);

  SUBCASE("training: batch statistics, running statistics updated as PyTorch does") {
    offset_input(h, 3.f);
    ref::Vec rm(C, 0.0), rv(C, 1.0);
    const ref::Vec x1 = h.input();
    ref::expect_close(h.forward(Mode::train).span(), ref::batchnorm_train(g, x1, gamma, beta, rm, rv), 1e-4, 1e-5,
                      "forward (train)");
    ref::expect_close(layer.running_mean().span(), rm, 1e-5, 1e-6, "running_mean after one step");
    ref::expect_close(layer.running_var().span(), rv, 1e-5, 1e-6, "running_var after one step");
    // A second, different batch: the update compounds.
    for (std::size_t i = 0; i < h.x.size(); ++i) h.x.data()[i] = -0.5f * h.x.data()[i] + 0.25f;
    const ref::Vec x2 = h.input();
    ref::expect_close(h.forward(Mode::train).span(), ref::batchnorm_train(g, x2, gamma, beta, rm, rv), 1e-4, 1e-5,
                      "forward (train), second step");
    ref::expect_close(layer.running_mean().span(), rm, 1e-5, 1e-6, "running_mean after two steps");
    ref::expect_close(layer.running_var().span(), rv, 1e-5, 1e-6, "running_var after two steps");
    // Directly: with momentum 0.1 from (0, 1), running_var = 0.9 + 0.1 * unbiased variance.
    const ref::Vec x = h.input();
    ref::Vec m0(C, 0.0), v0(C, 1.0);
    ref::batchnorm_train(g, x, gamma, beta, m0, v0);
    for (std::size_t c = 0; c < C; ++c) {
      const double unbiased = ref::channel_var(g, x, c) * g.count() / (g.count() - 1);
      CHECK(v0[c] == doctest::Approx(0.9 + 0.1 * unbiased));
      CHECK(m0[c] == doctest::Approx(0.1 * ref::channel_mean(g, x, c)));
    }
  }

  SUBCASE("evaluation: running statistics, which stay unchanged") {
    offset_input(h, 3.f);
    ref::Vec rm(C), rv(C);
    for (std::size_t c = 0; c < C; ++c) {
      rm[c] = 0.3 * double(c) - 0.2;
      rv[c] = 0.5 + 0.75 * double(c);
      layer.running_mean().data()[c] = float(rm[c]);
      layer.running_var().data()[c] = float(rv[c]);
    }
    ref::expect_close(h.forward(Mode::eval).span(), ref::batchnorm_eval(g, h.input(), gamma, beta, rm, rv), 1e-5,
                      1e-5, "forward (eval)");
    ref::expect_close(layer.running_mean().span(), rm, 0, 1e-7, "running_mean untouched");
    ref::expect_close(layer.running_var().span(), rv, 0, 1e-7, "running_var untouched");
  }

  SUBCASE("backward in training mode") {
    const ref::Vec x = h.input();
    ref::Vec dx, dgamma, dbeta;
    ref::batchnorm_backward_train(g, x, gamma, ref::to_double(h.r.span()), dx, dgamma, dbeta);
    ref::expect_close(h.backward(Mode::train), dx, 1e-3, 1e-4, "dx (train)");
    ref::expect_close(layer.weight_grad().span(), dgamma, 1e-4, 1e-4, "dgamma (train)");
    ref::expect_close(layer.bias_grad().span(), dbeta, 1e-4, 1e-4, "dbeta (train)");
    h.check_gradients(Mode::train, fd);  // on inputs near zero: offsets would drown the differences in rounding
    offset_input(h, 3.f);
    const ref::Vec xo = h.input();
    ref::batchnorm_backward_train(g, xo, gamma, ref::to_double(h.r.span()), dx, dgamma, dbeta);
    ref::expect_close(h.backward(Mode::train), dx, 1e-3, 1e-4, "dx (train, offset input)");
    ref::expect_close(layer.weight_grad().span(), dgamma, 1e-4, 1e-4, "dgamma (train, offset input)");
  }

  SUBCASE("backward in evaluation mode") {
    for (std::size_t c = 0; c < C; ++c) {
      layer.running_mean().data()[c] = 0.5f * float(c);
      layer.running_var().data()[c] = 0.25f + float(c);
    }
    const ref::Vec rm = ref::to_double(layer.running_mean().span()), rv = ref::to_double(layer.running_var().span());
    ref::Vec dx, dgamma, dbeta;
    ref::batchnorm_backward_eval(g, h.input(), gamma, rm, rv, ref::to_double(h.r.span()), dx, dgamma, dbeta);
    ref::expect_close(h.backward(Mode::eval), dx, 1e-4, 1e-5, "dx (eval)");
    ref::expect_close(layer.weight_grad().span(), dgamma, 1e-4, 1e-4, "dgamma (eval)");
    ref::expect_close(layer.bias_grad().span(), dbeta, 1e-4, 1e-4, "dbeta (eval)");
    h.check_gradients(Mode::eval, fd);
  }

  SUBCASE("evaluation after a training step uses the updated running statistics, forward and backward") {
    h.forward(Mode::train);
    const ref::Vec rm = ref::to_double(layer.running_mean().span()), rv = ref::to_double(layer.running_var().span());
    ref::Vec dx, dgamma, dbeta;
    ref::batchnorm_backward_eval(g, h.input(), gamma, rm, rv, ref::to_double(h.r.span()), dx, dgamma, dbeta);
    ref::expect_close(h.backward(Mode::eval), dx, 1e-4, 1e-5, "dx (eval after train)");
    ref::expect_close(layer.weight_grad().span(), dgamma, 1e-4, 1e-4, "dgamma (eval after train)");
  }
}

}  // namespace

TEST_CASE("BatchNorm: shapes, parameter count, initial state") {
  static_assert(std::is_same_v<output_shape_t<BatchNorm<3>, Shape<3, 7, 5>>, Shape<3, 7, 5>>);
  static_assert(parameter_count_v<BatchNorm<64>, Shape<64, 8, 8>> == 128);
  Rng rng(1);
  layer_t<BatchNorm<4>, Shape<4, 2, 2>> bn(2, rng);
  for (float v : bn.weight().span()) CHECK(v == 1.f);
  for (float v : bn.bias().span()) CHECK(v == 0.f);
  Collector c;
  bn.collect(c);
  REQUIRE(c.parameters().size() == 2);
  CHECK(c.parameters()[0].name == "weight");
  CHECK(c.parameters()[0].kind == ParamKind::norm_weight);
  CHECK(c.parameters()[1].name == "bias");
  CHECK(c.parameters()[1].kind == ParamKind::norm_bias);
}

TEST_CASE("BatchNorm on C x H x W against the reference, batch 1 and 3") {
  check_batchnorm<3, Shape<3, 7, 5>>(1);
  check_batchnorm<3, Shape<3, 7, 5>>(3);
  check_batchnorm<2, Shape<2, 1, 2>>(2);  // four values per channel
  check_batchnorm<8, Shape<8, 40, 40>>(3);  // large enough for the threaded statistics and apply
}

TEST_CASE("BatchNorm on flat features (BatchNorm1d) against the reference") {
  check_batchnorm<5, Shape<5>>(3);
  check_batchnorm<5, Shape<5>>(2);  // the smallest batch that trains: unbiased variance divides by 1
}

TEST_CASE("BatchNorm: the batch variance keeps its digits far from zero and with one image far from the rest") {
  // The statistics take one pass, shifted by the mean of the first image's plane. Channel 0 has
  // mean 1e4 and variance about 1/3 (unshifted, sum x^2 - (sum x)^2 / M in float would leave no
  // digit of it); in channel 1 that first plane lies 1000 away from the others (the largest
  // cancellation the shift allows); channel 2 is constant.
  using S = Shape<3, 4, 4>;
  constexpr std::size_t batch = 8, C = 3, HW = 16;
  Rng rng(3);
  layer_t<BatchNorm<C>, S> bn(batch, rng);
  Tensor<S> x(batch);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t j = 0; j < HW; ++j) {
      float* v = x.data() + n * C * HW + j;
      v[0] = 1e4f + rng.uniform(-1, 1);
      v[HW] = (n == 0 ? 1000.f : 0.f) + rng.uniform(-1, 1);
      v[2 * HW] = 7.5f;
    }
  const ref::BnGeom g{batch, C, HW};
  const ref::Vec xd = ref::to_double(x.span()), gamma(C, 1.0), beta(C, 0.0);
  ref::Vec rm(C, 0.0), rv(C, 1.0);
  const ref::Vec y = ref::batchnorm_train(g, xd, gamma, beta, rm, rv);
  // y = (x - mean) * invstd: in channel 0 x and the mean carry float's rounding at 1e4 (1e-3).
  ref::expect_close(bn.forward(x, Mode::train).span(), y, 1e-4, 2e-3, "forward");
  for (std::size_t c = 0; c < C; ++c) {
    CAPTURE(c);
    // running_var = 0.9 + 0.1 * the unbiased variance: the variance, recovered from it.
    const double unbiased = ref::channel_var(g, xd, c) * double(g.count()) / double(g.count() - 1);
    const double got = (double(bn.running_var().data()[c]) - 0.9) / 0.1;
    CHECK(std::abs(got - unbiased) <= 1e-4 * unbiased + 1e-5);  // (+ running_var's float rounding, / 0.1)
    CHECK(bn.running_mean().data()[c] == doctest::Approx(rm[c]).epsilon(1e-6));
  }
}

TEST_CASE("BatchNorm: training with one value per channel throws ctnn::Error; evaluation works") {
  Rng rng(1);
  layer_t<BatchNorm<4>, Shape<4>> flat(2, rng);
  layer_t<BatchNorm<4>, Shape<4, 1, 1>> spatial(2, rng);
  Tensor<Shape<4>> x(2, 1);
  Tensor<Shape<4, 1, 1>> x2(2, 1);
  x.fill(1.f);
  x2.fill(1.f);
  CHECK_THROWS_AS(flat.forward(x, Mode::train), Error);
  CHECK_THROWS_WITH(spatial.forward(x2, Mode::train), doctest::Contains("more than one value per channel"));
  CHECK(flat.running_var().data()[0] == 1.f);  // nothing was updated
  const auto& y = flat.forward(x, Mode::eval);
  CHECK(y(0, 2) == doctest::Approx(1.0 / std::sqrt(1.0 + 1e-5)));
  x.set_batch(2);
  x.fill(2.f);
  CHECK_NOTHROW(flat.forward(x, Mode::train));
  // A constant batch: mean 2, variance 0, output beta = 0.
  CHECK(flat.forward(x, Mode::train)(1, 3) == 0.f);
}

TEST_CASE("BatchNorm: backward before forward throws ctnn::Error") {
  Rng rng(1);
  layer_t<BatchNorm<2>, Shape<2, 3, 3>> bn(2, rng);
  Tensor<Shape<2, 3, 3>> dy(2);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(bn.backward(dy), "ctnn::BatchNorm::backward called before forward", Error);
}

TEST_CASE("BatchNorm::mask_with_relu: its backward is a ReLU's backward followed by the batch norm's, bit for bit") {
  // Half of each channel's values sit on the channel's mean, where the batch-norm output is zero
  // (channel 0: mean and offset exactly 0) or zero up to rounding (the others): there the mask
  // recomputed from x must decide as the forward ReLU did.
  using S = Shape<3, 4, 4>;
  const std::size_t batch = 2;
  Rng rng(5);
  layer_t<BatchNorm<3>, S> plain(batch, rng), masking(batch, rng);
  layer_t<ReLU, S> relu(batch, rng);
  masking.mask_with_relu();
  const float gamma[3] = {1.3f, -0.7f, 0.9f};
  for (auto* bn : {&plain, &masking}) {
    for (std::size_t c = 0; c < 3; ++c) bn->weight().data()[c] = gamma[c];
    bn->bias().data()[2] = 0.25f;
  }
  Tensor<S> x(batch), dy(batch);
  const float step[4] = {0.f, 0.f, 1.f, -1.f};
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c = i / 16 % 3;
    x.data()[i] = 0.375f * float(c) + 0.25f * step[i % 4] * float(1 + i / 4 % 3);
  }
  for (auto& v : dy.span()) v = rng.uniform(-1, 1);
  auto grads = [](auto& bn) {
    std::vector<float> g(bn.weight_grad().span().begin(), bn.weight_grad().span().end());
    g.insert(g.end(), bn.bias_grad().span().begin(), bn.bias_grad().span().end());
    bn.weight_grad().zero();
    bn.bias_grad().zero();
    return g;
  };
  for (const Mode mode : {Mode::train, Mode::eval}) {
    for (const bool need_dx : {true, false}) {
      CAPTURE(int(mode));
      CAPTURE(need_dx);
      std::size_t zeros = 0;
      for (float v : relu.forward(plain.forward(x, mode), mode).span()) zeros += v == 0.f;
      CHECK(zeros > x.size() / 4);  // the ReLU cuts
      masking.forward(x, mode);
      const auto& dx1 = plain.backward(relu.backward(dy), need_dx);
      const auto& dx2 = masking.backward(dy, need_dx);
      CHECK(grads(plain) == grads(masking));
      if (need_dx) CHECK(std::equal(dx1.span().begin(), dx1.span().end(), dx2.span().begin()));
    }
  }
}
