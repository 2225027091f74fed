#pragma once
// ctnn::data::Dataset<Shape<C, H, W>>: labelled uint8 images of one shape held in memory, image
// after image, each CHW (C planes of H x W bytes, row-major): the layout of the CIFAR binary files
// and of what the IDX and image-folder readers produce.
//
//   CifarDataset d = Cifar10::load("data", Split::train);   // Dataset<Shape<3, 32, 32>>
//   d.size()                   number of images
//   d.image(i)                 std::span<const std::uint8_t, C * H * W> of image i
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

template <ShapeType S>
struct Dataset {
  static_assert(S::rank == 3, "ctnn::data::Dataset<Shape<C, H, W>>: images are channels x height x width");
  using image_shape = S;
  static constexpr std::size_t channels = S::template dim<0>;
  static constexpr std::size_t height = S::template dim<1>;
  static constexpr std::size_t width = S::template dim<2>;
  static constexpr std::size_t plane_bytes = height * width;
  static constexpr std::size_t image_bytes = S::size;

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
    return images[i * image_bytes + c * plane_bytes + y * width + x];
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
                         " image bytes; expected ", labels.size() * image_bytes, " (", image_bytes, " bytes per ",
                         S::str(), " image)");
    if (class_names.empty()) ctnn::detail::fail(what, ": the dataset has no class names");
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= class_names.size())
        ctnn::detail::fail(what, ": label ", labels[i], " of image ", i, " is not a class index; expected 0..",
                           class_names.size() - 1);
  }
};

// Which part of a data set to load (CIFAR-10, CIFAR-100, MNIST, ...); combine with | (Split::train | Split::test == Split::all).
enum class Split : unsigned { train = 1, test = 2, all = 3 };
constexpr Split operator|(Split a, Split b) noexcept {
  return static_cast<Split>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr bool contains(Split set, Split part) noexcept {
  return (static_cast<unsigned>(set) & static_cast<unsigned>(part)) == static_cast<unsigned>(part);
}

// The CIFAR-10 and CIFAR-100 image: 3 x 32 x 32.
using CifarImage = Shape<3, 32, 32>;
using CifarDataset = Dataset<CifarImage>;

}  // namespace ctnn::data
