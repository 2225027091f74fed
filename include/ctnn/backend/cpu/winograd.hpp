#pragma once
// Winograd F(MxM, 3x3) convolution for 3x3 kernels with stride 1 (any padding 0..2, any H, W;
// NCHW float), with tiles of M = 2 or M = 4 outputs a side: (M + 2)^2 multiplies per M x M outputs
// instead of 9 M^2, 2.25x fewer than im2col for F(2x2,3x3) and 4x fewer for F(4x4,3x3).
//
//   forward          y  = conv(x, w)                      tiles over y, input x with padding p
//   backward data    dx = conv(dy, rot180(w)^T)           tiles over dx, input dy with padding 2 - p
//   backward filter  dw += sum_tiles G^T [(A dY A^T) . (B^T X B)] G   (the forward's adjoint in w)
//
// Scheme (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), N = M + 2:
//   U[k][o][c] = (G g[o][c] G^T)[k]          filter transform, recomputed every call (weights change)
//   V[k][c][t] = (B^T d[c][t] B)[k]          input transform of the N x N input tile t (tiles M apart)
//   M[k]       = U[k] * V[k]                 N^2 GEMMs [O x C] * [C x T]
//   y tile t   = A^T m[o][t] A               output transform, M x M outputs per tile
// The 1-D matrices B^T, G and A^T of both sizes are written out in winograd_transforms.inl.
// Backward data transforms the turned filters rot180(g) and reads U transposed ([C][O]).
//
// Layout: the images of a batch run in lane groups of up to `lanes` (16) images, and the
// transforms compute on vectors with one lane per image, so every plane size, 4x4 included, fills
// whole vectors. A GEMM column is one tile of one image: t = tile * L + lane, L the lanes per
// group. Two ways to share the work between threads (Split):
//   - images: work runs in blocks of about block_columns(M) columns: a block is a few lane groups
//     of whole planes (small planes) or a few tile rows of one lane group (large planes), so that
//     V and M stay in cache. Blocks run on different threads, each with its own V, M and scratch
//     (data one core wrote is read by that core); the filter gradient goes to per-thread
//     accumulators [N^2][O][C] that are summed and transformed back at the end.
//   - matrices, for small planes with many channels (ResNet's 8x8 and 4x4 layers), where a
//     thread's share of the batch makes GEMMs only a few dozen columns wide and every thread
//     would read all of U (36 MB at 512 x 512 channels): the whole batch is one block; the
//     threads transform its planes together, then split the N^2 GEMMs between them (each reads
//     only its own matrices of U), then transform back together; the filter gradient needs no
//     per-thread accumulators. Each result is then one GEMM over the whole batch, whatever the
//     number of threads.
// Every buffer is allocated at construction (for max_batch and num_threads()), nothing per call.
//
// The transforms (winograd_transforms.inl) are compiled once per instruction set (isa.hpp) and
// picked at construction; the N^2 matrices of V and M lie kstride() apart (not a power of two).
//
// Accuracy: F(2x2,3x3)'s transforms only add and halve, so its float32 results stay as close to
// the exact convolution as im2col's. F(4x4,3x3)'s multiply by up to 8 and divide by 6 and 24; its
// error is larger (tests/backend/winograd.cpp measures both against a double reference).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include "../../core/config.hpp"
#include "../../core/memory.hpp"
#include "../../core/threading.hpp"
#include "../contract.hpp"
#include "blocking.hpp"
#include "gemm.hpp"
#include "isa.hpp"

namespace ctnn::backend::cpu {

namespace winograd {

// Images per lane group: the width of the vectors the transforms compute on.
inline constexpr std::size_t lanes = 16;

// GEMM columns a block aims at: V and M (M + 2)^2 floats per column and channel) should stay in
// cache, while every GEMM [O x C] x [C x columns] keeps more than a million multiply-adds, below
// which GEMMs run far slower (gemm.hpp).
constexpr std::size_t block_columns(std::size_t M, std::size_t C, std::size_t O) {
  const std::size_t wide = (1'048'576 + C * O - 1) / std::max<std::size_t>(C * O, 1);
  return std::clamp<std::size_t>(wide, M == 4 ? 128 : 256, 256);
}

// Distance between the N^2 matrices of a transformed tensor holding n floats each: n rounded up to
// 4 KiB plus one cache line, so that the streams a transform reads or writes fall into
// different cache sets (a power-of-two distance makes them evict each other).
constexpr std::size_t kstride(std::size_t n) { return (n + 1023) / 1024 * 1024 + 16; }

// Pairs of (out, in) channels the filter transforms handle per block (a block's 9 or N^2 rows of
// block floats stay in L1).
inline constexpr std::size_t filter_block = 64;

// A filter transform whose U takes more bytes than this writes it past the caches (streaming
// stores): the products read it only after the whole transform, when most of it has left the
// caches anyway, and a cached store would first read every line it writes.
// (bench_conv, 2 threads, batch 64: 512->512 at 4x4 with F(4x4) 17.1 -> 16.0 ms forward; streaming
// the 64- and 128-channel layers' U, 0.6 and 2.4 MB, gained nothing.)
inline constexpr std::size_t streaming_bytes = std::size_t{4} << 20;

// One convolution pass: C input planes of H x W, padding `pad`, O output planes of Ho x Wo, 3x3,
// in tiles of M x M outputs, and how it is cut into blocks.
struct Pass {
  std::size_t C = 0, H = 0, W = 0, O = 0, Ho = 0, Wo = 0, pad = 0, M = 2;
  std::size_t th = 0, tw = 0;  // tile rows and columns (partial tiles at the bottom and the right)
  // A block is `groups` lane groups of whole planes (rows == th), or `rows` tile rows of one lane
  // group (groups == 1).
  std::size_t rows = 0, groups = 1;

  Pass() = default;
  // Blocks sized for max_batch images on `workers` threads (no more lane groups per block than
  // keep every thread busy).
  Pass(std::size_t c, std::size_t h, std::size_t w, std::size_t o, std::size_t p, std::size_t m, std::size_t max_batch,
       std::size_t workers)
      : C(c), H(h), W(w), O(o), Ho(h + 2 * p - 2), Wo(w + 2 * p - 2), pad(p), M(m), th((Ho + m - 1) / m),
        tw((Wo + m - 1) / m) {
    const std::size_t per_row = tw * lanes, target = block_columns(m, c, o);
    if (th * per_row >= target) {
      rows = std::clamp<std::size_t>(target / per_row, 1, th);
    } else {
      rows = th;
      groups = std::clamp<std::size_t>(target / (th * per_row), 1, busy_groups(max_batch, workers));
    }
  }

  // Lane groups per block that keep `workers` threads busy on `batch` images.
  static std::size_t busy_groups(std::size_t batch, std::size_t workers) {
    const std::size_t groups = (std::max<std::size_t>(batch, 1) + lanes - 1) / lanes;
    return std::max<std::size_t>(1, (groups + std::max<std::size_t>(workers, 1) - 1) / std::max<std::size_t>(workers, 1));
  }

  // The most GEMM columns of one block.
  std::size_t columns() const { return groups * rows * tw * lanes; }
  // Per-thread scratch of the transforms: the padded input rows of a block with the lanes
  // innermost (more than the output and gradient rows need); `r` tile rows at once.
  std::size_t scratch(std::size_t r) const { return (M * r + 2) * (M * tw + 2) * lanes; }
  std::size_t scratch() const { return scratch(rows); }
  // GEMM columns of a whole batch of n images (in lane groups of up to `lanes`).
  std::size_t batch_columns(std::size_t n) const { return (n + lanes - 1) / lanes * lanes * th * tw; }
};

// How the threads share a Winograd convolution (see above).
enum class Split { automatic, images, matrices };

// What the output transform does to one output channel as it writes it: nothing, or (on) y * scale
// + shift (+ the residual, a plane laid out as the output's) and then max(y, 0) when relu, from a
// ChannelAffine (contract.hpp) for the plane `offset` floats into the output.
struct Finish {
  bool on = false, relu = false;
  float scale = 1.f, shift = 0.f;
  const float* residual = nullptr;
};
inline Finish finish(const ChannelAffine* a, std::size_t channel, std::size_t offset) {
  if (!a) return {};
  return {true, a->relu, a->scale[channel], a->shift[channel], a->residual ? a->residual + offset : nullptr};
}

// The transforms below, one copy per instruction set (winograd_transforms.inl, for_each_isa.hpp).
struct Transforms {
  void (*input)(const Pass&, const float* x, std::size_t stride, std::size_t count, std::size_t r0, std::size_t r1, float* v,
                std::size_t ks, std::size_t L, float* scratch);
  void (*output)(const Pass&, const float* m, std::size_t ks, std::size_t L, std::size_t count, std::size_t r0, std::size_t r1,
                 float* y, std::size_t stride, float* scratch, const Finish& fin);
  void (*gradient)(const Pass&, const float* dy, std::size_t stride, std::size_t count, std::size_t r0, std::size_t r1,
                   float* z, std::size_t ks, std::size_t L, float* scratch);
  void (*filter)(const float* w, std::size_t count, bool turned, float* u, std::size_t ks, float* tmp);
  void (*filter_gradient)(const float* m, std::size_t ks, std::size_t count, float* dw, float* tmp);
};

// The transforms of tiles of M x M outputs (2 or 4) compiled for `isa`.
const Transforms& transforms(Isa isa, std::size_t M);

}  // namespace winograd

class Winograd3x3 {
public:
  // 3x3, stride 1, padding 0..2, and the output shape that implies.
  static constexpr bool supports(const Geometry2d& g) {
    return g.kernel == 3 && g.stride == 1 && g.pad <= 2 && g.in_h + 2 * g.pad >= 3 && g.in_w + 2 * g.pad >= 3 &&
           g.out_h == g.in_h + 2 * g.pad - 2 && g.out_w == g.in_w + 2 * g.pad - 2;
  }

  // Tiles of `tile` x `tile` outputs: 2 (F(2x2,3x3)) or 4 (F(4x4,3x3)).
  Winograd3x3(const Geometry2d& g, std::size_t max_batch, std::size_t tile = 2,
              winograd::Split split = winograd::Split::automatic);

  // Every buffer (the filter transform included, recomputed by each call) is scratch for one call.
  template <class Plan>
  void plan(Plan& p) { p.workspace(ws_); }

  // y = conv(x, w); w is [out_c, in_c, 3, 3]. With `affine`, each output is finished by it as it
  // is written (ChannelAffine).
  void forward(const float* x, const float* w, float* y, std::size_t batch, const ChannelAffine* affine = nullptr) {
    if (batch == 0) return;
    ws_.ready();
    transform_filter(w, false);
    run(fwd_, x, y, batch, false, affine);
  }

  // dx = the gradient of sum(dy * conv(x, w)) with respect to x.
  void backward_data(const float* w, const float* dy, float* dx, std::size_t batch) {
    if (batch == 0) return;
    ws_.ready();
    transform_filter(w, true);
    run(bwd_, dy, dx, batch, true);
  }

  // dw += the gradient of sum(dy * conv(x, w)) with respect to w: per block, the tiles' products'
  // gradients Z (from dy) times the transformed inputs V, summed into per-thread accumulators (the
  // first is the filter transform's buffer, which this pass does not use), then summed and
  // transformed back.
  void backward_filter(const float* x, const float* dy, float* dw, std::size_t batch);

  const Geometry2d& geometry() const { return g_; }
  // Outputs per tile side: 2 or 4.
  std::size_t tile() const { return M_; }
  // Lane groups per block (1 when a block is part of a plane's tile rows) and tile rows per block.
  std::size_t group() const { return fwd_.groups; }
  std::size_t block_rows() const { return fwd_.rows; }
  // The instruction set the transforms run with (active_isa() at construction).
  Isa isa() const { return isa_; }
  // How the threads share the work: Split::images or Split::matrices.
  winograd::Split split() const { return by_matrices_ ? winograd::Split::matrices : winograd::Split::images; }

private:
  // One block: lane groups g0 .. g0 + groups - 1, tile rows [r0, r1); `segment` GEMM columns per
  // lane group, `columns` in all.
  struct Block {
    std::size_t g0, groups, r0, r1, segment, columns;
    std::size_t image(std::size_t g, std::size_t L) const { return (g0 + g) * L; }
    template <class C>
    std::size_t count(std::size_t g, const C& cut) const { return std::min(cut.L, cut.batch - image(g, cut.L)); }
  };
  // How one call cuts its batch: L lanes per group (the groups as even as `lanes` allows), then
  // blocks in the pass's shape, with no more groups per block than keep the threads busy.
  struct Cut {
    const winograd::Pass& ps;
    std::size_t batch, L, G, per_block, row_blocks;
    Cut(const winograd::Pass& p, std::size_t n, int workers)
        : ps(p), batch(n), L(lane_stride(n)), G((n + L - 1) / L),
          per_block(std::min(p.groups, winograd::Pass::busy_groups(n, static_cast<std::size_t>(ctnn::detail::active_workers(workers))))),
          row_blocks((p.th + p.rows - 1) / p.rows) {}
    // Lanes per group: n in ceil(n / lanes) groups as even as they can be.
    static std::size_t lane_stride(std::size_t n) {
      const std::size_t groups = (n + winograd::lanes - 1) / winograd::lanes;
      return (n + groups - 1) / groups;
    }
    std::size_t blocks() const { return ps.rows < ps.th ? G * row_blocks : (G + per_block - 1) / per_block; }
    // GEMM columns of one lane group's whole planes, and of the whole batch.
    std::size_t segment() const { return ps.th * ps.tw * L; }
    std::size_t batch_columns() const { return G * segment(); }
    // Images in lane group g.
    std::size_t count(std::size_t g) const { return std::min(L, batch - g * L); }
    Block operator[](std::size_t i) const {
      if (ps.rows < ps.th) {
        const std::size_t r0 = (i % row_blocks) * ps.rows, r1 = std::min(ps.th, r0 + ps.rows);
        const std::size_t seg = (r1 - r0) * ps.tw * L;
        return {i / row_blocks, 1, r0, r1, seg, seg};
      }
      const std::size_t g0 = i * per_block, groups = std::min(per_block, G - g0), seg = ps.th * ps.tw * L;
      return {g0, groups, 0, ps.th, seg, groups * seg};
    }
  };

  static std::size_t check_tile(std::size_t tile) {
    if (tile != 2 && tile != 4) ctnn::detail::fail("ctnn::backend::cpu::Winograd3x3: tiles of ", tile, " outputs (2 or 4)");
    return tile;
  }

  float* scratch(int w) { return ws_[s_] + static_cast<std::size_t>(w) * ssize_; }

  // Thread t's own V, M (or Z) and scratch when a pass splits the images between the threads.
  struct BlockBuffers {
    float *v, *m, *scratch;
  };
  BlockBuffers block_buffers(int t) {
    const auto i = static_cast<std::size_t>(t);
    return {ws_[v_] + i * vsize_, ws_[m_] + i * msize_, scratch(t)};
  }

  // V of group g of a block: the group's images' planes of every input channel of `in`, transformed.
  void transform_group_input(const winograd::Pass& ps, const float* in, const Cut& cut, const Block& blk, std::size_t g,
                             float* v, float* s);

  // U[k][o][c] from w[o][c] (turned by 180 degrees for backward data), split over (o, c) pairs.
  void transform_filter(const float* w, bool turned);

  // f(g, j, images in g, thread) for every lane group g of the batch and j < channels, spread
  // over the threads (Split::matrices).
  template <class F>
  void for_each_plane(const Cut& cut, std::size_t channels, F&& f) {
    ctnn::detail::parallel_for(cut.G * channels, workers_, [&](std::size_t i, int t) {
      const std::size_t g = i / channels;
      f(g, i % channels, cut.count(g), t);
    });
  }

  // The N^2 products M[k] = U[k] V[k] (U read transposed by the backward pass), k in [k0, k1).
  void products(const winograd::Pass& ps, bool backward, std::size_t T, const float* v, float* m, std::size_t k0,
                std::size_t k1);

  // out = conv(in, U) for one pass, with the filters transformed into u_ ([O][C] of the forward
  // pass; the backward pass reads the turned filters' U transposed).
  void run(const winograd::Pass& ps, const float* in, float* out, std::size_t batch, bool backward,
           const ChannelAffine* affine = nullptr);

  Geometry2d g_;
  std::size_t M_, K_;  // outputs per tile side, transformed matrices ((M + 2)^2)
  int workers_;
  winograd::Pass fwd_, bwd_;
  Isa isa_;                         // the instruction set active at construction ...
  const winograd::Transforms* k_;   // ... and its transforms
  bool by_matrices_ = false;  // Split::matrices
  std::size_t vsize_ = 0, msize_ = 0, ssize_ = 0;
  ctnn::detail::Workspace ws_;
  ctnn::detail::Workspace::Part<float> u_, v_, m_, s_, acc_;
};

}  // namespace ctnn::backend::cpu

#if CTNN_HEADER_DEFINITIONS
#include "impl/winograd.ipp"
#endif
