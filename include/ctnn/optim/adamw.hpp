#pragma once
// Adam with decoupled weight decay, PyTorch's semantics (torch.optim.AdamW, amsgrad=False,
// maximize=False).
//
//   template <class D = Cpu> class ctnn::AdamW;
//   ctnn::AdamW opt{1e-3f};   // CTAD: AdamW<Cpu>
//   explicit AdamW(float lr = 1e-3, float beta1 = 0.9, float beta2 = 0.999, float eps = 1e-8,
//                  float weight_decay = 1e-2);
//   void step(std::span<const Parameter> params);        // net.parameters() converts implicitly
//   std::vector<Buffer> state(std::span<const Parameter> params);
//   void reset();
//   float lr, beta1, beta2, eps, weight_decay;   // public, may change between steps
//   std::uint64_t steps;                          // completed steps (PyTorch's state["step"])
//
// Per parameter p with gradient g, at step t = steps + 1 (tensor math in float32; the scalars
// 1 - lr*wd, lr / bc1 and sqrt(bc2) computed in double, then rounded, as PyTorch does):
//   p  *= 1 - lr * weight_decay
//   m   = beta1 * m + (1 - beta1) * g            (written as PyTorch's lerp: m + (1 - beta1)(g - m))
//   v   = beta2 * v + (1 - beta2) * g * g
//   bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t
//   p  -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
// One fused expression per tensor through expr::assign_flat<D>(...): a pass for m, one for v,
// one for p (the decay is fused into the p pass). A device with a multi-tensor kernel
// (backend::multi_tensor<D>, CUDA) updates all of them in one launch with update_rule::adamw_update
// and the step's scalars (step count, bias corrections) in device memory, so a CUDA graph that
// captured step() replays it with the current lr and step count.
// Refinements of the contract:
//   - Validation on construction and every step: lr >= 0, beta1 and beta2 in [0, 1), eps >= 0,
//     weight_decay >= 0.
//   - State: exp_avg (m) and exp_avg_sq (v), one of each per parameter, zero-initialised in D's
//     memory, allocated by the first step() or state(), then reused. The first call records the
//     parameter list (count and sizes); a different list later throws ctnn::Error until reset().
//   - state() returns, per parameter in order, "exp_avg.<name>" then "exp_avg_sq.<name>", pointing
//     into the optimizer's memory (a checkpoint restores them and `steps`).
//   - A parameter whose grad pointer is null is skipped (value and moments untouched); `steps` is
//     one counter for all parameters (PyTorch counts per parameter; they agree unless a parameter
//     is skipped in some steps and not others).

#include <cmath>
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
class AdamW {
public:
  using device = D;

  float lr;
  float beta1;
  float beta2;
  float eps;
  float weight_decay;
  std::uint64_t steps = 0;

  explicit AdamW(float lr_ = 1e-3f, float beta1_ = 0.9f, float beta2_ = 0.999f, float eps_ = 1e-8f,
                 float weight_decay_ = 1e-2f)
      : lr(lr_), beta1(beta1_), beta2(beta2_), eps(eps_), weight_decay(weight_decay_) {
    validate("ctnn::AdamW");
  }
  AdamW(const AdamW&) = delete;
  AdamW& operator=(const AdamW&) = delete;
  AdamW(AdamW&&) noexcept = default;
  AdamW& operator=(AdamW&&) noexcept = default;

  void step(std::span<const Parameter> params) {
    constexpr const char* call = "ctnn::AdamW::step";
    validate(call);
    prepare(call, params);
    if constexpr (backend::has_multi_tensor_v<D>)
      step_all(params);
    else
      step_each(params);
  }

  // The moments, "exp_avg.<name>" and "exp_avg_sq.<name>" per parameter, allocated if missing.
  std::vector<Buffer> state(std::span<const Parameter> params) {
    prepare("ctnn::AdamW::state", params);
    std::vector<Buffer> out;
    out.reserve(2 * exp_avg_.size());
    for (std::size_t i = 0; i < exp_avg_.size(); ++i) {
      out.push_back(Buffer{detail::prefixed("exp_avg.", params[i].name), exp_avg_[i].data(), exp_avg_[i].size()});
      out.push_back(Buffer{detail::prefixed("exp_avg_sq.", params[i].name), exp_avg_sq_[i].data(), exp_avg_sq_[i].size()});
    }
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
    exp_avg_.clear();
    exp_avg_sq_.clear();
    layout_.clear();
    steps = 0;
  }

private:
  // One launch for all parameters (a device with a multi-tensor kernel).
  void step_all(std::span<const Parameter> params) {
    constexpr const char* call = "ctnn::AdamW::step";
    std::vector<float*> m(exp_avg_.size()), v(exp_avg_sq_.size());
    for (std::size_t i = 0; i < m.size(); ++i) m[i] = exp_avg_[i].data();
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = exp_avg_sq_[i].data();
    multi_.bind(params, m, v);
    // The host half: now, or at each replay of a captured graph (backend/cuda/graph.hpp).
    multi_.adamw([this, call] {
      validate(call);
      const StepValues s = update_rule::adamw_values(lr, beta1, beta2, eps, weight_decay, steps + 1);
      ++steps;
      return s;
    });
  }

  // One expression per tensor.
  void step_each(std::span<const Parameter> params) {
    const std::uint64_t t = steps + 1;
    const StepValues s = update_rule::adamw_values(lr, beta1, beta2, eps, weight_decay, t);
    const float decay = s[update_rule::adamw_slot::decay];
    const float step_size = s[update_rule::adamw_slot::step_size];
    const float bc2_sqrt = s[update_rule::adamw_slot::bc2_sqrt];

    using expr::scalar;
    using Leaf = expr::TensorLeaf<float>;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Parameter& p = params[i];
      if (p.grad == nullptr || p.size == 0) continue;
      float* m_ptr = exp_avg_[i].data();
      float* v_ptr = exp_avg_sq_[i].data();
      const Leaf w{{}, p.value};
      const Leaf g{{}, p.grad};
      const Leaf m{{}, m_ptr};
      const Leaf v{{}, v_ptr};
      expr::assign_flat<D>(m_ptr, p.size, m + scalar(1.f - beta1) * (g - m));
      expr::assign_flat<D>(v_ptr, p.size, v * scalar(beta2) + scalar(1.f - beta2) * g * g);
      expr::assign_flat<D>(p.value, p.size,
                  w * scalar(decay) - scalar(step_size) * (m / (expr::sqrt(v) / scalar(bc2_sqrt) + scalar(eps))));
    }
    steps = t;
  }

  void validate(const char* call) const {
    if (!(lr >= 0.f)) detail::fail(call, ": invalid learning rate ", lr, " (must be >= 0)");
    if (!(beta1 >= 0.f && beta1 < 1.f)) detail::fail(call, ": invalid beta1 ", beta1, " (must be in [0, 1))");
    if (!(beta2 >= 0.f && beta2 < 1.f)) detail::fail(call, ": invalid beta2 ", beta2, " (must be in [0, 1))");
    if (!(eps >= 0.f)) detail::fail(call, ": invalid eps ", eps, " (must be >= 0)");
    if (!(weight_decay >= 0.f))
      detail::fail(call, ": invalid weight_decay ", weight_decay, " (must be >= 0)");
  }

  void prepare(const char* call, std::span<const Parameter> params) {
    if (layout_.built()) {
      layout_.check(call, params);
    } else {
      for (std::size_t i = 0; i < params.size(); ++i) detail::check_parameter(call, i, params[i]);
      layout_.build(params);
    }
    if (exp_avg_.empty() && !params.empty()) {
      std::vector<detail::DeviceArray<D>> m, v;
      m.reserve(params.size());
      v.reserve(params.size());
      for (const auto& p : params) {
        m.emplace_back(p.size, "AdamW exp_avg");
        v.emplace_back(p.size, "AdamW exp_avg_sq");
      }
      exp_avg_ = std::move(m);
      exp_avg_sq_ = std::move(v);
    }
  }

  std::vector<detail::DeviceArray<D>> exp_avg_;
  std::vector<detail::DeviceArray<D>> exp_avg_sq_;
  detail::ParamLayout layout_;
  [[no_unique_address]] backend::multi_tensor_t<D> multi_;
};

}  // namespace ctnn
