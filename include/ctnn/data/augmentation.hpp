#pragma once
// Per-sample augmentation and normalisation of uint8 C x H x W images into float samples.
//
// CropFlip: zero-pad by `pad` on every side, take the H x W window at offset (crop_x, crop_y),
// each uniform in 0..2*pad (a shift of -pad..+pad), and mirror it left-right with probability
// `flip_probability`. The choice for the sample at position p of epoch e is drawn from
// (seed, e, p) alone (draw()), so it does not depend on the order samples are prepared in.
// Output pixel (c, y, x) is padded(c, y + crop_y, x' + crop_x) with x' = W - 1 - x when flipped and
// x otherwise, where padded(c, Y, X) = image(c, Y - pad, X - pad) inside the image and 0 outside.
//
// Normalizer: (float(v) / 255.0f - mean[c]) / stddev[c] in float, through a table per channel; the
// padding's 0 becomes (0 - mean[c]) / stddev[c].

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "../core/random.hpp"
#include "sampling.hpp"

namespace ctnn::data {

// The augmentation of one sample: the top-left corner of its window in the padded image (0..2*pad;
// pad, pad is the unshifted image) and whether it is mirrored left-right.
// With Cutout, also the centre of the square that is zeroed (after normalisation, so it becomes the
// mean) and whether it applies.
struct Augmentation {
  std::size_t crop_x = 0;
  std::size_t crop_y = 0;
  bool flip = false;
  std::size_t cutout_x = 0;
  std::size_t cutout_y = 0;
  bool cutout = false;
  friend bool operator==(const Augmentation&, const Augmentation&) = default;
};

// The augmentation stages, each optional, applied in this order to every sample: pad-crop (pad 0:
// off), horizontal flip (probability 0: off), normalisation (Normalizer), Cutout (size 0: off; DeVries
// & Taylor 2017: a size x size square centred at a uniform position, clipped at the border, zeroed
// with probability cutout_probability). The random choices are drawn in that order from one
// generator seeded by (seed, epoch, position); a stage that is off draws nothing, so adding Cutout
// leaves the crops and flips of a seed as they were.
struct CropFlip {
  std::size_t pad = 4;
  float flip_probability = 0.5f;
  std::size_t cutout = 0;
  float cutout_probability = 1.f;

  // The choice for the sample at `position` of epoch `epoch`, for images of H x W.
  Augmentation draw(std::uint64_t seed, std::size_t epoch, std::size_t position, std::size_t H = 32,
                    std::size_t W = 32) const noexcept {
    Rng rng(derive_seed(seed, augment_stream, epoch, position));
    Augmentation a;
    a.crop_x = static_cast<std::size_t>(rng.below(2 * pad + 1));
    a.crop_y = static_cast<std::size_t>(rng.below(2 * pad + 1));
    a.flip = rng.uniform() < flip_probability;
    if (cutout > 0) {
      a.cutout_x = static_cast<std::size_t>(rng.below(W));
      a.cutout_y = static_cast<std::size_t>(rng.below(H));
      a.cutout = rng.uniform() < cutout_probability;
    }
    return a;
  }
  // No augmentation: the unshifted, unmirrored image.
  Augmentation identity() const noexcept { return {pad, pad, false}; }
};

// Per-channel normalisation of bytes, as a table of 256 floats per channel.
template <std::size_t C>
class Normalizer {
public:
  Normalizer(const std::vector<float>& mean, const std::vector<float>& stddev, const char* who) {
    if (mean.size() != C || stddev.size() != C)
      ctnn::detail::fail(who, ": mean has ", mean.size(), " and stddev ", stddev.size(), " values but the images have ", C,
                         " channel", C == 1 ? "" : "s", " (the defaults are CIFAR's three; set both for other data)");
    for (std::size_t c = 0; c < C; ++c)
      if (!(stddev[c] > 0.f)) ctnn::detail::fail(who, ": stddev[", c, "] = ", stddev[c], "; expected a positive value");
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t v = 0; v < 256; ++v) lut_[c][v] = (static_cast<float>(v) / 255.0f - mean[c]) / stddev[c];
  }
  float operator()(std::size_t c, std::uint8_t v) const noexcept { return lut_[c][v]; }
  const float* table(std::size_t c) const noexcept { return lut_[c].data(); }

private:
  std::array<std::array<float, 256>, C> lut_{};
};

// Writes the normalised, augmented sample of image `src` (C x H x W bytes) to `out` (C x H x W
// floats); `pad` is the CropFlip's padding.
// Zeroes the size x size square of Cutout centred at (cutout_x, cutout_y) in every channel.
template <std::size_t C, std::size_t H, std::size_t W>
void apply_cutout(const Augmentation& a, std::size_t size, float* out) noexcept {
  if (!a.cutout || size == 0) return;
  const auto half = static_cast<std::ptrdiff_t>(size / 2);
  const std::ptrdiff_t y0 = std::max<std::ptrdiff_t>(0, std::ptrdiff_t(a.cutout_y) - half);
  const std::ptrdiff_t x0 = std::max<std::ptrdiff_t>(0, std::ptrdiff_t(a.cutout_x) - half);
  const std::ptrdiff_t y1 = std::min<std::ptrdiff_t>(std::ptrdiff_t(H), std::ptrdiff_t(a.cutout_y) - half + std::ptrdiff_t(size));
  const std::ptrdiff_t x1 = std::min<std::ptrdiff_t>(std::ptrdiff_t(W), std::ptrdiff_t(a.cutout_x) - half + std::ptrdiff_t(size));
  for (std::size_t c = 0; c < C; ++c)
    for (std::ptrdiff_t y = y0; y < y1; ++y)
      for (std::ptrdiff_t x = x0; x < x1; ++x) out[c * H * W + std::size_t(y) * W + std::size_t(x)] = 0.f;
}

template <std::size_t C, std::size_t H, std::size_t W>
void write_sample(const std::uint8_t* src, const Augmentation& a, std::size_t pad, const Normalizer<C>& norm,
                  float* out) noexcept {
  constexpr auto h = static_cast<std::ptrdiff_t>(H);
  constexpr auto w = static_cast<std::ptrdiff_t>(W);
  const std::ptrdiff_t dy = static_cast<std::ptrdiff_t>(a.crop_y) - static_cast<std::ptrdiff_t>(pad);
  const std::ptrdiff_t dx = static_cast<std::ptrdiff_t>(a.crop_x) - static_cast<std::ptrdiff_t>(pad);
  for (std::size_t c = 0; c < C; ++c) {
    const float* lut = norm.table(c);
    const float zero = lut[0];
    const std::uint8_t* plane = src + c * H * W;
    float* oplane = out + c * H * W;
    if (dx == 0 && dy == 0 && !a.flip) {
      for (std::size_t i = 0; i < H * W; ++i) oplane[i] = lut[plane[i]];
      continue;
    }
    for (std::ptrdiff_t y = 0; y < h; ++y) {
      float* orow = oplane + y * w;
      const std::ptrdiff_t sy = y + dy;
      if (sy < 0 || sy >= h) {
        for (std::ptrdiff_t x = 0; x < w; ++x) orow[x] = zero;
        continue;
      }
      const std::uint8_t* irow = plane + sy * w;
      for (std::ptrdiff_t x = 0; x < w; ++x) {
        const std::ptrdiff_t sx = (a.flip ? w - 1 - x : x) + dx;
        orow[x] = (sx >= 0 && sx < w) ? lut[irow[sx]] : zero;
      }
    }
  }
}

// The value write_sample and apply_cutout give output element (c, y, x) of a C x H x W sample, one
// element at a time: the body of the GPU augmentation kernel (backend/cuda/device_loader.hpp), so a
// batch prepared on the GPU is the CPU loader's, value for value. `lut` is channel c's table of the
// Normalizer; `cutout_size` the CropFlip's cutout (0: off).
CTNN_HD inline float augmented_value(const std::uint8_t* image, std::size_t H, std::size_t W, std::size_t c,
                                     std::size_t y, std::size_t x, const Augmentation& a, std::size_t pad,
                                     const float* lut, std::size_t cutout_size) {
  if (a.cutout && cutout_size > 0) {
    const auto half = static_cast<std::ptrdiff_t>(cutout_size / 2);
    const auto size = static_cast<std::ptrdiff_t>(cutout_size);
    const std::ptrdiff_t cy = static_cast<std::ptrdiff_t>(a.cutout_y) - half;
    const std::ptrdiff_t cx = static_cast<std::ptrdiff_t>(a.cutout_x) - half;
    const auto yy = static_cast<std::ptrdiff_t>(y), xx = static_cast<std::ptrdiff_t>(x);
    if (yy >= cy && yy < cy + size && xx >= cx && xx < cx + size) return 0.f;
  }
  const auto h = static_cast<std::ptrdiff_t>(H), w = static_cast<std::ptrdiff_t>(W);
  const std::ptrdiff_t sy = static_cast<std::ptrdiff_t>(y) + static_cast<std::ptrdiff_t>(a.crop_y) - static_cast<std::ptrdiff_t>(pad);
  const std::ptrdiff_t mx = a.flip ? w - 1 - static_cast<std::ptrdiff_t>(x) : static_cast<std::ptrdiff_t>(x);
  const std::ptrdiff_t sx = mx + static_cast<std::ptrdiff_t>(a.crop_x) - static_cast<std::ptrdiff_t>(pad);
  if (sy < 0 || sy >= h || sx < 0 || sx >= w) return lut[0];
  return lut[image[c * H * W + static_cast<std::size_t>(sy) * W + static_cast<std::size_t>(sx)]];
}

}  // namespace ctnn::data
