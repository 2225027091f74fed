#pragma once
// The IDX format of MNIST, Fashion-MNIST and KMNIST (http://yann.lecun.com/exdb/mnist/): uncompressed
// files of unsigned bytes with a big-endian header,
//   bytes 0-1  0x00 0x00       byte 2  0x08 (unsigned byte data)       byte 3  the number of dimensions
//   then one big-endian u32 per dimension, then the data, row-major.
// An image file has 3 dimensions (count, rows, columns), a label file 1 (count).
//
//   MnistDataset train = ctnn::data::Idx::load_folder("data/mnist", ctnn::data::Split::train);   // 1x28x28
//   auto fashion = ctnn::data::Idx::load_folder("data/fashion", Split::test, fashion_mnist_class_names());
//   auto d = ctnn::data::Idx::load<28, 28>("images-idx3-ubyte", "labels-idx1-ubyte", mnist_class_names());
//
// load_folder reads train-images-idx3-ubyte / train-labels-idx1-ubyte (train) and
// t10k-images-idx3-ubyte / t10k-labels-idx1-ubyte (test) from `dir`, as the official archives
// extract after gunzip. Every problem is a ctnn::Error naming the file and, for bad contents, the byte
// offset and what was expected: a wrong magic or data type, the wrong number of dimensions, images of
// another size than the dataset's shape, a file shorter or longer than its header says, image and
// label counts that differ, a label that is not a class index. A gzip file (the downloads are
// compressed) is named as such. write() writes a dataset in the format (tests, conversions).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "cifar10.hpp"
#include "dataset.hpp"
#include "files.hpp"

namespace ctnn::data {

using MnistImage = Shape<1, 28, 28>;
using MnistDataset = Dataset<MnistImage>;

inline std::vector<std::string> mnist_class_names() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }
inline std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}
inline std::vector<std::string> kmnist_class_names() {
  return {"o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"};
}

struct Idx {
  static constexpr const char* who = "ctnn::data::Idx";

  // The dimensions of an IDX file's header and where its data starts.
  struct Header {
    std::vector<std::size_t> dims;
    std::size_t data_offset = 0;
    std::size_t values() const {
      std::size_t n = 1;
      for (const auto d : dims) n *= d;
      return n;
    }
  };

  // Reads and checks a header of `ndims` dimensions; the data must fill the rest of the file exactly.
  static Header header(std::span<const std::uint8_t> b, const std::string& name, std::size_t ndims, const char* kind) {
    if (b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b)
      ctnn::detail::fail(who, ": '", name, "' is gzip-compressed (it starts with 1f 8b); decompress it first (gunzip)");
    if (b.size() < 4)
      ctnn::detail::fail(who, ": '", name, "' is truncated at byte offset ", b.size(), ": expected the 4-byte magic");
    if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != ndims)
      ctnn::detail::fail(who, ": '", name, "' starts with the magic ", hex(b[0]), " ", hex(b[1]), " ", hex(b[2]), " ",
                         hex(b[3]), " at byte offset 0; expected 00 00 08 0", ndims, " (unsigned bytes, ", ndims,
                         " dimension", ndims == 1 ? "" : "s", ": an IDX ", kind, " file)");
    Header h;
    h.data_offset = 4 + 4 * ndims;
    if (b.size() < h.data_offset)
      ctnn::detail::fail(who, ": '", name, "' is truncated at byte offset ", b.size(), ": expected ", ndims,
                         " big-endian dimension sizes at byte offsets 4..", h.data_offset - 1);
    for (std::size_t i = 0; i < ndims; ++i) {
      const std::uint8_t* p = b.data() + 4 + 4 * i;
      h.dims.push_back((std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3]);
    }
    const std::size_t want = h.data_offset + h.values();
    if (b.size() != want)
      ctnn::detail::fail(who, ": '", name, "' is ", b.size(), " bytes but its header (", dims_text(h.dims),
                         ") says ", want, " (", h.data_offset, " header bytes and ", h.values(), " values); ",
                         b.size() < want ? "the file is truncated" : "it has extra bytes after the data");
    return h;
  }

  // Images and labels already in memory; `images_name` and `labels_name` stand for the files.
  template <std::size_t H, std::size_t W>
  static Dataset<Shape<1, H, W>> parse(std::span<const std::uint8_t> images, const std::string& images_name,
                                       std::span<const std::uint8_t> labels, const std::string& labels_name,
                                       std::vector<std::string> class_names) {
    const Header hi = header(images, images_name, 3, "image");
    if (hi.dims[1] != H || hi.dims[2] != W)
      ctnn::detail::fail(who, ": '", images_name, "' holds images of ", hi.dims[1], "x", hi.dims[2],
                         " (byte offsets 8..15) but the dataset is 1x", H, "x", W);
    const Header hl = header(labels, labels_name, 1, "label");
    if (hl.dims[0] != hi.dims[0])
      ctnn::detail::fail(who, ": '", labels_name, "' holds ", hl.dims[0], " labels but '", images_name, "' holds ",
                         hi.dims[0], " images");
    if (class_names.empty()) ctnn::detail::fail(who, ": no class names given for '", labels_name, "'");
    Dataset<Shape<1, H, W>> out;
    out.labels.resize(hl.dims[0]);
    for (std::size_t i = 0; i < hl.dims[0]; ++i) {
      const std::uint8_t l = labels[hl.data_offset + i];
      if (l >= class_names.size())
        ctnn::detail::fail(who, ": '", labels_name, "': label ", unsigned(l), " of image ", i, " at byte offset ",
                           hl.data_offset + i, " is not a class index; expected 0..", class_names.size() - 1);
      out.labels[i] = l;
    }
    out.images.assign(images.begin() + static_cast<std::ptrdiff_t>(hi.data_offset), images.end());
    out.class_names = std::move(class_names);
    return out;
  }

  template <std::size_t H, std::size_t W>
  static Dataset<Shape<1, H, W>> load(const std::filesystem::path& images, const std::filesystem::path& labels,
                                      std::vector<std::string> class_names = mnist_class_names()) {
    const auto ib = detail::read_whole_file(images, who, "an IDX image file");
    const auto lb = detail::read_whole_file(labels, who, "an IDX label file");
    return parse<H, W>(ib, images.string(), lb, labels.string(), std::move(class_names));
  }

  // The train and/or test files of an MNIST-style folder, train first.
  static MnistDataset load_folder(const std::filesystem::path& dir, Split split,
                                  std::vector<std::string> class_names = mnist_class_names()) {
    if (detail::file_type(dir, who) != std::filesystem::file_type::directory)
      ctnn::detail::fail(who, ": '", dir.string(), "' is ", detail::describe(detail::file_type(dir, who)),
                         ", not a folder of IDX files (train-images-idx3-ubyte, t10k-images-idx3-ubyte, ...)");
    MnistDataset out;
    for (const Split part : {Split::train, Split::test}) {
      if (!contains(split, part)) continue;
      const char* prefix = part == Split::train ? "train" : "t10k";
      const MnistDataset d = load<28, 28>(dir / (std::string(prefix) + "-images-idx3-ubyte"),
                                          dir / (std::string(prefix) + "-labels-idx1-ubyte"), class_names);
      out.images.insert(out.images.end(), d.images.begin(), d.images.end());
      out.labels.insert(out.labels.end(), d.labels.begin(), d.labels.end());
    }
    out.class_names = std::move(class_names);
    return out;
  }

  // Writes `d` as an IDX image file and an IDX label file (labels must fit in a byte).
  template <class S>
  static void write(const std::filesystem::path& images, const std::filesystem::path& labels, const Dataset<S>& d) {
    static_assert(S::template dim<0> == 1, "ctnn::data::Idx::write: IDX images have one channel");
    d.validate(who);
    auto put = [](std::vector<std::uint8_t>& b, std::size_t v) {
      for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
    };
    std::vector<std::uint8_t> ib{0, 0, 0x08, 3}, lb{0, 0, 0x08, 1};
    put(ib, d.size());
    put(ib, S::template dim<1>);
    put(ib, S::template dim<2>);
    ib.insert(ib.end(), d.images.begin(), d.images.end());
    put(lb, d.size());
    for (const auto l : d.labels) {
      if (l > 255) ctnn::detail::fail(who, ": label ", l, " does not fit in the format's label byte");
      lb.push_back(static_cast<std::uint8_t>(l));
    }
    for (const auto& [path, bytes] : {std::pair{images, &ib}, std::pair{labels, &lb}}) {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
      if (!out) ctnn::detail::fail(who, ": cannot write '", path.string(), "'");
    }
  }

private:
  static std::string hex(std::uint8_t v) {
    const char* digits = "0123456789abcdef";
    return {digits[v >> 4], digits[v & 15]};
  }
  static std::string dims_text(const std::vector<std::size_t>& dims) {
    std::string s;
    for (const auto d : dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
    return s;
  }
};

}  // namespace ctnn::data
