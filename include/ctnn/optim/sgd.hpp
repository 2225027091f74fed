#pragma once
// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD, maximize=False).
//
//   template <class D = Cpu> class ctnn::SGD;
//   ctnn::SGD opt{0.1f, 0.9f, 5e-4f, true};   // CTAD: SGD<Cpu>; lr, momentum, weight_decay, nesterov
//   explicit SGD(float lr, float momentum = 0, float weight_decay = 0, bool nesterov = false,
//                float dampening = 0);
//   void step(std::span<const Parameter> params);        // net.parameters() converts implicitly
//   std::vector<Buffer> state(std::span<const Parameter> params);
//   void reset();
//   float lr, momentum, weight_decay, dampening; bool nesterov;   // public, may change between steps
//   std::uint64_t steps;                                          // completed steps
//
// Per parameter p with gradient grad, per step (every value float32, like PyTorch):
//   g   = grad + weight_decay * p                      (the decay term is omitted when it is 0)
//   buf = g                                             on the first step (steps == 0)
//       = momentum * buf + (1 - dampening) * g          afterwards          (only when momentum != 0)
//   g   = nesterov ? g + momentum * buf : buf           (only when momentum != 0)
//   p  -= lr * g
// Each tensor is written by ONE fused expression through expr::assign_flat<D>(...): with momentum,
// one pass writes buf and one pass writes p; without, one pass writes p. A device with a
// multi-tensor kernel (backend::multi_tensor<D>, CUDA) updates all of them in one launch instead,
// with the same per-element rule (update_rule::sgd_update) and the step's scalars in device memory:
// a CUDA graph that captured step() replays it with the current lr, momentum and step count.
// Refinements of the contract:
//   - The hyperparameters are validated on construction and on every step: lr, momentum,
//     weight_decay >= 0, dampening in [0, 1]; nesterov needs momentum > 0 and dampening == 0.
//   - State: with momentum != 0, one momentum buffer per parameter (zero-initialised, in D's memory)
//     is allocated on the first step or by state(), then reused (no allocation in later steps).
//     With momentum == 0 there is no state and state() returns an empty list (PyTorch's
//     momentum_buffer is None then; switching momentum on later allocates the buffers at that step,
//     starting from zero). The first call to step() or state() records the parameter
//     list (count and sizes); a different list later throws ctnn::Error until reset().
//   - state() names buffers "momentum_buffer.<parameter name>", in parameter order; they point into
//     the optimizer's memory, so a checkpoint can read and overwrite them (then restore `steps`).
//   - A parameter whose grad pointer is null is skipped (value and buffer untouched). `steps` is
//     one counter for all parameters, so "first step" means the optimizer's first step: a parameter
//     skipped in the first step then starts from a zero buffer (PyTorch keeps per-parameter state).
//   - reset() frees the state and sets steps to 0.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../core/step_values.hpp"
#include "../backend/contract.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "state.hpp"
#include "../backend/update_rule.hpp"

namespace ctnn {

template <class D = Cpu>
class SGD {
public:
  using device = D;

  float lr;
  float momentum;
  float weight_decay;
  bool nesterov;
  float dampening;
  std::uint64_t steps = 0;

  explicit SGD(float lr_, float momentum_ = 0.f, float weight_decay_ = 0.f, bool nesterov_ = false,
               float dampening_ = 0.f)
      : lr(lr_), momentum(momentum_), weight_decay(weight_decay_), nesterov(nesterov_), dampening(dampening_) {
    validate("ctnn::SGD");
  }
  SGD(const SGD&) = delete;
  SGD& operator=(const SGD&) = delete;
  SGD(SGD&&) noexcept = default;
  SGD& operator=(SGD&&) noexcept = default;

  void step(std::span<const Parameter> params) {
    constexpr const char* call = "ctnn::SGD::step";
    validate(call);
    prepare(call, params);
    if constexpr (backend::has_multi_tensor_v<D>)
      step_all(params);
    else
      step_each(params);
  }

  // The momentum buffers ("momentum_buffer.<name>"), allocated if missing; empty without momentum.
  std::vector<Buffer> state(std::span<const Parameter> params) {
    prepare("ctnn::SGD::state", params);
    std::vector<Buffer> out;
    out.reserve(buffers_.size());
    for (std::size_t i = 0; i < buffers_.size(); ++i)
      out.push_back(Buffer{detail::prefixed("momentum_buffer.", params[i].name), buffers_[i].data(), buffers_[i].size()});
    return out;
  }

  // A flag in D's memory: an update that runs while it is nonzero changes nothing (dynamic loss
  // scaling, cuda::LossScaler::found_inf()). Devices with a multi-tensor kernel only.
  void skip_when(const std::uint32_t* device_flag)
    requires backend::has_multi_tensor_v<D>
  {
    multi_.skip_when(device_flag);
  }

  void reset() {
    if constexpr (backend::has_multi_tensor_v<D>) multi_.reset();
    buffers_.clear();
    layout_.clear();
    steps = 0;
  }

private:
  // One launch for all parameters (a device with a multi-tensor kernel).
  void step_all(std::span<const Parameter> params) {
    constexpr const char* call = "ctnn::SGD::step";
    std::vector<float*> bufs(buffers_.size());
    for (std::size_t i = 0; i < buffers_.size(); ++i) bufs[i] = buffers_[i].data();
    multi_.bind(params, bufs, {});
    const bool with_buffers = !buffers_.empty();
    // The host half: now, or at each replay of a captured graph (backend/cuda/graph.hpp).
    multi_.sgd([this, with_buffers, call] {
      validate(call);
      if (momentum != 0.f && !with_buffers)
        detail::fail(call, ": momentum was switched on after this update was captured as a CUDA graph; capture it again");
      const StepValues v = update_rule::sgd_values(lr, momentum, dampening, weight_decay, nesterov, steps == 0);
      ++steps;
      return v;
    });
  }

  // One expression per tensor.
  void step_each(std::span<const Parameter> params) {
    using expr::scalar;
    using Leaf = expr::TensorLeaf<float>;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Parameter& p = params[i];
      if (p.grad == nullptr || p.size == 0) continue;
      const Leaf w{{}, p.value};
      const Leaf grad{{}, p.grad};
      auto update = [&](const auto& g) {
        if (momentum == 0.f) {
          expr::assign_flat<D>(p.value, p.size, w - scalar(lr) * g);
          return;
        }
        float* buf_ptr = buffers_[i].data();
        const Leaf buf{{}, buf_ptr};
        if (steps == 0)
          expr::assign_flat<D>(buf_ptr, p.size, g);
        else
          expr::assign_flat<D>(buf_ptr, p.size, scalar(momentum) * buf + scalar(1.f - dampening) * g);
        if (nesterov)
          expr::assign_flat<D>(p.value, p.size, w - scalar(lr) * (g + scalar(momentum) * buf));
        else
          expr::assign_flat<D>(p.value, p.size, w - scalar(lr) * buf);
      };
      if (weight_decay != 0.f)
        update(grad + scalar(weight_decay) * w);
      else
        update(grad);
    }
    ++steps;
  }

  void validate(const char* call) const {
    if (!(lr >= 0.f)) detail::fail(call, ": invalid learning rate ", lr, " (must be >= 0)");
    if (!(momentum >= 0.f)) detail::fail(call, ": invalid momentum ", momentum, " (must be >= 0)");
    if (!(weight_decay >= 0.f))
      detail::fail(call, ": invalid weight_decay ", weight_decay, " (must be >= 0)");
    if (!(dampening >= 0.f && dampening <= 1.f))
      detail::fail(call, ": invalid dampening ", dampening, " (must be in [0, 1])");
    if (nesterov && (momentum <= 0.f || dampening != 0.f))
      detail::fail(call, ": Nesterov momentum requires a momentum > 0 and zero dampening (momentum ",
                   momentum, ", dampening ", dampening, ")");
  }

  void prepare(const char* call, std::span<const Parameter> params) {
    if (layout_.built()) {
      layout_.check(call, params);
    } else {
      for (std::size_t i = 0; i < params.size(); ++i) detail::check_parameter(call, i, params[i]);
      layout_.build(params);
    }
    if (momentum != 0.f && buffers_.empty() && !params.empty()) {
      std::vector<detail::DeviceArray<D>> fresh;
      fresh.reserve(params.size());
      for (const auto& p : params) fresh.emplace_back(p.size, "SGD momentum buffer");
      buffers_ = std::move(fresh);
    }
  }

  std::vector<detail::DeviceArray<D>> buffers_;
  detail::ParamLayout layout_;
  [[no_unique_address]] backend::multi_tensor_t<D> multi_;
};

}  // namespace ctnn
