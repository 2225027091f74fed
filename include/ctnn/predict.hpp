#pragma once
// Inference: class probabilities and the top-k classes of a batch, always in evaluation mode.
//
//   std::vector<float> p = ctnn::predict(net, x);          // batch x classes softmax probabilities
//   auto best = ctnn::top_k(p, classes, 5);                // per sample: (class, probability), best first
//
// The softmax is computed in double on the host from the logits (subtracting the maximum), so it
// is exact to float precision for logits of any size.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "core/device.hpp"
#include "core/error.hpp"
#include "core/transfer.hpp"

namespace ctnn {

struct ClassScore {
  std::size_t index = 0;
  float probability = 0;
};

// Softmax probabilities of a batch of logits (n x classes, row-major) in place.
inline void softmax_rows(float* logits, std::size_t n, std::size_t classes) {
  for (std::size_t s = 0; s < n; ++s) {
    float* row = logits + s * classes;
    const double m = *std::max_element(row, row + classes);
    double sum = 0;
    for (std::size_t j = 0; j < classes; ++j) sum += std::exp(double(row[j]) - m);
    for (std::size_t j = 0; j < classes; ++j) row[j] = static_cast<float>(std::exp(double(row[j]) - m) / sum);
  }
}

// The class probabilities of every sample of x (evaluation mode: Mode::inference), on the host.
template <class Net>
std::vector<float> predict(Net& net, const typename Net::input_type& x) {
  constexpr std::size_t C = Net::output_shape::size;
  std::vector<float> p = to_host(net.forward(x, Mode::inference));
  softmax_rows(p.data(), p.size() / C, C);
  return p;
}

// The k most probable classes of each sample (ties: the lower index first), best first.
inline std::vector<std::vector<ClassScore>> top_k(const std::vector<float>& probabilities, std::size_t classes,
                                                  std::size_t k) {
  if (classes == 0 || probabilities.size() % classes != 0)
    detail::fail("ctnn::top_k: ", probabilities.size(), " probabilities are not rows of ", classes, " classes");
  k = std::min(k, classes);
  std::vector<std::vector<ClassScore>> out(probabilities.size() / classes);
  std::vector<std::size_t> order(classes);
  for (std::size_t s = 0; s < out.size(); ++s) {
    const float* row = probabilities.data() + s * classes;
    for (std::size_t j = 0; j < classes; ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return row[a] > row[b]; });
    for (std::size_t j = 0; j < k; ++j) out[s].push_back({order[j], row[order[j]]});
  }
  return out;
}

// A confusion matrix: counts[true][predicted].
struct ConfusionMatrix {
  std::size_t classes = 0;
  std::vector<std::size_t> counts;
  explicit ConfusionMatrix(std::size_t c = 0) : classes(c), counts(c * c, 0) {}
  void add(std::size_t truth, std::size_t predicted) {
    if (truth >= classes || predicted >= classes)
      detail::fail("ctnn::ConfusionMatrix::add: class ", truth, " or ", predicted, " is not below ", classes);
    ++counts[truth * classes + predicted];
  }
  std::size_t at(std::size_t truth, std::size_t predicted) const { return counts[truth * classes + predicted]; }
  std::size_t total() const {
    std::size_t n = 0;
    for (const auto c : counts) n += c;
    return n;
  }
  double accuracy() const {
    std::size_t hits = 0;
    for (std::size_t i = 0; i < classes; ++i) hits += at(i, i);
    return total() ? double(hits) / double(total()) : 0.0;
  }
};

}  // namespace ctnn
