#pragma once
// conv.hpp's definitions (core/config.hpp: separate compilation).

#include <cstring>

#include "../conv.hpp"

namespace ctnn::backend::cpu {

namespace detail {

// floor(r / s) for a possibly negative r.
inline std::ptrdiff_t floor_div(std::ptrdiff_t r, std::ptrdiff_t s) { return r >= 0 ? r / s : -((-r + s - 1) / s); }

// Where tap offset r = k - pad of a kernel reads, along one axis of length n with stride S: the
// phase (a = r mod S), the shift of the phase index against the output index (d = floor(r / S)),
// and the valid output range [lo, hi): outputs o whose phase index o + d lies in [0, ceil((n - a) / S)).
struct TapAxis {
  std::size_t phase;
  std::ptrdiff_t shift, lo, hi;

  TapAxis(std::ptrdiff_t r, std::size_t n, std::size_t s, std::size_t out) {
    const auto S = static_cast<std::ptrdiff_t>(s), N = static_cast<std::ptrdiff_t>(n), O = static_cast<std::ptrdiff_t>(out);
    shift = floor_div(r, S);
    const std::ptrdiff_t a = r - shift * S;
    phase = static_cast<std::size_t>(a);
    const std::ptrdiff_t len = a < N ? (N - a + S - 1) / S : 0;  // entries of this phase
    lo = std::clamp<std::ptrdiff_t>(-shift, 0, O);
    hi = std::clamp<std::ptrdiff_t>(len - shift, lo, O);
  }
};

// One phase plane as a tap reads it: entry (i, j) at base[i * row + j * step].
template <class T>
struct PlaneView {
  T* base;
  std::ptrdiff_t row, step;
};

// Phase plane (a, b) of channel c: split into `planes`, or in place in `xc`.
template <class T>
PlaneView<T> phase_plane(const Geometry2d& g, const PhasePlanes& ph, T* xc, T* planes, std::size_t a, std::size_t b) {
  const auto S = static_cast<std::ptrdiff_t>(ph.stride), W = static_cast<std::ptrdiff_t>(g.in_w);
  if (ph.split) return {planes + (a * ph.stride + b) * ph.plane_size(), static_cast<std::ptrdiff_t>(ph.cols), 1};
  return {xc + static_cast<std::ptrdiff_t>(a) * W + static_cast<std::ptrdiff_t>(b), S * W, S};
}

// planes[(a * S + b) * rows * cols + i * cols + j] = xc[(a + S i) * W + b + S j], for one channel.
inline void split_phases(const Geometry2d& g, const PhasePlanes& ph, const float* xc, float* __restrict planes) {
  const std::size_t S = ph.stride, W = g.in_w, plane = ph.plane_size();
  for (std::size_t ih = 0; ih < g.in_h; ++ih) {
    const float* __restrict row = xc + ih * W;
    float* dst = planes + (ih % S) * S * plane + (ih / S) * ph.cols;
    if (S == 2) {  // the common case, in a form the compiler vectorises
      float* __restrict even = dst;
      float* __restrict odd = dst + plane;
      const std::size_t pairs = W / 2;
      for (std::size_t j = 0; j < pairs; ++j) {
        even[j] = row[2 * j];
        odd[j] = row[2 * j + 1];
      }
      if (W % 2) even[pairs] = row[W - 1];
      continue;
    }
    for (std::size_t b = 0; b < S && b < W; ++b)
      for (std::size_t j = 0, n = (W - b + S - 1) / S; j < n; ++j) dst[b * plane + j] = row[b + S * j];
  }
}

// The adjoint of split_phases: every input value lies in exactly one plane, so this overwrites xc.
inline void merge_phases(const Geometry2d& g, const PhasePlanes& ph, const float* __restrict planes, float* xc) {
  const std::size_t S = ph.stride, W = g.in_w, plane = ph.plane_size();
  for (std::size_t ih = 0; ih < g.in_h; ++ih) {
    float* __restrict row = xc + ih * W;
    const float* src = planes + (ih % S) * S * plane + (ih / S) * ph.cols;
    if (S == 2) {
      const float* __restrict even = src;
      const float* __restrict odd = src + plane;
      const std::size_t pairs = W / 2;
      for (std::size_t j = 0; j < pairs; ++j) {
        row[2 * j] = even[j];
        row[2 * j + 1] = odd[j];
      }
      if (W % 2) row[W - 1] = even[pairs];
      continue;
    }
    for (std::size_t b = 0; b < S && b < W; ++b)
      for (std::size_t j = 0, n = (W - b + S - 1) / S; j < n; ++j) row[b + S * j] = src[b * plane + j];
  }
}

// im2col for detail::even_3x3_stride2 (conv.hpp), one pass per input row: output row oh of taps
// (kh, 0..2) comes from input row 2 oh - 1 + kh, tap kw = 1 from its even columns, kw = 2 from its
// odd ones and kw = 0 from the odd ones one place on (x[2 ow - 1], 0 at ow = 0).
inline void im2col_3x3_stride2(const Geometry2d& g, const float* x, float* col, std::size_t ld) {
  const std::size_t Ho = g.out_h, Wo = g.out_w, W = g.in_w;
  for (std::size_t c = 0; c < g.in_c; ++c) {
    const float* xc = x + c * g.in_plane();
    for (std::size_t kh = 0; kh < 3; ++kh) {
      float* rows = col + (c * 9 + kh * 3) * ld;
      for (std::size_t oh = 0; oh < Ho; ++oh) {
        float* __restrict t0 = rows + oh * Wo;
        float* __restrict t1 = t0 + ld;
        float* __restrict t2 = t1 + ld;
        if (oh == 0 && kh == 0) {  // input row -1: padding
          for (std::size_t ow = 0; ow < Wo; ++ow) t0[ow] = t1[ow] = t2[ow] = 0.f;
          continue;
        }
        const float* __restrict in = xc + (2 * oh + kh - 1) * W;
        for (std::size_t ow = 0; ow < Wo; ++ow) {
          t1[ow] = in[2 * ow];
          t2[ow] = in[2 * ow + 1];
        }
        t0[0] = 0.f;
        for (std::size_t ow = 1; ow < Wo; ++ow) t0[ow] = in[2 * ow - 1];
      }
    }
  }
}

// Its adjoint, one pass per input row: row 2m gets taps (1, *) of output row m; row 2m + 1 taps
// (0, *) of output row m + 1 (below the last row: none) and (2, *) of row m. Each value is the sum
// of its taps in the general path's order (kh, then kw, from 0.f), so both give the same bits.
inline void col2im_3x3_stride2(const Geometry2d& g, const float* col, std::size_t ld, float* x) {
  const std::size_t Ho = g.out_h, Wo = g.out_w, W = g.in_w, last = Wo - 1;
  for (std::size_t c = 0; c < g.in_c; ++c) {
    float* xc = x + c * g.in_plane();
    auto tap = [&](std::size_t kh, std::size_t kw, std::size_t oh) { return col + (c * 9 + kh * 3 + kw) * ld + oh * Wo; };
    // An input row that one kernel row kh reads, at output row oh.
    auto one_row = [&](float* __restrict out, std::size_t kh, std::size_t oh) {
      const float *a = tap(kh, 0, oh), *b = tap(kh, 1, oh), *d = tap(kh, 2, oh);
      for (std::size_t ow = 0; ow < last; ++ow) {
        out[2 * ow] = 0.f + b[ow];
        out[2 * ow + 1] = (0.f + a[ow + 1]) + d[ow];
      }
      out[2 * last] = 0.f + b[last];
      out[2 * last + 1] = 0.f + d[last];
    };
    for (std::size_t m = 0; m < Ho; ++m) {
      one_row(xc + 2 * m * W, 1, m);
      float* __restrict out = xc + (2 * m + 1) * W;
      if (m + 1 == Ho) {
        one_row(out, 2, m);
        continue;
      }
      const float *a0 = tap(0, 0, m + 1), *b0 = tap(0, 1, m + 1), *d0 = tap(0, 2, m + 1);
      const float *a2 = tap(2, 0, m), *b2 = tap(2, 1, m), *d2 = tap(2, 2, m);
      for (std::size_t ow = 0; ow < last; ++ow) {
        out[2 * ow] = (0.f + b0[ow]) + b2[ow];
        out[2 * ow + 1] = (((0.f + a0[ow + 1]) + d0[ow]) + a2[ow + 1]) + d2[ow];
      }
      out[2 * last] = (0.f + b0[last]) + b2[last];
      out[2 * last + 1] = (0.f + d0[last]) + d2[last];
    }
  }
}

}  // namespace detail


CTNN_INLINE void im2col(const Geometry2d& g, const float* x, float* col, std::size_t ld, float* scratch) {
  if (detail::even_3x3_stride2(g)) return detail::im2col_3x3_stride2(g, x, col, ld);
  const PhasePlanes ph(g);
  const std::size_t K = g.kernel, S = g.stride, Ho = g.out_h;
  const auto P = static_cast<std::ptrdiff_t>(g.pad), Wo = static_cast<std::ptrdiff_t>(g.out_w);
  for (std::size_t c = 0; c < g.in_c; ++c) {
    const float* xc = x + c * g.in_plane();
    if (ph.split) detail::split_phases(g, ph, xc, scratch);
    for (std::size_t kh = 0; kh < K; ++kh) {
      const detail::TapAxis v(static_cast<std::ptrdiff_t>(kh) - P, g.in_h, S, Ho);
      for (std::size_t kw = 0; kw < K; ++kw) {
        const detail::TapAxis h(static_cast<std::ptrdiff_t>(kw) - P, g.in_w, S, g.out_w);
        const auto plane = detail::phase_plane<const float>(g, ph, xc, scratch, v.phase, h.phase);
        float* row = col + ((c * K + kh) * K + kw) * ld;
        for (std::ptrdiff_t oh = 0; oh < static_cast<std::ptrdiff_t>(Ho); ++oh) {
          float* __restrict out = row + oh * Wo;
          if (oh < v.lo || oh >= v.hi) {
            for (std::ptrdiff_t ow = 0; ow < Wo; ++ow) out[ow] = 0.f;
            continue;
          }
          const float* __restrict in = plane.base + (oh + v.shift) * plane.row + h.shift * plane.step;
          for (std::ptrdiff_t ow = 0; ow < h.lo; ++ow) out[ow] = 0.f;
          if (plane.step == 1) {
            std::memcpy(out + h.lo, in + h.lo, static_cast<std::size_t>(h.hi - h.lo) * sizeof(float));
          } else {
            for (std::ptrdiff_t ow = h.lo; ow < h.hi; ++ow) out[ow] = in[ow * plane.step];
          }
          for (std::ptrdiff_t ow = h.hi; ow < Wo; ++ow) out[ow] = 0.f;
        }
      }
    }
  }
}

CTNN_INLINE void col2im(const Geometry2d& g, const float* col, std::size_t ld, float* x, float* scratch) {
  if (detail::even_3x3_stride2(g)) return detail::col2im_3x3_stride2(g, col, ld, x);
  const PhasePlanes ph(g);
  const std::size_t K = g.kernel, S = g.stride, Ho = g.out_h;
  const auto P = static_cast<std::ptrdiff_t>(g.pad), Wo = static_cast<std::ptrdiff_t>(g.out_w);
  for (std::size_t c = 0; c < g.in_c; ++c) {
    float* xc = x + c * g.in_plane();
    if (ph.split)
      std::memset(scratch, 0, ph.scratch() * sizeof(float));
    else
      std::memset(xc, 0, g.in_plane() * sizeof(float));
    for (std::size_t kh = 0; kh < K; ++kh) {
      const detail::TapAxis v(static_cast<std::ptrdiff_t>(kh) - P, g.in_h, S, Ho);
      for (std::size_t kw = 0; kw < K; ++kw) {
        const detail::TapAxis h(static_cast<std::ptrdiff_t>(kw) - P, g.in_w, S, g.out_w);
        const auto plane = detail::phase_plane<float>(g, ph, xc, scratch, v.phase, h.phase);
        const float* row = col + ((c * K + kh) * K + kw) * ld;
        for (std::ptrdiff_t oh = v.lo; oh < v.hi; ++oh) {
          const float* __restrict in = row + oh * Wo;
          float* __restrict out = plane.base + (oh + v.shift) * plane.row + h.shift * plane.step;
          if (plane.step == 1) {
#pragma omp simd
            for (std::ptrdiff_t ow = h.lo; ow < h.hi; ++ow) out[ow] += in[ow];
          } else {
            for (std::ptrdiff_t ow = h.lo; ow < h.hi; ++ow) out[ow * plane.step] += in[ow];
          }
        }
      }
    }
    if (ph.split) detail::merge_phases(g, ph, scratch, xc);
  }
}

CTNN_INLINE Conv2d::Conv2d(const Geometry2d& g, std::size_t max_batch, ConvAlgorithm algorithm)
    : g_(g),
      sub_{g.group_in_c(), g.in_h, g.in_w, g.group_out_c(), g.out_h, g.out_w, g.kernel, g.stride, g.pad, 1},
      direct_(g.kernel == 1 && g.stride == 1 && g.pad == 0),
      workers_(std::max(1, num_threads())),
      group_(images_per_group(g.out_plane(), std::max<std::size_t>(max_batch, 1), static_cast<std::size_t>(workers_))) {
  if (const std::size_t tile = winograd_tile(g, algorithm)) {
    winograd_.emplace(g, max_batch, tile);
    return;  // no im2col workspaces
  }
  const std::size_t cols = group_ * g.out_plane(), w = static_cast<std::size_t>(workers_);
  col_ = ws_.add<float>(g.patch() * cols * w);
  dcol_ = ws_.add<float>(g.patch() * cols * w);
  out_ = ws_.add<float>(group_ > 1 ? g.group_out_c() * cols * w : 1);
  dw_ = ws_.add<float>(g.weight_size() * w);
  phases_ = ws_.add<float>(PhasePlanes(sub_).scratch() * w);
  // The products forward and backward run (per convolution group), for every group of images.
  const std::size_t co = sub_.out_c, K = sub_.patch();
  GemmNeeds needs;
  for (std::size_t count = 1; count <= group_; ++count) {
    const std::size_t n = count * g.out_plane();
    needs.add(co, n, K);
    needs.add(co, K, n);
    needs.add(K, n, co);
  }
  reserve_gemm(needs, workers_);
}

CTNN_INLINE void Conv2d::backward(const float* x, const float* w, const float* dy, float* dx, float* dw,
                                  std::size_t batch) {
  if (winograd_) {
    if (dw) winograd_->backward_filter(x, dy, dw, batch);
    if (dx) winograd_->backward_data(w, dy, dx, batch);
    return;
  }
  if (!dx && !dw) return;
  ws_.ready();
  const std::size_t wsize = g_.weight_size(), G = group_size(batch), P = g_.out_plane();
  const std::size_t co = sub_.out_c, ci = sub_.in_c, K = sub_.patch();
  const int used = ctnn::detail::team_size((batch + G - 1) / G, workers_);
  if (dw) std::memset(ws_[dw_], 0, wsize * static_cast<std::size_t>(used) * sizeof(float));
  for_each_group(batch, G, [&](std::size_t n0, std::size_t count, int t) {
    const std::size_t ld = count * P;
    for (std::size_t q = 0; q < g_.groups; ++q) {
      // dy of the images and output channels of group q as one [co, count * P] matrix.
      const float* dyg = dy + n0 * g_.out_size() + q * co * P;
      if (count > 1) {
        float* gathered = ws_[out_] + static_cast<std::size_t>(t) * co * group_ * P;
        for (std::size_t i = 0; i < count; ++i)
          for (std::size_t c = 0; c < co; ++c)
            std::memcpy(gathered + c * ld + i * P, dy + (n0 + i) * g_.out_size() + (q * co + c) * P, P * sizeof(float));
        dyg = gathered;
      }
      const float* wq = w + q * co * K;
      if (dw) {
        const float* col = columns(x, n0, count, t, q);
        gemm(Trans::no, Trans::yes, co, K, ld, 1.f, dyg, ld, col, ld, 1.f,
             ws_[dw_] + static_cast<std::size_t>(t) * wsize + q * co * K, K);
      }
      if (!dx) continue;
      if (direct_ && count == 1) {
        gemm(Trans::yes, Trans::no, K, P, co, 1.f, wq, K, dyg, ld, 0.f, dx + n0 * g_.in_size() + q * ci * P, P);
        continue;
      }
      float* dcol = ws_[dcol_] + static_cast<std::size_t>(t) * K * group_ * P;
      gemm(Trans::yes, Trans::no, K, ld, co, 1.f, wq, K, dyg, ld, 0.f, dcol, ld);
      for (std::size_t i = 0; i < count; ++i) {
        float* dxq = dx + (n0 + i) * g_.in_size() + q * ci * g_.in_plane();
        if (direct_) {
          for (std::size_t c = 0; c < ci; ++c) std::memcpy(dxq + c * P, dcol + c * ld + i * P, P * sizeof(float));
        } else {
          col2im(sub_, dcol + i * P, ld, dxq, phase_scratch(t));
        }
      }
    }
  });
  if (!dw) return;
  // Sum the per-thread accumulators into dw, split over threads by weight index.
  ctnn::detail::parallel_chunks(wsize, workers_, [&](int, std::size_t begin, std::size_t end) {
    for (int t = 0; t < used; ++t) {
      const float* part = ws_[dw_] + static_cast<std::size_t>(t) * wsize;
      for (std::size_t i = begin; i < end; ++i) dw[i] += part[i];
    }
  });
}

CTNN_INLINE void Conv2d::run_forward(const float* x, const float* w, float* y, std::size_t batch,
                                     const ChannelAffine* affine) {
  if (winograd_) {
    winograd_->forward(x, w, y, batch, affine);
    return;
  }
  ws_.ready();
  const std::size_t G = group_size(batch), P = g_.out_plane(), co = sub_.out_c, K = sub_.patch();
  for_each_group(batch, G, [&](std::size_t n0, std::size_t count, int t) {
    const std::size_t ld = count * P;
    for (std::size_t q = 0; q < g_.groups; ++q) {
      const float* col = columns(x, n0, count, t, q);
      const float* wq = w + q * co * K;
      if (count == 1) {  // straight into y, then finished while it is in cache
        float* yq = y + n0 * g_.out_size() + q * co * P;
        gemm(Trans::no, Trans::no, co, P, K, 1.f, wq, K, col, ld, 0.f, yq, P);
        if (affine)
          for (std::size_t c = 0; c < co; ++c) finish(yq + c * P, y, yq + c * P, P, *affine, q * co + c);
        continue;
      }
      float* out = ws_[out_] + static_cast<std::size_t>(t) * co * group_ * P;
      gemm(Trans::no, Trans::no, co, ld, K, 1.f, wq, K, col, ld, 0.f, out, ld);
      for (std::size_t i = 0; i < count; ++i)
        for (std::size_t c = 0; c < co; ++c) {
          float* dst = y + (n0 + i) * g_.out_size() + (q * co + c) * P;
          if (affine)
            finish(out + c * ld + i * P, y, dst, P, *affine, q * co + c);
          else
            std::memcpy(dst, out + c * ld + i * P, P * sizeof(float));
        }
    }
  });
}

CTNN_INLINE void Conv2d::finish(const float* src, const float* y, float* dst, std::size_t n, const ChannelAffine& a,
                                std::size_t channel) {
  const float s = a.scale[channel], b = a.shift[channel];
  const float* r = a.residual ? a.residual + (dst - y) : nullptr;
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) {
    float v = src[i] * s + b;
    if (r) v = v + r[i];
    dst[i] = a.relu ? (v > 0.f ? v : 0.f) : v;
  }
}

CTNN_INLINE const float* Conv2d::columns(const float* x, std::size_t n0, std::size_t count, int t, std::size_t q) {
  const std::size_t P = g_.out_plane(), ld = count * P, offset = q * sub_.in_c * g_.in_plane();
  if (direct_ && count == 1) return x + n0 * g_.in_size() + offset;
  float* col = ws_[col_] + static_cast<std::size_t>(t) * sub_.patch() * group_ * P;
  for (std::size_t i = 0; i < count; ++i) {
    const float* xq = x + (n0 + i) * g_.in_size() + offset;
    if (direct_) {
      for (std::size_t c = 0; c < sub_.in_c; ++c) std::memcpy(col + c * ld + i * P, xq + c * P, P * sizeof(float));
    } else {
      im2col(sub_, xq, col + i * P, ld, phase_scratch(t));
    }
  }
  return col;
}

}  // namespace ctnn::backend::cpu
