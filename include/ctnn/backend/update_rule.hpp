#pragma once
// The optimizers' arithmetic in two halves, shared by every device:
//   - the host half: one step's scalars from the hyperparameters and the step count, as StepValues
//     (sgd_values, adamw_values): the CPU optimizers use these floats as plain values in their
//     expressions; a GPU writes them into a device block that its kernels read, so that a replayed
//     CUDA graph sees each step's learning rate and bias corrections;
//   - the per-element half (sgd_update, adamw_update, CTNN_HD): what a multi-tensor kernel does to
//     each value, with the same operations in the same order as the CPU expressions in optim/sgd.hpp and
//     optim/adamw.hpp (tests/backend/update_rule.cpp checks them against the CPU optimizers).
// The first SGD step (buf = g) and Nesterov are slots, not branches of the host code, so one
// captured update serves every step.

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/config.hpp"
#include "../core/step_values.hpp"

namespace ctnn::update_rule {

// ---- SGD ------------------------------------------------------------------------------------------

namespace sgd_slot {
inline constexpr std::size_t lr = 0, momentum = 1, dampening_complement = 2, weight_decay = 3, first = 4, nesterov = 5;
}

// `first`: the optimizer's first step, where the momentum buffer takes the gradient itself.
inline StepValues sgd_values(float lr, float momentum, float dampening, float weight_decay, bool nesterov, bool first) {
  StepValues s;
  s[sgd_slot::lr] = lr;
  s[sgd_slot::momentum] = momentum;
  s[sgd_slot::dampening_complement] = 1.f - dampening;
  s[sgd_slot::weight_decay] = weight_decay;
  s[sgd_slot::first] = first ? 1.f : 0.f;
  s[sgd_slot::nesterov] = nesterov ? 1.f : 0.f;
  return s;
}

// One value: w, its gradient, its momentum buffer (unused when momentum is 0) and the step's
// scalars `s` (sgd_values).
CTNN_HD inline void sgd_update(float& w, float grad, float& buf, const float* s) {
  using namespace sgd_slot;
  const float g = s[weight_decay] != 0.f ? grad + s[weight_decay] * w : grad;
  if (s[momentum] == 0.f) {
    w = w - s[lr] * g;
    return;
  }
  const float b = s[first] != 0.f ? g : s[momentum] * buf + s[dampening_complement] * g;
  buf = b;
  w = s[nesterov] != 0.f ? w - s[lr] * (g + s[momentum] * b) : w - s[lr] * b;
}

// ---- AdamW ----------------------------------------------------------------------------------------

namespace adamw_slot {
inline constexpr std::size_t one_minus_beta1 = 0, beta2 = 1, one_minus_beta2 = 2, decay = 3, step_size = 4,
                             bc2_sqrt = 5, eps = 6;
}

// Step t = steps + 1 (1-based, PyTorch's state["step"] after the increment). The bias corrections
// and 1 - lr * weight_decay are computed in double and then rounded, as PyTorch does.
inline StepValues adamw_values(float lr, float beta1, float beta2, float eps, float weight_decay, std::uint64_t t) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(t));
  StepValues s;
  s[adamw_slot::one_minus_beta1] = 1.f - beta1;
  s[adamw_slot::beta2] = beta2;
  s[adamw_slot::one_minus_beta2] = 1.f - beta2;
  s[adamw_slot::decay] = static_cast<float>(1.0 - static_cast<double>(lr) * static_cast<double>(weight_decay));
  s[adamw_slot::step_size] = static_cast<float>(static_cast<double>(lr) / bc1);
  s[adamw_slot::bc2_sqrt] = static_cast<float>(std::sqrt(bc2));
  s[adamw_slot::eps] = eps;
  return s;
}

// One value: w, its gradient g, its moments m and v, and the step's scalars `s` (adamw_values).
CTNN_HD inline void adamw_update(float& w, float g, float& m, float& v, const float* s) {
  using namespace adamw_slot;
  m = m + s[one_minus_beta1] * (g - m);
  v = v * s[beta2] + s[one_minus_beta2] * g * g;
  w = w * s[decay] - s[step_size] * (m / (std::sqrt(v) / s[bc2_sqrt] + s[eps]));
}

}  // namespace ctnn::update_rule
