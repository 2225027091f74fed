#pragma once
// linear.hpp's definitions (core/config.hpp: separate compilation).

#include "../linear.hpp"

namespace ctnn::backend::cpu {

CTNN_INLINE Linear::Linear(std::size_t in, std::size_t out, std::size_t max_batch) : in_(in), out_(out) {
  // The products of every batch and every split over the threads.
  const int workers = std::max(1, num_threads());
  GemmNeeds needs;
  for (std::size_t rows = 1; rows <= max_batch; ++rows) {
    needs.add(rows, out, in);  // forward
    needs.add(rows, in, out);  // input gradient
    for (int t = 1; t <= workers; ++t)
      for (const std::size_t part : {out / static_cast<std::size_t>(t), (out + static_cast<std::size_t>(t) - 1) / static_cast<std::size_t>(t)})
        needs.add(part, in, rows);  // weight gradient, rows of it per thread
  }
  reserve_gemm(needs, workers);
}

CTNN_INLINE void Linear::forward(const float* x, const float* w, const float* b, float* y, std::size_t batch) {
  ctnn::detail::parallel_chunks(batch, num_threads(), [&](int, std::size_t r0, std::size_t r1) {
    if (r1 <= r0) return;
    float* yr = y + r0 * out_;
    for (std::size_t r = r0; r < r1; ++r) std::copy(b, b + out_, y + r * out_);
    gemm(Trans::no, Trans::yes, r1 - r0, out_, in_, 1.f, x + r0 * in_, in_, w, in_, 1.f, yr, out_);
  });
}

CTNN_INLINE void Linear::backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                                  std::size_t batch) {
  // dw[o, :] += sum_n dy[n, o] * x[n, :], split over output rows.
  ctnn::detail::parallel_chunks(out_, num_threads(), [&](int, std::size_t o0, std::size_t o1) {
    if (o1 <= o0) return;
    gemm(Trans::yes, Trans::no, o1 - o0, in_, batch, 1.f, dy + o0, out_, x, in_, 1.f, dw + o0 * in_, in_);
    for (std::size_t o = o0; o < o1; ++o) {
      float s = 0.f;
      for (std::size_t n = 0; n < batch; ++n) s += dy[n * out_ + o];
      db[o] += s;
    }
  });
  if (!dx) return;
  ctnn::detail::parallel_chunks(batch, num_threads(), [&](int, std::size_t r0, std::size_t r1) {
    if (r1 <= r0) return;
    gemm(Trans::no, Trans::no, r1 - r0, in_, out_, 1.f, dy + r0 * out_, out_, w, in_, 0.f, dx + r0 * in_, in_);
  });
}

}  // namespace ctnn::backend::cpu
