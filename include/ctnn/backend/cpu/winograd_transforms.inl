// The Winograd F(2x2,3x3) transforms (see winograd.hpp), compiled once per instruction set by
// for_each_isa.hpp into namespace ctnn::backend::cpu::winograd::CTNN_ISA_NAMESPACE. No include guard
// and no includes: winograd.hpp includes it, after everything it uses.

namespace CTNN_ISA_NAMESPACE {

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

// This instruction set's entry in the dispatch table.
inline constexpr Transforms transforms{&input_transform, &output_transform, &gradient_transform, &filter_transform,
                                       &filter_gradient_transform};

}  // namespace CTNN_ISA_NAMESPACE
