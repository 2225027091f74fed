// count_correct / accuracy / argmax: top-1 with ties going to the lowest index.
#include <ctnn/backend/cpu.hpp>  // the CPU backend: the tests run on ctnn::Cpu
#include <ctnn/loss.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace ctnn;

TEST_CASE("argmax takes the first of equal maxima and never picks NaN over a number") {
  const float a[] = {1.f, 3.f, 3.f, 2.f};
  CHECK(argmax(a, 4) == 1);
  const float b[] = {5.f, 5.f, 5.f};
  CHECK(argmax(b, 3) == 0);
  const float c[] = {-1.f, -0.5f, -2.f};
  CHECK(argmax(c, 3) == 1);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float d[] = {nan, -1.f, 0.f};
  CHECK(argmax(d, 3) == 2);
}

TEST_CASE("count_correct and accuracy") {
  Tensor<Shape<3>> logits(5);
  const std::vector<float> x{
      0.f, 1.f, 0.f,   // argmax 1
      2.f, 2.f, 1.f,   // tie -> 0
      0.f, 0.f, 0.f,   // all equal -> 0
      -3.f, -1.f, -2.f,  // 1
      0.f, 1.f, 5.f,   // 2
  };
  logits.copy_from(std::span<const float>(x));
  const std::vector<std::int32_t> labels{1, 1, 0, 1, 0};  // correct: yes, no (tie), yes, yes, no
  CHECK(count_correct(logits, labels) == 3);
  CHECK(accuracy(logits, labels) == doctest::Approx(0.6));
  const std::vector<std::int32_t> all{1, 0, 0, 1, 2};
  CHECK(count_correct(logits, all) == 5);
  CHECK(accuracy(logits, all) == 1.0);

  const std::vector<std::int32_t> bad{1, 0, 3, 1, 2};
  CHECK_THROWS_WITH_AS(count_correct(logits, bad), "ctnn::count_correct: labels[2] = 3 is outside [0, 3)", Error);
  CHECK_THROWS_AS(accuracy(logits, bad), Error);
  const std::vector<std::int32_t> few{1, 0};
  CHECK_THROWS_WITH(count_correct(logits, few), doctest::Contains("2 labels for a batch of 5"));
  logits.set_batch(0);
  CHECK(count_correct(logits, std::span<const std::int32_t>{}) == 0);
  CHECK_THROWS_WITH(accuracy(logits, std::span<const std::int32_t>{}), doctest::Contains("empty"));
}
