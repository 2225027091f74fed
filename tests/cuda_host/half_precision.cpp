// The mixed-precision arithmetic of ctnn's CUDA kernels (backend/cuda/portable/half_precision.hpp),
// without a GPU: float -> bf16 and float -> fp16 round to the nearest value, ties to even, against
// a double-precision search over the representable values; every fp16 and bf16 value converts back
// exactly; infinities, NaN, overflow and subnormals; and dynamic loss scaling as PyTorch's
// GradScaler (skip and halve on inf/NaN, double after growth_interval good steps).
#include <ctnn/backend/cuda/portable/half_precision.hpp>
#include <ctnn/core/random.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace ctnn;
using namespace ctnn::cuda::detail;

namespace {

// The nearest of the finite values of a format (sorted ascending, with their bit patterns), ties to
// the even pattern; beyond the largest by half an ulp or more: infinity.
struct Format {
  std::vector<std::pair<double, std::uint16_t>> values;  // non-negative finite values
  double max_value, overflow;                               // overflow: the first value that rounds to inf
  std::uint16_t inf;
};

Format half_format() {
  Format f;
  for (std::uint32_t b = 0; b < 0x7c00; ++b) f.values.push_back({half_bits_to_float(std::uint16_t(b)), std::uint16_t(b)});
  f.max_value = 65504.0;
  f.overflow = 65520.0;
  f.inf = 0x7c00;
  return f;
}

Format bf16_format() {
  Format f;
  for (std::uint32_t b = 0; b < 0x7f80; ++b) f.values.push_back({bf16_bits_to_float(std::uint16_t(b)), std::uint16_t(b)});
  f.max_value = f.values.back().first;
  f.overflow = f.max_value + (f.max_value - f.values[f.values.size() - 2].first) / 2;
  f.inf = 0x7f80;
  return f;
}

std::uint16_t reference(const Format& f, float x) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= f.overflow) return sign | f.inf;
  auto hi = std::lower_bound(f.values.begin(), f.values.end(), std::make_pair(a, std::uint16_t(0)),
                             [](const auto& p, const auto& q) { return p.first < q.first; });
  if (hi == f.values.end()) return sign | f.values.back().second;
  if (hi->first == a || hi == f.values.begin()) return sign | hi->second;
  auto lo = hi - 1;
  const double dl = a - lo->first, dh = hi->first - a;
  if (dl < dh) return sign | lo->second;
  if (dh < dl) return sign | hi->second;
  return sign | ((lo->second & 1) ? hi->second : lo->second);
}

std::vector<float> samples() {
  std::vector<float> v{0.f, -0.f, 1.f, -1.f, 65504.f, 65519.99f, 65520.f, 65536.f, 1e-8f, 2.9802322e-8f, 2.98023259e-8f,
                       5.96e-8f, 6.0975552e-5f, 6.1035156e-5f, 3.3895314e38f, std::numeric_limits<float>::max(),
                       std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(), 1.00390625f,
                       1.0078125f, 1.01171875f};
  Rng rng(1);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns (every exponent) and random values near the formats' ranges.
    const auto bits = static_cast<std::uint32_t>(rng.next_u64());
    const float f = bits_as_float(bits);
    if (f == f && f - f == 0.f) v.push_back(f);
    v.push_back(static_cast<float>(rng.normal()) * 70000.f);
    v.push_back(static_cast<float>(rng.normal()) * 1e-5f);
  }
  // Exact ties between neighbouring fp16 and bf16 values.
  for (std::uint32_t b = 1; b < 0x7bff; b += 37) {
    v.push_back(static_cast<float>((double(half_bits_to_float(std::uint16_t(b))) + half_bits_to_float(std::uint16_t(b + 1))) / 2));
    v.push_back(static_cast<float>((double(bf16_bits_to_float(std::uint16_t(b))) + bf16_bits_to_float(std::uint16_t(b + 1))) / 2));
  }
  return v;
}

}  // namespace

TEST_CASE("every fp16 and bf16 value converts to float and back exactly") {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    const float f = half_bits_to_float(h);
    if (f != f) {
      CHECK(std::isnan(half_bits_to_float(float_to_half_bits(f))));  // a NaN stays a NaN
      continue;
    }
    if (float_to_half_bits(f) != h) FAIL("fp16 round trip: " << b);
    const float g = bf16_bits_to_float(h);
    if (g == g && float_to_bf16_bits(g) != h) FAIL("bf16 round trip: " << b);
  }
}

TEST_CASE("float -> fp16 and float -> bf16 round to nearest, ties to even, as a double-precision search") {
  const Format half = half_format(), bf16 = bf16_format();
  std::size_t n = 0;
  for (const float x : samples()) {
    const std::uint16_t h = float_to_half_bits(x), rh = reference(half, x);
    const std::uint16_t b = float_to_bf16_bits(x), rb = reference(bf16, x);
    if (h != rh || b != rb) {
      CAPTURE(x);
      CHECK(h == rh);
      CHECK(b == rb);
      break;
    }
    ++n;
  }
  CHECK(n > 400000);
}

TEST_CASE("infinities, NaN and overflow") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(float_to_half_bits(inf) == 0x7c00);
  CHECK(float_to_half_bits(-inf) == 0xfc00);
  CHECK(float_to_half_bits(1e6f) == 0x7c00);
  CHECK(float_to_half_bits(65504.f) == 0x7bff);
  CHECK(float_to_half_bits(65519.f) == 0x7bff);
  CHECK(float_to_half_bits(65520.f) == 0x7c00);
  CHECK(std::isnan(half_bits_to_float(float_to_half_bits(nan))));
  CHECK(std::isnan(bf16_bits_to_float(float_to_bf16_bits(nan))));
  CHECK(float_to_bf16_bits(inf) == 0x7f80);
  CHECK(float_to_bf16_bits(std::numeric_limits<float>::max()) == 0x7f80);  // rounds up past the largest bf16
  CHECK(half_bits_to_float(0x0001) == std::ldexp(1.f, -24));
  CHECK(float_to_half_bits(std::ldexp(1.f, -25)) == 0);       // a tie: to the even 0
  CHECK(float_to_half_bits(std::ldexp(1.5f, -25)) == 0x0001);
}

TEST_CASE("loss scaling: a non-finite gradient skips the step and halves the scale; good steps double it") {
  LossScaleState s;
  const LossScaleRule rule{2.f, 0.5f, 3};
  bool inf = false;
  CHECK(unscale(65536.f * 0.25f, s, inf) == 0.25f);
  CHECK(!inf);
  unscale(std::numeric_limits<float>::infinity(), s, inf);
  CHECK(inf);
  bool nan = false;
  unscale(std::numeric_limits<float>::quiet_NaN(), s, nan);
  CHECK(nan);

  s.found_inf = 1;
  update_loss_scale(s, rule);
  CHECK(s.scale == 32768.f);
  CHECK(s.inv_scale == 1.f / 32768.f);
  CHECK(s.good_steps == 0);
  CHECK(s.found_inf == 0);
  update_loss_scale(s, rule);
  update_loss_scale(s, rule);
  CHECK(s.scale == 32768.f);
  CHECK(s.good_steps == 2);
  update_loss_scale(s, rule);  // the third good step in a row
  CHECK(s.scale == 65536.f);
  CHECK(s.good_steps == 0);
  // An inf in the middle restarts the count.
  update_loss_scale(s, rule);
  s.found_inf = 1;
  update_loss_scale(s, rule);
  CHECK(s.scale == 32768.f);
  CHECK(s.good_steps == 0);
  // Growth stops where the scale would overflow.
  LossScaleState big;
  big.scale = std::numeric_limits<float>::max();
  for (int i = 0; i < 3; ++i) update_loss_scale(big, rule);
  CHECK(big.scale == std::numeric_limits<float>::max());
}
