// The per-channel bodies of the 16-bit (NHWC) batch-norm kernels (bn_train_channel,
// bn_eval_channel, bn_backward_channel) without a GPU: fed the channel sums the kernels compute,
// they give the normalised output, the running statistics, the parameter gradients and dx of a
// naive double-precision batch norm, and the CPU backend's output.
#include <ctnn/backend/cpu.hpp>
#include <ctnn/backend/cuda/portable/batch_norm_channel.hpp>
#include <ctnn/core/random.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

using namespace ctnn;
using namespace ctnn::cuda::detail;

namespace {

constexpr std::size_t N = 3, C = 5, HW = 7;
constexpr double M = double(N * HW);
constexpr float eps = 1e-5f, momentum = 0.1f;

std::size_t at(std::size_t n, std::size_t c, std::size_t j) { return (n * C + c) * HW + j; }

double rel_error(const std::vector<double>& ref, const std::vector<float>& got) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff = std::max(diff, std::fabs(double(got[i]) - ref[i]));
    scale = std::max(scale, std::fabs(ref[i]));
  }
  return diff / scale;
}

struct Data {
  std::vector<float> x, dy, gamma, beta, rmean, rvar;
  Data() : x(N * C * HW), dy(N * C * HW), gamma(C), beta(C), rmean(C), rvar(C) {
    Rng rng(17);
    for (std::size_t c = 0; c < C; ++c) {  // channels with an offset, as after a convolution
      const float offset = rng.uniform(-3.f, 3.f), spread = rng.uniform(0.2f, 2.f);
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t j = 0; j < HW; ++j) x[at(n, c, j)] = offset + spread * rng.uniform(-1.f, 1.f);
      gamma[c] = rng.uniform(0.5f, 1.5f);
      beta[c] = rng.uniform(-0.5f, 0.5f);
      rmean[c] = rng.uniform(-1.f, 1.f);
      rvar[c] = rng.uniform(0.5f, 2.f);
    }
    for (auto& v : dy) v = rng.uniform(-1.f, 1.f);
  }
};

// The reference: channel c's mean and biased variance over the batch, in double.
std::pair<double, double> batch_statistics(const Data& d, std::size_t c) {
  double m = 0, v = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < HW; ++j) m += d.x[at(n, c, j)];
  m /= M;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < HW; ++j) v += (d.x[at(n, c, j)] - m) * (d.x[at(n, c, j)] - m);
  return {m, v / M};
}

// The sums the kernels take, as they compute them: float terms, double sums.
template <class F>
double channel_sum(std::size_t c, F term) {
  double s = 0;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t j = 0; j < HW; ++j) s += double(term(at(n, c, j)));
  return s;
}

}  // namespace

TEST_CASE("bn_train_channel: the output and running statistics of a double-precision batch norm, the CPU backend's output") {
  Data d;
  std::vector<float> y(d.x.size()), rmean = d.rmean, rvar = d.rvar;
  std::vector<double> y_ref(d.x.size());
  for (std::size_t c = 0; c < C; ++c) {
    const float mean = static_cast<float>(channel_sum(c, [&](std::size_t i) { return d.x[i]; }) / M);
    const double squares = channel_sum(c, [&](std::size_t i) {
      const float v = d.x[i] - mean;
      return v * v;
    });
    const auto r = bn_train_channel(M, mean, squares, d.gamma[c], d.beta[c], rmean[c], rvar[c], momentum, eps);
    rmean[c] = r.running_mean;
    rvar[c] = r.running_var;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < HW; ++j) y[at(n, c, j)] = d.x[at(n, c, j)] * r.scale + r.shift;

    const auto [m, v] = batch_statistics(d, c);  // the reference, in double
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < HW; ++j)
        y_ref[at(n, c, j)] = d.gamma[c] * (d.x[at(n, c, j)] - m) / std::sqrt(v + eps) + d.beta[c];
    CHECK(r.invstd == doctest::Approx(1.0 / std::sqrt(v + eps)).epsilon(1e-6));
    CHECK(rmean[c] == doctest::Approx(0.9 * d.rmean[c] + 0.1 * m).epsilon(1e-6));
    CHECK(rvar[c] == doctest::Approx(0.9 * d.rvar[c] + 0.1 * v * M / (M - 1)).epsilon(1e-6));
  }
  CHECK(rel_error(y_ref, y) <= 1e-6);

  // The CPU backend, from the same data: the same arithmetic (its sums add in another order, so to
  // the last bit or two).
  backend::cpu::BatchNorm cpu(C, HW, N);
  std::vector<float> y_cpu(d.x.size()), rmean_cpu = d.rmean, rvar_cpu = d.rvar;
  cpu.forward_train(d.x.data(), y_cpu.data(), d.gamma.data(), d.beta.data(), rmean_cpu.data(), rvar_cpu.data(), N,
                    momentum, eps);
  auto to_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  CHECK(rel_error(to_double(y_cpu), y) <= 1e-6);
  CHECK(rel_error(to_double(rmean_cpu), rmean) <= 1e-6);
  CHECK(rel_error(to_double(rvar_cpu), rvar) <= 1e-6);
}

TEST_CASE("bn_eval_channel: the running statistics normalise, as on the CPU backend") {
  Data d;
  std::vector<float> y(d.x.size());
  std::vector<double> y_ref(d.x.size());
  for (std::size_t c = 0; c < C; ++c) {
    const auto r = bn_eval_channel(d.gamma[c], d.beta[c], d.rmean[c], d.rvar[c], eps);
    CHECK(r.running_mean == d.rmean[c]);
    CHECK(r.running_var == d.rvar[c]);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t j = 0; j < HW; ++j) {
        const std::size_t i = at(n, c, j);
        y[i] = d.x[i] * r.scale + r.shift;
        y_ref[i] = d.gamma[c] * (double(d.x[i]) - d.rmean[c]) / std::sqrt(double(d.rvar[c]) + eps) + d.beta[c];
      }
  }
  CHECK(rel_error(y_ref, y) <= 1e-6);
  backend::cpu::BatchNorm cpu(C, HW, N);
  std::vector<float> y_cpu(d.x.size());
  cpu.forward_eval(d.x.data(), y_cpu.data(), d.gamma.data(), d.beta.data(), d.rmean.data(), d.rvar.data(), N, eps);
  CHECK(y_cpu == y);
}

TEST_CASE("bn_backward_channel: dx and the parameter gradients of a double-precision batch norm, training and evaluation") {
  Data d;
  for (bool eval : {false, true}) {
    CAPTURE(eval);
    std::vector<float> dx(d.x.size());
    std::vector<double> dx_ref(d.x.size());
    for (std::size_t c = 0; c < C; ++c) {
      // The statistics forward saved: the batch's (float, as the kernels keep them) or the running ones.
      const auto [m, v] = batch_statistics(d, c);
      const float mean = eval ? d.rmean[c] : static_cast<float>(m);
      const float invstd = static_cast<float>(1.0 / std::sqrt((eval ? double(d.rvar[c]) : v) + eps));
      const double sum_dy = channel_sum(c, [&](std::size_t i) { return d.dy[i]; });
      const double sum_dy_xhat = channel_sum(c, [&](std::size_t i) { return d.dy[i] * (d.x[i] - mean) * invstd; });
      const auto r = bn_backward_channel(M, sum_dy, sum_dy_xhat, mean, invstd, d.gamma[c], eval);
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t j = 0; j < HW; ++j) {
          const std::size_t i = at(n, c, j);
          dx[i] = d.dy[i] * r.k1 + d.x[i] * r.k2 + r.k3;
        }

      // The reference: xhat = (x - mu) / sigma with the statistics in double.
      const double mu = eval ? double(d.rmean[c]) : m, sigma = std::sqrt((eval ? double(d.rvar[c]) : v) + eps);
      double s_dy = 0, s_dy_xhat = 0;
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t j = 0; j < HW; ++j) {
          const std::size_t i = at(n, c, j);
          s_dy += d.dy[i];
          s_dy_xhat += d.dy[i] * (d.x[i] - mu) / sigma;
        }
      CHECK(r.dbeta == doctest::Approx(s_dy).epsilon(1e-6));
      CHECK(r.dgamma == doctest::Approx(s_dy_xhat).epsilon(1e-5));
      for (std::size_t n = 0; n < N; ++n)
        for (std::size_t j = 0; j < HW; ++j) {
          const std::size_t i = at(n, c, j);
          const double xhat = (d.x[i] - mu) / sigma;
          dx_ref[i] = eval ? d.gamma[c] * d.dy[i] / sigma
                           : d.gamma[c] / sigma * (d.dy[i] - s_dy / M - xhat * s_dy_xhat / M);
        }
    }
    CHECK(rel_error(dx_ref, dx) <= 1e-5);
  }
}

TEST_CASE("bn_moments_shifted: one pass of shifted sums gives the two-pass mean and squared deviations") {
  // A channel far from zero with a small spread, the case where sum x^2 - (sum x)^2 / M cancels.
  Rng rng(5);
  constexpr std::size_t count = 4096;
  std::vector<float> x(count);
  for (auto& v : x) v = 1000.f + 0.01f * rng.uniform(-1.f, 1.f);
  double mean = 0, squares = 0;
  for (float v : x) mean += v;
  mean /= count;
  for (float v : x) squares += (v - mean) * (v - mean);

  const double shift = x[0];  // the kernels' choice: the first row's value
  double sum = 0, sum_squares = 0;
  for (float v : x) {
    const double d = double(v - float(shift));
    sum += d;
    sum_squares += d * d;
  }
  const BnMoments m = bn_moments_shifted(double(count), shift, sum, sum_squares);
  CHECK(m.mean == doctest::Approx(mean).epsilon(1e-12));
  CHECK(m.centered_squares == doctest::Approx(squares).epsilon(1e-6));

  // One value, or equal values: no spread, and never a negative one from rounding.
  CHECK(bn_moments_shifted(1.0, 3.0, 0.0, 0.0).centered_squares == 0.0);
  CHECK(bn_moments_shifted(1.0, 3.0, 0.0, 0.0).mean == 3.0);
  CHECK(bn_moments_shifted(3.0, 0.0, 0.3, 0.03 - 1e-18).centered_squares >= 0.0);
}
