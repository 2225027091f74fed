#pragma once
// One row of softmax cross-entropy with its top-1 hit, the per-sample body of the CUDA kernel that
// accumulates a step's loss and accuracy on the device (backend/cuda/step_metrics.hpp). The same
// arithmetic, in double, as the CPU loss (backend/cpu/loss.hpp, PyTorch's CrossEntropyLoss with
// label smoothing) and the same top-1 rule as ctnn::argmax (the lowest index on ties, NaN never
// wins); tests/cuda_host/cross_entropy_row.cpp checks both on the CPU. No CUDA header.
//
//   loss = log(sum_j exp(x_j - m)) - (1 - eps)(x_y - m) - eps / C * sum_j (x_j - m),  m = max_j x_j
//   grad = (softmax(x) - target) * inv_n,  target = (1 - eps) onehot(y) + eps / C
// `grad` may be `x` (the row is read completely before it is written).

#include <cmath>
#include <cstddef>

#include "../../../core/config.hpp"

namespace ctnn::cuda::detail {

struct CrossEntropyRow {
  double loss;
  bool correct;
};

// T: the logits' element type (float, or a 16-bit type converted through float); `inv_n` scales the
// gradient (1 / batch, times a loss scale under fp16).
template <class T>
CTNN_HD CrossEntropyRow cross_entropy_row(const T* x, std::size_t classes, std::size_t label, double eps, double inv_n,
                                          T* grad) {
  auto at = [x](std::size_t j) { return static_cast<double>(static_cast<float>(x[j])); };
  const double off = eps / static_cast<double>(classes);
  const double on = 1.0 - eps + off;
  double m = at(0);
  for (std::size_t j = 1; j < classes; ++j) m = at(j) > m ? at(j) : m;
  double sum_exp = 0.0, sum_shifted = 0.0;
  for (std::size_t j = 0; j < classes; ++j) {
    const double z = at(j) - m;
    sum_exp += std::exp(z);
    sum_shifted += z;
  }
  std::size_t best = 0;
  for (std::size_t j = 1; j < classes; ++j)
    if (at(j) > at(best) || (at(best) != at(best) && at(j) == at(j))) best = j;
  const double shifted_label = at(label) - m;
  const double loss = std::log(sum_exp) - (1.0 - eps) * shifted_label - off * sum_shifted;
  const double inv_sum = 1.0 / sum_exp;
  for (std::size_t j = 0; j < classes; ++j) {
    const double p = std::exp(at(j) - m) * inv_sum;
    grad[j] = static_cast<T>(static_cast<float>((p - (j == label ? on : off)) * inv_n));
  }
  return {loss, best == label};
}

}  // namespace ctnn::cuda::detail
