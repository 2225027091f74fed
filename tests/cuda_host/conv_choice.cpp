// The choice of a cuDNN convolution algorithm (backend/cuda/portable/conv_choice.hpp), without a
// GPU: under fp32 a result measured with CUDNN_DEFAULT_MATH (TF32 allowed) is never taken, whatever
// its time; the chosen result runs with its own math type; determinism and the workspace limit
// filter; rejections are explained.
#include <ctnn/backend/cuda/portable/conv_choice.hpp>
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace ctnn::cuda::detail;

namespace {
auto reported = [](const ConvCandidate& c) -> std::optional<std::size_t> { return c.memory; };
}

TEST_CASE("fp32: the fastest DEFAULT_MATH (TF32-timed) result is passed over for the fastest FMA one") {
  const std::vector<ConvCandidate> found{
      {1, true, 0.10f, 0, ConvMath::default_math, true},  // timed with TF32 allowed
      {6, true, 0.12f, 0, ConvMath::tensor_op, true},
      {1, true, 0.30f, 0, ConvMath::fma, true},
      {0, true, 0.40f, 0, ConvMath::fma, true},
  };
  std::vector<std::string> why;
  const auto c = choose_convolution(found, ConvFilter{MathPolicy::fp32, false, 1 << 20}, reported, &why);
  REQUIRE(c);
  CHECK(c->index == 2);
  CHECK(found[c->index].math == ConvMath::fma);
  REQUIRE(why.size() == 2);
  CHECK(why[0] == "algorithm 1 (DEFAULT_MATH): math type not allowed");
  CHECK(why[1] == "algorithm 6 (TENSOR_OP_MATH): math type not allowed");
}

TEST_CASE("TF32 (an explicit opt-in) and half precision take the fastest result with its own math type") {
  const std::vector<ConvCandidate> found{
      {1, true, 0.10f, 0, ConvMath::default_math, true},
      {1, true, 0.30f, 0, ConvMath::fma, true},
  };
  for (const MathPolicy p : {MathPolicy::tf32, MathPolicy::half}) {
    const auto c = choose_convolution(found, ConvFilter{p, false, 1 << 20}, reported);
    REQUIRE(c);
    CHECK(c->index == 0);
  }
  CHECK(search_math(MathPolicy::fp32) == ConvMath::fma);
  CHECK(search_math(MathPolicy::tf32) == ConvMath::default_math);
  CHECK(search_math(MathPolicy::half) == ConvMath::tensor_op);
}

TEST_CASE("failed, non-deterministic, unsupported and too large results are filtered, in order") {
  const std::vector<ConvCandidate> found{
      {0, false, 0.01f, 0, ConvMath::fma, true},
      {3, true, 0.02f, 0, ConvMath::fma, false},
      {4, true, 0.03f, 0, ConvMath::fma, true},            // workspace_of refuses it
      {5, true, 0.04f, 4096, ConvMath::fma, true},         // reported 4096, exact 100: the larger counts
      {2, true, 0.05f, 100, ConvMath::fma, true},
  };
  auto exact = [](const ConvCandidate& c) -> std::optional<std::size_t> {
    if (c.algo == 4) return std::nullopt;
    return 100;
  };
  std::vector<std::string> why;
  const auto c = choose_convolution(found, ConvFilter{MathPolicy::fp32, true, 1000}, exact, &why);
  REQUIRE(c);
  CHECK(found[c->index].algo == 2);
  CHECK(c->workspace == 100);
  REQUIRE(why.size() == 4);
  CHECK(why[0].find("failed") != std::string::npos);
  CHECK(why[1].find("not deterministic") != std::string::npos);
  CHECK(why[2].find("not supported") != std::string::npos);
  CHECK(why[3].find("workspace above the limit") != std::string::npos);

  // Without determinism the non-deterministic one wins.
  const auto d = choose_convolution(found, ConvFilter{MathPolicy::fp32, false, 1000}, exact);
  REQUIRE(d);
  CHECK(found[d->index].algo == 3);
}

TEST_CASE("no acceptable result: nothing is chosen") {
  const std::vector<ConvCandidate> only_tf32{{1, true, 0.1f, 0, ConvMath::default_math, true}};
  CHECK(!choose_convolution(only_tf32, ConvFilter{MathPolicy::fp32, false, 1 << 20}, reported));
  CHECK(!choose_convolution(std::vector<ConvCandidate>{}, ConvFilter{MathPolicy::tf32, false, 1 << 20}, reported));
}

TEST_CASE("algorithm names for the verbose log") {
  CHECK(std::string(algorithm_name(ConvPass::forward, 1)) == "IMPLICIT_PRECOMP_GEMM");
  CHECK(std::string(algorithm_name(ConvPass::backward_data, 4)) == "WINOGRAD");
  CHECK(std::string(algorithm_name(ConvPass::backward_filter, 3)) == "ALGO_3");
  CHECK(std::string(algorithm_name(ConvPass::backward_filter, 99)) == "UNKNOWN");
  CHECK(std::string(name(ConvMath::fma)) == "FMA_MATH");
}
