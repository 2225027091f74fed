#pragma once
// Learning-rate schedules: small value types, each a callable `float operator()(std::size_t t) const`
// that gives the learning rate for unit t (0-based). The unit is the caller's choice: pass the
// epoch index and set opt.lr once per epoch, or the global step index and set it every step (then
// give milestones, total and warmup in steps too). t is PyTorch's `last_epoch`: the number of
// units already completed, i.e. lr(0) is used for the first unit.
//
//   ctnn::schedule::MultiStep{float base_lr, std::vector<std::size_t> milestones, float gamma = 0.1f,
//                             std::size_t warmup = 0};
//   ctnn::schedule::Cosine{float base_lr, std::size_t total, std::size_t warmup = 0, float min_lr = 0};
//   ctnn::schedule::OneCycle{float max_lr, std::size_t total, float pct_start = 0.3f,
//                            float div_factor = 25, float final_div_factor = 1e4f};
//   ctnn::schedule::by_name("cosine", lr, total)  one of these by name (a command line's --schedule)
//
// Linear warm-up (MultiStep and Cosine, warmup = W units): for t < W,
//   lr(t) = base_lr * (t + 1) / W,
// so the lr rises in W equal steps from base_lr / W to base_lr (reached at t = W - 1); the schedule
// proper then continues from t = W (where both schedules start at base_lr, unless a MultiStep
// milestone is exactly W).
//
// MultiStep (torch.optim.lr_scheduler.MultiStepLR): lr(t) = base_lr * gamma^k, k = the number of
// milestones <= t. Milestones are absolute units (counted from t = 0, warm-up included), so
// "decay at epochs 100 and 150" reads the same with or without warm-up; they must be sorted
// (repeats multiply gamma in again, as PyTorch's Counter does) and none may fall inside the warm-up.
//
// Cosine (CosineAnnealingLR's closed form): after the warm-up, with T = total - W and u = t - W,
//   lr(t) = min_lr + (base_lr - min_lr) * (1 + cos(pi * u / T)) / 2      for u < T,
//   lr(t) = min_lr                                                          for t >= total.
// Without warm-up this is exactly CosineAnnealingLR(T_max = total, eta_min = min_lr); past the end
// it holds min_lr (PyTorch's formula would rise again).
//
// OneCycle (OneCycleLR, anneal_strategy='cos', three_phase=False): initial = max_lr / div_factor,
// final = initial / final_div_factor, s = pct_start * total - 1 (a real number, as in PyTorch):
//   t <= s:  lr = cos_anneal(initial, max_lr, t / s)
//   t >  s:  lr = cos_anneal(max_lr, final, (t - s) / (total - 1 - s))
//   cos_anneal(a, b, x) = b + (a - b) * (1 + cos(pi * x)) / 2
// so the peak max_lr is at t = pct_start * total - 1 (when that is a whole number) and lr(total - 1)
// = final; t >= total - 1 gives final (PyTorch raises past total). Computed in double.
//
// Every constructor validates its arguments and throws ctnn::Error: base/max lr < 0 or not finite,
// gamma <= 0, unsorted milestones or a milestone inside the warm-up (MultiStep); total == 0,
// warmup >= total, min_lr outside [0, base_lr] (Cosine); total < 2, pct_start outside (0, 1) or
// pct_start * total <= 1 (the warm-up phase needs more than one step, else PyTorch divides by zero),
// div_factor or final_div_factor <= 0 (OneCycle).

#include <cmath>
#include <cstddef>
#include <functional>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace ctnn::schedule {

namespace detail {
inline void check_lr(const char* call, const char* what, float lr) {
  if (!(lr >= 0.f) || !std::isfinite(lr))
    ctnn::detail::fail(call, ": ", what, " = ", lr, " must be a finite value >= 0");
}
inline double cos_anneal(double from, double to, double x) {
  return to + (from - to) * (1.0 + std::cos(std::numbers::pi * x)) / 2.0;
}
}  // namespace detail

struct MultiStep {
  float base_lr;
  std::vector<std::size_t> milestones;
  float gamma = 0.1f;
  std::size_t warmup = 0;

  MultiStep(float base_lr_, std::vector<std::size_t> milestones_, float gamma_ = 0.1f, std::size_t warmup_ = 0)
      : base_lr(base_lr_), milestones(std::move(milestones_)), gamma(gamma_), warmup(warmup_) {
    constexpr const char* call = "ctnn::schedule::MultiStep";
    detail::check_lr(call, "base_lr", base_lr);
    if (!(gamma > 0.f) || !std::isfinite(gamma))
      ctnn::detail::fail(call, ": gamma = ", gamma, " must be a finite value > 0");
    for (std::size_t i = 1; i < milestones.size(); ++i)
      if (milestones[i] < milestones[i - 1])
        ctnn::detail::fail(call, ": milestones must be sorted, but milestones[", i - 1, "] = ", milestones[i - 1],
                           " > milestones[", i, "] = ", milestones[i]);
    if (!milestones.empty() && milestones.front() < warmup)
      ctnn::detail::fail(call, ": milestone ", milestones.front(), " falls inside the warm-up of ", warmup,
                         " units (milestones count from 0, warm-up included)");
  }

  float operator()(std::size_t t) const {
    if (t < warmup)
      return static_cast<float>(static_cast<double>(base_lr) * static_cast<double>(t + 1) / static_cast<double>(warmup));
    double lr = base_lr;
    for (std::size_t m : milestones) {
      if (m > t) break;
      lr *= static_cast<double>(gamma);
    }
    return static_cast<float>(lr);
  }
};

struct Cosine {
  float base_lr;
  std::size_t total;
  std::size_t warmup = 0;
  float min_lr = 0.f;

  Cosine(float base_lr_, std::size_t total_, std::size_t warmup_ = 0, float min_lr_ = 0.f)
      : base_lr(base_lr_), total(total_), warmup(warmup_), min_lr(min_lr_) {
    constexpr const char* call = "ctnn::schedule::Cosine";
    detail::check_lr(call, "base_lr", base_lr);
    if (total == 0) ctnn::detail::fail(call, ": total must be > 0");
    if (warmup >= total)
      ctnn::detail::fail(call, ": warmup = ", warmup, " must be below total = ", total);
    if (!(min_lr >= 0.f && min_lr <= base_lr))
      ctnn::detail::fail(call, ": min_lr = ", min_lr, " must be in [0, base_lr = ", base_lr, "]");
  }

  float operator()(std::size_t t) const {
    if (t < warmup)
      return static_cast<float>(static_cast<double>(base_lr) * static_cast<double>(t + 1) / static_cast<double>(warmup));
    if (t >= total) return min_lr;
    const double u = static_cast<double>(t - warmup);
    const double span = static_cast<double>(total - warmup);
    return static_cast<float>(detail::cos_anneal(base_lr, min_lr, u / span));
  }
};

struct OneCycle {
  float max_lr;
  std::size_t total;
  float pct_start = 0.3f;
  float div_factor = 25.f;
  float final_div_factor = 1e4f;

  OneCycle(float max_lr_, std::size_t total_, float pct_start_ = 0.3f, float div_factor_ = 25.f,
           float final_div_factor_ = 1e4f)
      : max_lr(max_lr_), total(total_), pct_start(pct_start_), div_factor(div_factor_),
        final_div_factor(final_div_factor_) {
    constexpr const char* call = "ctnn::schedule::OneCycle";
    detail::check_lr(call, "max_lr", max_lr);
    if (total < 2) ctnn::detail::fail(call, ": total = ", total, " must be at least 2");
    if (!(pct_start > 0.f && pct_start < 1.f))
      ctnn::detail::fail(call, ": pct_start = ", pct_start, " must be in (0, 1)");
    if (!(peak() > 0.0))
      ctnn::detail::fail(call, ": pct_start * total = ", static_cast<double>(pct_start) * static_cast<double>(total),
                         " must exceed 1 (the rising phase needs more than one step)");
    if (!(div_factor > 0.f) || !std::isfinite(div_factor))
      ctnn::detail::fail(call, ": div_factor = ", div_factor, " must be a finite value > 0");
    if (!(final_div_factor > 0.f) || !std::isfinite(final_div_factor))
      ctnn::detail::fail(call, ": final_div_factor = ", final_div_factor, " must be a finite value > 0");
  }

  // The (real) unit at which lr reaches max_lr: pct_start * total - 1, as in PyTorch.
  double peak() const { return static_cast<double>(pct_start) * static_cast<double>(total) - 1.0; }
  double initial_lr() const { return static_cast<double>(max_lr) / static_cast<double>(div_factor); }
  double final_lr() const { return initial_lr() / static_cast<double>(final_div_factor); }

  float operator()(std::size_t t) const {
    const double last = static_cast<double>(total - 1);
    const double x = static_cast<double>(t);
    const double s = peak();
    if (x >= last) return static_cast<float>(final_lr());
    if (x <= s) return static_cast<float>(detail::cos_anneal(initial_lr(), max_lr, x / s));
    return static_cast<float>(detail::cos_anneal(max_lr, final_lr(), (x - s) / (last - s)));
  }
};

// A schedule by the name a command line gives it, over `total` steps peaking at `lr`:
//   "cosine"     Cosine{lr, total}
//   "multistep"  MultiStep{lr, {total / 2, total * 3 / 4}, 0.1}: /10 at 50% and again at 75%
//   "onecycle"   OneCycle{lr, total}
//   "constant"   lr throughout
inline const std::vector<std::string>& names() {
  static const std::vector<std::string> n{"cosine", "multistep", "onecycle", "constant"};
  return n;
}

std::function<float(std::size_t)> by_name(const std::string& name, float lr, std::size_t total);

}  // namespace ctnn::schedule

#if CTNN_HEADER_DEFINITIONS
#include "impl/schedule.ipp"
#endif
