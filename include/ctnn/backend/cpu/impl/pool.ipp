#pragma once
// pool.hpp's definitions (core/config.hpp: separate compilation).

#include "../pool.hpp"

namespace ctnn::backend::cpu {

CTNN_INLINE void Pool2d::forward(const float* x, float* y, std::size_t batch) {
  const std::size_t planes = batch * g_.in_c;
  ctnn::detail::parallel_for(planes, num_threads(), [&](std::size_t p, int) {
    const float* xp = x + p * g_.in_plane();
    float* yp = y + p * g_.out_plane();
    std::int32_t* ap = kind_ == PoolKind::max ? argmax_.data() + p * g_.out_plane() : nullptr;
    for (std::size_t oh = 0; oh < g_.out_h; ++oh)
      for (std::size_t ow = 0; ow < g_.out_w; ++ow) {
        float best = -std::numeric_limits<float>::infinity();
        std::int32_t arg = -1;
        float sum = 0.f;
        for (std::size_t kh = 0; kh < g_.kernel; ++kh) {
          const std::ptrdiff_t ih = std::ptrdiff_t(oh * g_.stride + kh) - std::ptrdiff_t(g_.pad);
          if (ih < 0 || ih >= std::ptrdiff_t(g_.in_h)) continue;
          for (std::size_t kw = 0; kw < g_.kernel; ++kw) {
            const std::ptrdiff_t iw = std::ptrdiff_t(ow * g_.stride + kw) - std::ptrdiff_t(g_.pad);
            if (iw < 0 || iw >= std::ptrdiff_t(g_.in_w)) continue;
            const std::int32_t idx = static_cast<std::int32_t>(ih * std::ptrdiff_t(g_.in_w) + iw);
            const float v = xp[idx];
            sum += v;
            // The first NaN wins and propagates, as in PyTorch.
            if (arg < 0 || (best == best && (v > best || v != v))) {
              best = v;
              arg = idx;
            }
          }
        }
        const std::size_t o = oh * g_.out_w + ow;
        if (ap) {
          yp[o] = best;
          ap[o] = arg;
        } else {
          yp[o] = sum / float(g_.kernel * g_.kernel);
        }
      }
  });
}

CTNN_INLINE void Pool2d::backward(const float* dy, float* dx, std::size_t batch) {
  const std::size_t planes = batch * g_.in_c;
  ctnn::detail::parallel_for(planes, num_threads(), [&](std::size_t p, int) {
    const float* dyp = dy + p * g_.out_plane();
    float* dxp = dx + p * g_.in_plane();
    std::memset(dxp, 0, g_.in_plane() * sizeof(float));
    if (kind_ == PoolKind::max) {
      const std::int32_t* ap = argmax_.data() + p * g_.out_plane();
      for (std::size_t o = 0; o < g_.out_plane(); ++o)
        if (ap[o] >= 0) dxp[ap[o]] += dyp[o];
      return;
    }
    const float inv = 1.f / float(g_.kernel * g_.kernel);
    for (std::size_t oh = 0; oh < g_.out_h; ++oh)
      for (std::size_t ow = 0; ow < g_.out_w; ++ow) {
        const float g = dyp[oh * g_.out_w + ow] * inv;
        for (std::size_t kh = 0; kh < g_.kernel; ++kh) {
          const std::ptrdiff_t ih = std::ptrdiff_t(oh * g_.stride + kh) - std::ptrdiff_t(g_.pad);
          if (ih < 0 || ih >= std::ptrdiff_t(g_.in_h)) continue;
          for (std::size_t kw = 0; kw < g_.kernel; ++kw) {
            const std::ptrdiff_t iw = std::ptrdiff_t(ow * g_.stride + kw) - std::ptrdiff_t(g_.pad);
            if (iw < 0 || iw >= std::ptrdiff_t(g_.in_w)) continue;
            dxp[ih * std::ptrdiff_t(g_.in_w) + iw] += g;
          }
        }
      }
  });
}

CTNN_INLINE void GlobalAvgPool::forward(const float* x, float* y, std::size_t batch) {
  const float inv = 1.f / float(HW_);
  const expr::TensorLeaf<float> X{{}, x};
  for (std::size_t p = 0; p < batch * C_; ++p) y[p] = detail::plane_sums(p * HW_, 0, HW_, X)[0] * inv;
}

CTNN_INLINE void GlobalAvgPool::backward(const float* dy, float* dx, std::size_t batch) {
  const float inv = 1.f / float(HW_);
  for (std::size_t p = 0; p < batch * C_; ++p) {
    const float g = dy[p] * inv;
    float* dxp = dx + p * HW_;
    for (std::size_t j = 0; j < HW_; ++j) dxp[j] = g;
  }
}

}  // namespace ctnn::backend::cpu
