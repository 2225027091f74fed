#pragma once
// cuda::LossScaler: dynamic loss scaling for Precision::fp16 (PyTorch's GradScaler semantics), with
// its state in device memory so that a step never waits for it and can be captured as a graph:
//   scale()       the current scale, read by the loss kernel, which multiplies the gradient by it
//                 (cuda::StepMetrics::accumulate(..., scaler.scale()));
//   unscale(g)    after backward, one pass over the gradients: g *= 1 / scale, and a non-finite value
//                 sets found_inf();
//   found_inf()   the flag an optimizer's multi-tensor update reads to skip the step
//                 (opt.skip_when(scaler.found_inf()));
//   update()      after the update: halve the scale after an inf/NaN, double it after
//                 growth_interval good steps (portable/half_precision.hpp, tested on the CPU).
//   read()        the state on the host (one host wait), for reports.
// An optimizer's step count still advances on a skipped step (PyTorch's does not): AdamW's bias
// corrections then run ahead by the number of skipped steps, which are few after the first steps.

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "device.hpp"
#include "launch.hpp"
#include "portable/half_precision.hpp"

#include <cstddef>
#include <cstdint>

namespace ctnn::cuda {

namespace detail {

template <class = void>
__global__ void unscale_gradients(float* g, std::size_t n, LossScaleState* state) {
  const LossScaleState s = *state;
  bool found = false;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    g[i] = unscale(g[i], s, found);
  if (found) atomicOr(&state->found_inf, 1u);
}

template <class = void>
__global__ void update_scale(LossScaleState* state, LossScaleRule rule) {
  if (threadIdx.x == 0 && blockIdx.x == 0) update_loss_scale(*state, rule);
}

}  // namespace detail

class LossScaler {
public:
  explicit LossScaler(detail::LossScaleRule rule = {}, float initial_scale = 65536.f)
      : state_(1, "the loss scale"), rule_(rule) {
    detail::LossScaleState s;
    s.scale = initial_scale;
    s.inv_scale = 1.f / initial_scale;
    Cuda::upload(state_.data(), &s, sizeof s);
  }

  // Addresses inside the device block (computed, never dereferenced on the host).
  const float* scale() const noexcept { return field<float>(offsetof(detail::LossScaleState, scale)); }
  const std::uint32_t* found_inf() const noexcept {
    return field<std::uint32_t>(offsetof(detail::LossScaleState, found_inf));
  }

  void unscale(float* gradients, std::size_t n) {
    if (n == 0) return;
    detail::unscale_gradients<><<<detail::grid_for(n), detail::block_size, 0, context().stream()>>>(gradients, n,
                                                                                                   state_.data());
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::unscale_gradients");
  }

  void update() {
    detail::update_scale<><<<1, 32, 0, context().stream()>>>(state_.data(), rule_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::update_scale");
  }

  detail::LossScaleState read() {
    detail::LossScaleState s;
    Cuda::download(&s, state_.data(), sizeof s);
    return s;
  }

private:
  template <class F>
  const F* field(std::size_t offset) const noexcept {
    return reinterpret_cast<const F*>(reinterpret_cast<const unsigned char*>(state_.data()) + offset);
  }

  DeviceBuffer<detail::LossScaleState> state_;
  detail::LossScaleRule rule_;
};

}  // namespace ctnn::cuda
