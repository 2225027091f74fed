#pragma once
// ctnn::data::Dataset: labelled 3x32x32 uint8 images held in memory, in the layout of the CIFAR-10
// binary files (each image CHW: 1,024 red bytes, then green, then blue, each plane 32x32 row-major).
//
//   Dataset d = Cifar10::load("data", Split::train);       // or synthetic_cifar(n, seed)
//   d.size()                   number of images
//   d.image(i)                 std::span<const std::uint8_t, 3072> of image i
//   d.pixel(i, c, y, x)        one byte
//   d.labels[i]                int32 class index, 0 <= label < d.num_classes()
//   d.class_names[k]           "airplane", ...
//   d.slice(first, count)      a copy of a contiguous range (quick runs, validation splits)
//   d.validate("what")         throws ctnn::Error unless sizes and labels are consistent

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/shape.hpp"

namespace ctnn::data {

// The per-sample shape of a CIFAR image and its sizes in bytes.
using ImageShape = Shape<3, 32, 32>;
inline constexpr std::size_t image_channels = 3;
inline constexpr std::size_t image_height = 32;
inline constexpr std::size_t image_width = 32;
inline constexpr std::size_t image_plane_bytes = image_height * image_width;      // 1,024
inline constexpr std::size_t image_bytes = image_channels * image_plane_bytes;    // 3,072
static_assert(image_bytes == ImageShape::size);

struct Dataset {
  std::vector<std::uint8_t> images;       // size() * image_bytes, image after image, CHW
  std::vector<std::int32_t> labels;       // size()
  std::vector<std::string> class_names;   // num_classes()

  std::size_t size() const noexcept { return labels.size(); }
  bool empty() const noexcept { return labels.empty(); }
  std::size_t num_classes() const noexcept { return class_names.size(); }

  std::span<const std::uint8_t, image_bytes> image(std::size_t i) const noexcept {
    return std::span<const std::uint8_t, image_bytes>(images.data() + i * image_bytes, image_bytes);
  }
  std::span<std::uint8_t, image_bytes> image(std::size_t i) noexcept {
    return std::span<std::uint8_t, image_bytes>(images.data() + i * image_bytes, image_bytes);
  }
  std::uint8_t pixel(std::size_t i, std::size_t c, std::size_t y, std::size_t x) const noexcept {
    return images[i * image_bytes + c * image_plane_bytes + y * image_width + x];
  }

  // Number of images of each class (labels outside [0, num_classes()) are not counted).
  std::vector<std::size_t> class_counts() const {
    std::vector<std::size_t> counts(num_classes(), 0);
    for (const std::int32_t l : labels)
      if (l >= 0 && static_cast<std::size_t>(l) < counts.size()) ++counts[static_cast<std::size_t>(l)];
    return counts;
  }

  // A copy of images [first, first + count) with the same class names.
  Dataset slice(std::size_t first, std::size_t count) const {
    if (first > size() || count > size() - first)
      ctnn::detail::fail("ctnn::data::Dataset::slice: images [", first, ", ", first + count,
                   ") are outside a dataset of ", size(), " images");
    Dataset out;
    out.images.assign(images.begin() + static_cast<std::ptrdiff_t>(first * image_bytes),
                      images.begin() + static_cast<std::ptrdiff_t>((first + count) * image_bytes));
    out.labels.assign(labels.begin() + static_cast<std::ptrdiff_t>(first),
                      labels.begin() + static_cast<std::ptrdiff_t>(first + count));
    out.class_names = class_names;
    return out;
  }

  // Throws ctnn::Error unless images holds size() whole images, there is at least one class name,
  // and every label is a class index. `what` names the dataset's user in the message.
  void validate(const char* what = "ctnn::data::Dataset") const {
    if (images.size() != labels.size() * image_bytes)
      ctnn::detail::fail(what, ": the dataset has ", labels.size(), " labels but ", images.size(),
                   " image bytes; expected ", labels.size() * image_bytes, " (", image_bytes,
                   " bytes per 3x32x32 image)");
    if (class_names.empty()) ctnn::detail::fail(what, ": the dataset has no class names");
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= class_names.size())
        ctnn::detail::fail(what, ": label ", labels[i], " of image ", i, " is not a class index; expected 0..",
                     class_names.size() - 1);
  }
};

namespace detail {

// splitmix64's finaliser: a bijective 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A seed derived from a user seed and up to three coordinates (a stream tag, an epoch, a position),
// so that random choices depend on where they are made, not on how many came before.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0,
                                    std::uint64_t c = 0) noexcept {
  std::uint64_t h = mix64(seed);
  h = mix64(h ^ a);
  h = mix64(h ^ b);
  return mix64(h ^ c);
}

}  // namespace detail
}  // namespace ctnn::data
