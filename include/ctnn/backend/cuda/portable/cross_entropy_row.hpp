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

CTNN_HD inline CrossEntropyRow cross_entropy_row(const float* x, std::size_t classes, std::size_t label, double eps,
                                                 double inv_n, float* grad) {
  const double off = eps / static_cast<double>(classes);
  const double on = 1.0 - eps + off;
  double m = x[0];
  for (std::size_t j = 1; j < classes; ++j) m = x[j] > m ? static_cast<double>(x[j]) : m;
  double sum_exp = 0.0, sum_shifted = 0.0;
  for (std::size_t j = 0; j < classes; ++j) {
    const double z = static_cast<double>(x[j]) - m;
    sum_exp += std::exp(z);
    sum_shifted += z;
  }
  std::size_t best = 0;
  for (std::size_t j = 1; j < classes; ++j)
    if (x[j] > x[best] || (x[best] != x[best] && x[j] == x[j])) best = j;
  const double shifted_label = static_cast<double>(x[label]) - m;
  const double loss = std::log(sum_exp) - (1.0 - eps) * shifted_label - off * sum_shifted;
  const double inv_sum = 1.0 / sum_exp;
  for (std::size_t j = 0; j < classes; ++j) {
    const double p = std::exp(static_cast<double>(x[j]) - m) * inv_sum;
    grad[j] = static_cast<float>((p - (j == label ? on : off)) * inv_n);
  }
  return {loss, best == label};
}

}  // namespace ctnn::cuda::detail
