// im2col and col2im (backend/cpu/conv.hpp) against their definitions, for every geometry of a sweep:
// heights and widths 1..13, kernels 1..5, strides 1..3, every padding below the kernel. Strided
// layers whose kernel is larger than the stride and whose output rows hold 8 values or more split
// each channel into phase planes first; the others read in place; 3x3 stride-2 layers with padding
// 1 and even sizes take a path of their own (heights 4 and 10 of the sweep): all are covered, with
// columns that lie inside a wider matrix (ld > Ho * Wo) and a scratch buffer of exactly the size
// PhasePlanes asks for, fenced by canaries.
#include <ctnn/backend/cpu.hpp>
#include <ctnn/core/random.hpp>
#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "support/reference.hpp"

namespace cpu = ctnn::backend::cpu;
using ctnn::backend::Geometry2d;

namespace {

constexpr float canary = -12345.f;

// x[c][ih][iw] for output column (oh, ow) and patch row (c, kh, kw), or nothing (padding).
bool source(const Geometry2d& g, std::size_t c, std::size_t kh, std::size_t kw, std::size_t oh, std::size_t ow,
            std::size_t& index) {
  const auto ih = static_cast<std::ptrdiff_t>(oh * g.stride + kh) - static_cast<std::ptrdiff_t>(g.pad);
  const auto iw = static_cast<std::ptrdiff_t>(ow * g.stride + kw) - static_cast<std::ptrdiff_t>(g.pad);
  if (ih < 0 || iw < 0 || ih >= static_cast<std::ptrdiff_t>(g.in_h) || iw >= static_cast<std::ptrdiff_t>(g.in_w))
    return false;
  index = (c * g.in_h + static_cast<std::size_t>(ih)) * g.in_w + static_cast<std::size_t>(iw);
  return true;
}

// Checks one geometry; returns how many used phase planes (0 or 1).
int check(const Geometry2d& g) {
  const cpu::PhasePlanes ph(g);
  const std::size_t K = g.kernel, P = g.out_plane(), ld = P + 3, rows = g.patch();
  CAPTURE(g.in_c);
  CAPTURE(g.in_h);
  CAPTURE(g.in_w);
  CAPTURE(K);
  CAPTURE(g.stride);
  CAPTURE(g.pad);
  CAPTURE(ph.split);
  std::vector<float> x(g.in_size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 251) * 0.5f + 1.f;
  std::vector<float> scratch(ph.scratch() + 1, canary);

  std::vector<float> col(rows * ld, canary);
  cpu::im2col(g, x.data(), col.data(), ld, scratch.data());
  std::size_t wrong = 0;
  for (std::size_t c = 0; c < g.in_c; ++c)
    for (std::size_t kh = 0; kh < K; ++kh)
      for (std::size_t kw = 0; kw < K; ++kw) {
        const std::size_t r = (c * K + kh) * K + kw;
        for (std::size_t oh = 0; oh < g.out_h; ++oh)
          for (std::size_t ow = 0; ow < g.out_w; ++ow) {
            std::size_t i = 0;
            const float want = source(g, c, kh, kw, oh, ow, i) ? x[i] : 0.f;
            wrong += col[r * ld + oh * g.out_w + ow] != want;
          }
        for (std::size_t j = P; j < ld; ++j) wrong += col[r * ld + j] != canary;  // past the columns: untouched
      }
  CHECK(wrong == 0);
  CHECK(scratch.back() == canary);

  // col2im: the adjoint, in exact arithmetic (small integers), over a col of distinct values.
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < P; ++j) col[r * ld + j] = static_cast<float>((r * 7 + j * 3) % 17);
  std::vector<float> dx(g.in_size(), canary), want(g.in_size(), 0.f);
  for (std::size_t c = 0; c < g.in_c; ++c)
    for (std::size_t kh = 0; kh < K; ++kh)
      for (std::size_t kw = 0; kw < K; ++kw)
        for (std::size_t oh = 0; oh < g.out_h; ++oh)
          for (std::size_t ow = 0; ow < g.out_w; ++ow) {
            std::size_t i = 0;
            if (source(g, c, kh, kw, oh, ow, i)) want[i] += col[((c * K + kh) * K + kw) * ld + oh * g.out_w + ow];
          }
  cpu::col2im(g, col.data(), ld, dx.data(), scratch.data());
  std::size_t wrong_dx = 0;
  for (std::size_t i = 0; i < dx.size(); ++i) wrong_dx += dx[i] != want[i];
  CHECK(wrong_dx == 0);
  CHECK(scratch.back() == canary);
  return ph.split ? 1 : 0;
}

}  // namespace

TEST_CASE("im2col and col2im match their definitions, split into phase planes or read in place") {
  int split = 0, in_place = 0;
  for (std::size_t K = 1; K <= 5; ++K)
    for (std::size_t S = 1; S <= 3; ++S)
      for (std::size_t pad = 0; pad < K; ++pad)
        for (std::size_t H = 1; H <= 13; H += 3)
          for (std::size_t W = 1; W <= 27; W += (W < 13 ? 1 : 7)) {
            if (H + 2 * pad < K || W + 2 * pad < K) continue;
            const std::size_t Ho = (H + 2 * pad - K) / S + 1, Wo = (W + 2 * pad - K) / S + 1;
            const Geometry2d g{2, H, W, 3, Ho, Wo, K, S, pad};
            (check(g) ? split : in_place) += 1;
          }
  // Both ways ran, the split one on strides 2 and 3.
  CHECK(split > 150);
  CHECK(in_place > 2000);
  CHECK(cpu::PhasePlanes(Geometry2d{16, 27, 27, 32, 14, 14, 3, 2, 1}).split);    // a stride-2 3x3 layer at 27x27
  CHECK(!cpu::PhasePlanes(Geometry2d{16, 28, 28, 32, 14, 14, 1, 2, 0}).split);   // a 1x1 projection
  CHECK(!cpu::PhasePlanes(Geometry2d{256, 9, 9, 512, 5, 5, 3, 2, 1}).split);     // output rows of 5
  // Even sizes, 3x3, stride 2, padding 1 (ResNet's) take their own path, without phase planes.
  CHECK(cpu::detail::even_3x3_stride2(Geometry2d{16, 28, 28, 32, 14, 14, 3, 2, 1}));
  CHECK(cpu::detail::even_3x3_stride2(Geometry2d{256, 8, 8, 512, 4, 4, 3, 2, 1}));
  CHECK(!cpu::PhasePlanes(Geometry2d{16, 28, 28, 32, 14, 14, 3, 2, 1}).split);
  CHECK(!cpu::detail::even_3x3_stride2(Geometry2d{16, 27, 27, 32, 14, 14, 3, 2, 1}));
  CHECK(!cpu::detail::even_3x3_stride2(Geometry2d{16, 28, 28, 32, 13, 13, 3, 2, 0}));
}

TEST_CASE("col2im sums each value's taps in one order on every path: kh, then kw, from zero") {
  // With values whose sums round (not small integers), the order of the additions shows in the
  // bits: every path (phase planes, in place, and the 3x3 stride-2 path of even sizes) must give
  // exactly the sum taken tap by tap in (kh, kw) order, as the general loop adds them.
  ctnn::Rng rng(17);
  int even_path = 0;
  for (std::size_t H : {2, 4, 7, 8, 14, 16})
    for (std::size_t W : {2, 6, 9, 14, 16}) {
      const std::size_t Ho = (H + 2 - 3) / 2 + 1, Wo = (W + 2 - 3) / 2 + 1;
      const Geometry2d g{3, H, W, 4, Ho, Wo, 3, 2, 1};
      CAPTURE(H);
      CAPTURE(W);
      even_path += cpu::detail::even_3x3_stride2(g);
      const std::size_t P = g.out_plane(), ld = P + 5;
      std::vector<float> col(g.patch() * ld), scratch(cpu::PhasePlanes(g).scratch() + 1, canary);
      for (std::size_t i = 0; i < col.size(); ++i) col[i] = rng.uniform(-1, 1) / 3.f * (i % 3 ? 1.f : 37.f);  // full mantissas
      std::vector<float> want(g.in_size(), 0.f), dx(g.in_size(), canary);
      for (std::size_t c = 0; c < g.in_c; ++c)
        for (std::size_t kh = 0; kh < 3; ++kh)
          for (std::size_t kw = 0; kw < 3; ++kw)
            for (std::size_t oh = 0; oh < Ho; ++oh)
              for (std::size_t ow = 0; ow < Wo; ++ow) {
                std::size_t i = 0;
                if (source(g, c, kh, kw, oh, ow, i)) want[i] += col[((c * 3 + kh) * 3 + kw) * ld + oh * Wo + ow];
              }
      cpu::col2im(g, col.data(), ld, dx.data(), scratch.data());
      std::size_t differ = 0;
      for (std::size_t i = 0; i < dx.size(); ++i) differ += std::memcmp(&dx[i], &want[i], sizeof(float)) != 0;
      CHECK(differ == 0);
      CHECK(scratch.back() == canary);
    }
  CHECK(even_path == 5 * 4);  // the even heights times the even widths
}
