// The CPU convolution on every way it runs (im2col with one image or several per GEMM, direct 1x1,
// grouped, Winograd F(2x2) and F(4x4) with both splits between the threads, partial lane groups):
//   - finishing its outputs as it writes them (ChannelAffine, backend/contract.hpp: y * scale +
//     shift per output channel, a residual, then max(y, 0)), as Mode::inference asks of it: the
//     same values as the plain forward followed by that arithmetic;
//   - a backward that writes dx over x (Conv2d::dx_may_overwrite_x, which the memory plan relies on
//     when the input is an output it recomputes): the same dx and dw, bit for bit, as with dx in a
//     buffer of its own.
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

// One convolution per way the CPU runs it (the automatic choice, or the one asked for).
struct Path {
  const char* name;
  Geometry2d g;
  cpu::ConvAlgorithm algorithm;
  std::size_t tile;  // Winograd's, 0 for im2col
};
const Path paths[] = {
    {"3x3 stride 2, 5x5 planes: several images per GEMM", geometry(8, 16, 9, 3, 2), cpu::ConvAlgorithm::automatic, 0},
    {"3x3 stride 2, 16x16 planes: one image per GEMM", geometry(8, 16, 32, 3, 2), cpu::ConvAlgorithm::automatic, 0},
    {"1x1 stride 1 (read in place), 16x16 planes", geometry(12, 20, 16, 1, 1), cpu::ConvAlgorithm::automatic, 0},
    {"1x1 stride 1 (read in place), 4x4 planes", geometry(12, 20, 4, 1, 1), cpu::ConvAlgorithm::automatic, 0},
    {"1x1 stride 2", geometry(12, 20, 8, 1, 2), cpu::ConvAlgorithm::automatic, 0},
    {"grouped 3x3, 3 groups", geometry(12, 18, 7, 3, 1, 3), cpu::ConvAlgorithm::automatic, 0},
    {"3x3 stride 1 on im2col", geometry(16, 24, 10, 3, 1), cpu::ConvAlgorithm::im2col, 0},
    {"Winograd F(2x2)", geometry(16, 24, 10, 3, 1), cpu::ConvAlgorithm::winograd_2x2, 2},
    {"Winograd F(4x4), partial tiles", geometry(16, 16, 33, 3, 1), cpu::ConvAlgorithm::winograd_4x4, 4},
};

// Backward with dx over x against backward with dx apart.
void check_dx_over_x(const Path& path, std::size_t batch) {
  const Geometry2d& g = path.g;
  cpu::Conv2d conv(g, batch, path.algorithm);
  REQUIRE(conv.winograd_tile() == path.tile);
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

TEST_CASE("Conv2d finishes its outputs on the im2col path: several images per GEMM, one, 1x1, grouped") {
  for (const std::size_t batch : {1, 3, 21}) {
    for (const Path& path : paths) {
      if (path.tile) continue;  // Winograd: the next test, with both splits
      CAPTURE(batch);
      CAPTURE(path.name);
      check_conv(path.g, batch, path.algorithm, path.tile);
    }
  }
}

TEST_CASE("Conv2d's backward may write dx over x, on every path, with 1 and 2 threads") {
  static_assert(cpu::Conv2d::dx_may_overwrite_x);
  const int saved = ctnn::num_threads();
  for (const int threads : {1, 2}) {
    ctnn::set_num_threads(threads);
    for (const std::size_t batch : {1, 3, 21}) {
      for (const Path& path : paths) {
        CAPTURE(threads);
        CAPTURE(batch);
        CAPTURE(path.name);
        check_dx_over_x(path, batch);
      }
    }
  }
  ctnn::set_num_threads(saved);
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
