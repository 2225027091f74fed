#pragma once
// backend::host_loss<D>: a loss kernel for any device with transfers, for a device that has no
// kernel of its own: downloads the logits, runs the CPU loop and uploads the gradient. Correct, not
// fast; register it as `using loss = backend::host_loss<D>;`.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../core/device.hpp"
#include "cpu/loss.hpp"

namespace ctnn::backend {

template <class D>
struct host_loss {
  static double softmax_cross_entropy_sum(const float* logits, std::span<const std::int32_t> labels,
                                          std::size_t classes, float label_smoothing, float* grad) {
    thread_local std::vector<float> host;  // grows, never shrinks
    const std::size_t n = labels.size() * classes;
    if (host.size() < n) host.resize(n);
    D::download(host.data(), logits, n * sizeof(float));
    const double total = cpu::softmax_cross_entropy_rows(host.data(), labels.data(), labels.size(), classes,
                                                         label_smoothing, host.data());
    D::upload(grad, host.data(), n * sizeof(float));
    return total;
  }
};

}  // namespace ctnn::backend
