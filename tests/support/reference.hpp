#pragma once
// Test support: naive double-precision reference implementations of the CPU layers (NCHW, one
// loop per index, no cleverness) and a central finite-difference gradient checker.
//
// Conventions: tensors are flat std::vector<double> in NCHW order; a layer's backward takes dy and
// returns/fills dx and the parameter gradients (overwritten, not accumulated).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <ctnn/core/random.hpp>

namespace ref {

using Vec = std::vector<double>;
using std::size_t;

inline Vec to_double(std::span<const float> v) { return Vec(v.begin(), v.end()); }

// ---- random data ------------------------------------------------------------------------------

// Uniform values in [lo, hi).
inline std::vector<float> uniform(size_t n, ctnn::Rng& rng, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

// Distinct values, at least `gap` apart, in random order: keeps max pooling and ReLU away from
// ties and kinks, so that finite differences with a step below gap / 2 see a smooth function.
inline std::vector<float> distinct(size_t n, ctnn::Rng& rng, float gap = 0.01f) {
  std::vector<float> v(n);
  // (i - n/2 + 1/2) * gap with n/2 rounded down: half-integer multiples of gap, never 0.
  for (size_t i = 0; i < n; ++i) v[i] = (static_cast<float>(i) - static_cast<float>(n / 2) + 0.5f) * gap;
  for (size_t i = n; i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
  return v;
}

// ---- comparison -------------------------------------------------------------------------------

// Checks |actual - expected| <= atol + rtol * |expected| element-wise; reports the worst element.
template <class Actual>
void expect_close(const Actual& actual, const Vec& expected, double rtol, double atol, const std::string& what) {
  REQUIRE_MESSAGE(actual.size() == expected.size(), what << ": size " << actual.size() << " vs " << expected.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double diff = std::abs(double(actual[i]) - expected[i]);
    const double err = diff == 0 ? 0.0 : diff / (atol + rtol * std::abs(expected[i]));
    if (!(err <= worst)) {  // also catches NaN
      worst = err;
      at = i;
    }
  }
  INFO(what << ": worst element " << at << ": got " << (expected.empty() ? 0.0 : double(actual[at])) << ", expected "
            << (expected.empty() ? 0.0 : expected[at]) << " (error " << worst << " x tolerance)");
  CHECK(worst <= 1.0);
}

// ---- convolution ------------------------------------------------------------------------------

struct ConvGeom {
  size_t N, C, H, W, O, K, S, P, G = 1;  // G groups of C / G input and O / G output channels
  size_t Ho() const { return (H + 2 * P - K) / S + 1; }
  size_t Wo() const { return (W + 2 * P - K) / S + 1; }
  size_t Cg() const { return C / G; }  // input channels per group
  // Input row/column of output position o and kernel offset k, or -1 in the padding.
  std::ptrdiff_t in(size_t o, size_t k, size_t extent) const {
    const auto i = std::ptrdiff_t(o * S + k) - std::ptrdiff_t(P);
    return i >= 0 && i < std::ptrdiff_t(extent) ? i : -1;
  }
};

// y[n,o,i,j] = sum_{c,kh,kw} w[o,c,kh,kw] x[n,g*Cg+c,i*S-P+kh,j*S-P+kw], g = o / (O / G) the
// output channel's group and c over its Cg input channels.
inline Vec conv2d(const ConvGeom& g, const Vec& x, const Vec& w) {
  Vec y(g.N * g.O * g.Ho() * g.Wo(), 0.0);
  for (size_t n = 0; n < g.N; ++n)
    for (size_t o = 0; o < g.O; ++o)
      for (size_t i = 0; i < g.Ho(); ++i)
        for (size_t j = 0; j < g.Wo(); ++j) {
          const size_t first = o / (g.O / g.G) * g.Cg();
          double s = 0;
          for (size_t c = 0; c < g.Cg(); ++c)
            for (size_t kh = 0; kh < g.K; ++kh)
              for (size_t kw = 0; kw < g.K; ++kw) {
                const auto ih = g.in(i, kh, g.H), iw = g.in(j, kw, g.W);
                if (ih < 0 || iw < 0) continue;
                s += w[((o * g.Cg() + c) * g.K + kh) * g.K + kw] * x[((n * g.C + first + c) * g.H + ih) * g.W + iw];
              }
          y[((n * g.O + o) * g.Ho() + i) * g.Wo() + j] = s;
        }
  return y;
}

inline void conv2d_backward(const ConvGeom& g, const Vec& x, const Vec& w, const Vec& dy, Vec& dx, Vec& dw) {
  dx.assign(x.size(), 0.0);
  dw.assign(w.size(), 0.0);
  for (size_t n = 0; n < g.N; ++n)
    for (size_t o = 0; o < g.O; ++o)
      for (size_t i = 0; i < g.Ho(); ++i)
        for (size_t j = 0; j < g.Wo(); ++j) {
          const size_t first = o / (g.O / g.G) * g.Cg();
          const double d = dy[((n * g.O + o) * g.Ho() + i) * g.Wo() + j];
          for (size_t c = 0; c < g.Cg(); ++c)
            for (size_t kh = 0; kh < g.K; ++kh)
              for (size_t kw = 0; kw < g.K; ++kw) {
                const auto ih = g.in(i, kh, g.H), iw = g.in(j, kw, g.W);
                if (ih < 0 || iw < 0) continue;
                const size_t xi = ((n * g.C + first + c) * g.H + ih) * g.W + iw;
                const size_t wi = ((o * g.Cg() + c) * g.K + kh) * g.K + kw;
                dx[xi] += w[wi] * d;
                dw[wi] += x[xi] * d;
              }
        }
}

// y[n, c, j] + b[c] over planes of `plane` values, and the bias gradient sum_{n, j} dy[n, c, j].
inline Vec add_bias(const Vec& y, const Vec& b, size_t plane) {
  Vec out = y;
  for (size_t i = 0; i < out.size(); ++i) out[i] += b[(i / plane) % b.size()];
  return out;
}
inline Vec bias_grad(const Vec& dy, size_t channels, size_t plane) {
  Vec db(channels, 0.0);
  for (size_t i = 0; i < dy.size(); ++i) db[(i / plane) % channels] += dy[i];
  return db;
}

// ---- batch normalisation (PyTorch semantics) ----------------------------------------------------

struct BnGeom {
  size_t N, C, HW;
  size_t at(size_t n, size_t c, size_t j) const { return (n * C + c) * HW + j; }
  double count() const { return double(N * HW); }
};

inline double channel_mean(const BnGeom& g, const Vec& x, size_t c) {
  double s = 0;
  for (size_t n = 0; n < g.N; ++n)
    for (size_t j = 0; j < g.HW; ++j) s += x[g.at(n, c, j)];
  return s / g.count();
}
// Biased (divides by the count).
inline double channel_var(const BnGeom& g, const Vec& x, size_t c) {
  const double m = channel_mean(g, x, c);
  double s = 0;
  for (size_t n = 0; n < g.N; ++n)
    for (size_t j = 0; j < g.HW; ++j) s += (x[g.at(n, c, j)] - m) * (x[g.at(n, c, j)] - m);
  return s / g.count();
}

// Normalises with the batch statistics and updates the running ones:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased)
inline Vec batchnorm_train(const BnGeom& g, const Vec& x, const Vec& gamma, const Vec& beta, Vec& running_mean,
                           Vec& running_var, double momentum = 0.1, double eps = 1e-5) {
  Vec y(x.size());
  for (size_t c = 0; c < g.C; ++c) {
    const double m = channel_mean(g, x, c), v = channel_var(g, x, c);
    for (size_t n = 0; n < g.N; ++n)
      for (size_t j = 0; j < g.HW; ++j)
        y[g.at(n, c, j)] = gamma[c] * (x[g.at(n, c, j)] - m) / std::sqrt(v + eps) + beta[c];
    running_mean[c] = (1 - momentum) * running_mean[c] + momentum * m;
    running_var[c] = (1 - momentum) * running_var[c] + momentum * v * g.count() / (g.count() - 1);
  }
  return y;
}

inline Vec batchnorm_eval(const BnGeom& g, const Vec& x, const Vec& gamma, const Vec& beta, const Vec& running_mean,
                          const Vec& running_var, double eps = 1e-5) {
  Vec y(x.size());
  for (size_t c = 0; c < g.C; ++c)
    for (size_t n = 0; n < g.N; ++n)
      for (size_t j = 0; j < g.HW; ++j)
        y[g.at(n, c, j)] = gamma[c] * (x[g.at(n, c, j)] - running_mean[c]) / std::sqrt(running_var[c] + eps) + beta[c];
  return y;
}

// Training mode: the batch statistics depend on x.
//   dx = gamma / sigma * (dy - mean(dy) - xhat * mean(dy * xhat))
inline void batchnorm_backward_train(const BnGeom& g, const Vec& x, const Vec& gamma, const Vec& dy, Vec& dx,
                                     Vec& dgamma, Vec& dbeta, double eps = 1e-5) {
  dx.assign(x.size(), 0.0);
  dgamma.assign(g.C, 0.0);
  dbeta.assign(g.C, 0.0);
  for (size_t c = 0; c < g.C; ++c) {
    const double m = channel_mean(g, x, c), sigma = std::sqrt(channel_var(g, x, c) + eps);
    double sdy = 0, sdyx = 0;
    for (size_t n = 0; n < g.N; ++n)
      for (size_t j = 0; j < g.HW; ++j) {
        const size_t i = g.at(n, c, j);
        sdy += dy[i];
        sdyx += dy[i] * (x[i] - m) / sigma;
      }
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
    for (size_t n = 0; n < g.N; ++n)
      for (size_t j = 0; j < g.HW; ++j) {
        const size_t i = g.at(n, c, j);
        dx[i] = gamma[c] / sigma * (dy[i] - sdy / g.count() - (x[i] - m) / sigma * sdyx / g.count());
      }
  }
}

// Evaluation mode: the running statistics are constants.
inline void batchnorm_backward_eval(const BnGeom& g, const Vec& x, const Vec& gamma, const Vec& running_mean,
                                    const Vec& running_var, const Vec& dy, Vec& dx, Vec& dgamma, Vec& dbeta,
                                    double eps = 1e-5) {
  dx.assign(x.size(), 0.0);
  dgamma.assign(g.C, 0.0);
  dbeta.assign(g.C, 0.0);
  for (size_t c = 0; c < g.C; ++c) {
    const double sigma = std::sqrt(running_var[c] + eps);
    for (size_t n = 0; n < g.N; ++n)
      for (size_t j = 0; j < g.HW; ++j) {
        const size_t i = g.at(n, c, j);
        dbeta[c] += dy[i];
        dgamma[c] += dy[i] * (x[i] - running_mean[c]) / sigma;
        dx[i] = gamma[c] / sigma * dy[i];
      }
  }
}

// ---- element-wise -----------------------------------------------------------------------------

inline Vec relu(const Vec& x) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : 0.0;
  return y;
}
inline Vec relu_backward(const Vec& x, const Vec& dy) {
  Vec dx(x.size());
  for (size_t i = 0; i < x.size(); ++i) dx[i] = x[i] > 0 ? dy[i] : 0.0;
  return dx;
}
// Element-wise activations in double and their derivatives f'(x).
inline Vec map(const Vec& x, double (*f)(double)) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
  return y;
}
inline double leaky_relu(double x, double slope) { return x > 0 ? x : slope * x; }
inline double gelu(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
inline double gelu_grad(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * 3.14159265358979323846);
}
inline double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
inline double sigmoid_grad(double x) { return sigmoid(x) * (1 - sigmoid(x)); }
inline double tanh_grad(double x) { return 1 - std::tanh(x) * std::tanh(x); }

inline Vec add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

// ---- pooling ----------------------------------------------------------------------------------

// Pooling uses ConvGeom with O == C (one window per channel).
// Max: padding never wins (PyTorch pads with -inf); the first maximum in scan order wins a tie.
inline Vec max_pool(const ConvGeom& g, const Vec& x, std::vector<size_t>* argmax = nullptr) {
  Vec y(g.N * g.C * g.Ho() * g.Wo());
  if (argmax) argmax->assign(y.size(), 0);
  for (size_t p = 0; p < g.N * g.C; ++p)
    for (size_t i = 0; i < g.Ho(); ++i)
      for (size_t j = 0; j < g.Wo(); ++j) {
        double best = -std::numeric_limits<double>::infinity();
        size_t arg = 0;
        for (size_t kh = 0; kh < g.K; ++kh)
          for (size_t kw = 0; kw < g.K; ++kw) {
            const auto ih = g.in(i, kh, g.H), iw = g.in(j, kw, g.W);
            if (ih < 0 || iw < 0) continue;
            const size_t xi = (p * g.H + ih) * g.W + iw;
            if (x[xi] > best) {
              best = x[xi];
              arg = xi;
            }
          }
        const size_t yi = (p * g.Ho() + i) * g.Wo() + j;
        y[yi] = best;
        if (argmax) (*argmax)[yi] = arg;
      }
  return y;
}
inline Vec max_pool_backward(const ConvGeom& g, const Vec& x, const Vec& dy) {
  std::vector<size_t> argmax;
  max_pool(g, x, &argmax);
  Vec dx(x.size(), 0.0);
  for (size_t i = 0; i < dy.size(); ++i) dx[argmax[i]] += dy[i];
  return dx;
}

// Average: padded positions count as zeros (count_include_pad = True): divides by K*K.
inline Vec avg_pool(const ConvGeom& g, const Vec& x) {
  Vec y(g.N * g.C * g.Ho() * g.Wo(), 0.0);
  for (size_t p = 0; p < g.N * g.C; ++p)
    for (size_t i = 0; i < g.Ho(); ++i)
      for (size_t j = 0; j < g.Wo(); ++j) {
        double s = 0;
        for (size_t kh = 0; kh < g.K; ++kh)
          for (size_t kw = 0; kw < g.K; ++kw) {
            const auto ih = g.in(i, kh, g.H), iw = g.in(j, kw, g.W);
            if (ih >= 0 && iw >= 0) s += x[(p * g.H + ih) * g.W + iw];
          }
        y[(p * g.Ho() + i) * g.Wo() + j] = s / double(g.K * g.K);
      }
  return y;
}
inline Vec avg_pool_backward(const ConvGeom& g, const Vec& dy) {
  Vec dx(g.N * g.C * g.H * g.W, 0.0);
  for (size_t p = 0; p < g.N * g.C; ++p)
    for (size_t i = 0; i < g.Ho(); ++i)
      for (size_t j = 0; j < g.Wo(); ++j)
        for (size_t kh = 0; kh < g.K; ++kh)
          for (size_t kw = 0; kw < g.K; ++kw) {
            const auto ih = g.in(i, kh, g.H), iw = g.in(j, kw, g.W);
            if (ih >= 0 && iw >= 0) dx[(p * g.H + ih) * g.W + iw] += dy[(p * g.Ho() + i) * g.Wo() + j] / double(g.K * g.K);
          }
  return dx;
}

// [N, C, HW] -> [N, C]
inline Vec global_avg_pool(size_t planes, size_t HW, const Vec& x) {
  Vec y(planes, 0.0);
  for (size_t p = 0; p < planes; ++p) {
    for (size_t j = 0; j < HW; ++j) y[p] += x[p * HW + j];
    y[p] /= double(HW);
  }
  return y;
}
inline Vec global_avg_pool_backward(size_t planes, size_t HW, const Vec& dy) {
  Vec dx(planes * HW);
  for (size_t p = 0; p < planes; ++p)
    for (size_t j = 0; j < HW; ++j) dx[p * HW + j] = dy[p] / double(HW);
  return dx;
}

// ---- fully connected --------------------------------------------------------------------------

// y[n,o] = b[o] + sum_i w[o,i] x[n,i]
inline Vec linear(size_t N, size_t In, size_t Out, const Vec& x, const Vec& w, const Vec& b) {
  Vec y(N * Out);
  for (size_t n = 0; n < N; ++n)
    for (size_t o = 0; o < Out; ++o) {
      double s = b[o];
      for (size_t i = 0; i < In; ++i) s += w[o * In + i] * x[n * In + i];
      y[n * Out + o] = s;
    }
  return y;
}
inline void linear_backward(size_t N, size_t In, size_t Out, const Vec& x, const Vec& w, const Vec& dy, Vec& dx,
                            Vec& dw, Vec& db) {
  dx.assign(N * In, 0.0);
  dw.assign(Out * In, 0.0);
  db.assign(Out, 0.0);
  for (size_t n = 0; n < N; ++n)
    for (size_t o = 0; o < Out; ++o) {
      db[o] += dy[n * Out + o];
      for (size_t i = 0; i < In; ++i) {
        dx[n * In + i] += w[o * In + i] * dy[n * Out + o];
        dw[o * In + i] += x[n * In + i] * dy[n * Out + o];
      }
    }
}

// ---- finite differences -----------------------------------------------------------------------

struct FdOptions {
  double h = 1e-2;          // step (absolute: inputs and parameters are O(1) here)
  double rtol = 1e-2;       // allowed error relative to the larger of |analytic|, |fd| and floor
  double floor_frac = 0.05; // floor = floor_frac * rms(analytic): relative slack for tiny entries
  double atol = 1e-5;       // absolute slack per element (the float forward's rounding / step)
  bool kinks = false;       // ReLU or max pooling inside: a one-sided difference may vouch (below)
  size_t max_points = 24;   // elements probed per tensor (all when the tensor is smaller)
  std::uint64_t seed = 7;   // which elements are probed
};

// Compares an analytic gradient of a scalar loss() with respect to the float values in `value`
// against finite differences, for up to max_points elements and for the directional derivative
// along a random +-1 vector (which sees every element at once). loss() runs the forward pass.
//
// The central difference (L(+h) - L(-h)) / 2h is the estimate. With `kinks`, a ReLU input or a
// max-pooling tie within h of the point bends L on one side only; then the one-sided difference
// on the other side is accurate instead, so a match with either one-sided difference also passes.
// A wrong gradient matches none of the three.
template <class Loss>
void check_gradient(Loss&& loss, float* value, const Vec& analytic, const FdOptions& o, const std::string& what) {
  const size_t n = analytic.size();
  REQUIRE(n > 0);
  double rms = 0;
  for (double g : analytic) rms += g * g;
  rms = std::sqrt(rms / double(n));
  const double floor = std::max(o.floor_frac * rms, 1e-6);
  const double L0 = o.kinks ? loss() : 0.0;

  // Whether `expected` (a directional change over the steps up - down) agrees with the loss
  // differences; `unit` converts an error in gradient units to loss units.
  auto agrees = [&](double expected, double up, double down, double unit) {
    auto ok = [&](double got, double want) {
      return std::abs(got - want) <= o.rtol * std::max({std::abs(got), std::abs(want), floor * unit}) + o.atol * unit;
    };
    if (ok(up - down, expected)) return true;
    return o.kinks && (ok(2 * (up - L0), expected) || ok(2 * (L0 - down), expected));
  };

  ctnn::Rng rng(o.seed);
  std::vector<size_t> points(n);
  for (size_t i = 0; i < n; ++i) points[i] = i;
  for (size_t i = n; i > 1; --i) std::swap(points[i - 1], points[rng.below(i)]);
  points.resize(std::min(n, o.max_points));

  const auto step = static_cast<float>(o.h);
  for (size_t i : points) {
    const float saved = value[i], plus = saved + step, minus = saved - step;
    value[i] = plus;
    const double up = loss();
    value[i] = minus;
    const double down = loss();
    value[i] = saved;
    const double span = double(plus) - double(minus);  // the steps actually taken, in float
    INFO(what << "[" << i << "]: analytic " << analytic[i] << ", central difference " << (up - down) / span);
    CHECK(agrees(analytic[i] * span, up, down, span));
  }

  // Directional derivative along d in {-1, +1}^n.
  std::vector<float> saved(value, value + n), plus(n), minus(n);
  double expected = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = rng.below(2) ? step : -step;
    plus[i] = saved[i] + d;
    minus[i] = saved[i] - d;
    expected += analytic[i] * (double(plus[i]) - double(minus[i]));
  }
  std::copy(plus.begin(), plus.end(), value);
  const double up = loss();
  std::copy(minus.begin(), minus.end(), value);
  const double down = loss();
  std::copy(saved.begin(), saved.end(), value);
  INFO(what << ": directional derivative: analytic " << expected << ", central difference " << up - down);
  CHECK(agrees(expected, up, down, 2 * o.h * std::sqrt(double(n))));
}

}  // namespace ref
