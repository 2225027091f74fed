#pragma once
// Winograd F(2x2, 3x3) convolution for 3x3 kernels with stride 1 (any padding 0..2, any H, W;
// NCHW float): 16 multiplies per 2x2 output tile instead of 36, i.e. 2.25x fewer than im2col.
//
//   forward          y  = conv(x, w)                      tiles over y, input x with padding p
//   backward data    dx = conv(dy, rot180(w)^T)           tiles over dx, input dy with padding 2 - p
//   backward filter  dw += sum_tiles G^T [(A dY A^T) . (B^T X B)] G   (the forward's adjoint in w)
//
// Scheme (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
//   U[k][o][c] = (G g[o][c] G^T)[k]          filter transform, recomputed every call (weights change)
//   V[k][c][t] = (B^T d[c][t] B)[k]          input transform of the 4x4 input tile t (tiles 2 apart)
//   M[k]       = U[k] * V[k]                 16 GEMMs [O x C] * [C x T]
//   y tile t   = A^T m[o][t] A               output transform, 2x2 outputs per tile
// with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// A^T = [1 1 1 0; 0 1 -1 -1].
//
// Backward data reuses the forward filter transform: rot180 reverses the columns of G's input, and
// G J = P G with P swapping rows 0 and 3, so the transform of rot180(g) is U[P k] (k = 4a + b with
// a and b both permuted); the swapped channels make the GEMM read U[P k] transposed.
//
// Work runs in blocks of about 256 tiles (GEMM columns): on small planes the tiles of a group of
// images lie side by side in V and M (t = image * tiles + tile), so that the 16 GEMMs are wide
// enough; large planes are cut into blocks of tile rows, so that V and M stay in cache. Blocks run
// on different threads, each with its own workspace; the filter gradient goes to per-thread
// accumulators [16][O][C] that are summed and transformed back at the end. Every buffer is
// allocated at construction (for max_batch and num_threads()), nothing per call.
//
// The transforms are plain loops that GCC vectorises: the 16 matrices of V and M lie
// kstride() apart (not a power of two), and each padded input row is transformed once (d B) and
// combined down the columns (B^T) from a ring of 4 rows.
//
// Accuracy: the F(2x2,3x3) transforms only use additions and halvings, so float32 results stay
// close to im2col's (tests/backend/winograd.cpp measures both against a double reference).

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "../../core/memory.hpp"
#include "../../core/threading.hpp"
#include "../kernels.hpp"
#include "gemm.hpp"

namespace ctnn::backend::cpu {

namespace winograd {

// Distance between the 16 matrices of a transformed tensor holding n floats each: n rounded up to
// 4 KiB plus one cache line, so that the 16 streams a transform reads or writes fall into
// different cache sets (a power-of-two distance makes them evict each other).
constexpr std::size_t kstride(std::size_t n) { return (n + 1023) / 1024 * 1024 + 16; }

// Index of the transformed rot180 filter: k = 4a + b -> 4 P(a) + P(b), P swapping 0 and 3.
constexpr std::size_t flip(std::size_t k) {
  constexpr std::size_t P[4] = {3, 1, 2, 0};
  return 4 * P[k / 4] + P[k % 4];
}

// Pairs of (out, in) channels the filter transforms handle per block (a block's 9 or 16 rows of
// block floats stay in L1).
inline constexpr std::size_t filter_block = 64;

// One convolution pass: C input planes of H x W, padding `pad`, O output planes of Ho x Wo, 3x3.
struct Pass {
  std::size_t C = 0, H = 0, W = 0, O = 0, Ho = 0, Wo = 0, pad = 0;
  std::size_t th = 0, tw = 0;  // tile rows and columns (partial tiles at the bottom and the right)
  // Work is split into blocks of tiles that share one set of 16 GEMMs: either `group` whole images
  // (small planes; block_rows == th) or `block_rows` tile rows of one image (large planes).
  std::size_t group = 1, block_rows = 0;

  Pass() = default;
  Pass(std::size_t c, std::size_t h, std::size_t w, std::size_t o, std::size_t p)
      : C(c), H(h), W(w), O(o), Ho(h + 2 * p - 2), Wo(w + 2 * p - 2), pad(p), th((Ho + 1) / 2), tw((Wo + 1) / 2) {}

  std::size_t tiles() const { return th * tw; }
  // The most tiles (GEMM columns) of one block.
  std::size_t columns() const { return block_rows < th ? block_rows * tw : group * tiles(); }
  // Floats per transformed row in input_transform's ring (tw rounded up to whole vectors).
  std::size_t row_floats() const { return (tw + 15) / 16 * 16; }
  // Floats per row of input_transform's padded copy of the plane (room for whole vectors).
  std::size_t padded_width() const { return 2 * row_floats() + 16; }
  // Per-thread scratch: input_transform's ring of 4 rows x 4 arrays and the padded plane (or
  // output_transform's spare row, or the filter transforms' blocks).
  std::size_t scratch() const { return 16 * row_floats() + (2 * block_rows + 2) * padded_width(); }
};

// V[k * ks + tile - r0 tw] = (B^T d B)[k] for the tiles in tile rows [r0, r1) of plane x (H x W,
// padding ps.pad). The plane is
// first copied with its zero padding (so that no load below reads a store still in flight at
// another offset); each padded row is then transformed once (d B: the 4-column windows 2j .. 2j+3
// -> (x0 - x2, x1 + x2, x2 - x1, x1 - x3)) into a ring of 4 rows, and B^T combines the 4 rows of
// each tile row the same way. scratch: ps.scratch() floats.
inline void input_transform(const Pass& ps, const float* x, std::size_t r0, std::size_t r1, float* __restrict v, std::size_t ks,
                            float* __restrict scratch) {
  const std::size_t tw = ps.tw, ld = ps.row_floats(), pw = ps.padded_width(), p = ps.pad, W = ps.W;
  const std::size_t u0 = 2 * r0, R = 2 * (r1 - r0) + 2;  // padded rows u0 .. u0 + R - 1
  const std::size_t tw8 = (tw + 7) / 8 * 8;  // whole vectors: the ring rows and padded rows have room
  float* ring = scratch;
  float* plane = scratch + 16 * ld;
  for (std::size_t r = 0; r < R; ++r) {
    float* pr = plane + r * pw;
    const std::size_t u = u0 + r;
    if (u < p || u - p >= ps.H) {
      std::memset(pr, 0, pw * sizeof(float));
      continue;
    }
    const float* xr = x + (u - p) * W;
    for (std::size_t i = 0; i < p; ++i) pr[i] = 0.f;
#pragma omp simd
    for (std::size_t i = 0; i < W; ++i) pr[p + i] = xr[i];
    for (std::size_t i = p + W; i < pw; ++i) pr[i] = 0.f;
  }
  auto row = [&](std::size_t u) {  // padded row u0 + u into ring slot u % 4
    const float* pr = plane + u * pw;
    float* h0 = ring + (u % 4) * 4 * ld;
    float* h1 = h0 + ld;
    float* h2 = h0 + 2 * ld;
    float* h3 = h0 + 3 * ld;
#pragma omp simd
    for (std::size_t j = 0; j < tw8; ++j) {
      const float x0 = pr[2 * j], x1 = pr[2 * j + 1], x2 = pr[2 * j + 2], x3 = pr[2 * j + 3];
      h0[j] = x0 - x2;
      h1[j] = x1 + x2;
      h2[j] = x2 - x1;
      h3[j] = x1 - x3;
    }
  };
  row(0);
  row(1);
  for (std::size_t ti = 0; ti < r1 - r0; ++ti) {
    row(2 * ti + 2);
    row(2 * ti + 3);
    const float* h0 = ring + ((2 * ti) % 4) * 4 * ld;
    const float* h1 = ring + ((2 * ti + 1) % 4) * 4 * ld;
    const float* h2 = ring + ((2 * ti + 2) % 4) * 4 * ld;
    const float* h3 = ring + ((2 * ti + 3) % 4) * 4 * ld;
    float* out = v + ti * tw;
    for (std::size_t b = 0; b < 4; ++b) {
      const float* a0 = h0 + b * ld;
      const float* a1 = h1 + b * ld;
      const float* a2 = h2 + b * ld;
      const float* a3 = h3 + b * ld;
      float* o = out + b * ks;
      // B^T down the columns: rows (h0 - h2, h1 + h2, h2 - h1, h1 - h3).
#pragma omp simd
      for (std::size_t j = 0; j < tw; ++j) {
        o[j] = a0[j] - a2[j];
        o[4 * ks + j] = a1[j] + a2[j];
        o[8 * ks + j] = a2[j] - a1[j];
        o[12 * ks + j] = a1[j] - a3[j];
      }
    }
  }
}

// The 2x2 outputs A^T m A of the tile whose 16 products are q[k * ks].
struct Out2x2 {
  float y00, y01, y10, y11;
};
inline Out2x2 tile_output(const float* q, std::size_t ks) {
  // m A: row r of the tile -> (m0 + m1 + m2, m1 - m2 - m3); then A^T the same way down the columns.
  const float s00 = q[0 * ks] + q[1 * ks] + q[2 * ks], s01 = q[1 * ks] - q[2 * ks] - q[3 * ks];
  const float s10 = q[4 * ks] + q[5 * ks] + q[6 * ks], s11 = q[5 * ks] - q[6 * ks] - q[7 * ks];
  const float s20 = q[8 * ks] + q[9 * ks] + q[10 * ks], s21 = q[9 * ks] - q[10 * ks] - q[11 * ks];
  const float s30 = q[12 * ks] + q[13 * ks] + q[14 * ks], s31 = q[13 * ks] - q[14 * ks] - q[15 * ks];
  return {s00 + s10 + s20, s01 + s11 + s21, s10 - s20 - s30, s11 - s21 - s31};
}

// y (Ho x Wo) = A^T m A for the tiles in tile rows [r0, r1) of one plane, m[k * ks + tile - r0 tw].
// spare takes the second row of the last tile row when Ho is odd (Wo + 1 floats).
inline void output_transform(const Pass& ps, const float* m, std::size_t ks, std::size_t r0, std::size_t r1, float* __restrict y,
                             float* __restrict spare) {
  const std::size_t tw = ps.tw, Wo = ps.Wo, full = Wo / 2;
  for (std::size_t ti = r0; ti < r1; ++ti) {
    const float* mt = m + (ti - r0) * tw;
    float* o0 = y + 2 * ti * Wo;
    float* o1 = 2 * ti + 1 < ps.Ho ? o0 + Wo : spare;
#pragma omp simd
    for (std::size_t j = 0; j < full; ++j) {
      const Out2x2 t = tile_output(mt + j, ks);
      o0[2 * j] = t.y00;
      o0[2 * j + 1] = t.y01;
      o1[2 * j] = t.y10;
      o1[2 * j + 1] = t.y11;
    }
    if (full < tw) {  // odd Wo: the last tile has one column
      const Out2x2 t = tile_output(mt + full, ks);
      o0[2 * full] = t.y00;
      o1[2 * full] = t.y10;
    }
  }
}

// z[k * ks + tile - r0 tw] = (A dY A^T)[k] for the tiles in tile rows [r0, r1) of one dy plane (Ho x
// Wo; outputs past the plane, in partial tiles, count as 0): the gradient with respect to the
// tile's products m. zeros: Wo + 1 floats of scratch.
inline void gradient_transform(const Pass& ps, const float* dy, std::size_t r0, std::size_t r1, float* __restrict z, std::size_t ks,
                               float* __restrict zeros) {
  const std::size_t tw = ps.tw, Wo = ps.Wo, full = Wo / 2;
  std::memset(zeros, 0, (Wo + 1) * sizeof(float));
  auto tile = [ks](float* out, float a, float b, float c, float d) {
    // A dY: rows (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); then each row (p, q) -> (p, p + q, p - q, -q).
    const float p1 = a + c, q1 = b + d, p2 = a - c, q2 = b - d;
    out[0 * ks] = a;
    out[1 * ks] = a + b;
    out[2 * ks] = a - b;
    out[3 * ks] = -b;
    out[4 * ks] = p1;
    out[5 * ks] = p1 + q1;
    out[6 * ks] = p1 - q1;
    out[7 * ks] = -q1;
    out[8 * ks] = p2;
    out[9 * ks] = p2 + q2;
    out[10 * ks] = p2 - q2;
    out[11 * ks] = -q2;
    out[12 * ks] = -c;
    out[13 * ks] = -(c + d);
    out[14 * ks] = d - c;
    out[15 * ks] = d;
  };
  for (std::size_t ti = r0; ti < r1; ++ti) {
    const float* d0 = dy + 2 * ti * Wo;
    const float* d1 = 2 * ti + 1 < ps.Ho ? d0 + Wo : zeros;
    float* out = z + (ti - r0) * tw;
#pragma omp simd
    for (std::size_t j = 0; j < full; ++j) tile(out + j, d0[2 * j], d0[2 * j + 1], d1[2 * j], d1[2 * j + 1]);
    if (full < tw) tile(out + full, d0[2 * full], 0.f, d1[2 * full], 0.f);
  }
}

// u[k * ks + n] = (G w_n G^T)[k] for the 3x3 filters w_n = w[9n .. 9n+8], n < N. tmp: 9 *
// filter_block floats.
inline void filter_transform(const float* w, std::size_t N, float* __restrict u, std::size_t ks, float* __restrict tmp) {
  constexpr std::size_t B = filter_block;
  for (std::size_t n0 = 0; n0 < N; n0 += B) {
    const std::size_t nb = std::min(B, N - n0);
    const float* wb = w + n0 * 9;
    for (std::size_t i = 0; i < nb; ++i)
      for (std::size_t q = 0; q < 9; ++q) tmp[q * B + i] = wb[i * 9 + q];
    float* ub = u + n0;
#pragma omp simd
    for (std::size_t i = 0; i < nb; ++i) {
      // G g: rows (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2) per column s; then G^T along rows.
      float t[4][3];
      for (std::size_t s = 0; s < 3; ++s) {
        const float g0 = tmp[s * B + i], g1 = tmp[(3 + s) * B + i], g2 = tmp[(6 + s) * B + i];
        t[0][s] = g0;
        t[1][s] = 0.5f * (g0 + g1 + g2);
        t[2][s] = 0.5f * (g0 - g1 + g2);
        t[3][s] = g2;
      }
      for (std::size_t r = 0; r < 4; ++r) {
        ub[(4 * r + 0) * ks + i] = t[r][0];
        ub[(4 * r + 1) * ks + i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        ub[(4 * r + 2) * ks + i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        ub[(4 * r + 3) * ks + i] = t[r][2];
      }
    }
  }
}

// dw[9n .. 9n+8] += G^T m_n G for n < N, where m_n[k] = m[k * ks + n]. tmp: 9 * filter_block floats.
inline void filter_gradient_transform(const float* m, std::size_t ks, std::size_t N, float* dw, float* __restrict tmp) {
  constexpr std::size_t B = filter_block;
  for (std::size_t n0 = 0; n0 < N; n0 += B) {
    const std::size_t nb = std::min(B, N - n0);
    const float* mb = m + n0;
#pragma omp simd
    for (std::size_t i = 0; i < nb; ++i) {
      // G^T m: rows (m0 + (m1 + m2) / 2, (m1 - m2) / 2, (m1 + m2) / 2 + m3) per column; then G along rows.
      float t[3][4];
      for (std::size_t c = 0; c < 4; ++c) {
        const float m0 = mb[c * ks + i], m1 = mb[(4 + c) * ks + i], m2 = mb[(8 + c) * ks + i], m3 = mb[(12 + c) * ks + i];
        t[0][c] = m0 + 0.5f * (m1 + m2);
        t[1][c] = 0.5f * (m1 - m2);
        t[2][c] = 0.5f * (m1 + m2) + m3;
      }
      for (std::size_t r = 0; r < 3; ++r) {
        tmp[(3 * r + 0) * B + i] = t[r][0] + 0.5f * (t[r][1] + t[r][2]);
        tmp[(3 * r + 1) * B + i] = 0.5f * (t[r][1] - t[r][2]);
        tmp[(3 * r + 2) * B + i] = 0.5f * (t[r][1] + t[r][2]) + t[r][3];
      }
    }
    float* db = dw + n0 * 9;
    for (std::size_t i = 0; i < nb; ++i)
      for (std::size_t q = 0; q < 9; ++q) db[i * 9 + q] += tmp[q * B + i];
  }
}

}  // namespace winograd

class Winograd3x3 {
public:
  // GEMMs narrower than this many columns (tiles) run well below the machine's GEMM rate.
  static constexpr std::size_t min_columns = 256;
  // Planes with more tiles than this are split into blocks of tile rows with about this many
  // tiles, so that a block's transformed inputs and products stay in cache.
  static constexpr std::size_t max_columns = 256;

  // 3x3, stride 1, padding 0..2, and the output shape that implies.
  static constexpr bool supports(const Geometry2d& g) {
    return g.kernel == 3 && g.stride == 1 && g.pad <= 2 && g.in_h + 2 * g.pad >= 3 && g.in_w + 2 * g.pad >= 3 &&
           g.out_h == g.in_h + 2 * g.pad - 2 && g.out_w == g.in_w + 2 * g.pad - 2;
  }

  Winograd3x3(const Geometry2d& g, std::size_t max_batch)
      : g_(g),
        fwd_(g.in_c, g.in_h, g.in_w, g.out_c, g.pad),
        bwd_(g.out_c, g.out_h, g.out_w, g.in_c, 2 - std::min<std::size_t>(g.pad, 2)),
        workers_(std::max(1, num_threads())) {
    using winograd::kstride;
    const std::size_t batch = std::max<std::size_t>(max_batch, 1), w = static_cast<std::size_t>(workers_);
    for (winograd::Pass* ps : {&fwd_, &bwd_}) {
      if (ps->tiles() > max_columns) {
        ps->group = 1;
        ps->block_rows = std::min(ps->th, (max_columns + ps->tw - 1) / ps->tw);
      } else {
        // No more images per group than keeps every thread busy at the largest batch (the
        // per-thread workspaces are sized for a group).
        ps->group = std::clamp<std::size_t>((min_columns + ps->tiles() - 1) / ps->tiles(), 1, (batch + w - 1) / w);
        ps->block_rows = ps->th;
      }
    }
    vsize_ = 16 * std::max(kstride(fwd_.C * fwd_.columns()), kstride(bwd_.C * bwd_.columns()));
    msize_ = 16 * std::max(kstride(fwd_.O * fwd_.columns()), kstride(bwd_.O * bwd_.columns()));
    ssize_ = (std::max({fwd_.scratch(), bwd_.scratch(), 9 * winograd::filter_block}) + 15) / 16 * 16;  // whole cache lines
    u_.reserve(16 * kstride(g.in_c * g.out_c));
    v_.reserve(vsize_ * w);
    m_.reserve(msize_ * w);
    s_.reserve(ssize_ * w);
  }

  // y = conv(x, w); w is [out_c, in_c, 3, 3].
  void forward(const float* x, const float* w, float* y, std::size_t batch) {
    if (batch == 0) return;
    transform_filter(w);
    run(fwd_, x, y, batch, false);
  }

  // dx = the gradient of sum(dy * conv(x, w)) with respect to x.
  void backward_data(const float* w, const float* dy, float* dx, std::size_t batch) {
    if (batch == 0) return;
    transform_filter(w);
    run(bwd_, dy, dx, batch, true);
  }

  // dw += the gradient of sum(dy * conv(x, w)) with respect to w. Needs the accumulators reserved
  // by enable_backward_filter().
  void backward_filter(const float* x, const float* dy, float* dw, std::size_t batch) {
    if (batch == 0) return;
    const winograd::Pass& ps = fwd_;
    const Blocks b = blocks(ps, batch);
    const std::size_t pairs = ps.O * ps.C, ka = winograd::kstride(pairs), asize = 16 * ka;
    const int used = used_workers(b.count);
    std::memset(acc_.data(), 0, asize * static_cast<std::size_t>(used) * sizeof(float));
    ctnn::detail::parallel_for(b.count, workers_, [&](std::size_t i, int t) {
      const Block blk = b[i];
      const std::size_t per = (blk.r1 - blk.r0) * ps.tw, T = blk.images * per;
      float* v = v_.data() + static_cast<std::size_t>(t) * vsize_;
      float* z = m_.data() + static_cast<std::size_t>(t) * msize_;
      float* s = s_.data() + static_cast<std::size_t>(t) * ssize_;
      const std::size_t kv = transform_inputs(ps, x, blk, v, s), kz = winograd::kstride(ps.O * T);
      for (std::size_t n = 0; n < blk.images; ++n)
        for (std::size_t o = 0; o < ps.O; ++o)
          winograd::gradient_transform(ps, dy + ((blk.n0 + n) * ps.O + o) * ps.Ho * ps.Wo, blk.r0, blk.r1, z + o * T + n * per, kz, s);
      float* acc = acc_.data() + static_cast<std::size_t>(t) * asize;
      for (std::size_t k = 0; k < 16; ++k)
        gemm(Trans::no, Trans::yes, ps.O, ps.C, T, 1.f, z + k * kz, T, v + k * kv, T, 1.f, acc + k * ka, ps.C);
    });
    // Sum the per-thread accumulators (into the first) and transform back, split over (o, c) pairs.
    ctnn::detail::parallel_chunks(pairs, workers_, [&](int t, std::size_t begin, std::size_t end) {
      float* acc = acc_.data();
      for (int p = 1; p < used; ++p) {
        const float* part = acc_.data() + static_cast<std::size_t>(p) * asize;
        for (std::size_t k = 0; k < 16; ++k)
#pragma omp simd
          for (std::size_t i = begin; i < end; ++i) acc[k * ka + i] += part[k * ka + i];
      }
      winograd::filter_gradient_transform(acc + begin, ka, end - begin, dw + begin * 9,
                                          s_.data() + static_cast<std::size_t>(t) * ssize_);
    });
  }

  // Reserves the per-thread accumulators backward_filter() needs (16 floats per weight pair).
  void enable_backward_filter() { acc_.reserve(16 * winograd::kstride(g_.in_c * g_.out_c) * static_cast<std::size_t>(workers_)); }

  const Geometry2d& geometry() const { return g_; }
  // Images per block (1 when a plane is split into blocks of tile rows) and tile rows per block.
  std::size_t group() const { return fwd_.group; }
  std::size_t block_rows() const { return fwd_.block_rows; }

private:
  // One unit of work: tile rows [r0, r1) of images n0 .. n0 + images - 1.
  struct Block {
    std::size_t n0, images, r0, r1;
  };
  // The blocks of one call.
  struct Blocks {
    std::size_t count, G, per_image, rows, th, batch;
    Block operator[](std::size_t i) const {
      if (per_image == 1) return {i * G, std::min(G, batch - i * G), 0, th};
      const std::size_t b = i % per_image;
      return {i / per_image, 1, b * rows, std::min(th, (b + 1) * rows)};
    }
  };

  Blocks blocks(const winograd::Pass& ps, std::size_t batch) const {
    if (ps.block_rows < ps.th) {
      const std::size_t per = (ps.th + ps.block_rows - 1) / ps.block_rows;
      return {batch * per, 1, per, ps.block_rows, ps.th, batch};
    }
    // Images per group for this batch: no more than keeps every thread busy.
    const auto threads = static_cast<std::size_t>(std::max(1, std::min(workers_, num_threads())));
    const std::size_t G = std::clamp<std::size_t>((batch + threads - 1) / threads, 1, ps.group);
    return {(batch + G - 1) / G, G, 1, ps.th, ps.th, batch};
  }

  int used_workers(std::size_t items) const {
    return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(items, static_cast<std::size_t>(std::min(workers_, num_threads())))));
  }

  // U[k][o][c] from w[o][c], split over (o, c) pairs.
  void transform_filter(const float* w) {
    const std::size_t pairs = g_.in_c * g_.out_c, ks = winograd::kstride(pairs);
    ctnn::detail::parallel_chunks(pairs, workers_, [&](int t, std::size_t begin, std::size_t end) {
      winograd::filter_transform(w + begin * 9, end - begin, u_.data() + begin, ks, s_.data() + static_cast<std::size_t>(t) * ssize_);
    });
  }

  // V[k][c][n * per + tile] for the tiles of block blk of `in` (ps.C planes per image); returns the
  // distance between the V[k].
  static std::size_t transform_inputs(const winograd::Pass& ps, const float* in, const Block& blk, float* v, float* s) {
    const std::size_t per = (blk.r1 - blk.r0) * ps.tw, T = blk.images * per, plane = ps.H * ps.W;
    const std::size_t kv = winograd::kstride(ps.C * T);
    for (std::size_t n = 0; n < blk.images; ++n)
      for (std::size_t c = 0; c < ps.C; ++c)
        winograd::input_transform(ps, in + ((blk.n0 + n) * ps.C + c) * plane, blk.r0, blk.r1, v + c * T + n * per, kv, s);
    return kv;
  }

  // out = conv(in, U) for one pass, with the filters transformed into u_ ([O][C] for the forward
  // pass; the backward pass reads U[flip(k)] transposed).
  void run(const winograd::Pass& ps, const float* in, float* out, std::size_t batch, bool backward) {
    const Blocks b = blocks(ps, batch);
    ctnn::detail::parallel_for(b.count, workers_, [&](std::size_t i, int t) {
      const Block blk = b[i];
      const std::size_t per = (blk.r1 - blk.r0) * ps.tw, T = blk.images * per;
      float* v = v_.data() + static_cast<std::size_t>(t) * vsize_;
      float* m = m_.data() + static_cast<std::size_t>(t) * msize_;
      float* s = s_.data() + static_cast<std::size_t>(t) * ssize_;
      const std::size_t kv = transform_inputs(ps, in, blk, v, s), km = winograd::kstride(ps.O * T);
      const std::size_t ku = winograd::kstride(ps.O * ps.C);
      const float* u = u_.data();
      for (std::size_t k = 0; k < 16; ++k) {
        if (backward)  // U of the forward pass is [C][O] here
          gemm(Trans::yes, Trans::no, ps.O, T, ps.C, 1.f, u + winograd::flip(k) * ku, ps.O, v + k * kv, T, 0.f, m + k * km, T);
        else
          gemm(Trans::no, Trans::no, ps.O, T, ps.C, 1.f, u + k * ku, ps.C, v + k * kv, T, 0.f, m + k * km, T);
      }
      const std::size_t oplane = ps.Ho * ps.Wo;
      for (std::size_t n = 0; n < blk.images; ++n)
        for (std::size_t o = 0; o < ps.O; ++o)
          winograd::output_transform(ps, m + o * T + n * per, km, blk.r0, blk.r1, out + ((blk.n0 + n) * ps.O + o) * oplane, s);
    });
  }

  Geometry2d g_;
  winograd::Pass fwd_, bwd_;
  int workers_;
  std::size_t vsize_ = 0, msize_ = 0, ssize_ = 0;
  ctnn::detail::Scratch<float> u_, v_, m_, s_, acc_;
};

}  // namespace ctnn::backend::cpu
