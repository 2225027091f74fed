// ctnn::predict, top_k and ConfusionMatrix: probabilities against a double softmax, evaluation
// mode (batch-norm statistics untouched), ties, and bad input.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace ctnn;

TEST_CASE("predict: softmax of the logits in evaluation mode") {
  using Spec = Seq<Flatten, Linear<12, 4>, BatchNorm<4>>;
  Network<Spec, Shape<3, 2, 2>> net(3, 5);
  Tensor<Shape<3, 2, 2>> x(3);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(float(i));
  std::vector<float> stats;
  for (const auto& b : net.buffers()) stats.insert(stats.end(), b.value, b.value + b.size);
  const std::vector<float> logits = to_host(net.forward(x, Mode::eval));
  const std::vector<float> p = predict(net, x);
  REQUIRE(p.size() == 12);
  for (std::size_t s = 0; s < 3; ++s) {
    double sum = 0, m = -1e30;
    for (std::size_t j = 0; j < 4; ++j) m = std::max(m, double(logits[s * 4 + j]));
    for (std::size_t j = 0; j < 4; ++j) sum += std::exp(double(logits[s * 4 + j]) - m);
    for (std::size_t j = 0; j < 4; ++j) CHECK(p[s * 4 + j] == doctest::Approx(std::exp(double(logits[s * 4 + j]) - m) / sum).epsilon(1e-6));
  }
  std::vector<float> after;
  for (const auto& b : net.buffers()) after.insert(after.end(), b.value, b.value + b.size);
  CHECK(after == stats);  // evaluation mode: no statistics update
  std::vector<float> big{1000.f, 999.f, -1000.f};
  softmax_rows(big.data(), 1, 3);
  CHECK(big[0] == doctest::Approx(1.0 / (1.0 + std::exp(-1.0))));
  CHECK(big[2] == 0.f);
}

TEST_CASE("top_k: best first, ties to the lower index, k clamped; ConfusionMatrix counts") {
  const std::vector<float> p{0.1f, 0.4f, 0.4f, 0.1f, 0.7f, 0.1f, 0.1f, 0.1f};
  const auto t = top_k(p, 4, 3);
  REQUIRE(t.size() == 2);
  CHECK(t[0][0].index == 1);
  CHECK(t[0][1].index == 2);
  CHECK(t[0][2].index == 0);
  CHECK(t[1][0].index == 0);
  CHECK(t[1][0].probability == 0.7f);
  CHECK(top_k(p, 4, 9)[0].size() == 4);
  CHECK_THROWS_WITH_AS(top_k(p, 3, 1), doctest::Contains("are not rows of 3 classes"), Error);
  ConfusionMatrix m(3);
  m.add(0, 0);
  m.add(1, 2);
  m.add(2, 2);
  CHECK(m.total() == 3);
  CHECK(m.at(1, 2) == 1);
  CHECK(m.accuracy() == doctest::Approx(2.0 / 3.0));
  CHECK_THROWS_AS(m.add(3, 0), Error);
}
