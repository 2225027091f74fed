#pragma once
// batchnorm.hpp's definitions (core/config.hpp: separate compilation).

#include "../batchnorm.hpp"

namespace ctnn::backend::cpu {

CTNN_INLINE void BatchNorm::forward_train(const float* x, float* y, const float* gamma, const float* beta,
                                          float* running_mean, float* running_var, std::size_t batch, float momentum,
                                          float eps) {
  using namespace expr;
  double M = double(batch * HW_);  // > 1: the layer checks it (layers/batchnorm.hpp)
  const TensorLeaf<float> X{{}, x};
  // One pass for the mean and the variance: the sums of x, of d = x - shift and of d^2, the shift
  // per channel being the mean of the first image's plane (averaged over the processes when
  // synchronised, so that their sums add up). The variance is sum d^2 / M - (sum d / M)^2, and
  // (mean - shift)^2, the part that cancels, is at most the number of planes times the variance
  // (one plane's mean among them): the variance keeps nearly all of float's digits when the mean
  // is far from zero (tests/layers/batchnorm.cpp), where sum x^2 - (sum x)^2 / M would lose them.
  // The mean is sum x / M, which does not depend on the shift: a batch split over processes has
  // the mean of the whole batch on one, whatever their shifts (tests/dist's synchronised run).
  float* shift = shift_.data();
  for (std::size_t c = 0; c < C_; ++c)
    shift[c] = detail::plane_sums(c * HW_, c, HW_, X)[0] / static_cast<float>(HW_);
  double* s = shared_.data();
  if (sync_) {
    std::copy(shift, shift + C_, s);
    s[C_] = 1.0;
    sync_->sum(s, C_ + 1);
    for (std::size_t c = 0; c < C_; ++c) shift[c] = static_cast<float>(s[c] / s[C_]);
  }
  const auto d = X - channel(shift);
  detail::sum_planes({sums_.data(), dsums_.data(), sums2_.data()}, batch, C_, HW_, X, d, square(d));
  if (sync_) {  // the sums and the count of every process
    for (std::size_t c = 0; c < C_; ++c) {
      s[c] = sums_.data()[c];
      s[C_ + c] = dsums_.data()[c];
      s[2 * C_ + c] = sums2_.data()[c];
    }
    s[3 * C_] = M;
    sync_->sum(s, 3 * C_ + 1);
    for (std::size_t c = 0; c < C_; ++c) {
      sums_.data()[c] = s[c];
      dsums_.data()[c] = s[C_ + c];
      sums2_.data()[c] = s[2 * C_ + c];
    }
    M = s[3 * C_];
  }
  count_ = M;
  for (std::size_t c = 0; c < C_; ++c) {
    const double dm = dsums_.data()[c] / M;
    const double var = std::max(sums2_.data()[c] / M - dm * dm, 0.0);
    const double inv = 1.0 / std::sqrt(var + double(eps));
    mean_.data()[c] = static_cast<float>(sums_.data()[c] / M);
    invstd_.data()[c] = static_cast<float>(inv);
    scale_.data()[c] = static_cast<float>(gamma[c] * inv);
    offset_.data()[c] = static_cast<float>(beta[c] - mean_.data()[c] * gamma[c] * inv);
    running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean_.data()[c];
    running_var[c] = static_cast<float>((1.0 - momentum) * running_var[c] + momentum * var * M / (M - 1));
  }
  apply(x, y, batch);
}

CTNN_INLINE void BatchNorm::forward_eval(const float* x, float* y, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var, std::size_t batch,
                                         float eps) {
  eval_coefficients(gamma, beta, running_mean, running_var, eps);
  apply(x, y, batch);
}

CTNN_INLINE ChannelAffine BatchNorm::eval_coefficients(const float* gamma, const float* beta, const float* running_mean,
                                                       const float* running_var, float eps) {
  for (std::size_t c = 0; c < C_; ++c) {
    const double inv = 1.0 / std::sqrt(double(running_var[c]) + double(eps));
    scale_.data()[c] = static_cast<float>(gamma[c] * inv);
    offset_.data()[c] = static_cast<float>(beta[c] - running_mean[c] * gamma[c] * inv);
  }
  return {scale_.data(), offset_.data(), false};
}

CTNN_INLINE void BatchNorm::backward(const float* x, const float* dy, float* dx, const float* gamma, float* dgamma,
                                     float* dbeta, const float* running_mean, const float* running_var,
                                     std::size_t batch, float eps, bool eval, bool relu) {
  using namespace expr;
  double M = double(batch * HW_);
  if (eval) {
    for (std::size_t c = 0; c < C_; ++c) {
      mean_.data()[c] = running_mean[c];
      invstd_.data()[c] = static_cast<float>(1.0 / std::sqrt(double(running_var[c]) + double(eps)));
    }
  }
  const TensorLeaf<float> X{{}, x}, DY{{}, dy};
  if (relu)
    backward_pass(X, DY * greater(output_of(X), 0.f), dx, gamma, dgamma, dbeta, batch, M, eval);
  else
    backward_pass(X, DY, dx, gamma, dgamma, dbeta, batch, M, eval);
}

template <class XE, class GE>
CTNN_INLINE void BatchNorm::backward_pass(const XE& X, const GE& DY, float* dx, const float* gamma, float* dgamma,
                                          float* dbeta, std::size_t batch, double M, bool eval) {
  using namespace expr;
  const auto mean = channel(mean_.data());
  const auto invstd = channel(invstd_.data());
  // sum dy and sum dy * xhat, reading dy and x once
  detail::sum_planes({sums_.data(), sums2_.data()}, batch, C_, HW_, DY, DY * (X - mean) * invstd);
  for (std::size_t c = 0; c < C_; ++c) {
    dbeta[c] += static_cast<float>(sums_.data()[c]);
    dgamma[c] += static_cast<float>(sums2_.data()[c]);
  }
  if (!dx) return;
  if (sync_ && !eval) {  // dx needs the sums over the global batch; the parameters keep their own
    double* s = shared_.data();
    std::copy(sums_.data(), sums_.data() + C_, s);
    std::copy(sums2_.data(), sums2_.data() + C_, s + C_);
    sync_->sum(s, 2 * C_);
    std::copy(s, s + C_, sums_.data());
    std::copy(s + C_, s + 2 * C_, sums2_.data());
    M = count_;
  }
  // dx = scale * (dy - mean(dy) - xhat * mean(dy*xhat)) in training, scale * dy in evaluation,
  // folded into dx = dy*k1 + x*k2 + k3 so that it is one pass.
  for (std::size_t c = 0; c < C_; ++c) {
    const double inv = invstd_.data()[c];
    const double scale = double(gamma[c]) * inv;
    if (eval) {
      k1_.data()[c] = static_cast<float>(scale);
      k2_.data()[c] = 0.f;
      k3_.data()[c] = 0.f;
    } else {
      const double mdy = sums_.data()[c] / M, mdyx = sums2_.data()[c] / M;
      k1_.data()[c] = static_cast<float>(scale);
      k2_.data()[c] = static_cast<float>(-scale * inv * mdyx);
      k3_.data()[c] = static_cast<float>(-scale * mdy + scale * double(mean_.data()[c]) * inv * mdyx);
    }
  }
  detail::assign_planes(dx, batch * C_, C_, HW_, DY * channel(k1_.data()) + X * channel(k2_.data()) + channel(k3_.data()));
}

CTNN_INLINE void BatchNorm::apply(const float* x, float* y, std::size_t batch) {
  const expr::TensorLeaf<float> X{{}, x};
  detail::assign_planes(y, batch * C_, C_, HW_, output_of(X));
}

}  // namespace ctnn::backend::cpu
