#pragma once
// winograd.hpp's definitions (core/config.hpp: separate compilation).

#include <cstdint>
#include <cstring>

#include "../winograd.hpp"

namespace ctnn::backend::cpu {

namespace winograd {

// Shuffles of vectors (winograd_transforms.inl) where the compiler has them: nvcc's front end,
// which also compiles the host code of .cu files, lacks __builtin_shufflevector.
#if defined(__CUDACC__)
#define CTNN_WINOGRAD_SHUFFLES 0
#else
#define CTNN_WINOGRAD_SHUFFLES 1
#endif
// Streaming stores through the compilers' own builtins: <immintrin.h> would cost every
// header-only translation unit about 90 MB of compiler memory.
#if CTNN_ISA_DISPATCH && CTNN_WINOGRAD_SHUFFLES
#define CTNN_WINOGRAD_STREAMING 1
#else
#define CTNN_WINOGRAD_STREAMING 0
#endif
#define CTNN_ISA_KERNELS "winograd_transforms.inl"  // found beside for_each_isa.hpp
#include "../for_each_isa.hpp"

// The transforms of tiles of M x M outputs compiled for `isa`.
template <std::size_t M>
const Transforms& transforms(Isa isa) {
#if CTNN_ISA_DISPATCH
  if (isa == Isa::avx512) return avx512::transforms<M>;
  if (isa == Isa::avx2) return avx2::transforms<M>;
#endif
  (void)isa;
  return baseline::transforms<M>;
}
CTNN_INLINE const Transforms& transforms(Isa isa, std::size_t M) {
  return M == 4 ? transforms<4>(isa) : transforms<2>(isa);
}

}  // namespace winograd

CTNN_INLINE Winograd3x3::Winograd3x3(const Geometry2d& g, std::size_t max_batch, std::size_t tile, winograd::Split split)
    : g_(g),
      M_(check_tile(tile)),
      K_((tile + 2) * (tile + 2)),
      workers_(std::max(1, num_threads())),
      fwd_(g.in_c, g.in_h, g.in_w, g.out_c, g.pad, tile, max_batch, static_cast<std::size_t>(workers_)),
      bwd_(g.out_c, g.out_h, g.out_w, g.in_c, 2 - std::min<std::size_t>(g.pad, 2), tile, max_batch,
           static_cast<std::size_t>(workers_)),
      isa_(active_isa()),
      k_(&winograd::transforms(isa_, tile)) {
  using winograd::kstride;
  // Split::automatic splits the matrices for blocks of whole planes and more than 128 x 128
  // channel pairs (ResNet-18's 256-channel layers at 8x8 and 512-channel layers at 4x4; measured
  // with bench_conv's BM_winograd_split, bench/RESULTS.md).
  by_matrices_ = split == winograd::Split::matrices ||
                 (split == winograd::Split::automatic && fwd_.rows == fwd_.th && g.in_c * g.out_c > 128 * 128);
  const auto w = static_cast<std::size_t>(workers_);
  // One block (the whole batch) and one accumulator when the threads split the matrices; a block
  // and an accumulator per thread otherwise.
  const std::size_t copies = by_matrices_ ? 1 : w;
  auto columns = [&](const winograd::Pass& ps) { return by_matrices_ ? ps.batch_columns(max_batch) : ps.columns(); };
  vsize_ = K_ * std::max(kstride(fwd_.C * columns(fwd_)), kstride(bwd_.C * columns(bwd_)));
  msize_ = K_ * std::max(kstride(fwd_.O * columns(fwd_)), kstride(bwd_.O * columns(bwd_)));
  const std::size_t scratch = by_matrices_ ? std::max(fwd_.scratch(fwd_.th), bwd_.scratch(bwd_.th))
                                           : std::max(fwd_.scratch(), bwd_.scratch());
  ssize_ = (std::max(scratch, 9 * winograd::filter_block) + 15) / 16 * 16;  // whole cache lines
  u_ = ws_.add<float>(K_ * kstride(g.in_c * g.out_c));
  v_ = ws_.add<float>(vsize_ * copies);
  m_ = ws_.add<float>(msize_ * copies);
  s_ = ws_.add<float>(ssize_ * w);
  acc_ = ws_.add<float>(K_ * kstride(g.in_c * g.out_c) * (copies - 1));
  // The products of both passes and of the filter gradient, for every block a batch can give.
  GemmNeeds needs;
  for (const winograd::Pass* ps : {&fwd_, &bwd_}) {
    auto add = [&](std::size_t T) {
      needs.add(ps->O, T, ps->C);
      if (ps == &fwd_) needs.add(ps->O, ps->C, T);
    };
    if (by_matrices_) {
      for (std::size_t n = 1; n <= std::max<std::size_t>(max_batch, 1); ++n) add(Cut(*ps, n, workers_).batch_columns());
      continue;
    }
    for (std::size_t L = 1; L <= winograd::lanes; ++L)
      for (std::size_t groups = 1; groups <= ps->groups; ++groups)
        for (const std::size_t rows : {ps->rows, ps->th % ps->rows}) add(groups * rows * ps->tw * L);
  }
  reserve_gemm(needs, workers_);
}

CTNN_INLINE void Winograd3x3::backward_filter(const float* x, const float* dy, float* dw, std::size_t batch) {
  if (batch == 0) return;
  ws_.ready();
  const winograd::Pass& ps = fwd_;
  const Cut cut(ps, batch, workers_);
  const std::size_t pairs = ps.O * ps.C, ka = winograd::kstride(pairs), asize = K_ * ka;
  const int used = by_matrices_ ? 1 : ctnn::detail::team_size(cut.blocks(), workers_);
  auto accumulator = [&](int t) { return t == 0 ? ws_[u_] : ws_[acc_] + static_cast<std::size_t>(t - 1) * asize; };
  if (by_matrices_) {
    // Z and V of the whole batch, then each thread its share of the N^2 products.
    const std::size_t T = cut.batch_columns(), kv = winograd::kstride(ps.C * T), kz = winograd::kstride(ps.O * T);
    float *v = ws_[v_], *z = ws_[m_];
    for_each_plane(cut, ps.C + ps.O, [&](std::size_t g, std::size_t j, std::size_t count, int t) {
      const std::size_t n0 = g * cut.L, column = g * cut.segment();
      if (j < ps.C)
        k_->input(ps, x + (n0 * ps.C + j) * ps.H * ps.W, ps.C * ps.H * ps.W, count, 0, ps.th, v + j * T + column, kv, cut.L,
                  scratch(t));
      else
        k_->gradient(ps, dy + (n0 * ps.O + j - ps.C) * ps.Ho * ps.Wo, ps.O * ps.Ho * ps.Wo, count, 0, ps.th,
                     z + (j - ps.C) * T + column, kz, cut.L, scratch(t));
    });
    float* acc = accumulator(0);
    ctnn::detail::parallel_for(K_, workers_, [&](std::size_t k, int) {
      gemm(Trans::no, Trans::yes, ps.O, ps.C, T, 1.f, z + k * kz, T, v + k * kv, T, 0.f, acc + k * ka, ps.C);
    });
  } else {
    for (int t = 0; t < used; ++t) std::memset(accumulator(t), 0, asize * sizeof(float));
    ctnn::detail::parallel_for(cut.blocks(), workers_, [&](std::size_t b, int t) {
      const Block blk = cut[b];
      const std::size_t T = blk.columns, kv = winograd::kstride(ps.C * T), kz = winograd::kstride(ps.O * T);
      const BlockBuffers buf = block_buffers(t);
      float *v = buf.v, *z = buf.m;
      for (std::size_t g = 0; g < blk.groups; ++g) {  // V and Z group by group (faster than all V first)
        const std::size_t n0 = blk.image(g, cut.L), count = blk.count(g, cut);
        transform_group_input(ps, x, cut, blk, g, v, buf.scratch);
        for (std::size_t o = 0; o < ps.O; ++o)
          k_->gradient(ps, dy + (n0 * ps.O + o) * ps.Ho * ps.Wo, ps.O * ps.Ho * ps.Wo, count, blk.r0, blk.r1,
                       z + o * T + g * blk.segment, kz, cut.L, buf.scratch);
      }
      float* acc = accumulator(t);
      for (std::size_t k = 0; k < K_; ++k)
        gemm(Trans::no, Trans::yes, ps.O, ps.C, T, 1.f, z + k * kz, T, v + k * kv, T, 1.f, acc + k * ka, ps.C);
    });
  }
  // Sum the per-thread accumulators (into the first) and transform back, split over (o, c) pairs.
  ctnn::detail::parallel_chunks(pairs, workers_, [&](int t, std::size_t begin, std::size_t end) {
    float* acc = accumulator(0);
    for (int p = 1; p < used; ++p) {
      const float* part = accumulator(p);
      for (std::size_t k = 0; k < K_; ++k)
#pragma omp simd
        for (std::size_t i = begin; i < end; ++i) acc[k * ka + i] += part[k * ka + i];
    }
    k_->filter_gradient(acc + begin, ka, end - begin, dw + begin * 9, scratch(t));
  });
}

CTNN_INLINE void Winograd3x3::transform_group_input(const winograd::Pass& ps, const float* in, const Cut& cut,
                                                    const Block& blk, std::size_t g, float* v, float* s) {
  const std::size_t T = blk.columns, kv = winograd::kstride(ps.C * T);
  for (std::size_t c = 0; c < ps.C; ++c)
    k_->input(ps, in + (blk.image(g, cut.L) * ps.C + c) * ps.H * ps.W, ps.C * ps.H * ps.W, blk.count(g, cut), blk.r0,
              blk.r1, v + c * T + g * blk.segment, kv, cut.L, s);
}

CTNN_INLINE void Winograd3x3::transform_filter(const float* w, bool turned) {
  const std::size_t pairs = g_.in_c * g_.out_c, ks = winograd::kstride(pairs);
  ctnn::detail::parallel_chunks(pairs, workers_, [&](int t, std::size_t begin, std::size_t end) {
    k_->filter(w + begin * 9, end - begin, turned, ws_[u_] + begin, ks, scratch(t));
  });
}

CTNN_INLINE void Winograd3x3::products(const winograd::Pass& ps, bool backward, std::size_t T, const float* v, float* m,
                                       std::size_t k0, std::size_t k1) {
  const std::size_t ku = winograd::kstride(ps.O * ps.C), kv = winograd::kstride(ps.C * T), km = winograd::kstride(ps.O * T);
  const float* u = ws_[u_];
  for (std::size_t k = k0; k < k1; ++k) {
    if (backward)  // U of the forward pass is [C][O] here
      gemm(Trans::yes, Trans::no, ps.O, T, ps.C, 1.f, u + k * ku, ps.O, v + k * kv, T, 0.f, m + k * km, T);
    else
      gemm(Trans::no, Trans::no, ps.O, T, ps.C, 1.f, u + k * ku, ps.C, v + k * kv, T, 0.f, m + k * km, T);
  }
}

CTNN_INLINE void Winograd3x3::run(const winograd::Pass& ps, const float* in, float* out, std::size_t batch,
                                  bool backward, const ChannelAffine* affine) {
  const Cut cut(ps, batch, workers_);
  if (by_matrices_) {
    // The whole batch's planes transformed by all threads, the products split between them, the
    // results transformed back by all.
    const std::size_t T = cut.batch_columns(), kv = winograd::kstride(ps.C * T), km = winograd::kstride(ps.O * T);
    float *v = ws_[v_], *m = ws_[m_];
    for_each_plane(cut, ps.C, [&](std::size_t g, std::size_t c, std::size_t count, int t) {
      k_->input(ps, in + (g * cut.L * ps.C + c) * ps.H * ps.W, ps.C * ps.H * ps.W, count, 0, ps.th,
                v + c * T + g * cut.segment(), kv, cut.L, scratch(t));
    });
    ctnn::detail::parallel_for(K_, workers_, [&](std::size_t k, int) { products(ps, backward, T, v, m, k, k + 1); });
    for_each_plane(cut, ps.O, [&](std::size_t g, std::size_t o, std::size_t count, int t) {
      const std::size_t plane = (g * cut.L * ps.O + o) * ps.Ho * ps.Wo;
      k_->output(ps, m + o * T + g * cut.segment(), km, cut.L, count, 0, ps.th, out + plane, ps.O * ps.Ho * ps.Wo,
                 scratch(t), winograd::finish(affine, o, plane));
    });
    return;
  }
  ctnn::detail::parallel_for(cut.blocks(), workers_, [&](std::size_t b, int t) {
    const Block blk = cut[b];
    const std::size_t T = blk.columns, km = winograd::kstride(ps.O * T);
    const BlockBuffers buf = block_buffers(t);
    float *v = buf.v, *m = buf.m, *s = buf.scratch;
    for (std::size_t g = 0; g < blk.groups; ++g) transform_group_input(ps, in, cut, blk, g, v, s);
    products(ps, backward, T, v, m, 0, K_);
    for (std::size_t g = 0; g < blk.groups; ++g)
      for (std::size_t o = 0; o < ps.O; ++o) {
        const std::size_t plane = (blk.image(g, cut.L) * ps.O + o) * ps.Ho * ps.Wo;
        k_->output(ps, m + o * T + g * blk.segment, km, cut.L, blk.count(g, cut), blk.r0, blk.r1, out + plane,
                   ps.O * ps.Ho * ps.Wo, s, winograd::finish(affine, o, plane));
      }
  });
}

}  // namespace ctnn::backend::cpu
