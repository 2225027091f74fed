#pragma once
// The per-channel arithmetic of batch normalisation over NHWC data (Precision::bf16/fp16), the
// bodies of the small kernels that turn a channel's sums into its coefficients
// (backend/cuda/batchnorm.hpp). The same float and double operations, in the same order, as the
// CPU backend (backend/cpu/batchnorm.hpp), so that both give the same coefficients from the same
// sums; tests/cuda_host/batch_norm_channel.cpp checks that on the CPU. No CUDA header.
//
//   training forward   mean = sum x / M, then var = sum (x - mean)^2 / M (two passes), or from one
//                      pass of shifted sums (bn_moments_shifted); y = x * scale + shift, running
//                      statistics with the unbiased variance
//   evaluation         the running statistics instead
//   backward           dbeta += sum dy, dgamma += sum dy (x - mean) invstd,
//                      dx = dy * k1 + x * k2 + k3

#include <cmath>

#include "../../../core/config.hpp"

namespace ctnn::cuda::detail {

struct BnForwardChannel {
  float invstd, scale, shift;  // y = x * scale + shift
  float running_mean, running_var;
};

// From M values of one channel: their mean (the first pass) and the sum of their squared
// deviations from it (the second).
CTNN_HD inline BnForwardChannel bn_train_channel(double M, float mean, double centered_squares, float gamma, float beta,
                                                 float running_mean, float running_var, float momentum, float eps) {
  const double var = centered_squares / M;
  const double inv = 1.0 / std::sqrt(var + double(eps));
  BnForwardChannel r;
  r.invstd = static_cast<float>(inv);
  r.scale = static_cast<float>(gamma * inv);
  r.shift = static_cast<float>(beta - mean * gamma * inv);
  r.running_mean = (1.f - momentum) * running_mean + momentum * mean;
  r.running_var = static_cast<float>((1.0 - momentum) * running_var + momentum * var * M / (M - 1));
  return r;
}

// The mean and the sum of squared deviations from one pass over a channel's M values: the sums of
// d = x - shift and of d^2, in double. `shift` is one of the channel's values (the vectorised
// kernels take the first row's), so the sums stay near the channel's spread and no large mean
// cancels in sum d^2 - (sum d)^2 / M.
struct BnMoments {
  double mean, centered_squares;
};

CTNN_HD inline BnMoments bn_moments_shifted(double M, double shift, double sum, double sum_squares) {
  const double d = sum / M;
  const double squares = sum_squares - sum * d;
  return {shift + d, squares > 0.0 ? squares : 0.0};
}

// Evaluation: the running statistics normalise (running_mean and running_var stay as they are).
CTNN_HD inline BnForwardChannel bn_eval_channel(float gamma, float beta, float running_mean, float running_var, float eps) {
  const double inv = 1.0 / std::sqrt(double(running_var) + double(eps));
  BnForwardChannel r;
  r.invstd = static_cast<float>(inv);
  r.scale = static_cast<float>(gamma * inv);
  r.shift = static_cast<float>(beta - running_mean * gamma * inv);
  r.running_mean = running_mean;
  r.running_var = running_var;
  return r;
}

struct BnBackwardChannel {
  float dgamma, dbeta;  // what the channel adds to the parameter gradients
  float k1, k2, k3;     // dx = dy * k1 + x * k2 + k3
};

// From sum dy and sum dy (x - mean) invstd over the channel's M values. `eval`: the statistics were
// constants (the running ones), so dx = dy * gamma * invstd.
CTNN_HD inline BnBackwardChannel bn_backward_channel(double M, double sum_dy, double sum_dy_xhat, float mean, float invstd,
                                                     float gamma, bool eval) {
  BnBackwardChannel r;
  r.dbeta = static_cast<float>(sum_dy);
  r.dgamma = static_cast<float>(sum_dy_xhat);
  const double inv = invstd;
  const double scale = double(gamma) * inv;
  r.k1 = static_cast<float>(scale);
  if (eval) {
    r.k2 = 0.f;
    r.k3 = 0.f;
  } else {
    const double mdy = sum_dy / M, mdyx = sum_dy_xhat / M;
    r.k2 = static_cast<float>(-scale * inv * mdyx);
    r.k3 = static_cast<float>(-scale * mdy + scale * double(mean) * inv * mdyx);
  }
  return r;
}

}  // namespace ctnn::cuda::detail
