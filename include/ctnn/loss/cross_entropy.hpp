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
// Devices: the loss runs on logits' device, through the loss kernel of backend::kernels<D>
// (backend/contract.hpp): the host loop on the CPU, a fused kernel on CUDA. A device without a
// kernel of its own registers backend::host_loss<D> (download, compute on the host, upload).

#include <cstddef>
#include <cstdint>
#include <span>

#include "../backend/contract.hpp"
#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"

namespace ctnn {

namespace detail {

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

  const double total = backend::kernels<D>::loss::softmax_cross_entropy_sum(logits.data(), labels, C, label_smoothing,
                                                                           grad.data());
  return static_cast<float>(total / static_cast<double>(n));
}

}  // namespace ctnn
