#pragma once
// One training step, the unit every training loop is built of:
//
//   ctnn::train::StepResult r = ctnn::train::step(net, optimizer, x, labels, grad, label_smoothing);
//
// forward in training mode, softmax cross-entropy (writes dL/dlogits into grad), top-1 hits,
// then zero_grad, backward, an optional before_update() (gradient clipping) and the optimizer's
// step. When the loss is not finite the step stops
// before backward: nothing is updated but the batch-norm running statistics of that forward pass,
// and r.finite is false (a caller that skips the batch restores those itself).
//
//   ctnn::train::step(net, optimizer, x, labels, grad, loss)
//
// takes another loss: loss(logits, labels, grad) writes dL/dlogits into grad and returns the mean
// loss (CrossEntropy{label_smoothing} is the default's).
//
//   ctnn::train::step(net, optimizer, x, grad, loss)
//
// is the step with a loss of the caller's that needs no labels on the host: loss(logits, grad)
// writes dL/dlogits into grad and returns what step() returns (for example a device-side loss
// that never synchronises with the host, as a captured CUDA graph needs).

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "../core/device.hpp"
#include "../core/parameter.hpp"
#include "../loss/cross_entropy.hpp"
#include "../loss/metrics.hpp"
#include "options.hpp"

namespace ctnn::train {

template <class Net, class Opt, class Loss>
auto step(Net& net, Opt& optimizer, const typename Net::input_type& x, typename Net::output_type& grad, Loss&& loss) {
  const auto& logits = net.forward(x, Mode::train);
  auto update = [&] {
    net.zero_grad();
    net.backward(grad);
    optimizer.step(net.parameters());
  };
  if constexpr (std::is_void_v<decltype(loss(logits, grad))>) {
    loss(logits, grad);
    update();
  } else {
    auto result = loss(logits, grad);
    update();
    return result;
  }
}

// before_update() runs between backward and the optimizer's step (gradient clipping, say).
struct no_hook {
  void operator()() const noexcept {}
};

// The default loss: softmax cross-entropy with label smoothing (PyTorch's CrossEntropyLoss).
struct CrossEntropy {
  float label_smoothing = 0.f;
  template <class Logits, class Grad>
  float operator()(const Logits& logits, std::span<const std::int32_t> labels, Grad& grad) const {
    return softmax_cross_entropy(logits, labels, grad, label_smoothing);
  }
};

// A loss for a network: writes dL/dlogits into grad and returns the mean loss of the batch.
template <class L, class Net>
concept LossFor = std::invocable<L&, const typename Net::output_type&, std::span<const std::int32_t>,
                                 typename Net::output_type&>;

// The step with any loss (top-1 hits are counted from the logits). `update`: the parameters the
// optimizer steps, when not all of net.parameters() (ctnn::freeze gives such a list).
template <class Net, class Opt, LossFor<Net> Loss, class BeforeUpdate = no_hook>
StepResult step(Net& net, Opt& optimizer, const typename Net::input_type& x, std::span<const std::int32_t> labels,
                typename Net::output_type& grad, Loss&& loss, BeforeUpdate&& before_update = {},
                std::span<const Parameter> update = {}) {
  const auto& logits = net.forward(x, Mode::train);
  StepResult r;
  r.loss = static_cast<float>(loss(logits, labels, grad));
  r.size = labels.size();
  r.finite = std::isfinite(r.loss);
  if (!r.finite) return r;
  r.correct = count_correct(logits, labels);
  net.zero_grad();
  net.backward(grad);
  before_update();
  if (update.empty())
    optimizer.step(net.parameters());
  else
    optimizer.step(update);
  return r;
}

template <class Net, class Opt, class BeforeUpdate = no_hook>
StepResult step(Net& net, Opt& optimizer, const typename Net::input_type& x, std::span<const std::int32_t> labels,
                typename Net::output_type& grad, float label_smoothing = 0.f, BeforeUpdate&& before_update = {}) {
  return step(net, optimizer, x, labels, grad, CrossEntropy{label_smoothing}, before_update);
}

}  // namespace ctnn::train
