#pragma once
// Winograd F(2x2, 3x3) convolution for 3x3 kernels with stride 1 (any padding 0..2, any H, W;
// NCHW float): 16 multiplies per 2x2 output tile instead of 36, i.e. 2.25x fewer than im2col.
//
//   forward          y  = conv(x, w)                      tiles over y, input x with padding p
//   backward data    dx = conv(dy, rot180(w)^T)           tiles over dx, input dy with padding 2 - p
//   backward filter  dw += sum_tiles G^T [(A dY A^T) . (B^T X B)] G   (the forward's adjoint in w)
//
// Scheme (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks"):
//   U[k][o][c] = (G g[o][c] G^T)[k]          filter transform, recomputed every call (weights change)
//   V[k][c][t] = (B^T d[c][t] B)[k]          input transform of the 4x4 input tile t (tiles 2 apart)
//   M[k]       = U[k] * V[k]                 16 GEMMs [O x C] * [C x T]
//   y tile t   = A^T m[o][t] A               output transform, 2x2 outputs per tile
// The tiles of a group of images lie side by side in V and M (t = image * tiles + tile), so the 16
// GEMMs are wide enough (>= min_columns) on small planes. Groups run on different threads, each
// with its own workspace; every buffer is allocated at construction, nothing per call.
//
// Accuracy: the F(2x2,3x3) transforms only use 1, 1/2 and additions, so float32 results stay
// within a few ulps of im2col's (see tests/backend/winograd.cpp for measured errors).

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "../../core/memory.hpp"
#include "../../core/threading.hpp"
#include "../kernels.hpp"
#include "gemm.hpp"

namespace ctnn::backend::cpu {

namespace winograd {

// One convolution pass: C input planes of H x W, padding `pad`, O output planes of Ho x Wo, 3x3.
struct Pass {
  std::size_t C = 0, H = 0, W = 0, O = 0, Ho = 0, Wo = 0, pad = 0;
  std::size_t th = 0, tw = 0;  // tile rows and columns (partial tiles at the bottom and the right)
  std::size_t group = 1;       // images per GEMM group (at most)

  Pass() = default;
  Pass(std::size_t c, std::size_t h, std::size_t w, std::size_t o, std::size_t p)
      : C(c), H(h), W(w), O(o), Ho(h + 2 * p - 2), Wo(w + 2 * p - 2), pad(p), th((Ho + 1) / 2), tw((Wo + 1) / 2) {}

  std::size_t tiles() const { return th * tw; }
  // Floats per row of the padded, de-interleaved input plane (even columns, then odd columns).
  std::size_t half() const { return tw + 1; }
  std::size_t padded_rows() const { return 2 * th + 2; }
  // Per-thread plane scratch: the padded plane, one padded row, two output rows.
  std::size_t plane_scratch() const { return padded_rows() * 2 * half() + 2 * half() + 4 * tw; }
};

// Pads plane x (H x W) by `pad` zeros and splits each padded row u into its even and odd columns:
//   buf[u * 2L + m] = xp[u][2m],  buf[u * 2L + L + m] = xp[u][2m + 1],  L = tw + 1,
// for u < 2 th + 2 (rows past the image are zero). prow is scratch for one padded row (2L floats).
inline void pad_split(const Pass& ps, const float* x, float* __restrict buf, float* __restrict prow) {
  const std::size_t L = ps.half(), R = ps.padded_rows(), p = ps.pad;
  const std::size_t right = 2 * L - std::min(2 * L, p + ps.W);  // zeros after the row
  for (std::size_t u = 0; u < R; ++u) {
    float* ev = buf + u * 2 * L;
    float* od = ev + L;
    if (u < p || u - p >= ps.H) {
      std::memset(ev, 0, 2 * L * sizeof(float));
      continue;
    }
    const float* xr = x + (u - p) * ps.W;
    for (std::size_t i = 0; i < p; ++i) prow[i] = 0.f;
    std::memcpy(prow + p, xr, ps.W * sizeof(float));
    for (std::size_t i = 0; i < right; ++i) prow[p + ps.W + i] = 0.f;
#pragma omp simd
    for (std::size_t m = 0; m < L; ++m) {
      ev[m] = prow[2 * m];
      od[m] = prow[2 * m + 1];
    }
  }
}

// V[k * ks + tile] = (B^T d B)[k] for every tile of one plane, from its pad_split buffer;
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
inline void input_transform(const Pass& ps, const float* buf, float* __restrict v, std::size_t ks) {
  const std::size_t L = ps.half(), tw = ps.tw;
  for (std::size_t ti = 0; ti < ps.th; ++ti) {
    const float* r0 = buf + (2 * ti) * 2 * L;
    const float *e0 = r0, *o0 = r0 + L, *e1 = r0 + 2 * L, *o1 = r0 + 3 * L;
    const float *e2 = r0 + 4 * L, *o2 = r0 + 5 * L, *e3 = r0 + 6 * L, *o3 = r0 + 7 * L;
    float* out = v + ti * tw;
#pragma omp simd
    for (std::size_t j = 0; j < tw; ++j) {
      // B^T d: columns 2j (a), 2j+1 (b), 2j+2 (c), 2j+3 (d) of the tile, rows 0..3 of the result.
      const float a0 = e0[j] - e2[j], a1 = e1[j] + e2[j], a2 = e2[j] - e1[j], a3 = e1[j] - e3[j];
      const float b0 = o0[j] - o2[j], b1 = o1[j] + o2[j], b2 = o2[j] - o1[j], b3 = o1[j] - o3[j];
      const float c0 = e0[j + 1] - e2[j + 1], c1 = e1[j + 1] + e2[j + 1], c2 = e2[j + 1] - e1[j + 1], c3 = e1[j + 1] - e3[j + 1];
      const float d0 = o0[j + 1] - o2[j + 1], d1 = o1[j + 1] + o2[j + 1], d2 = o2[j + 1] - o1[j + 1], d3 = o1[j + 1] - o3[j + 1];
      // (B^T d) B: row r -> (a - c, b + c, c - b, b - d).
      out[0 * ks + j] = a0 - c0;
      out[1 * ks + j] = b0 + c0;
      out[2 * ks + j] = c0 - b0;
      out[3 * ks + j] = b0 - d0;
      out[4 * ks + j] = a1 - c1;
      out[5 * ks + j] = b1 + c1;
      out[6 * ks + j] = c1 - b1;
      out[7 * ks + j] = b1 - d1;
      out[8 * ks + j] = a2 - c2;
      out[9 * ks + j] = b2 + c2;
      out[10 * ks + j] = c2 - b2;
      out[11 * ks + j] = b2 - d2;
      out[12 * ks + j] = a3 - c3;
      out[13 * ks + j] = b3 + c3;
      out[14 * ks + j] = c3 - b3;
      out[15 * ks + j] = b3 - d3;
    }
  }
}

// y (Ho x Wo) = A^T m A for every tile of one plane, m[k * ks + tile]; A^T = [1 1 1 0; 0 1 -1 -1].
// rows is scratch for two output rows (4 tw floats).
inline void output_transform(const Pass& ps, const float* m, std::size_t ks, float* y, float* __restrict rows) {
  const std::size_t tw = ps.tw, Wo = ps.Wo;
  float* y0 = rows;
  float* y1 = rows + 2 * tw;
  for (std::size_t ti = 0; ti < ps.th; ++ti) {
    const float* mt = m + ti * tw;
#pragma omp simd
    for (std::size_t j = 0; j < tw; ++j) {
      const float* q = mt + j;
      // m A: rows r of the tile -> (m0 + m1 + m2, m1 - m2 - m3).
      const float s00 = q[0 * ks] + q[1 * ks] + q[2 * ks], s01 = q[1 * ks] - q[2 * ks] - q[3 * ks];
      const float s10 = q[4 * ks] + q[5 * ks] + q[6 * ks], s11 = q[5 * ks] - q[6 * ks] - q[7 * ks];
      const float s20 = q[8 * ks] + q[9 * ks] + q[10 * ks], s21 = q[9 * ks] - q[10 * ks] - q[11 * ks];
      const float s30 = q[12 * ks] + q[13 * ks] + q[14 * ks], s31 = q[13 * ks] - q[14 * ks] - q[15 * ks];
      y0[2 * j] = s00 + s10 + s20;
      y0[2 * j + 1] = s01 + s11 + s21;
      y1[2 * j] = s10 - s20 - s30;
      y1[2 * j + 1] = s11 - s21 - s31;
    }
    float* out = y + 2 * ti * Wo;
    std::memcpy(out, y0, Wo * sizeof(float));
    if (2 * ti + 1 < ps.Ho) std::memcpy(out + Wo, y1, Wo * sizeof(float));
  }
}

// u[k * ks + n] = (G g_n G^T)[k] for n < N, where g_n[q] = g[q * ldg + n] (q = 3 r + s) and
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
inline void filter_transform(const float* g, std::size_t ldg, std::size_t N, float* __restrict u, std::size_t ks) {
#pragma omp simd
  for (std::size_t n = 0; n < N; ++n) {
    float t[4][3];
    for (std::size_t s = 0; s < 3; ++s) {
      const float g0 = g[s * ldg + n], g1 = g[(3 + s) * ldg + n], g2 = g[(6 + s) * ldg + n];
      t[0][s] = g0;
      t[1][s] = 0.5f * (g0 + g1 + g2);
      t[2][s] = 0.5f * (g0 - g1 + g2);
      t[3][s] = g2;
    }
    for (std::size_t r = 0; r < 4; ++r) {
      u[(4 * r + 0) * ks + n] = t[r][0];
      u[(4 * r + 1) * ks + n] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
      u[(4 * r + 2) * ks + n] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
      u[(4 * r + 3) * ks + n] = t[r][2];
    }
  }
}

// z[k * ks + tile] = (A dY A^T)[k] for every tile of one dy plane (Ho x Wo; outputs past the plane,
// in partial tiles, count as 0): the gradient with respect to the tile's product m.
inline void gradient_transform(const Pass& ps, const float* dy, float* __restrict z, std::size_t ks, float* __restrict rows) {
  const std::size_t tw = ps.tw, Wo = ps.Wo;
  // rows: the two dy rows of a tile row, padded to 2 tw with zeros.
  float* r0 = rows;
  float* r1 = rows + 2 * tw;
  for (std::size_t ti = 0; ti < ps.th; ++ti) {
    std::memcpy(r0, dy + 2 * ti * Wo, Wo * sizeof(float));
    if (2 * ti + 1 < ps.Ho)
      std::memcpy(r1, dy + (2 * ti + 1) * Wo, Wo * sizeof(float));
    else
      std::memset(r1, 0, Wo * sizeof(float));
    for (std::size_t j = Wo; j < 2 * tw; ++j) r0[j] = r1[j] = 0.f;
    float* out = z + ti * tw;
#pragma omp simd
    for (std::size_t j = 0; j < tw; ++j) {
      const float a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];
      // A dY: rows (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); then each row (p, q) -> (p, p + q, p - q, -q).
      const float p1 = a + c, q1 = b + d, p2 = a - c, q2 = b - d;
      out[0 * ks + j] = a;
      out[1 * ks + j] = a + b;
      out[2 * ks + j] = a - b;
      out[3 * ks + j] = -b;
      out[4 * ks + j] = p1;
      out[5 * ks + j] = p1 + q1;
      out[6 * ks + j] = p1 - q1;
      out[7 * ks + j] = -q1;
      out[8 * ks + j] = p2;
      out[9 * ks + j] = p2 + q2;
      out[10 * ks + j] = p2 - q2;
      out[11 * ks + j] = -q2;
      out[12 * ks + j] = -c;
      out[13 * ks + j] = -(c + d);
      out[14 * ks + j] = d - c;
      out[15 * ks + j] = d;
    }
  }
}

// dw_n[q] += (G^T m_n G)[q] for n < N, where m_n[k] = m[k * ks + n] and dw_n[q] = dw[n * 9 + q].
inline void filter_gradient_transform(const float* m, std::size_t ks, std::size_t N, float* __restrict dw) {
  for (std::size_t n = 0; n < N; ++n) {
    float t[3][4];
    // G^T m: rows (m0 + (m1 + m2) / 2, (m1 - m2) / 2, (m1 + m2) / 2 + m3) per column.
    for (std::size_t c = 0; c < 4; ++c) {
      const float m0 = m[c * ks + n], m1 = m[(4 + c) * ks + n], m2 = m[(8 + c) * ks + n], m3 = m[(12 + c) * ks + n];
      t[0][c] = m0 + 0.5f * (m1 + m2);
      t[1][c] = 0.5f * (m1 - m2);
      t[2][c] = 0.5f * (m1 + m2) + m3;
    }
    float* out = dw + n * 9;
    for (std::size_t r = 0; r < 3; ++r) {
      out[3 * r + 0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
      out[3 * r + 1] += 0.5f * (t[r][1] - t[r][2]);
      out[3 * r + 2] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
    }
  }
}

}  // namespace winograd

class Winograd3x3 {
public:
  // GEMMs narrower than this many columns (tiles) run well below the machine's GEMM rate.
  static constexpr std::size_t min_columns = 256;

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
    const std::size_t batch = std::max<std::size_t>(max_batch, 1), w = static_cast<std::size_t>(workers_);
    for (winograd::Pass* ps : {&fwd_, &bwd_})
      ps->group = std::clamp<std::size_t>((min_columns + ps->tiles() - 1) / ps->tiles(), 1, batch);
    vsize_ = std::max(16 * fwd_.C * fwd_.group * fwd_.tiles(), 16 * bwd_.C * bwd_.group * bwd_.tiles());
    msize_ = std::max(16 * fwd_.O * fwd_.group * fwd_.tiles(), 16 * bwd_.O * bwd_.group * bwd_.tiles());
    ssize_ = std::max(fwd_.plane_scratch(), bwd_.plane_scratch());
    tsize_ = 9 * std::max(g.in_c, g.out_c);
    u_.reserve(16 * g.in_c * g.out_c);
    v_.reserve(vsize_ * w);
    m_.reserve(msize_ * w);
    s_.reserve(ssize_ * w);
    t_.reserve(tsize_ * w);
  }

  // y = conv(x, w); w is [out_c, in_c, 3, 3].
  void forward(const float* x, const float* w, float* y, std::size_t batch) {
    if (batch == 0) return;
    transform_filter_forward(w);
    run(fwd_, x, y, batch);
  }

  // dx = the gradient of sum(dy * conv(x, w)) with respect to x.
  void backward_data(const float* w, const float* dy, float* dx, std::size_t batch) {
    if (batch == 0) return;
    transform_filter_backward(w);
    run(bwd_, dy, dx, batch);
  }

  // dw += the gradient of sum(dy * conv(x, w)) with respect to w. Needs the accumulator workspace
  // reserved by enable_backward_filter() (at construction time, by the owner).
  void backward_filter(const float* x, const float* dy, float* dw, std::size_t batch) {
    if (batch == 0) return;
    const winograd::Pass& ps = fwd_;
    const std::size_t G = group_size(ps, batch), groups = (batch + G - 1) / G, asize = 16 * ps.O * ps.C;
    const int used = used_workers(groups);
    std::memset(acc_.data(), 0, asize * static_cast<std::size_t>(used) * sizeof(float));
    ctnn::detail::parallel_for(groups, workers_, [&](std::size_t gi, int t) {
      const std::size_t n0 = gi * G, count = std::min(G, batch - n0), tiles = ps.tiles(), T = count * tiles;
      float* v = v_.data() + static_cast<std::size_t>(t) * vsize_;
      float* z = m_.data() + static_cast<std::size_t>(t) * msize_;
      float* s = s_.data() + static_cast<std::size_t>(t) * ssize_;
      transform_inputs(ps, x, n0, count, v, s);
      for (std::size_t i = 0; i < count; ++i)
        for (std::size_t o = 0; o < ps.O; ++o)
          winograd::gradient_transform(ps, dy + ((n0 + i) * ps.O + o) * ps.Ho * ps.Wo, z + o * T + i * tiles, ps.O * T, s);
      float* acc = acc_.data() + static_cast<std::size_t>(t) * asize;
      for (std::size_t k = 0; k < 16; ++k)
        gemm(Trans::no, Trans::yes, ps.O, ps.C, T, 1.f, z + k * ps.O * T, T, v + k * ps.C * T, T, 1.f, acc + k * ps.O * ps.C, ps.C);
    });
    // Sum the per-thread accumulators (into the first) and transform back, split over (o, c) pairs.
    const std::size_t pairs = ps.O * ps.C;
    ctnn::detail::parallel_chunks(pairs, workers_, [&](int, std::size_t begin, std::size_t end) {
      float* acc = acc_.data();
      for (int t = 1; t < used; ++t) {
        const float* part = acc_.data() + static_cast<std::size_t>(t) * asize;
        for (std::size_t k = 0; k < 16; ++k)
#pragma omp simd
          for (std::size_t i = begin; i < end; ++i) acc[k * pairs + i] += part[k * pairs + i];
      }
      winograd::filter_gradient_transform(acc + begin, pairs, end - begin, dw + begin * 9);
    });
  }

  // Reserves the per-thread accumulators backward_filter() needs (16 floats per weight pair).
  void enable_backward_filter() { acc_.reserve(16 * g_.in_c * g_.out_c * static_cast<std::size_t>(workers_)); }

  const Geometry2d& geometry() const { return g_; }
  std::size_t group() const { return fwd_.group; }
  std::size_t backward_group() const { return bwd_.group; }

private:
  int used_workers(std::size_t groups) const {
    return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(groups, static_cast<std::size_t>(std::min(workers_, num_threads())))));
  }

  // Images per group for this batch: no more than keeps every thread busy.
  std::size_t group_size(const winograd::Pass& ps, std::size_t batch) const {
    const auto threads = static_cast<std::size_t>(std::max(1, std::min(workers_, num_threads())));
    return std::clamp<std::size_t>((batch + threads - 1) / threads, 1, ps.group);
  }

  // U[k][o][c] from w[o][c] (3x3), split over output channels.
  void transform_filter_forward(const float* w) {
    const std::size_t C = g_.in_c, O = g_.out_c, ks = O * C;
    ctnn::detail::parallel_chunks(O, workers_, [&](int t, std::size_t begin, std::size_t end) {
      float* tmp = t_.data() + static_cast<std::size_t>(t) * tsize_;
      for (std::size_t o = begin; o < end; ++o) {
        const float* wo = w + o * C * 9;
        for (std::size_t c = 0; c < C; ++c)
          for (std::size_t q = 0; q < 9; ++q) tmp[q * C + c] = wo[c * 9 + q];
        winograd::filter_transform(tmp, C, C, u_.data() + o * C, ks);
      }
    });
  }

  // U[k][c][o] from rot180(w[o][c]): the filters of the backward pass (in and out swapped).
  void transform_filter_backward(const float* w) {
    const std::size_t C = g_.in_c, O = g_.out_c, ks = O * C;
    ctnn::detail::parallel_chunks(C, workers_, [&](int t, std::size_t begin, std::size_t end) {
      float* tmp = t_.data() + static_cast<std::size_t>(t) * tsize_;
      for (std::size_t c = begin; c < end; ++c) {
        for (std::size_t o = 0; o < O; ++o)
          for (std::size_t q = 0; q < 9; ++q) tmp[q * O + o] = w[(o * C + c) * 9 + (8 - q)];
        winograd::filter_transform(tmp, O, O, u_.data() + c * O, ks);
      }
    });
  }

  // V[k][c][i * tiles + tile] for images n0 .. n0 + count - 1 of `in` (ps.C planes each).
  static void transform_inputs(const winograd::Pass& ps, const float* in, std::size_t n0, std::size_t count, float* v,
                               float* s) {
    const std::size_t tiles = ps.tiles(), T = count * tiles, plane = ps.H * ps.W;
    float* buf = s;
    float* prow = s + ps.padded_rows() * 2 * ps.half();
    for (std::size_t i = 0; i < count; ++i)
      for (std::size_t c = 0; c < ps.C; ++c) {
        winograd::pad_split(ps, in + ((n0 + i) * ps.C + c) * plane, buf, prow);
        winograd::input_transform(ps, buf, v + c * T + i * tiles, ps.C * T);
      }
  }

  // out = conv(in, U) for one pass, with the filters already transformed into u_.
  void run(const winograd::Pass& ps, const float* in, float* out, std::size_t batch) {
    const std::size_t G = group_size(ps, batch), groups = (batch + G - 1) / G;
    ctnn::detail::parallel_for(groups, workers_, [&](std::size_t gi, int t) {
      const std::size_t n0 = gi * G, count = std::min(G, batch - n0), tiles = ps.tiles(), T = count * tiles;
      float* v = v_.data() + static_cast<std::size_t>(t) * vsize_;
      float* m = m_.data() + static_cast<std::size_t>(t) * msize_;
      float* s = s_.data() + static_cast<std::size_t>(t) * ssize_;
      transform_inputs(ps, in, n0, count, v, s);
      const float* u = u_.data();
      for (std::size_t k = 0; k < 16; ++k)
        gemm(Trans::no, Trans::no, ps.O, T, ps.C, 1.f, u + k * ps.O * ps.C, ps.C, v + k * ps.C * T, T, 0.f, m + k * ps.O * T, T);
      const std::size_t oplane = ps.Ho * ps.Wo;
      for (std::size_t i = 0; i < count; ++i)
        for (std::size_t o = 0; o < ps.O; ++o)
          winograd::output_transform(ps, m + o * T + i * tiles, ps.O * T, out + ((n0 + i) * ps.O + o) * oplane, s);
    });
  }

  Geometry2d g_;
  winograd::Pass fwd_, bwd_;
  int workers_;
  std::size_t vsize_ = 0, msize_ = 0, ssize_ = 0, tsize_ = 0;
  ctnn::detail::Scratch<float> u_, v_, m_, s_, t_, acc_;
};

}  // namespace ctnn::backend::cpu
