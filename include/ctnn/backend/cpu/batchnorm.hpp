#pragma once
// CPU batch normalisation over NCHW (or NC) data, with PyTorch's semantics: training normalises by
// the biased batch variance and folds the unbiased one into the running variance with the given
// momentum; evaluation uses the running statistics. Each pass is one expression over memory,
// evaluated by the CPU evaluator's loops (evaluator.hpp).
//
// Synchronised (synchronize(sum) with a CrossReplicaSum): forward's per-channel shifts and sums and
// backward's sums are summed over the processes before they are used, so every process
// normalises by the statistics of the global batch. The parameter gradients stay this process's
// own share (data-parallel training averages them); only dx uses the global sums.

#include <cmath>
#include <algorithm>
#include <cstddef>
#include <vector>

#include "../../core/config.hpp"
#include "../../core/memory.hpp"
#include "../../core/parameter.hpp"
#include "../../expr/nodes.hpp"
#include "../contract.hpp"
#include "evaluator.hpp"

namespace ctnn::backend::cpu {

class BatchNorm {
  // The output as an expression of the input: what apply writes and what the ReLU's mask in
  // backward tests, one expression so that the two agree bit for bit. (First in the class: backward
  // uses its deduced return type.)
  auto output_of(const expr::TensorLeaf<float>& X) const {
    return X * expr::channel(scale_.data()) + expr::channel(offset_.data());
  }

public:
  BatchNorm(std::size_t channels, std::size_t spatial, std::size_t /*max_batch*/)
      : C_(channels), HW_(spatial), sums_(channels), dsums_(channels), sums2_(channels), mean_(channels),
        invstd_(channels), scale_(channels), offset_(channels), shift_(channels), k1_(channels), k2_(channels),
        k3_(channels), shared_(3 * channels + 1) {}

  void synchronize(CrossReplicaSum* sum) { sync_ = sum; }

  void forward_train(const float* x, float* y, const float* gamma, const float* beta, float* running_mean,
                     float* running_var, std::size_t batch, float momentum, float eps);

  void forward_eval(const float* x, float* y, const float* gamma, const float* beta, const float* running_mean,
                    const float* running_var, std::size_t batch, float eps);

  // Evaluation as y = x * scale + offset per channel, the coefficients forward_eval uses (for a
  // convolution to apply as it writes its output, Mode::inference). Valid until the next call.
  ChannelAffine eval_coefficients(const float* gamma, const float* beta, const float* running_mean,
                                  const float* running_var, float eps);

  // Gradients for the statistics the forward pass used: the saved batch statistics after
  // forward_train, the running statistics (constants) when `eval` is true. With `relu`, dy is the
  // gradient of a ReLU applied to this layer's output: it passes only where the output,
  // x * scale + offset recomputed bit for bit as forward wrote it, is positive (the ReLU's backward
  // folded in, so that nothing needs that output).
  void backward(const float* x, const float* dy, float* dx, const float* gamma, float* dgamma, float* dbeta,
                const float* running_mean, const float* running_var, std::size_t batch, float eps, bool eval,
                bool relu = false);

  // y = the output of the last forward_train or forward_eval again, from its input x: the same
  // per-channel coefficients, bit for bit the same values, however many backward passes ran since
  // (backward keeps its own coefficients).
  void recompute(const float* x, float* y, std::size_t batch) { apply(x, y, batch); }

  // Statistics saved from forward for backward, and per-channel coefficients.
  template <class Plan>
  void plan(Plan& p) const {
    p.state(sums_.bytes() + dsums_.bytes() + sums2_.bytes() + mean_.bytes() + invstd_.bytes() + scale_.bytes() +
            offset_.bytes() + shift_.bytes() + k1_.bytes() + k2_.bytes() + k3_.bytes() + shared_.bytes());
  }

private:
  // Backward's two passes for the output gradient DY (an expression: masked by a ReLU or not).
  template <class XE, class GE>
  void backward_pass(const XE& X, const GE& DY, float* dx, const float* gamma, float* dgamma, float* dbeta,
                     std::size_t batch, double M, bool eval);

  void apply(const float* x, float* y, std::size_t batch);

  std::size_t C_, HW_;
  // Per-channel sums: of x, x - shift and (x - shift)^2 in forward_train; of dy and dy * xhat in
  // backward (sums_ and sums2_).
  ctnn::detail::Scratch<double> sums_, dsums_, sums2_;
  ctnn::detail::Scratch<float> mean_, invstd_;
  ctnn::detail::Scratch<float> scale_, offset_;  // y = x * scale + offset, per channel (forward, recompute)
  ctnn::detail::Scratch<float> shift_;           // what forward_train's sums subtract, per channel
  ctnn::detail::Scratch<float> k1_, k2_, k3_;   // dx = dy * k1 + x * k2 + k3, per channel (backward)
  ctnn::detail::Scratch<double> shared_;  // what a synchronised pass sends
  CrossReplicaSum* sync_ = nullptr;
  double count_ = 0;  // values per channel in the last training forward (all processes' when synchronised)
};

}  // namespace ctnn::backend::cpu

#if CTNN_HEADER_DEFINITIONS
#include "impl/batchnorm.ipp"
#endif
