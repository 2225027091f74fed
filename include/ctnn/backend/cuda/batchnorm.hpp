#pragma once
// CUDA batch normalisation, mirroring backend::cpu::BatchNorm (device pointers), spatial mode:
// statistics per channel over the batch and the spatial positions of NCHW (or NC) data.
//   forward_train  float NCHW data whose planes are a multiple of 4 positions (every ResNet layer)
//                  goes through the vectorised kernels of batchnorm_vectorized.hpp (one pass for the
//                  two sums, 16-byte loads; cuDNN's batch norm moved 0.5-0.9 TB/s on an H200), other
//                  shapes through cudnnBatchNormalizationForwardTraining with
//                  exponentialAverageFactor = momentum. Either way it normalises by the biased
//                  batch variance and folds the unbiased one
//                  (times M / (M - 1), M = batch * spatial) into the running variance, as PyTorch
//                  and the CPU backend do. (cudnn_ops.h only calls it the "moving average of
//                  variance"; the unbiased estimate is what PyTorch relies on when it delegates to
//                  cuDNN (pytorch/pytorch#19902) and what MXNet measured (apache/mxnet#21111); the
//                  GPU parity tests compare running_var with the CPU.) The batch mean and
//                  resultSaveInvVariance, which holds 1/sqrt(var + eps) despite its name
//                  (microsoft/onnxruntime#8172), are saved for backward.
//   forward_eval   cudnnBatchNormalizationForwardInference with the running statistics.
//   backward       after forward_train: the vectorised kernels when the tensors suit them, else
//                  cudnnBatchNormalizationBackward, with the saved statistics (either way the
//                  parameter gradients are accumulated: betaParamDiff = 1);
//                  in evaluation mode (eval == true) the running statistics are constants, which
//                  cuDNN's backward cannot express, so own kernels compute
//                  dgamma += sum dy * (x - mean) * invstd, dbeta += sum dy, dx = dy * gamma * invstd.
//                  The same kernels serve a training-mode backward without dx.
//   16-bit NHWC    (Precision::bf16/fp16) own kernels throughout: cuDNN's batch norm on NHWC data
//                  took 1.5 to 4 ms per layer at batch 512 on an H200 (85% of a training step).
//                  With C a multiple of 8 (every ResNet layer) the vectorised kernels of
//                  batchnorm_vectorized.hpp: one pass for each direction's two sums, 16-byte loads.
//                  Otherwise per-channel double sums over the rows (detail::sum_nhwc: coalesced
//                  across channels), forward two of them (mean, then squared deviations), backward
//                  two. Either way one small kernel for the coefficients
//                  (portable/batch_norm_channel.hpp: the CPU backend's arithmetic) and one fused
//                  element-wise pass: y = x * scale + shift, dx = dy * k1 + x * k2 + k3.
//   synchronize    synchronised batch norm (a CrossReplicaSum, host doubles): cuDNN cannot take
//                  statistics from outside, so the synchronised passes are own reductions
//                  (double sums per channel), the sums go through the host to be added over the
//                  processes, and the per-channel coefficients come back for one fused pass each
//                  way. Like the CPU backend: two sums in forward, one in backward; the parameter
//                  gradients stay this process's share. Each sum waits for the stream.

#include "check.hpp"
#include "context.hpp"
#include "descriptors.hpp"
#include "batchnorm_vectorized.hpp"
#include "buffer.hpp"
#include "half.hpp"
#include "launch.hpp"

#include <cmath>
#include <cstddef>
#include <vector>

#include "portable/batch_norm_channel.hpp"

#include "../../core/device.hpp"
#include "../../core/parameter.hpp"
#include "../../expr/nodes.hpp"
#include "evaluator.hpp"

namespace ctnn::backend::cuda {

namespace detail {

// From the running statistics: mean, invstd = 1/sqrt(var + eps) and scale = gamma * invstd.
template <class T>
__global__ void bn_eval_statistics(const T* running_mean, const T* running_var, const T* gamma, double eps, T* mean,
                                   T* invstd, T* scale, std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const double inv = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
  mean[c] = running_mean[c];
  invstd[c] = static_cast<T>(inv);
  scale[c] = static_cast<T>(static_cast<double>(gamma[c]) * inv);
}

// dbeta[c] += sum dy, dgamma[c] += invstd[c] * sum dy * (x - mean[c]); one block per channel. T is
// the data's element type (NCHW float, or NHWC 16 bits), the statistics are float.
template <class T, class S>
__global__ void bn_parameter_grads(const T* x, const T* dy, const S* mean, const S* invstd, S* dgamma, S* dbeta,
                                   std::size_t batch, std::size_t channels, std::size_t plane) {
  constexpr bool nhwc = ctnn::cuda::is_half_v<T>;
  const std::size_t c = blockIdx.x;
  const double m = mean[c];
  const std::size_t count = batch * plane;
  double s_dy = 0.0, s_dyx = 0.0;
  for (std::size_t k = threadIdx.x; k < count; k += blockDim.x) {
    const std::size_t n = k / plane, j = k - n * plane;
    const std::size_t idx = nhwc ? k * channels + c : (n * channels + c) * plane + j;
    const double g = ctnn::cuda::load(dy[idx]);
    s_dy += g;
    s_dyx += g * (static_cast<double>(ctnn::cuda::load(x[idx])) - m);
  }
  s_dy = ctnn::cuda::detail::block_sum(s_dy);
  s_dyx = ctnn::cuda::detail::block_sum(s_dyx);
  if (threadIdx.x == 0) {
    dbeta[c] += static_cast<S>(s_dy);
    dgamma[c] += static_cast<S>(s_dyx * static_cast<double>(invstd[c]));
  }
}

// The per-channel coefficient kernels of the 16-bit path, one thread per channel; `sums` holds the
// channel sums of the pass before. (Templates, as every kernel in these headers: a header's
// non-template kernel would be defined in every translation unit that includes it.)
template <class S>
__global__ void bn_mean_kernel(const double* sums, double M, S* mean, std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < channels) mean[c] = static_cast<S>(sums[c] / M);
}

template <class S>
__global__ void bn_train_kernel(const double* centered_squares, double M, const S* mean, const S* gamma, const S* beta,
                                S* running_mean, S* running_var, S momentum, S eps, S* invstd, S* scale, S* shift,
                                std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const auto r = ctnn::cuda::detail::bn_train_channel(M, mean[c], centered_squares[c], gamma[c], beta[c], running_mean[c],
                                                      running_var[c], momentum, eps);
  ctnn::cuda::detail::store_channel(r, c, invstd, scale, shift, running_mean, running_var);
}

template <class S>
__global__ void bn_eval_kernel(const S* gamma, const S* beta, const S* running_mean, const S* running_var, S eps, S* mean,
                               S* invstd, S* scale, S* shift, std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const auto r = ctnn::cuda::detail::bn_eval_channel(gamma[c], beta[c], running_mean[c], running_var[c], eps);
  mean[c] = running_mean[c];
  invstd[c] = r.invstd;
  scale[c] = r.scale;
  shift[c] = r.shift;
}

// sums: sum dy, then sum dy (x - mean) invstd. k may be null (no dx).
template <class S>
__global__ void bn_backward_kernel(const double* sums, double M, const S* mean, const S* invstd, const S* gamma, bool eval,
                                   S* dgamma, S* dbeta, S* k, std::size_t channels) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const auto r = ctnn::cuda::detail::bn_backward_channel(M, sums[c], sums[channels + c], mean[c], invstd[c], gamma[c], eval);
  dbeta[c] += r.dbeta;
  dgamma[c] += r.dgamma;
  if (k) {
    k[c] = r.k1;
    k[channels + c] = r.k2;
    k[2 * channels + c] = r.k3;
  }
}

}  // namespace detail

// T: float (NCHW) or a 16-bit type (NHWC, Precision::bf16/fp16); gamma, beta, the running and the
// saved statistics are float either way (cuDNN's batch norm takes them so for 16-bit data).
template <class T>
class BatchNormalization {
  static constexpr bool half = ctnn::cuda::is_half_v<T>;

public:
  BatchNormalization(std::size_t channels, std::size_t spatial, std::size_t /*max_batch*/)
      : C_(channels),
        HW_(spatial),
        bn_desc_(1, channels, 1, 1),
        stats_(10 * channels, "batch-norm statistics"),
        channel_sums_(2 * channels, "batch-norm channel sums") {}

  // Synchronised batch norm through `sum` (nullptr: this process's batch alone); float32 data only.
  void synchronize(CrossReplicaSum* sum) {
    if constexpr (half) {
      if (sum)
        ctnn::detail::fail("ctnn::Cuda BatchNorm: synchronised batch norm runs in Precision::fp32 only (not yet with "
                           "16-bit activations)");
      return;
    }
    sync_ = sum;
    if (sum && host_.empty()) {  // set up once, before training: nothing is allocated per step
      host_.resize(2 * C_ + 1);
      hostf_.resize(7 * C_);
      coefficients_.resize(3 * C_);
      sums_ = ctnn::cuda::DeviceBuffer<double>(2 * C_, "synchronised batch-norm sums");
      coef_ = ctnn::cuda::DeviceBuffer<float>(3 * C_, "synchronised batch-norm coefficients");
    }
  }

  void forward_train(const T* x, T* y, const float* gamma, const float* beta, float* running_mean,
                     float* running_var, std::size_t batch, float momentum, float eps) {
    if constexpr (half) {
      return nhwc_forward_train(x, y, gamma, beta, running_mean, running_var, batch, momentum, eps);
    } else {
      if (sync_) return synchronized_forward(x, y, gamma, beta, running_mean, running_var, batch, momentum, eps);
      if (ctnn::cuda::detail::bn_vectorizable<T>(C_, HW_, {x, y}))
        return vectorized_forward_train(x, y, gamma, beta, running_mean, running_var, batch, momentum, eps);
    }
    set_batch(batch);  // batch * spatial > 1: the layer checks it (layers/batchnorm.hpp)
    const float one = 1.f, zero = 0.f;
    CTNN_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
        ctnn::cuda::context().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, x_desc_, x, x_desc_, y, bn_desc_, gamma, beta,
        static_cast<double>(momentum), running_mean, running_var, static_cast<double>(eps), saved_mean(), saved_invstd()));
  }

  void forward_eval(const T* x, T* y, const float* gamma, const float* beta, const float* running_mean,
                    const float* running_var, std::size_t batch, float eps) {
    if (batch == 0) return;
    if constexpr (half) {
      auto& ctx = ctnn::cuda::context();
      detail::bn_eval_kernel<float><<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(
          gamma, beta, running_mean, running_var, eps, eval_mean(), eval_invstd(), scale(), shift(), C_);
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_eval_kernel");
      return normalize(x, y, batch);
    }
    set_batch(batch);
    const float one = 1.f, zero = 0.f;
    CTNN_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(ctnn::cuda::context().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one,
                                                             &zero, x_desc_, x, x_desc_, y, bn_desc_, gamma, beta,
                                                             running_mean, running_var, static_cast<double>(eps)));
  }

  void backward(const T* x, const T* dy, T* dx, const float* gamma, float* dgamma, float* dbeta,
                const float* running_mean, const float* running_var, std::size_t batch, float eps, bool eval) {
    if (batch == 0) return;
    if constexpr (half) return nhwc_backward(x, dy, dx, gamma, dgamma, dbeta, running_mean, running_var, batch, eps, eval);
    set_batch(batch);
    auto& ctx = ctnn::cuda::context();
    if constexpr (!half)
      if (sync_ && !eval && dx) return synchronized_backward(x, dy, dx, dgamma, dbeta, batch);
    if (!eval && dx && ctnn::cuda::detail::bn_vectorizable<T>(C_, HW_, {x, dy, dx}))
      return vectorized_backward(x, dy, dx, gamma, dgamma, dbeta, saved_mean(), saved_invstd(), batch, false);
    if (!eval && dx) {
      const float one = 1.f, zero = 0.f;
      CTNN_CUDNN_CHECK(cudnnBatchNormalizationBackward(ctx.cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &one,
                                                       x_desc_, x, x_desc_, dy, x_desc_, dx, bn_desc_, gamma, dgamma,
                                                       dbeta, static_cast<double>(eps), saved_mean(), saved_invstd()));
      return;
    }
    using ctnn::cuda::detail::block_size;
    const float* mean = saved_mean();
    const float* invstd = saved_invstd();
    if (eval) {
      detail::bn_eval_statistics<float><<<static_cast<unsigned>((C_ + block_size - 1) / block_size), block_size, 0,
                                          ctx.stream()>>>(running_mean, running_var, gamma, static_cast<double>(eps),
                                                          eval_mean(), eval_invstd(), eval_scale(), C_);
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_eval_statistics");
      mean = eval_mean();
      invstd = eval_invstd();
    }
    detail::bn_parameter_grads<T, float><<<static_cast<unsigned>(C_), block_size, 0, ctx.stream()>>>(
        x, dy, mean, invstd, dgamma, dbeta, batch, C_, HW_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_parameter_grads");
    if (!dx) return;
    // Only reached in evaluation mode: dx = dy * gamma * invstd.
    const expr::TensorLeaf<T> DY{{}, dy};
    const auto scaled = DY * expr::channel(static_cast<const float*>(eval_scale()));
    if constexpr (half)
      ctnn::cuda::detail::assign_nhwc(dx, batch * C_, C_, HW_, scaled);
    else
      ctnn::cuda::detail::assign_planes(dx, batch * C_, C_, HW_, scaled);
  }

private:
  unsigned channel_grid() const {
    return static_cast<unsigned>((C_ + ctnn::cuda::detail::block_size - 1) / ctnn::cuda::detail::block_size);
  }

  // Training forward through the vectorised kernels: the sums, the coefficients (and the running
  // and saved statistics), y = x * scale + shift.
  void vectorized_forward_train(const T* x, T* y, const float* gamma, const float* beta, float* running_mean,
                                float* running_var, std::size_t batch, float momentum, float eps) {
    double* sums = channel_sums_.data();
    ctnn::cuda::detail::bn_sums<T, false>(x, nullptr, nullptr, nullptr, batch, C_, HW_, sums);
    ctnn::cuda::detail::bn_train_shifted_kernel<T>
        <<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctnn::cuda::context().stream()>>>(
            sums, x, half ? std::size_t{1} : HW_, double(batch * HW_), gamma, beta, running_mean, running_var, momentum,
            eps, saved_mean(), saved_invstd(), scale(), shift(), C_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::bn_train_shifted_kernel");
    ctnn::cuda::detail::bn_apply<T, false>(x, nullptr, y, scale(), batch * C_ * HW_, C_, HW_);
  }

  // Backward through the vectorised kernels with the statistics forward normalised by.
  void vectorized_backward(const T* x, const T* dy, T* dx, const float* gamma, float* dgamma, float* dbeta,
                           const float* mean, const float* invstd, std::size_t batch, bool eval) {
    double* sums = channel_sums_.data();
    ctnn::cuda::detail::bn_sums<T, true>(x, dy, mean, invstd, batch, C_, HW_, sums);
    detail::bn_backward_kernel<float>
        <<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctnn::cuda::context().stream()>>>(
            sums, double(batch * HW_), mean, invstd, gamma, eval, dgamma, dbeta, dx ? coefficients() : nullptr, C_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_backward_kernel");
    if (dx) ctnn::cuda::detail::bn_apply<T, true>(x, dy, dx, coefficients(), batch * C_ * HW_, C_, HW_);
  }

  // y = x * scale + shift per channel (NHWC).
  void normalize(const T* x, T* y, std::size_t batch) {
    if (ctnn::cuda::detail::bn_vectorizable<T>(C_, HW_, {x, y}))
      return ctnn::cuda::detail::bn_apply<T, false>(x, nullptr, y, scale(), batch * C_ * HW_, C_, HW_);
    const expr::TensorLeaf<T> X{{}, x};
    ctnn::cuda::detail::assign_nhwc(y, batch * C_, C_, HW_,
                                    X * expr::channel(static_cast<const float*>(scale())) +
                                        expr::channel(static_cast<const float*>(shift())));
  }

  void nhwc_forward_train(const T* x, T* y, const float* gamma, const float* beta, float* running_mean,
                          float* running_var, std::size_t batch, float momentum, float eps) {
    if (ctnn::cuda::detail::bn_vectorizable<T>(C_, HW_, {x, y}))
      return vectorized_forward_train(x, y, gamma, beta, running_mean, running_var, batch, momentum, eps);
    using namespace expr;
    auto& ctx = ctnn::cuda::context();
    const double M = double(batch * HW_);
    const TensorLeaf<T> X{{}, x};
    double* sums = channel_sums_.data();
    ctnn::cuda::detail::sum_nhwc(sums, batch, C_, HW_, X);
    detail::bn_mean_kernel<float><<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(sums, M, saved_mean(), C_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_mean_kernel");
    ctnn::cuda::detail::sum_nhwc(sums, batch, C_, HW_, square(X - channel(static_cast<const float*>(saved_mean()))));
    detail::bn_train_kernel<float><<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(
        sums, M, saved_mean(), gamma, beta, running_mean, running_var, momentum, eps, saved_invstd(), scale(), shift(), C_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_train_kernel");
    normalize(x, y, batch);
  }

  void nhwc_backward(const T* x, const T* dy, T* dx, const float* gamma, float* dgamma, float* dbeta,
                     const float* running_mean, const float* running_var, std::size_t batch, float eps, bool eval) {
    using namespace expr;
    auto& ctx = ctnn::cuda::context();
    const float* mean = saved_mean();
    const float* invstd = saved_invstd();
    if (eval) {  // the running statistics, as forward_eval used them
      detail::bn_eval_statistics<float><<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(
          running_mean, running_var, gamma, static_cast<double>(eps), eval_mean(), eval_invstd(), eval_scale(), C_);
      CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_eval_statistics");
      mean = eval_mean();
      invstd = eval_invstd();
    }
    if (ctnn::cuda::detail::bn_vectorizable<T>(C_, HW_, {x, dy, dx}))
      return vectorized_backward(x, dy, dx, gamma, dgamma, dbeta, mean, invstd, batch, eval);
    const TensorLeaf<T> X{{}, x}, DY{{}, dy};
    double* sums = channel_sums_.data();
    ctnn::cuda::detail::sum_nhwc(sums, batch, C_, HW_, DY);
    ctnn::cuda::detail::sum_nhwc(sums + C_, batch, C_, HW_, DY * (X - channel(mean)) * channel(invstd));
    detail::bn_backward_kernel<float><<<channel_grid(), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(
        sums, double(batch * HW_), mean, invstd, gamma, eval, dgamma, dbeta, dx ? coefficients() : nullptr, C_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bn_backward_kernel");
    if (!dx) return;
    const float* k = coefficients();
    ctnn::cuda::detail::assign_nhwc(dx, batch * C_, C_, HW_,
                                    DY * channel(k) + X * channel(k + C_) + channel(k + 2 * C_));
  }

  // Host copies (hostf_): gamma, beta, running mean, running var, then the saved mean and invstd
  // and a scratch row.
  float* h_gamma() { return hostf_.data(); }
  float* h_beta() { return hostf_.data() + C_; }
  float* h_rmean() { return hostf_.data() + 2 * C_; }
  float* h_rvar() { return hostf_.data() + 3 * C_; }
  float* h_mean() { return hostf_.data() + 4 * C_; }
  float* h_invstd() { return hostf_.data() + 5 * C_; }
  float* h_row() { return hostf_.data() + 6 * C_; }

  void synchronized_forward(const float* x, float* y, const float* gamma, const float* beta, float* running_mean,
                            float* running_var, std::size_t batch, float momentum, float eps) {
    using namespace expr;
    using ctnn::Cuda;
    const TensorLeaf<float> X{{}, x};
    const std::size_t floats = C_ * sizeof(float);
    ctnn::cuda::detail::sum_planes(sums_.data(), batch, C_, HW_, X);
    Cuda::download(host_.data(), sums_.data(), C_ * sizeof(double));
    host_[C_] = double(batch * HW_);
    sync_->sum(host_.data(), C_ + 1);
    const double M = host_[C_];
    count_ = M;
    for (std::size_t c = 0; c < C_; ++c) h_mean()[c] = static_cast<float>(host_[c] / M);
    Cuda::upload(saved_mean(), h_mean(), floats);
    // Two passes, as on the CPU: the variance stays accurate when |mean| >> std.
    ctnn::cuda::detail::sum_planes(sums_.data(), batch, C_, HW_, square(X - channel(static_cast<const float*>(saved_mean()))));
    Cuda::download(host_.data(), sums_.data(), C_ * sizeof(double));
    sync_->sum(host_.data(), C_);
    Cuda::download(h_gamma(), gamma, floats);
    Cuda::download(h_beta(), beta, floats);
    Cuda::download(h_rmean(), running_mean, floats);
    Cuda::download(h_rvar(), running_var, floats);
    float* k1 = h_row();
    float* k2 = coefficients_.data();
    for (std::size_t c = 0; c < C_; ++c) {
      const double var = host_[c] / M;
      const double inv = 1.0 / std::sqrt(var + double(eps));
      h_invstd()[c] = static_cast<float>(inv);
      k1[c] = static_cast<float>(h_gamma()[c] * inv);
      k2[c] = static_cast<float>(h_beta()[c] - h_mean()[c] * h_gamma()[c] * inv);
      h_rmean()[c] = (1.f - momentum) * h_rmean()[c] + momentum * h_mean()[c];
      h_rvar()[c] = static_cast<float>((1.0 - momentum) * h_rvar()[c] + momentum * var * M / (M - 1));
    }
    Cuda::upload(saved_invstd(), h_invstd(), floats);
    Cuda::upload(running_mean, h_rmean(), floats);
    Cuda::upload(running_var, h_rvar(), floats);
    Cuda::upload(coef_.data(), k1, floats);
    Cuda::upload(coef_.data() + C_, k2, floats);
    const float* K1 = coef_.data();
    const float* K2 = coef_.data() + C_;
    ctnn::cuda::detail::assign_planes(y, batch * C_, C_, HW_, X * channel(K1) + channel(K2));
  }

  void synchronized_backward(const float* x, const float* dy, float* dx, float* dgamma, float* dbeta, std::size_t batch) {
    using namespace expr;
    using ctnn::Cuda;
    const TensorLeaf<float> X{{}, x}, DY{{}, dy};
    const auto mean = channel(static_cast<const float*>(saved_mean()));
    const auto invstd = channel(static_cast<const float*>(saved_invstd()));
    ctnn::cuda::detail::sum_planes(sums_.data(), batch, C_, HW_, DY);
    ctnn::cuda::detail::sum_planes(sums_.data() + C_, batch, C_, HW_, DY * (X - mean) * invstd);
    Cuda::download(host_.data(), sums_.data(), 2 * C_ * sizeof(double));
    // This process's share into the parameter gradients.
    const std::size_t floats = C_ * sizeof(float);
    for (std::size_t c = 0; c < C_; ++c) h_row()[c] = static_cast<float>(host_[c]);
    Cuda::upload(coef_.data(), h_row(), floats);
    for (std::size_t c = 0; c < C_; ++c) h_row()[c] = static_cast<float>(host_[C_ + c]);
    Cuda::upload(coef_.data() + C_, h_row(), floats);
    const TensorLeaf<float> DBETA{{}, dbeta}, DGAMMA{{}, dgamma}, LB{{}, coef_.data()}, LG{{}, coef_.data() + C_};
    ctnn::cuda::detail::assign_planes(dbeta, 1, 1, C_, DBETA + LB);
    ctnn::cuda::detail::assign_planes(dgamma, 1, 1, C_, DGAMMA + LG);
    // dx from the sums over every process: dx = dy*k1 + x*k2 + k3 (see the CPU backend).
    sync_->sum(host_.data(), 2 * C_);
    float* k = coefficients_.data();
    const double M = count_;
    for (std::size_t c = 0; c < C_; ++c) {
      const double inv = h_invstd()[c];
      const double scale = double(h_gamma()[c]) * inv;
      const double mdy = host_[c] / M, mdyx = host_[C_ + c] / M;
      k[c] = static_cast<float>(scale);
      k[C_ + c] = static_cast<float>(-scale * inv * mdyx);
      k[2 * C_ + c] = static_cast<float>(-scale * mdy + scale * double(h_mean()[c]) * inv * mdyx);
    }
    Cuda::upload(coef_.data(), k, 3 * floats);
    const float* K1 = coef_.data();
    const float* K2 = coef_.data() + C_;
    const float* K3 = coef_.data() + 2 * C_;
    ctnn::cuda::detail::assign_planes(dx, batch * C_, C_, HW_, DY * channel(K1) + X * channel(K2) + channel(K3));
  }

  void set_batch(std::size_t batch) {
    if (batch == batch_) return;
    x_desc_.set(batch, C_, HW_, 1, ctnn::cuda::cudnn_type<T>(), ctnn::cuda::cudnn_format<T>());
    batch_ = batch;
  }
  float* saved_mean() { return stats_.data(); }
  float* saved_invstd() { return stats_.data() + C_; }
  float* eval_mean() { return stats_.data() + 2 * C_; }
  float* eval_invstd() { return stats_.data() + 3 * C_; }
  float* eval_scale() { return stats_.data() + 4 * C_; }
  float* scale() { return stats_.data() + 5 * C_; }  // the 16-bit path's y = x * scale + shift
  float* shift() { return stats_.data() + 6 * C_; }
  float* coefficients() { return stats_.data() + 7 * C_; }  // k1, k2, k3 of its backward

  std::size_t C_, HW_;
  ctnn::cuda::detail::TensorDescriptor x_desc_, bn_desc_;
  ctnn::cuda::DeviceBuffer<float> stats_;
  ctnn::cuda::DeviceBuffer<double> channel_sums_;  // own kernels' per-channel sums
  std::size_t batch_ = 0;
  // Synchronised batch norm (allocated by synchronize()).
  CrossReplicaSum* sync_ = nullptr;
  std::vector<double> host_;
  std::vector<float> hostf_, coefficients_;
  ctnn::cuda::DeviceBuffer<double> sums_;
  ctnn::cuda::DeviceBuffer<float> coef_;
  double count_ = 0;
};

using BatchNorm = BatchNormalization<float>;

}  // namespace ctnn::backend::cuda
