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
// The transforms (winograd_transforms.inl) are plain loops that the compiler vectorises, compiled
// once per instruction set (isa.hpp) and picked at construction: the 16 matrices of V and M lie
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
#include "../contract.hpp"
#include "blocking.hpp"
#include "gemm.hpp"
#include "isa.hpp"

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

// The transforms below, one copy per instruction set (winograd_transforms.inl, for_each_isa.hpp).
struct Transforms {
  void (*input)(const Pass&, const float* x, std::size_t r0, std::size_t r1, float* v, std::size_t ks, float* scratch);
  void (*output)(const Pass&, const float* m, std::size_t ks, std::size_t r0, std::size_t r1, float* y, float* spare);
  void (*gradient)(const Pass&, const float* dy, std::size_t r0, std::size_t r1, float* z, std::size_t ks, float* zeros);
  void (*filter)(const float* w, std::size_t N, float* u, std::size_t ks, float* tmp);
  void (*filter_gradient)(const float* m, std::size_t ks, std::size_t N, float* dw, float* tmp);
};

#define CTNN_ISA_KERNELS "winograd_transforms.inl"
#include "for_each_isa.hpp"

// The transforms compiled for `isa`.
inline const Transforms& transforms(Isa isa) {
#if CTNN_ISA_DISPATCH
  if (isa == Isa::avx512) return avx512::transforms;
  if (isa == Isa::avx2) return avx2::transforms;
#endif
  (void)isa;
  return baseline::transforms;
}

}  // namespace winograd

class Winograd3x3 {
public:
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
        workers_(std::max(1, num_threads())),
        isa_(active_isa()),
        k_(&winograd::transforms(isa_)) {
    using winograd::kstride;
    const std::size_t batch = std::max<std::size_t>(max_batch, 1), w = static_cast<std::size_t>(workers_);
    for (winograd::Pass* ps : {&fwd_, &bwd_}) {
      if (ps->tiles() > max_columns) {
        ps->group = 1;
        ps->block_rows = std::min(ps->th, (max_columns + ps->tw - 1) / ps->tw);
      } else {
        // The per-thread workspaces are sized for a group at the largest batch.
        ps->group = images_per_group(ps->tiles(), batch, w);
        ps->block_rows = ps->th;
      }
    }
    vsize_ = 16 * std::max(kstride(fwd_.C * fwd_.columns()), kstride(bwd_.C * bwd_.columns()));
    msize_ = 16 * std::max(kstride(fwd_.O * fwd_.columns()), kstride(bwd_.O * bwd_.columns()));
    ssize_ = (std::max({fwd_.scratch(), bwd_.scratch(), 9 * winograd::filter_block}) + 15) / 16 * 16;  // whole cache lines
    u_ = ws_.add<float>(16 * kstride(g.in_c * g.out_c));
    v_ = ws_.add<float>(vsize_ * w);
    m_ = ws_.add<float>(msize_ * w);
    s_ = ws_.add<float>(ssize_ * w);
  }

  // Every buffer (the filter transform included, recomputed by each call) is scratch for one call.
  template <class Plan>
  void plan(Plan& p) { p.workspace(ws_); }

  // y = conv(x, w); w is [out_c, in_c, 3, 3].
  void forward(const float* x, const float* w, float* y, std::size_t batch) {
    if (batch == 0) return;
    ws_.ready();
    transform_filter(w);
    run(fwd_, x, y, batch, false);
  }

  // dx = the gradient of sum(dy * conv(x, w)) with respect to x.
  void backward_data(const float* w, const float* dy, float* dx, std::size_t batch) {
    if (batch == 0) return;
    ws_.ready();
    transform_filter(w);
    run(bwd_, dy, dx, batch, true);
  }

  // dw += the gradient of sum(dy * conv(x, w)) with respect to w. Needs the accumulators reserved
  // by enable_backward_filter().
  void backward_filter(const float* x, const float* dy, float* dw, std::size_t batch) {
    if (batch == 0) return;
    ws_.ready();
    const winograd::Pass& ps = fwd_;
    const Blocks b = blocks(ps, batch);
    const std::size_t pairs = ps.O * ps.C, ka = winograd::kstride(pairs), asize = 16 * ka;
    const int used = ctnn::detail::team_size(b.count, workers_);
    // Thread t's accumulator; the first is the filter transform's buffer, which this pass does not use.
    auto accumulator = [&](int t) { return t == 0 ? ws_[u_] : ws_[acc_] + static_cast<std::size_t>(t - 1) * asize; };
    for (int t = 0; t < used; ++t) std::memset(accumulator(t), 0, asize * sizeof(float));
    ctnn::detail::parallel_for(b.count, workers_, [&](std::size_t i, int t) {
      const Block blk = b[i];
      const std::size_t per = (blk.r1 - blk.r0) * ps.tw, T = blk.images * per;
      float* v = ws_[v_] + static_cast<std::size_t>(t) * vsize_;
      float* z = ws_[m_] + static_cast<std::size_t>(t) * msize_;
      float* s = ws_[s_] + static_cast<std::size_t>(t) * ssize_;
      const std::size_t kv = transform_inputs(ps, x, blk, v, s), kz = winograd::kstride(ps.O * T);
      for (std::size_t n = 0; n < blk.images; ++n)
        for (std::size_t o = 0; o < ps.O; ++o)
          k_->gradient(ps, dy + ((blk.n0 + n) * ps.O + o) * ps.Ho * ps.Wo, blk.r0, blk.r1, z + o * T + n * per, kz, s);
      float* acc = accumulator(t);
      for (std::size_t k = 0; k < 16; ++k)
        gemm(Trans::no, Trans::yes, ps.O, ps.C, T, 1.f, z + k * kz, T, v + k * kv, T, 1.f, acc + k * ka, ps.C);
    });
    // Sum the per-thread accumulators (into the first) and transform back, split over (o, c) pairs.
    ctnn::detail::parallel_chunks(pairs, workers_, [&](int t, std::size_t begin, std::size_t end) {
      float* acc = accumulator(0);
      for (int p = 1; p < used; ++p) {
        const float* part = accumulator(p);
        for (std::size_t k = 0; k < 16; ++k)
#pragma omp simd
          for (std::size_t i = begin; i < end; ++i) acc[k * ka + i] += part[k * ka + i];
      }
      k_->filter_gradient(acc + begin, ka, end - begin, dw + begin * 9,
                                          ws_[s_] + static_cast<std::size_t>(t) * ssize_);
    });
  }

  // Reserves the per-thread accumulators backward_filter() needs (16 floats per weight pair; the
  // first thread's is u_). Call before the first use (the workspace is laid out then).
  void enable_backward_filter() {
    if (filter_gradient_) return;
    filter_gradient_ = true;
    acc_ = ws_.add<float>(16 * winograd::kstride(g_.in_c * g_.out_c) * static_cast<std::size_t>(workers_ - 1));
  }

  const Geometry2d& geometry() const { return g_; }
  // Images per block (1 when a plane is split into blocks of tile rows) and tile rows per block.
  std::size_t group() const { return fwd_.group; }
  std::size_t block_rows() const { return fwd_.block_rows; }
  // The instruction set the transforms run with (active_isa() at construction).
  Isa isa() const { return isa_; }

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
    // Images per group for this batch (no larger than the workspaces were sized for).
    const auto threads = static_cast<std::size_t>(ctnn::detail::active_workers(workers_));
    const std::size_t G = std::min(ps.group, images_per_group(ps.tiles(), batch, threads));
    return {(batch + G - 1) / G, G, 1, ps.th, ps.th, batch};
  }

  // U[k][o][c] from w[o][c], split over (o, c) pairs.
  void transform_filter(const float* w) {
    const std::size_t pairs = g_.in_c * g_.out_c, ks = winograd::kstride(pairs);
    ctnn::detail::parallel_chunks(pairs, workers_, [&](int t, std::size_t begin, std::size_t end) {
      k_->filter(w + begin * 9, end - begin, ws_[u_] + begin, ks, ws_[s_] + static_cast<std::size_t>(t) * ssize_);
    });
  }

  // V[k][c][n * per + tile] for the tiles of block blk of `in` (ps.C planes per image); returns the
  // distance between the V[k].
  std::size_t transform_inputs(const winograd::Pass& ps, const float* in, const Block& blk, float* v, float* s) {
    const std::size_t per = (blk.r1 - blk.r0) * ps.tw, T = blk.images * per, plane = ps.H * ps.W;
    const std::size_t kv = winograd::kstride(ps.C * T);
    for (std::size_t n = 0; n < blk.images; ++n)
      for (std::size_t c = 0; c < ps.C; ++c)
        k_->input(ps, in + ((blk.n0 + n) * ps.C + c) * plane, blk.r0, blk.r1, v + c * T + n * per, kv, s);
    return kv;
  }

  // out = conv(in, U) for one pass, with the filters transformed into u_ ([O][C] for the forward
  // pass; the backward pass reads U[flip(k)] transposed).
  void run(const winograd::Pass& ps, const float* in, float* out, std::size_t batch, bool backward) {
    const Blocks b = blocks(ps, batch);
    ctnn::detail::parallel_for(b.count, workers_, [&](std::size_t i, int t) {
      const Block blk = b[i];
      const std::size_t per = (blk.r1 - blk.r0) * ps.tw, T = blk.images * per;
      float* v = ws_[v_] + static_cast<std::size_t>(t) * vsize_;
      float* m = ws_[m_] + static_cast<std::size_t>(t) * msize_;
      float* s = ws_[s_] + static_cast<std::size_t>(t) * ssize_;
      const std::size_t kv = transform_inputs(ps, in, blk, v, s), km = winograd::kstride(ps.O * T);
      const std::size_t ku = winograd::kstride(ps.O * ps.C);
      const float* u = ws_[u_];
      for (std::size_t k = 0; k < 16; ++k) {
        if (backward)  // U of the forward pass is [C][O] here
          gemm(Trans::yes, Trans::no, ps.O, T, ps.C, 1.f, u + winograd::flip(k) * ku, ps.O, v + k * kv, T, 0.f, m + k * km, T);
        else
          gemm(Trans::no, Trans::no, ps.O, T, ps.C, 1.f, u + k * ku, ps.C, v + k * kv, T, 0.f, m + k * km, T);
      }
      const std::size_t oplane = ps.Ho * ps.Wo;
      for (std::size_t n = 0; n < blk.images; ++n)
        for (std::size_t o = 0; o < ps.O; ++o)
          k_->output(ps, m + o * T + n * per, km, blk.r0, blk.r1, out + ((blk.n0 + n) * ps.O + o) * oplane, s);
    });
  }

  Geometry2d g_;
  winograd::Pass fwd_, bwd_;
  int workers_;
  Isa isa_;                         // the instruction set active at construction ...
  const winograd::Transforms* k_;   // ... and its transforms
  std::size_t vsize_ = 0, msize_ = 0, ssize_ = 0;
  ctnn::detail::Workspace ws_;
  ctnn::detail::Workspace::Part<float> u_, v_, m_, s_, acc_;
  bool filter_gradient_ = false;
};

}  // namespace ctnn::backend::cpu
