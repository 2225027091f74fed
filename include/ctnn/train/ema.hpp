#pragma once
// An exponential moving average of a network's parameters, updated after every optimizer step:
//   ema = decay * ema + (1 - decay) * w        (one fused pass per tensor, on the network's device)
// started from the weights it is attached to, as timm's ModelEmaV2 and PyTorch's AveragedModel with
// an EMA function. Buffers (batch-norm statistics) are not averaged: evaluating with the EMA uses
// the network's current ones. apply() puts the averages into the network (keeping its own weights
// aside) and restore() puts them back, so the same network object evaluates both; state() names the
// averages "ema.<parameter>" for checkpoints.

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "../optim/state.hpp"

namespace ctnn::train {

template <class D>
class Ema {
public:
  explicit Ema(float decay) : decay_(decay) {
    if (!(decay >= 0.f && decay < 1.f)) detail::fail("ctnn::train::Ema: decay ", decay, " is outside [0, 1)");
  }

  // Allocates the averages (and the room apply() needs) and starts them at the parameters' values.
  void attach(std::span<const Parameter> params) {
    avg_.clear();
    saved_.clear();
    for (const auto& p : params) {
      avg_.emplace_back(p.size, "EMA of the weights");
      saved_.emplace_back(p.size, "EMA: the weights set aside");
      D::copy(avg_.back().data(), p.value, p.size * sizeof(float));
    }
  }
  bool attached() const { return !avg_.empty(); }

  void update(std::span<const Parameter> params) {
    check(params, "update");
    const float d = decay_, keep = 1.f - decay_;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const expr::TensorLeaf<float> a{{}, avg_[i].data()}, w{{}, params[i].value};
      expr::assign_flat<D>(avg_[i].data(), params[i].size, a * d + w * keep);
    }
  }

  // The averages into the parameters; the parameters' own values are kept for restore().
  void apply(std::span<const Parameter> params) {
    check(params, "apply");
    for (std::size_t i = 0; i < params.size(); ++i) {
      D::copy(saved_[i].data(), params[i].value, params[i].size * sizeof(float));
      D::copy(params[i].value, avg_[i].data(), params[i].size * sizeof(float));
    }
  }
  void restore(std::span<const Parameter> params) {
    check(params, "restore");
    for (std::size_t i = 0; i < params.size(); ++i)
      D::copy(params[i].value, saved_[i].data(), params[i].size * sizeof(float));
  }

  std::vector<Buffer> state(std::span<const Parameter> params) {
    if (!attached()) attach(params);
    check(params, "state");
    std::vector<Buffer> out;
    for (std::size_t i = 0; i < params.size(); ++i)
      out.push_back(Buffer{detail::prefixed("ema.", params[i].name), avg_[i].data(), avg_[i].size()});
    return out;
  }

  float decay() const { return decay_; }

private:
  void check(std::span<const Parameter> params, const char* call) const {
    if (params.size() != avg_.size())
      detail::fail("ctnn::train::Ema::", call, ": attached to ", avg_.size(), " parameters, given ", params.size());
  }

  float decay_;
  std::vector<detail::DeviceArray<D>> avg_, saved_;
};

}  // namespace ctnn::train
