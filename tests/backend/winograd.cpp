// Winograd F(2x2,3x3) and F(4x4,3x3) (backend/cpu/winograd.hpp) against the naive double-precision convolution:
// forward, backward data and backward filter, for awkward sizes (odd planes, 1x1, 2x2 and 3x5
// planes, paddings 0, 1 and 2, batches 1, 3 and 5, channel counts that are not multiples of 8),
// through the kernel class and through Conv2d; the error at ResNet-18's channel counts, next to
// im2col's; and no allocation per call.
//
// Tolerances: |got - ref| <= atol + rtol |ref| element-wise with rtol = 1e-4 and atol = 1e-5 * the
// scale of the result (sqrt of the number of products summed, inputs uniform in [-1, 1)), the
// same rtol as tests/layers/conv.cpp; 1e-4 * the scale for F(4x4,3x3). The F(2x2,3x3) transforms
// only multiply by 1/2, so its float32 error stays close to im2col's (the ResNet test checks a
// norm-wise relative error below 1e-5 and at most 4x im2col's); F(4x4,3x3)'s is about 10x
// im2col's (checked below 1e-5 and 16x).
#include <ctnn/backend/cpu.hpp>
#include <ctnn/layers/conv.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "support/harness.hpp"

namespace {
std::atomic<long> allocations{0};

void* counted(std::size_t n, std::size_t align) {
  ++allocations;
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t) ? std::malloc(n) : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using ctnn::backend::Geometry2d;
using ctnn::backend::cpu::Conv2d;
using ctnn::backend::cpu::ConvAlgorithm;
using ctnn::backend::cpu::Winograd3x3;
using ctnn::backend::cpu::winograd::Split;

namespace {

struct Case {
  std::size_t N, C, H, W, O, P;
  Geometry2d geometry() const { return {C, H, W, O, H + 2 * P - 2, W + 2 * P - 2, 3, 1, P}; }
  ref::ConvGeom ref() const { return {N, C, H, W, O, 3, 1, P}; }
};

struct Data {
  std::vector<float> x, w, dy;
  ref::Vec y, dx, dw;  // the double reference
  Data(const Case& c, std::uint64_t seed) {
    ctnn::Rng rng(seed);
    const auto g = c.ref();
    x = ref::uniform(c.N * c.C * c.H * c.W, rng);
    w = ref::uniform(c.O * c.C * 9, rng);
    dy = ref::uniform(c.N * c.O * g.Ho() * g.Wo(), rng);
    const ref::Vec xd(x.begin(), x.end()), wd(w.begin(), w.end()), dyd(dy.begin(), dy.end());
    y = ref::conv2d(g, xd, wd);
    ref::conv2d_backward(g, xd, wd, dyd, dx, dw);
  }
};

// Scales of the results: sums of C*9 (y), O*9 (dx) and N*Ho*Wo (dw) products of O(1) values.
// F(4x4,3x3) (tile 4) is held to an absolute tolerance 10x wider (its worst element is about
// 5e-5 of the results' rms, against 3e-6 for F(2x2,3x3); see the error test below).
void expect_matches(const Case& c, const Data& d, const std::vector<float>* y, const std::vector<float>* dx,
                    const std::vector<float>* dw, std::size_t tile = 2) {
  const auto g = c.ref();
  const double rtol = 1e-4, scale = tile == 4 ? 1e-4 : 1e-5;
  if (y) ref::expect_close(*y, d.y, rtol, scale * std::sqrt(double(c.C * 9)), "forward");
  if (dx) ref::expect_close(*dx, d.dx, rtol, scale * std::sqrt(double(c.O * 9)), "dx");
  if (dw) ref::expect_close(*dw, d.dw, rtol, scale * std::sqrt(double(c.N * g.Ho() * g.Wo())), "dw");
}

void check_kernel(const Case& c, std::size_t capacity, std::size_t tile) {
  CAPTURE(tile);
  CAPTURE(c.N);
  CAPTURE(c.C);
  CAPTURE(c.H);
  CAPTURE(c.W);
  CAPTURE(c.O);
  CAPTURE(c.P);
  const Geometry2d g = c.geometry();
  REQUIRE(Winograd3x3::supports(g));
  const Data d(c, 11 + c.N * 31 + c.C * 7 + c.H * 5 + c.W * 3 + c.P);
  // Both ways of sharing the work between threads.
  for (Split split : {Split::images, Split::matrices}) {
    CAPTURE(int(split));
    Winograd3x3 k(g, capacity, tile, split);
    REQUIRE(k.tile() == tile);
    REQUIRE(k.split() == split);
    std::vector<float> y(d.y.size(), 7.f), dx(d.dx.size(), 7.f), dw(d.dw.size(), 0.f);
    k.forward(d.x.data(), d.w.data(), y.data(), c.N);
    k.backward_data(d.w.data(), d.dy.data(), dx.data(), c.N);
    k.backward_filter(d.x.data(), d.dy.data(), dw.data(), c.N);
    expect_matches(c, d, &y, &dx, &dw, tile);
  }
}

// Norm-wise relative error ||got - ref|| / ||ref|| and the worst element relative to rms(ref).
struct Error {
  double norm = 0, worst = 0;
};
template <class V>
Error error(const V& got, const ref::Vec& want) {
  double diff = 0, sum = 0, worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double e = double(got[i]) - want[i];
    diff += e * e;
    sum += want[i] * want[i];
    worst = std::max(worst, std::abs(e));
  }
  return {std::sqrt(diff / sum), worst / std::sqrt(sum / double(want.size()))};
}

}  // namespace

TEST_CASE("Winograd3x3: which geometries it takes") {
  CHECK(Winograd3x3::supports({4, 8, 8, 4, 8, 8, 3, 1, 1}));
  CHECK(Winograd3x3::supports({4, 8, 8, 4, 6, 6, 3, 1, 0}));
  CHECK(Winograd3x3::supports({4, 1, 1, 4, 3, 3, 3, 1, 2}));
  CHECK_FALSE(Winograd3x3::supports({4, 8, 8, 4, 4, 4, 3, 2, 1}));   // stride 2
  CHECK_FALSE(Winograd3x3::supports({4, 8, 8, 4, 8, 8, 1, 1, 0}));   // 1x1
  CHECK_FALSE(Winograd3x3::supports({4, 8, 8, 4, 12, 12, 3, 1, 3})); // padding 3
  CHECK(Conv2d::use_winograd({64, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::automatic) == ctnn::backend::cpu::winograd_enabled());
  CHECK_FALSE(Conv2d::use_winograd({3, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::automatic));  // the stem
  CHECK(Conv2d::use_winograd({3, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::winograd));
  CHECK_FALSE(Conv2d::use_winograd({64, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::im2col));
  CHECK_FALSE(Conv2d::use_winograd({64, 32, 32, 64, 16, 16, 3, 2, 1}, ConvAlgorithm::winograd));
  // The tile: the one with fewer products for the output plane, F(2x2,3x3) on a tie (or the one
  // asked for).
  using ctnn::backend::cpu::winograd_setting;
  if (winograd_setting() == 1) {
    CHECK(Conv2d::winograd_tile({64, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::automatic) == 4);
    CHECK(Conv2d::winograd_tile({256, 8, 8, 256, 8, 8, 3, 1, 1}, ConvAlgorithm::automatic) == 4);
    CHECK(Conv2d::winograd_tile({512, 4, 4, 512, 4, 4, 3, 1, 1}, ConvAlgorithm::automatic) == 4);   // 36 against 64
    CHECK(Conv2d::winograd_tile({64, 7, 7, 64, 7, 7, 3, 1, 1}, ConvAlgorithm::automatic) == 4);     // 144 against 256
    CHECK(Conv2d::winograd_tile({64, 6, 6, 64, 6, 6, 3, 1, 1}, ConvAlgorithm::automatic) == 2);     // 144 both
    CHECK(Conv2d::winograd_tile({512, 2, 2, 512, 2, 2, 3, 1, 1}, ConvAlgorithm::automatic) == 2);   // 16 against 36
    CHECK(Conv2d::winograd_tile({64, 3, 3, 64, 3, 3, 3, 1, 1}, ConvAlgorithm::automatic) == 4);     // 36 against 64
    CHECK(Conv2d::winograd_tile({64, 12, 5, 64, 12, 5, 3, 1, 1}, ConvAlgorithm::automatic) == 4);   // 216 against 288
  }
  CHECK(Conv2d::winograd_tile({512, 4, 4, 512, 4, 4, 3, 1, 1}, ConvAlgorithm::winograd_4x4) == 4);
  CHECK(Conv2d::winograd_tile({64, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::winograd_2x2) == 2);
  CHECK(Conv2d::winograd_tile({3, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::winograd_4x4) == 4);  // asked for: even the stem
  CHECK(Conv2d::winograd_tile({64, 32, 32, 64, 32, 32, 3, 1, 1}, ConvAlgorithm::im2col) == 0);
  CHECK(Conv2d::winograd_tile({64, 32, 32, 64, 16, 16, 3, 2, 1}, ConvAlgorithm::winograd_4x4) == 0);  // stride 2
  CHECK_THROWS_WITH_AS(Winograd3x3({4, 8, 8, 4, 8, 8, 3, 1, 1}, 2, 3),
                       "ctnn::backend::cpu::Winograd3x3: tiles of 3 outputs (2 or 4)", ctnn::Error);
}

TEST_CASE("Winograd3x3 against the reference: awkward planes, paddings, batches and channel counts") {
  for (std::size_t tile : {2, 4})
  for (std::size_t P : {0, 1, 2})
    for (std::size_t N : {1, 3, 5}) {
      // Planes: odd, even, tiny, one row; every padding makes partial tiles somewhere.
      const std::size_t planes[][2] = {{7, 5}, {4, 4}, {3, 5}, {2, 2}, {1, 1}, {5, 1}, {6, 9}, {3, 3}};
      for (const auto& hw : planes) {
        if (hw[0] + 2 * P < 3 || hw[1] + 2 * P < 3) continue;
        check_kernel({N, 3, hw[0], hw[1], 5, P}, N, tile);
        check_kernel({N, 13, hw[0], hw[1], 6, P}, N + 2, tile);  // capacity above the batch
      }
    }
  for (std::size_t tile : {2, 4}) {
    check_kernel({2, 17, 11, 13, 19, 1}, 2, tile);
    check_kernel({5, 9, 2, 2, 7, 1}, 5, tile);  // 1 tile per image: groups of several images
    check_kernel({3, 1, 16, 15, 1, 1}, 3, tile);
    check_kernel({2, 4, 10, 7, 3, 1}, 2, tile);  // F(4x4): partial tiles of 2 and 3 outputs
    // Lane groups of more than 8 images (planes move in blocks of 8 images by 8 positions):
    // 12 and 16 images in one group, 21 in groups of 11 and 10; plane sizes with and without a
    // remainder of 8 positions.
    check_kernel({12, 2, 9, 11, 3, 1}, 12, tile);
    check_kernel({16, 3, 8, 8, 2, 0}, 16, tile);
    check_kernel({16, 2, 4, 4, 3, 2}, 16, tile);
    check_kernel({21, 2, 13, 6, 2, 1}, 24, tile);
  }
  // Planes of more than winograd::block_columns tiles run in blocks of tile rows.
  check_kernel({2, 3, 40, 37, 4, 1}, 2, 2);   // 20 x 19 tiles: blocks of 14 and 6 rows
  check_kernel({2, 3, 61, 45, 4, 2}, 3, 2);   // 32 x 24 tiles: 11, 11, 10
  check_kernel({1, 5, 36, 35, 3, 0}, 1, 2);   // 17 x 17 tiles, odd output
  check_kernel({2, 3, 70, 69, 4, 1}, 2, 4);   // F(4x4): 18 x 18 tiles: blocks of 15 and 3 rows
  check_kernel({1, 5, 66, 61, 3, 0}, 1, 4);   // 16 x 15 tiles, partial in both directions
  for (std::size_t tile : {2, 4}) {
    Winograd3x3 k({3, 61, 45, 4, 63, 47, 3, 1, 2}, 2, tile);
    CHECK(k.group() == 1);
    CHECK(k.block_rows() < 32);
  }
}

TEST_CASE("Winograd3x3 split by matrices: the same bits on 1 and 2 threads") {
  // Every product runs over the whole batch and every transform per plane, so the thread count
  // cannot change a sum's order.
  const Case c{21, 6, 5, 4, 7, 1};
  const Data d(c, 17);
  const int saved = ctnn::num_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    ctnn::set_num_threads(threads);
    Winograd3x3 k(c.geometry(), c.N, 4, Split::matrices);
    std::vector<float> y(d.y.size()), dx(d.dx.size()), dw(d.dw.size(), 0.f);
    k.forward(d.x.data(), d.w.data(), y.data(), c.N);
    k.backward_data(d.w.data(), d.dy.data(), dx.data(), c.N);
    k.backward_filter(d.x.data(), d.dy.data(), dw.data(), c.N);
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dw.begin(), dw.end());
    results.push_back(y);
  }
  ctnn::set_num_threads(saved);
  CHECK(results[0] == results[1]);
}

TEST_CASE("Winograd3x3: the threads split the products for small planes with many channels") {
  auto automatic = [](std::size_t c, std::size_t hw, std::size_t tile) {
    return Winograd3x3({c, hw, hw, c, hw, hw, 3, 1, 1}, 64, tile).split();
  };
  for (std::size_t tile : {2, 4}) {
    CAPTURE(tile);
    CHECK(automatic(512, 4, tile) == Split::matrices);
    CHECK(automatic(256, 8, tile) == Split::matrices);
    CHECK(automatic(128, 16, tile) == Split::images);  // blocks of tile rows
    CHECK(automatic(64, 32, tile) == Split::images);
    CHECK(automatic(64, 7, tile) == Split::images);    // few channel pairs
  }
}

TEST_CASE("Conv2d with Winograd against the reference (grouped images, accumulating dw, no dx)") {
  for (ConvAlgorithm a : {ConvAlgorithm::winograd, ConvAlgorithm::automatic, ConvAlgorithm::im2col, ConvAlgorithm::winograd_2x2,
                          ConvAlgorithm::winograd_4x4})
    for (const Case& c : {Case{5, 4, 4, 4, 6, 1}, Case{3, 20, 7, 5, 18, 1}, Case{2, 16, 9, 9, 16, 2}, Case{1, 3, 5, 6, 2, 0}}) {
      CAPTURE(int(a));
      CAPTURE(c.C);
      CAPTURE(c.H);
      const Data d(c, 5 + c.C);
      Conv2d conv(c.geometry(), c.N + 1, a);
      CHECK(conv.winograd() == Conv2d::use_winograd(c.geometry(), a));
      CHECK(conv.winograd_tile() == Conv2d::winograd_tile(c.geometry(), a));
      std::vector<float> y(d.y.size()), dx(d.dx.size()), dw(d.dw.size(), 0.f);
      conv.forward(d.x.data(), d.w.data(), y.data(), c.N);
      conv.backward(d.x.data(), d.w.data(), d.dy.data(), dx.data(), dw.data(), c.N);
      expect_matches(c, d, &y, &dx, &dw, conv.winograd_tile());
      // A second backward without dx adds the same filter gradient again.
      conv.backward(d.x.data(), d.w.data(), d.dy.data(), nullptr, dw.data(), c.N);
      ref::Vec dw2 = d.dw;
      for (auto& v : dw2) v *= 2;
      ref::expect_close(dw, dw2, 1e-4, (conv.winograd_tile() == 4 ? 2e-4 : 2e-5) * std::sqrt(double(c.N * c.ref().Ho() * c.ref().Wo())),
                        "dw accumulated");
    }
}

TEST_CASE("Conv layer with ResNet-like channel counts goes through Winograd and matches the reference") {
  using Spec = ctnn::Conv<16, 16, 3, 1, 1>;
  using In = ctnn::Shape<16, 6, 5>;
  ref::Harness<Spec, In> h(3, 42, 4);
  const ref::ConvGeom g{3, 16, 6, 5, 16, 3, 1, 1};
  const ref::Vec x = h.input(), w = h.value("weight");
  ref::expect_close(h.forward().span(), ref::conv2d(g, x, w), 1e-4, 1e-4, "forward");
  ref::Vec dx, dw;
  ref::conv2d_backward(g, x, w, ref::to_double(h.r.span()), dx, dw);
  ref::expect_close(h.backward(), dx, 1e-4, 1e-4, "dx");
  ref::expect_close(std::span<const float>(h.param("weight").grad, w.size()), dw, 1e-4, 1e-4, "dw");
  h.check_gradients();
}

TEST_CASE("Winograd error at ResNet-18's channel counts, next to im2col's") {
  // Measured (x, w, dy uniform in [-1, 1); OpenBLAS; norm-wise relative error, F(2x2) / F(4x4) / im2col):
  //                        forward                     dx                          dw
  //   64->64   32x32 N=2   2.5e-7 / 1.8e-6 / 2.9e-7    2.5e-7 / 1.8e-6 / 1.6e-7    4.7e-7 / 1.3e-6 / 2.9e-7
  //   128->128 16x16 N=2   3.4e-7 / 2.3e-6 / 2.9e-7    3.4e-7 / 2.5e-6 / 2.1e-7    2.5e-7 / 1.2e-6 / 2.8e-7
  //   256->256  8x8  N=2   4.4e-7 / 2.5e-6 / 3.0e-7    4.4e-7 / 2.5e-6 / 2.9e-7    1.5e-7 / 9.5e-7 / 1.4e-7
  //   512->512  4x4  N=4   5.3e-7 / 2.9e-6 / 2.9e-7    5.3e-7 / 2.8e-6 / 3.0e-7    1.3e-7 / 9.8e-7 / 0.9e-7
  // F(4x4,3x3)'s transforms scale by up to 8 and 1/24: its error is about 10x im2col's, still far
  // below what training notices (bfloat16 rounds at 4e-3).
  const Case cases[] = {{2, 64, 32, 32, 64, 1}, {2, 128, 16, 16, 128, 1}, {2, 256, 8, 8, 256, 1}, {4, 512, 4, 4, 512, 1}};
  const ConvAlgorithm algorithms[] = {ConvAlgorithm::im2col, ConvAlgorithm::winograd_2x2, ConvAlgorithm::winograd_4x4};
  for (const Case& c : cases) {
    CAPTURE(c.C);
    const Data d(c, 99 + c.C);
    Error e[3][3];
    for (int a = 0; a < 3; ++a) {
      Conv2d conv(c.geometry(), c.N, algorithms[a]);
      REQUIRE(conv.winograd_tile() == std::size_t(a == 0 ? 0 : 2 * a));
      std::vector<float> y(d.y.size()), dx(d.dx.size()), dw(d.dw.size(), 0.f);
      conv.forward(d.x.data(), d.w.data(), y.data(), c.N);
      conv.backward(d.x.data(), d.w.data(), d.dy.data(), dx.data(), dw.data(), c.N);
      if (a > 0) expect_matches(c, d, &y, &dx, &dw, conv.winograd_tile());
      e[a][0] = error(y, d.y);
      e[a][1] = error(dx, d.dx);
      e[a][2] = error(dw, d.dw);
    }
    std::printf("%4zu->%-4zu %2zux%-2zu batch %zu  relative error (norm / worst over rms)  F(2x2), F(4x4), im2col:\n",
                c.C, c.O, c.H, c.W, c.N);
    const char* names[] = {"forward", "dx", "dw"};
    for (int p = 0; p < 3; ++p) {
      std::printf("    %-8s %.2e / %.2e   %.2e / %.2e   %.2e / %.2e\n", names[p], e[1][p].norm, e[1][p].worst, e[2][p].norm,
                  e[2][p].worst, e[0][p].norm, e[0][p].worst);
      CHECK(e[1][p].norm < 1e-5);
      CHECK(e[1][p].norm < 4 * e[0][p].norm + 1e-7);
      CHECK(e[2][p].norm < 1e-5);
      CHECK(e[2][p].norm < 16 * e[0][p].norm + 1e-7);
    }
  }
}

TEST_CASE("Winograd Conv2d allocates nothing per call") {
  const Geometry2d g{24, 9, 7, 20, 9, 7, 3, 1, 1};
  const std::size_t N = 5;
  Conv2d conv(g, N, ConvAlgorithm::winograd);
  REQUIRE(conv.winograd());
  std::vector<float> x(N * g.in_size(), 0.5f), w(g.out_c * g.patch(), 0.25f), y(N * g.out_size()), dx(x.size()), dw(w.size());
  conv.forward(x.data(), w.data(), y.data(), N);  // warm-up: the GEMM's own workspaces
  conv.backward(x.data(), w.data(), y.data(), dx.data(), dw.data(), N);
  const long start = allocations.load();
  for (std::size_t batch : {N, std::size_t{3}, std::size_t{1}}) {
    conv.forward(x.data(), w.data(), y.data(), batch);
    conv.backward(x.data(), w.data(), y.data(), dx.data(), dw.data(), batch);
    conv.backward(x.data(), w.data(), y.data(), nullptr, dw.data(), batch);
  }
  CHECK(allocations.load() - start == 0);
  auto* p = new int(3);  // the counter sees allocations
  CHECK(allocations.load() - start == 1);
  delete p;
}
