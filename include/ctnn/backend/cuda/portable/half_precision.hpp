#pragma once
// The arithmetic of mixed precision that ctnn's own CUDA kernels do, as CTNN_HD functions without a
// CUDA header (tests/cuda_host/half_precision.cpp checks them on the CPU against double-precision
// references):
//   - float <-> bf16 and float <-> fp16 bit patterns, rounding to nearest, ties to even (the
//     IEEE default and what cuDNN and cuBLAS produce), with overflow to infinity, fp16 subnormals,
//     and NaN kept a NaN;
//   - dynamic loss scaling for fp16 (PyTorch's GradScaler semantics): the loss gradient is
//     multiplied by `scale`; before the update, the gradients are checked for inf/NaN and
//     multiplied by 1/scale; an update with a non-finite gradient is skipped and halves the scale;
//     `growth_interval` updates in a row without one double it (if the doubled scale is finite).

#include <cmath>
#include <cstdint>

#include "../../../core/config.hpp"
#include "../../../core/step_values.hpp"

namespace ctnn::cuda::detail {

CTNN_HD inline std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t u = float_as_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

CTNN_HD inline float bf16_bits_to_float(std::uint16_t b) { return bits_as_float(static_cast<std::uint32_t>(b) << 16); }

CTNN_HD inline std::uint16_t float_to_half_bits(float f) {
  const std::uint32_t x = float_as_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return static_cast<std::uint16_t>(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to infinity
  if (ax < 0x38800000u) {                                                     // below 2^-14: subnormal or zero
    if (ax <= 0x33000000u) return static_cast<std::uint16_t>(sign);            // <= 2^-25 (a tie to 0)
    const std::uint32_t e = ax >> 23;
    const std::uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // units of 2^-24
    std::uint32_t r = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  std::uint32_t r = (ax - 0x38000000u) >> 13;  // exponent rebiased from 127 to 15, 10 mantissa bits
  const std::uint32_t rest = ax & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;  // a carry moves into the exponent
  return static_cast<std::uint16_t>(sign | r);
}

CTNN_HD inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;  // m * 2^-24, exact
    return sign ? -v : v;
  }
  if (e == 31) return bits_as_float(sign | 0x7f800000u | (m << 13));
  return bits_as_float(sign | ((e + 112u) << 23) | (m << 13));
}

// ---- dynamic loss scaling -------------------------------------------------------------------------

// In device memory: what the loss, the unscaling and the update read and write.
struct LossScaleState {
  float scale = 65536.f;          // 2^16, GradScaler's initial scale
  float inv_scale = 1.f / 65536.f;
  std::uint32_t found_inf = 0;    // set by unscale() during this step
  std::uint32_t good_steps = 0;   // updates in a row without an inf/NaN
};

struct LossScaleRule {
  float growth = 2.f;
  float backoff = 0.5f;
  std::uint32_t growth_interval = 2000;
};

// One gradient value: g / scale; a non-finite g marks the step (found_inf).
CTNN_HD inline float unscale(float g, const LossScaleState& s, bool& found_inf) {
  if (!(g - g == 0.f)) found_inf = true;  // inf or NaN
  return g * s.inv_scale;
}

// After the (possibly skipped) update: the scale for the next step.
CTNN_HD inline void update_loss_scale(LossScaleState& s, const LossScaleRule& r) {
  if (s.found_inf) {
    s.scale *= r.backoff;
    s.good_steps = 0;
  } else if (++s.good_steps == r.growth_interval) {
    const float grown = s.scale * r.growth;
    if (grown - grown == 0.f) s.scale = grown;  // finite
    s.good_steps = 0;
  }
  s.inv_scale = 1.f / s.scale;
  s.found_inf = 0;
}

}  // namespace ctnn::cuda::detail
