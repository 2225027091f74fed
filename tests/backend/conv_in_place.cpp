// A convolution's backward that writes dx over x (cpu::Conv2d::dx_may_overwrite_x, which the memory
// plan relies on when the input is an output it recomputes): the same dx and dw, bit for bit, as
// with dx in a buffer of its own, on every way the CPU convolution runs.
#include <ctnn/backend/cpu.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/core/threading.hpp>
#include <doctest/doctest.h>

#include <cstddef>
#include <vector>

namespace cpu = ctnn::backend::cpu;
using ctnn::backend::Geometry2d;

namespace {

Geometry2d geometry(std::size_t in_c, std::size_t out_c, std::size_t hw, std::size_t k, std::size_t stride,
                    std::size_t groups = 1) {
  const std::size_t pad = k / 2, out = (hw + 2 * pad - k) / stride + 1;
  return {in_c, hw, hw, out_c, out, out, k, stride, pad, groups};
}

void check(const Geometry2d& g, std::size_t batch, cpu::ConvAlgorithm algorithm, std::size_t expect_tile) {
  static_assert(cpu::Conv2d::dx_may_overwrite_x);
  cpu::Conv2d conv(g, batch, algorithm);
  REQUIRE(conv.winograd_tile() == expect_tile);
  ctnn::Rng rng(11 + batch);
  std::vector<float> x(batch * g.in_size()), w(g.weight_size()), dy(batch * g.out_size());
  for (auto& v : x) v = rng.uniform(-1, 1);
  for (auto& v : w) v = rng.uniform(-0.5f, 0.5f);
  for (auto& v : dy) v = rng.uniform(-1, 1);
  std::vector<float> dx(x.size()), dw(w.size(), 0.f);
  conv.backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), batch);
  std::vector<float> shared = x, dw2(w.size(), 0.f);
  conv.backward(shared.data(), w.data(), dy.data(), shared.data(), dw2.data(), batch);
  CHECK(dw2 == dw);
  CHECK(shared == dx);
  CHECK(shared != x);
}

}  // namespace

TEST_CASE("Conv2d's backward may write dx over x: im2col (several images per GEMM, one), 1x1, grouped, Winograd") {
  const int saved = ctnn::num_threads();
  for (const int threads : {1, 2}) {
    ctnn::set_num_threads(threads);
    for (const std::size_t batch : {1, 3, 21}) {
      CAPTURE(threads);
      CAPTURE(batch);
      SUBCASE("3x3 stride 2, 5x5 planes: several images per GEMM") {
        check(geometry(8, 16, 9, 3, 2), batch, cpu::ConvAlgorithm::automatic, 0);
      }
      SUBCASE("3x3 stride 2, 16x16 planes: one image per GEMM") {
        check(geometry(8, 16, 32, 3, 2), batch, cpu::ConvAlgorithm::automatic, 0);
      }
      SUBCASE("1x1 stride 1 (read in place), 16x16 and 4x4 planes") {
        check(geometry(12, 20, 16, 1, 1), batch, cpu::ConvAlgorithm::automatic, 0);
        check(geometry(12, 20, 4, 1, 1), batch, cpu::ConvAlgorithm::automatic, 0);
      }
      SUBCASE("1x1 stride 2") { check(geometry(12, 20, 8, 1, 2), batch, cpu::ConvAlgorithm::automatic, 0); }
      SUBCASE("grouped 3x3, 3 groups") { check(geometry(12, 18, 7, 3, 1, 3), batch, cpu::ConvAlgorithm::automatic, 0); }
      SUBCASE("3x3 stride 1 on im2col") { check(geometry(16, 24, 10, 3, 1), batch, cpu::ConvAlgorithm::im2col, 0); }
      SUBCASE("Winograd F(2x2) and F(4x4)") {
        check(geometry(16, 24, 10, 3, 1), batch, cpu::ConvAlgorithm::winograd_2x2, 2);
        check(geometry(16, 16, 33, 3, 1), batch, cpu::ConvAlgorithm::winograd_4x4, 4);
      }
    }
  }
  ctnn::set_num_threads(saved);
}
