// A convolution that finishes its outputs as it writes them (ChannelAffine, backend/contract.hpp:
// y * scale + shift per output channel, then max(y, 0)), as Mode::inference asks of it: the same
// values as the plain forward followed by that arithmetic, for every way the CPU convolution runs
// (im2col with one image or several per GEMM, direct 1x1, grouped, Winograd F(2x2) and F(4x4) with
// both splits between the threads, partial lane groups).
#include <ctnn/backend/cpu.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/core/threading.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace cpu = ctnn::backend::cpu;
using ctnn::backend::ChannelAffine;
using ctnn::backend::Geometry2d;

namespace {

Geometry2d geometry(std::size_t in_c, std::size_t out_c, std::size_t hw, std::size_t k, std::size_t stride,
                    std::size_t groups = 1) {
  const std::size_t pad = k / 2, out = (hw + 2 * pad - k) / stride + 1;
  return {in_c, hw, hw, out_c, out, out, k, stride, pad, groups};
}

struct Data {
  std::vector<float> x, w, scale, shift;
  Data(const Geometry2d& g, std::size_t batch) : x(batch * g.in_size()), w(g.weight_size()), scale(g.out_c), shift(g.out_c) {
    ctnn::Rng rng(7 + batch);
    for (auto& v : x) v = rng.uniform(-1, 1);
    for (auto& v : w) v = rng.uniform(-0.5f, 0.5f);
    for (auto& v : scale) v = rng.uniform(-2, 2);  // negative scales too: the ReLU must cut both ways
    for (auto& v : shift) v = rng.uniform(-0.5f, 0.5f);
  }
};

// run(x, w, y, affine or nullptr) writes the convolution of a batch.
template <class Run>
void check(const Geometry2d& g, std::size_t batch, Run&& run) {
  const Data d(g, batch);
  const std::size_t n = batch * g.out_size(), P = g.out_plane();
  std::vector<float> plain(n);
  run(d.x.data(), d.w.data(), plain.data(), nullptr);
  for (const bool relu : {false, true}) {
    CAPTURE(relu);
    const ChannelAffine affine{d.scale.data(), d.shift.data(), relu};
    std::vector<float> fused(n, -999.f);
    run(d.x.data(), d.w.data(), fused.data(), &affine);
    std::size_t worst = 0, cut = 0;
    double worst_err = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t c = i / P % g.out_c;
      float want = plain[i] * d.scale[c] + d.shift[c];
      if (relu && !(want > 0.f)) {
        want = 0.f;
        ++cut;
      }
      // One rounding apart at most (the product and the sum may be fused into one FMA).
      const double err = std::fabs(double(fused[i]) - double(want)) /
                         (std::fabs(double(plain[i]) * d.scale[c]) + std::fabs(double(d.shift[c])) + 1e-30);
      if (err > worst_err) worst_err = err, worst = i;
    }
    CAPTURE(worst);
    CHECK(worst_err <= 2.5e-7);
    if (relu) CHECK(cut > n / 5);  // the ReLU did cut
  }
}

void check_conv(const Geometry2d& g, std::size_t batch, cpu::ConvAlgorithm algorithm, std::size_t expect_tile) {
  cpu::Conv2d conv(g, batch, algorithm);
  REQUIRE(conv.winograd_tile() == expect_tile);
  check(g, batch, [&](const float* x, const float* w, float* y, const ChannelAffine* a) {
    if (a)
      conv.forward(x, w, y, batch, *a);
    else
      conv.forward(x, w, y, batch);
  });
}

}  // namespace

TEST_CASE("Conv2d finishes its outputs on the im2col path: several images per GEMM, one, 1x1, grouped") {
  for (const std::size_t batch : {1, 3, 21}) {
    CAPTURE(batch);
    SUBCASE("3x3 stride 2, 5x5 planes: several images per GEMM") {
      check_conv(geometry(8, 16, 9, 3, 2), batch, cpu::ConvAlgorithm::automatic, 0);
    }
    SUBCASE("3x3 stride 2, 16x16 planes: one image per GEMM") {
      check_conv(geometry(8, 16, 32, 3, 2), batch, cpu::ConvAlgorithm::automatic, 0);
    }
    SUBCASE("1x1 stride 1 (read in place), 16x16 and 4x4 planes") {
      check_conv(geometry(12, 20, 16, 1, 1), batch, cpu::ConvAlgorithm::automatic, 0);
      check_conv(geometry(12, 20, 4, 1, 1), batch, cpu::ConvAlgorithm::automatic, 0);
    }
    SUBCASE("1x1 stride 2") { check_conv(geometry(12, 20, 8, 1, 2), batch, cpu::ConvAlgorithm::automatic, 0); }
    SUBCASE("grouped 3x3, 3 groups") { check_conv(geometry(12, 18, 7, 3, 1, 3), batch, cpu::ConvAlgorithm::automatic, 0); }
    SUBCASE("3x3 stride 1 on im2col") { check_conv(geometry(16, 24, 10, 3, 1), batch, cpu::ConvAlgorithm::im2col, 0); }
  }
}

TEST_CASE("Winograd finishes its outputs: F(2x2) and F(4x4), both splits, partial lane groups and tiles") {
  const int saved = ctnn::num_threads();
  for (const int threads : {1, 2}) {
    ctnn::set_num_threads(threads);
    for (const std::size_t batch : {1, 3, 21}) {
      for (const std::size_t tile : {2u, 4u}) {
        for (const auto split : {cpu::winograd::Split::images, cpu::winograd::Split::matrices}) {
          for (const Geometry2d& g : {geometry(16, 24, 10, 3, 1), geometry(20, 16, 7, 3, 1), geometry(16, 16, 33, 3, 1)}) {
            CAPTURE(threads);
            CAPTURE(batch);
            CAPTURE(tile);
            CAPTURE(int(split));
            CAPTURE(g.in_h);
            cpu::Winograd3x3 wg(g, batch, tile, split);
            check(g, batch, [&](const float* x, const float* w, float* y, const ChannelAffine* a) {
              wg.forward(x, w, y, batch, a);
            });
          }
        }
      }
    }
    check_conv(geometry(16, 24, 10, 3, 1), 5, cpu::ConvAlgorithm::winograd_2x2, 2);
    check_conv(geometry(16, 24, 10, 3, 1), 5, cpu::ConvAlgorithm::winograd_4x4, 4);
  }
  ctnn::set_num_threads(saved);
}

TEST_CASE("A convolution adds a residual as it finishes its outputs, before the ReLU") {
  for (const Geometry2d& g : {geometry(16, 24, 10, 3, 1), geometry(8, 16, 9, 3, 2), geometry(8, 16, 32, 3, 2)}) {
    for (const std::size_t batch : {1, 21}) {
      CAPTURE(g.in_h);
      CAPTURE(g.stride);
      CAPTURE(batch);
      cpu::Conv2d conv(g, batch);
      const Data d(g, batch);
      const std::size_t n = batch * g.out_size(), P = g.out_plane();
      std::vector<float> plain(n), residual(n), fused(n);
      ctnn::Rng rng(3);
      for (auto& v : residual) v = rng.uniform(-1, 1);
      conv.forward(d.x.data(), d.w.data(), plain.data(), batch);
      for (const bool relu : {false, true}) {
        CAPTURE(relu);
        const ChannelAffine affine{d.scale.data(), d.shift.data(), relu, residual.data()};
        conv.forward(d.x.data(), d.w.data(), fused.data(), batch, affine);
        double worst = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const std::size_t c = i / P % g.out_c;
          float want = (plain[i] * d.scale[c] + d.shift[c]) + residual[i];
          if (relu && !(want > 0.f)) want = 0.f;
          const double scale = std::fabs(double(plain[i]) * d.scale[c]) + std::fabs(double(d.shift[c])) + std::fabs(residual[i]);
          worst = std::max(worst, std::fabs(double(fused[i]) - double(want)) / scale);
        }
        CHECK(worst <= 2.5e-7);
      }
    }
  }
}
