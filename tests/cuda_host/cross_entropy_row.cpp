// The per-sample body of the CUDA loss-and-accuracy kernel (cross_entropy_row) against the CPU
// loss and ctnn::argmax, without a GPU: the same loss sum and gradient bits, the same top-1 hits
// (ties, NaN), in place too.
#include <ctnn/backend/cpu.hpp>
#include <ctnn/backend/cuda/portable/cross_entropy_row.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/loss.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

using namespace ctnn;

namespace {

struct Batch {
  std::size_t n, classes;
  std::vector<float> logits;
  std::vector<std::int32_t> labels;
};

Batch random_batch(std::size_t n, std::size_t classes, std::uint64_t seed) {
  Rng rng(seed);
  Batch b{n, classes, std::vector<float>(n * classes), std::vector<std::int32_t>(n)};
  for (auto& v : b.logits) v = rng.uniform(-9.f, 9.f);
  for (auto& l : b.labels) l = static_cast<std::int32_t>(rng.below(classes));
  return b;
}

void check_against_cpu(const Batch& b, float smoothing) {
  std::vector<float> grad_cpu(b.logits.size()), grad_row(b.logits.size());
  const double total = backend::cpu::softmax_cross_entropy_rows(b.logits.data(), b.labels.data(), b.n, b.classes, smoothing,
                                                               grad_cpu.data());
  double sum = 0;
  std::size_t correct = 0;
  for (std::size_t s = 0; s < b.n; ++s) {
    const auto r = cuda::detail::cross_entropy_row(b.logits.data() + s * b.classes, b.classes, std::size_t(b.labels[s]),
                                                   smoothing, 1.0 / double(b.n), grad_row.data() + s * b.classes);
    sum += r.loss;
    correct += r.correct;
    CHECK(r.correct == (argmax(b.logits.data() + s * b.classes, b.classes) == std::size_t(b.labels[s])));
  }
  CHECK(sum == total);
  CHECK(std::memcmp(grad_cpu.data(), grad_row.data(), grad_cpu.size() * sizeof(float)) == 0);
  std::size_t expected = 0;
  for (std::size_t s = 0; s < b.n; ++s)
    expected += argmax(b.logits.data() + s * b.classes, b.classes) == std::size_t(b.labels[s]);
  CHECK(correct == expected);
}

}  // namespace

TEST_CASE("cross_entropy_row: loss, gradient and top-1 as the CPU loss and ctnn::argmax") {
  for (const float smoothing : {0.f, 0.1f, 1.f}) {
    check_against_cpu(random_batch(37, 10, 1), smoothing);
    check_against_cpu(random_batch(5, 100, 2), smoothing);
    check_against_cpu(random_batch(3, 1, 3), smoothing);
  }
}

TEST_CASE("cross_entropy_row: ties go to the lowest index, NaN never wins, in place") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> row{1.f, 3.f, 3.f, 0.f};
  std::vector<float> g(4);
  CHECK(cuda::detail::cross_entropy_row(row.data(), 4, 1, 0.0, 1.0, g.data()).correct);
  CHECK(!cuda::detail::cross_entropy_row(row.data(), 4, 2, 0.0, 1.0, g.data()).correct);
  std::vector<float> with_nan{nan, 2.f, 1.f};
  CHECK(cuda::detail::cross_entropy_row(with_nan.data(), 3, 1, 0.0, 1.0, g.data()).correct);

  Batch b = random_batch(4, 10, 9);
  std::vector<float> expected(b.logits.size());
  backend::cpu::softmax_cross_entropy_rows(b.logits.data(), b.labels.data(), b.n, 10, 0.1f, expected.data());
  for (std::size_t s = 0; s < b.n; ++s)
    cuda::detail::cross_entropy_row(b.logits.data() + s * 10, 10, std::size_t(b.labels[s]), double(0.1f), 0.25,
                                    b.logits.data() + s * 10);
  CHECK(std::memcmp(expected.data(), b.logits.data(), expected.size() * sizeof(float)) == 0);
}
