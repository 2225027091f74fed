#pragma once
// Softmax cross-entropy with PyTorch's semantics (nn.CrossEntropyLoss, reduction='mean').
//
//   float ctnn::softmax_cross_entropy(const Tensor<Shape<C>, D>& logits,
//                                     std::span<const std::int32_t> labels,
//                                     Tensor<Shape<C>, D>& grad,
//                                     float label_smoothing = 0.f);
//
// Returns the mean loss over the batch and writes dL/dlogits = (softmax(logits) - target) / N into
// `grad` (its batch is set to N = logits.batch()), where
//   target = (1 - label_smoothing) * onehot(label) + label_smoothing / C
// exactly as CrossEntropyLoss(label_smoothing=eps). Per sample,
//   loss_n = log(sum_j exp(x_j - m)) - sum_j target_j (x_j - m),   m = max_j x_j,
// computed in double (max subtraction, log-sum-exp), so logits of any finite magnitude neither
// overflow nor produce NaN; the batch mean is accumulated in double and returned as float.
// Refinements of the contract:
//   - `labels` always lives in host memory (one int32 per sample), whatever the device D; a
//     std::vector<std::int32_t> converts implicitly.
//   - `grad` may be the same tensor as `logits` (each row is read completely before it is written).
//   - ctnn::Error (message names the call) for: labels.size() != logits.batch(), a label outside
//     [0, C) (the message gives its index and value), an empty batch, label_smoothing outside
//     [0, 1], and a grad tensor whose capacity is below the batch.
// Devices: D = Cpu runs the loop below. Another device D provides a fused kernel by declaring, in
// D's namespace (ctnn for ctnn::Cuda; found by argument-dependent lookup on D, so the declaration
// may come after this header), before this function is instantiated:
//   double softmax_cross_entropy_sum(D, const float* logits, std::span<const std::int32_t> labels,
//                                    std::size_t classes, float label_smoothing, float* grad);
// returning the SUM of the per-sample losses (labels already validated, on the host; grad gets
// (softmax - target) / N). Without such an overload, a device falls back to downloading the
// logits, computing on the host and uploading the gradient (correct, not fast).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/memory.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"

namespace ctnn {

namespace detail {

// Host loop shared by the Cpu path and the download/upload fallback. Returns the loss SUM.
inline double softmax_cross_entropy_host(const float* logits, const std::int32_t* labels, std::size_t n,
                                         std::size_t classes, float label_smoothing, float* grad) {
  const double eps = label_smoothing;
  const double off = eps / static_cast<double>(classes);  // smoothing mass on every class
  const double on = 1.0 - eps + off;                      // target of the labelled class
  const double inv_n = 1.0 / static_cast<double>(n);
  double total = 0.0;
  for (std::size_t s = 0; s < n; ++s) {
    const float* x = logits + s * classes;
    float* g = grad + s * classes;
    const auto y = static_cast<std::size_t>(labels[s]);
    double m = x[0];
    for (std::size_t j = 1; j < classes; ++j) m = x[j] > m ? static_cast<double>(x[j]) : m;
    double sum_exp = 0.0;
    double sum_shifted = 0.0;  // sum_j (x_j - m), for the smoothing term
    for (std::size_t j = 0; j < classes; ++j) {
      const double z = static_cast<double>(x[j]) - m;
      sum_exp += std::exp(z);
      sum_shifted += z;
    }
    const double lse = std::log(sum_exp);  // sum_exp >= 1: no log(0)
    const double shifted_label = static_cast<double>(x[y]) - m;
    // -sum_j t_j log p_j with log p_j = z_j - lse and sum_j t_j = 1:
    total += lse - (1.0 - eps) * shifted_label - off * sum_shifted;
    // x is read completely above, so g may alias x.
    const double inv_sum = 1.0 / sum_exp;
    for (std::size_t j = 0; j < classes; ++j) {
      const double p = std::exp(static_cast<double>(x[j]) - m) * inv_sum;
      const double t = j == y ? on : off;
      g[j] = static_cast<float>((p - t) * inv_n);
    }
  }
  return total;
}

template <class D>
inline constexpr bool dependent_false_v = false;

// Host copy of a device tensor (grows, never shrinks; one per thread).
inline std::vector<float>& host_staging() {
  thread_local std::vector<float> buffer;
  return buffer;
}

inline void check_labels(const char* call, std::span<const std::int32_t> labels, std::size_t batch,
                         std::size_t classes) {
  if (labels.size() != batch)
    fail(call, ": ", labels.size(), " labels for a batch of ", batch, " logits");
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes)
      fail(call, ": labels[", i, "] = ", labels[i], " is outside [0, ", classes, ")");
}

}  // namespace detail

template <std::size_t C, class D>
float softmax_cross_entropy(const Tensor<Shape<C>, D>& logits, std::span<const std::int32_t> labels,
                            Tensor<Shape<C>, D>& grad, float label_smoothing = 0.f) {
  static_assert(C >= 1, "ctnn::softmax_cross_entropy needs at least one class");
  constexpr const char* call = "ctnn::softmax_cross_entropy";
  const std::size_t n = logits.batch();
  if (n == 0) detail::fail(call, ": the batch is empty");
  if (!(label_smoothing >= 0.f && label_smoothing <= 1.f))
    detail::fail(call, ": label_smoothing = ", label_smoothing, " is outside [0, 1]");
  detail::check_labels(call, labels, n, C);
  if (n > grad.capacity())
    detail::fail(call, ": the gradient tensor holds ", grad.capacity(), " samples, the batch has ", n);
  grad.set_batch(n);

  double total;
  if constexpr (requires(const float* l, float* g) {
                  { softmax_cross_entropy_sum(D{}, l, labels, C, label_smoothing, g) };
                }) {
    total = softmax_cross_entropy_sum(D{}, logits.data(), labels, C, label_smoothing, grad.data());
  } else if constexpr (is_host_device_v<D>) {
    total = detail::softmax_cross_entropy_host(logits.data(), labels.data(), n, C, label_smoothing,
                                               grad.data());
  } else {
    auto& host = detail::host_staging();
    if (host.size() < n * C) host.resize(n * C);
    D::download(host.data(), logits.data(), n * C * sizeof(float));
    total = detail::softmax_cross_entropy_host(host.data(), labels.data(), n, C, label_smoothing, host.data());
    D::upload(grad.data(), host.data(), n * C * sizeof(float));
  }
  return static_cast<float>(total / static_cast<double>(n));
}

}  // namespace ctnn
