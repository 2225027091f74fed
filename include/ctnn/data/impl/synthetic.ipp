#pragma once
// synthetic.hpp's definitions (core/config.hpp: separate compilation).

#include "../synthetic.hpp"

namespace ctnn::data {

CTNN_INLINE std::vector<std::string> synthetic_class_names() {
  return {"h-stripes-wide",  "v-stripes-wide",  "checker-wide",  "diag-checker-wide",  "rings-wide",
          "h-stripes-narrow", "v-stripes-narrow", "checker-narrow", "diag-checker-narrow", "rings-narrow"};
}

namespace detail {

CTNN_INLINE std::int32_t synthetic_image(std::uint64_t seed, std::size_t i, std::uint8_t* out) {
  constexpr double two_pi = 6.283185307179586;
  static constexpr std::array<std::array<double, 3>, 10> class_colour{{
      {230, 40, 40},   {245, 140, 20},  {235, 225, 40},  {40, 200, 60},  {40, 210, 220},
      {40, 70, 230},   {140, 50, 210},  {230, 60, 190},  {235, 235, 235}, {140, 90, 40}}};

  Rng rng(derive_seed(seed, synthetic_stream, i));
  const auto label = static_cast<std::int32_t>(rng.below(10));
  const int pattern = label % 5;
  const double period = (label < 5 ? 8.0 : 4.0) * (0.9 + 0.2 * rng.uniform_double());
  const double phase1 = two_pi * rng.uniform_double();
  const double phase2 = two_pi * rng.uniform_double();
  const double cx = 8.0 + 16.0 * rng.uniform_double();
  const double cy = 8.0 + 16.0 * rng.uniform_double();
  const double contrast = 0.6 + 0.4 * rng.uniform_double();

  std::array<double, 3> fg{}, bg{};
  for (std::size_t c = 0; c < 3; ++c) {
    fg[c] = 0.55 * class_colour[static_cast<std::size_t>(label)][c] + 0.45 * 255.0 * rng.uniform_double();
    bg[c] = 0.6 * (255.0 - fg[c]) + 0.4 * 255.0 * rng.uniform_double();
  }
  // Optional occluding rectangle.
  const bool occlude = rng.uniform() < 0.5f;
  const std::size_t ow = 4 + rng.below(7), oh = 4 + rng.below(7);
  const std::size_t ox = rng.below(32 - ow + 1), oy = rng.below(32 - oh + 1);
  std::array<double, 3> oc{};
  for (auto& v : oc) v = 255.0 * rng.uniform_double();

  const double k = two_pi / period;
  const double kd = two_pi / (period * 1.4142135623730951);
  for (std::size_t y = 0; y < CifarDataset::height; ++y) {
    for (std::size_t x = 0; x < CifarDataset::width; ++x) {
      const double fx = static_cast<double>(x), fy = static_cast<double>(y);
      double s = 0.0;
      switch (pattern) {
        case 0: s = std::sin(k * fy + phase1); break;
        case 1: s = std::sin(k * fx + phase1); break;
        case 2: s = std::sin(k * fx + phase1) * std::sin(k * fy + phase2); break;
        case 3: s = std::sin(kd * (fx + fy) + phase1) * std::sin(kd * (fx - fy) + phase2); break;
        default: s = std::sin(k * std::hypot(fx - cx, fy - cy) + phase1); break;
      }
      const double t = 0.5 + 0.5 * contrast * s;
      const bool in_box = occlude && x >= ox && x < ox + ow && y >= oy && y < oy + oh;
      for (std::size_t c = 0; c < 3; ++c) {
        const double base = in_box ? oc[c] : bg[c] + (fg[c] - bg[c]) * t;
        const double noise = 24.0 * (rng.uniform_double() + rng.uniform_double() - 1.0);
        const double v = std::clamp(std::round(base + noise), 0.0, 255.0);
        out[c * CifarDataset::plane_bytes + y * CifarDataset::width + x] = static_cast<std::uint8_t>(v);
      }
    }
  }
  return label;
}

}  // namespace detail

CTNN_INLINE CifarDataset synthetic_cifar(std::size_t n, std::uint64_t seed) {
  CifarDataset d;
  d.class_names = synthetic_class_names();
  d.labels.resize(n);
  d.images.resize(n * CifarDataset::image_bytes);
  ctnn::detail::parallel_for(n, num_threads(), [&](std::size_t i, int) {
    d.labels[i] = detail::synthetic_image(seed, i, d.images.data() + i * CifarDataset::image_bytes);
  });
  return d;
}

}  // namespace ctnn::data
