#pragma once
// Softmax cross-entropy on the host, per sample in double (max subtraction, log-sum-exp), with the
// semantics of ctnn::softmax_cross_entropy (loss/cross_entropy.hpp). The CPU backend's loss
// kernel; other devices without a kernel of their own run it through host_loss (backend/host_loss.hpp).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ctnn::backend::cpu {

// Returns the loss SUM over n samples and writes (softmax - target) / n into grad, which may alias
// logits (each row is read completely before it is written).
inline double softmax_cross_entropy_rows(const float* logits, const std::int32_t* labels, std::size_t n,
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
    const double inv_sum = 1.0 / sum_exp;
    for (std::size_t j = 0; j < classes; ++j) {
      const double p = std::exp(static_cast<double>(x[j]) - m) * inv_sum;
      const double t = j == y ? on : off;
      g[j] = static_cast<float>((p - t) * inv_n);
    }
  }
  return total;
}

struct Loss {
  static double softmax_cross_entropy_sum(const float* logits, std::span<const std::int32_t> labels,
                                          std::size_t classes, float label_smoothing, float* grad) {
    return softmax_cross_entropy_rows(logits, labels.data(), labels.size(), classes, label_smoothing, grad);
  }
};

}  // namespace ctnn::backend::cpu
