#pragma once
// Classification metrics on a batch of logits.
//
//   std::size_t ctnn::count_correct(const Tensor<Shape<C>, D>& logits, std::span<const std::int32_t> labels);
//   double      ctnn::accuracy(const Tensor<Shape<C>, D>& logits, std::span<const std::int32_t> labels);
//
// count_correct: how many samples' top-1 class (argmax over the C logits; a tie goes to the lowest
// index, like torch.argmax / std::max_element) equals the label; 0 for an empty batch.
// accuracy: count_correct / batch, in [0, 1]; an empty batch throws.
// Both throw ctnn::Error when labels.size() != logits.batch() or a label is outside [0, C) (index
// and value in the message). `labels` lives in host memory; logits the host cannot read directly
// are downloaded into a per-thread host buffer first (host_view, core/transfer.hpp).
// ctnn::argmax(const float* row, std::size_t classes) is the top-1 rule used.

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"
#include "../core/transfer.hpp"
#include "cross_entropy.hpp"

namespace ctnn {

// Index of the largest value; the lowest such index on ties. NaN never wins against a number.
inline std::size_t argmax(const float* row, std::size_t classes) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < classes; ++j)
    if (row[j] > row[best] || (row[best] != row[best] && row[j] == row[j])) best = j;
  return best;
}

// Logits of another element type than float (Precision::bf16/fp16) are converted to float first.
template <std::size_t C, class D, class T>
std::size_t count_correct(const Tensor<Shape<C>, D, T>& logits, std::span<const std::int32_t> labels) {
  const std::size_t n = logits.batch();
  detail::check_labels("ctnn::count_correct", labels, n, C);
  thread_local std::vector<T> staging;  // grows, never shrinks
  const T* x = host_view<D>(logits.data(), n * C, staging);
  const float* rows = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    rows = x;
  } else {
    thread_local std::vector<float> converted;
    converted.resize(n * C);
    for (std::size_t i = 0; i < n * C; ++i) converted[i] = static_cast<float>(x[i]);
    rows = converted.data();
  }
  std::size_t correct = 0;
  for (std::size_t s = 0; s < n; ++s)
    correct += argmax(rows + s * C, C) == static_cast<std::size_t>(labels[s]) ? 1 : 0;
  return correct;
}

template <std::size_t C, class D, class T>
double accuracy(const Tensor<Shape<C>, D, T>& logits, std::span<const std::int32_t> labels) {
  if (logits.batch() == 0) detail::fail("ctnn::accuracy: the batch is empty");
  return static_cast<double>(count_correct(logits, labels)) / static_cast<double>(logits.batch());
}

}  // namespace ctnn
