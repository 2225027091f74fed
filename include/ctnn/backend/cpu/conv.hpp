#pragma once
// CPU convolution: per image, im2col into a per-thread buffer and one GEMM; 1x1 stride-1
// unpadded convolutions read the input directly. Images of a batch run on different threads;
// filter gradients go to per-thread accumulators that are summed at the end.

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "../../core/memory.hpp"
#include "../../core/threading.hpp"
#include "../kernels.hpp"
#include "gemm.hpp"

namespace ctnn::backend::cpu {

// col[(c*K + kh)*K + kw][oh*Wo + ow] = x[c][oh*s - p + kh][ow*s - p + kw] (0 outside the image)
inline void im2col(const Geometry2d& g, const float* x, float* col) {
  const std::size_t K = g.kernel, S = g.stride, Ho = g.out_h, Wo = g.out_w;
  const auto H = static_cast<std::ptrdiff_t>(g.in_h), W = static_cast<std::ptrdiff_t>(g.in_w);
  const auto P = static_cast<std::ptrdiff_t>(g.pad);
  for (std::size_t c = 0; c < g.in_c; ++c) {
    const float* xc = x + c * g.in_plane();
    for (std::size_t kh = 0; kh < K; ++kh) {
      for (std::size_t kw = 0; kw < K; ++kw) {
        float* row = col + ((c * K + kh) * K + kw) * Ho * Wo;
        // Output columns whose input column lies inside the image: [ow_lo, ow_hi).
        const std::ptrdiff_t off_w = static_cast<std::ptrdiff_t>(kw) - P;
        std::ptrdiff_t ow_lo = off_w >= 0 ? 0 : (-off_w + static_cast<std::ptrdiff_t>(S) - 1) / static_cast<std::ptrdiff_t>(S);
        std::ptrdiff_t ow_hi = W - off_w <= 0 ? 0 : (W - off_w + static_cast<std::ptrdiff_t>(S) - 1) / static_cast<std::ptrdiff_t>(S);
        ow_lo = std::min<std::ptrdiff_t>(ow_lo, static_cast<std::ptrdiff_t>(Wo));
        ow_hi = std::clamp<std::ptrdiff_t>(ow_hi, ow_lo, static_cast<std::ptrdiff_t>(Wo));
        for (std::size_t oh = 0; oh < Ho; ++oh) {
          float* out = row + oh * Wo;
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * S + kh) - P;
          if (ih < 0 || ih >= H) {
            std::memset(out, 0, Wo * sizeof(float));
            continue;
          }
          const float* in = xc + ih * W + off_w;
          for (std::ptrdiff_t ow = 0; ow < ow_lo; ++ow) out[ow] = 0.f;
          if (S == 1) {
            std::memcpy(out + ow_lo, in + ow_lo, static_cast<std::size_t>(ow_hi - ow_lo) * sizeof(float));
          } else {
            for (std::ptrdiff_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] = in[ow * static_cast<std::ptrdiff_t>(S)];
          }
          for (std::ptrdiff_t ow = ow_hi; ow < static_cast<std::ptrdiff_t>(Wo); ++ow) out[ow] = 0.f;
        }
      }
    }
  }
}

// The adjoint of im2col: x[c][ih][iw] += col[...] for every column that read it. x is zeroed first.
inline void col2im(const Geometry2d& g, const float* col, float* x) {
  const std::size_t K = g.kernel, S = g.stride, Ho = g.out_h, Wo = g.out_w;
  const auto H = static_cast<std::ptrdiff_t>(g.in_h), W = static_cast<std::ptrdiff_t>(g.in_w);
  const auto P = static_cast<std::ptrdiff_t>(g.pad);
  std::memset(x, 0, g.in_size() * sizeof(float));
  for (std::size_t c = 0; c < g.in_c; ++c) {
    float* xc = x + c * g.in_plane();
    for (std::size_t kh = 0; kh < K; ++kh) {
      for (std::size_t kw = 0; kw < K; ++kw) {
        const float* row = col + ((c * K + kh) * K + kw) * Ho * Wo;
        const std::ptrdiff_t off_w = static_cast<std::ptrdiff_t>(kw) - P;
        std::ptrdiff_t ow_lo = off_w >= 0 ? 0 : (-off_w + static_cast<std::ptrdiff_t>(S) - 1) / static_cast<std::ptrdiff_t>(S);
        std::ptrdiff_t ow_hi = W - off_w <= 0 ? 0 : (W - off_w + static_cast<std::ptrdiff_t>(S) - 1) / static_cast<std::ptrdiff_t>(S);
        ow_lo = std::min<std::ptrdiff_t>(ow_lo, static_cast<std::ptrdiff_t>(Wo));
        ow_hi = std::clamp<std::ptrdiff_t>(ow_hi, ow_lo, static_cast<std::ptrdiff_t>(Wo));
        for (std::size_t oh = 0; oh < Ho; ++oh) {
          const std::ptrdiff_t ih = static_cast<std::ptrdiff_t>(oh * S + kh) - P;
          if (ih < 0 || ih >= H) continue;
          const float* in = row + oh * Wo;
          float* out = xc + ih * W + off_w;
          if (S == 1) {
#pragma omp simd
            for (std::ptrdiff_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] += in[ow];
          } else {
            for (std::ptrdiff_t ow = ow_lo; ow < ow_hi; ++ow) out[ow * static_cast<std::ptrdiff_t>(S)] += in[ow];
          }
        }
      }
    }
  }
}

class Conv2d {
public:
  Conv2d(const Geometry2d& g, std::size_t /*max_batch*/)
      : g_(g), direct_(g.kernel == 1 && g.stride == 1 && g.pad == 0), workers_(std::max(1, num_threads())) {
    const std::size_t col = direct_ ? 0 : g.patch() * g.out_plane();
    col_.reserve(std::max<std::size_t>(1, col * static_cast<std::size_t>(workers_)));
    // Backward data of a direct convolution writes straight into dx; otherwise it needs a dcol.
    dcol_.reserve(std::max<std::size_t>(1, col * static_cast<std::size_t>(workers_)));
    dw_.reserve(g.out_c * g.patch() * static_cast<std::size_t>(workers_));
  }

  // y[n] = w * im2col(x[n]); w is [out_c, in_c*k*k].
  void forward(const float* x, const float* w, float* y, std::size_t batch) {
    ctnn::detail::parallel_for(batch, workers_, [&](std::size_t n, int t) {
      const float* xn = x + n * g_.in_size();
      const float* col = columns(xn, t);
      gemm(Trans::no, Trans::no, g_.out_c, g_.out_plane(), g_.patch(), 1.f, w, g_.patch(), col, g_.out_plane(), 0.f,
           y + n * g_.out_size(), g_.out_plane());
    });
  }

  // dw += sum_n dy[n] * im2col(x[n])^T, and (when dx != nullptr) dx[n] = col2im(w^T * dy[n]).
  void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, std::size_t batch) {
    const std::size_t wsize = g_.out_c * g_.patch();
    const int used = static_cast<int>(std::min<std::size_t>(batch, static_cast<std::size_t>(std::min(workers_, num_threads()))));
    std::memset(dw_.data(), 0, wsize * static_cast<std::size_t>(std::max(used, 1)) * sizeof(float));
    ctnn::detail::parallel_for(batch, workers_, [&](std::size_t n, int t) {
      const float* xn = x + n * g_.in_size();
      const float* dyn = dy + n * g_.out_size();
      const float* col = columns(xn, t);
      gemm(Trans::no, Trans::yes, g_.out_c, g_.patch(), g_.out_plane(), 1.f, dyn, g_.out_plane(), col, g_.out_plane(),
           1.f, dw_.data() + static_cast<std::size_t>(t) * wsize, g_.patch());
      if (dx) {
        float* dxn = dx + n * g_.in_size();
        if (direct_) {
          gemm(Trans::yes, Trans::no, g_.patch(), g_.out_plane(), g_.out_c, 1.f, w, g_.patch(), dyn, g_.out_plane(),
               0.f, dxn, g_.out_plane());
        } else {
          float* dcol = dcol_.data() + static_cast<std::size_t>(t) * g_.patch() * g_.out_plane();
          gemm(Trans::yes, Trans::no, g_.patch(), g_.out_plane(), g_.out_c, 1.f, w, g_.patch(), dyn, g_.out_plane(),
               0.f, dcol, g_.out_plane());
          col2im(g_, dcol, dxn);
        }
      }
    });
    // Sum the per-thread accumulators into dw, split over threads by weight index.
    ctnn::detail::parallel_chunks(wsize, workers_, [&](int, std::size_t begin, std::size_t end) {
      for (int t = 0; t < std::max(used, 1); ++t) {
        const float* part = dw_.data() + static_cast<std::size_t>(t) * wsize;
        for (std::size_t i = begin; i < end; ++i) dw[i] += part[i];
      }
    });
  }

  const Geometry2d& geometry() const { return g_; }

private:
  const float* columns(const float* xn, int t) {
    if (direct_) return xn;
    float* col = col_.data() + static_cast<std::size_t>(t) * g_.patch() * g_.out_plane();
    im2col(g_, xn, col);
    return col;
  }

  Geometry2d g_;
  bool direct_;
  int workers_;
  ctnn::detail::Scratch<float> col_, dcol_, dw_;
};

}  // namespace ctnn::backend::cpu
