// The IDX reader (MNIST, Fashion-MNIST, KMNIST): round trips through write(), the folder layout,
// and a ctnn::Error naming the file and the offset for every malformed file.
#include <ctnn/data.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/fixture.hpp"

using namespace ctnn;
using namespace ctnn::data;
using io_test::TempDir;

namespace {

MnistDataset make(std::size_t n) {
  MnistDataset d;
  d.class_names = mnist_class_names();
  d.labels.resize(n);
  d.images.resize(n * 784);
  for (std::size_t i = 0; i < n; ++i) {
    d.labels[i] = static_cast<std::int32_t>((i * 7) % 10);
    for (std::size_t j = 0; j < 784; ++j) d.images[i * 784 + j] = static_cast<std::uint8_t>((i * 31 + j) & 0xff);
  }
  return d;
}

std::string error_of_parse(const std::vector<std::uint8_t>& images, const std::vector<std::uint8_t>& labels) {
  return io_test::error_of([&] { Idx::parse<28, 28>(images, "imgs", labels, "lbls", mnist_class_names()); });
}

std::vector<std::uint8_t> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("IDX: write and read back; the folder layout of the official files") {
  TempDir dir("idx_roundtrip");
  const MnistDataset train = make(12), test = make(5);
  Idx::write(dir.file("train-images-idx3-ubyte"), dir.file("train-labels-idx1-ubyte"), train);
  Idx::write(dir.file("t10k-images-idx3-ubyte"), dir.file("t10k-labels-idx1-ubyte"), test);
  const auto back = Idx::load<28, 28>(dir.file("train-images-idx3-ubyte"), dir.file("train-labels-idx1-ubyte"));
  CHECK(back.images == train.images);
  CHECK(back.labels == train.labels);
  CHECK(back.pixel(3, 0, 2, 5) == train.pixel(3, 0, 2, 5));
  const auto all = Idx::load_folder(dir.path, Split::train | Split::test, fashion_mnist_class_names());
  CHECK(all.size() == 17);
  CHECK(all.class_names[9] == "Ankle boot");
  CHECK(all.labels[12] == test.labels[0]);
  const auto images = bytes_of(dir.file("train-images-idx3-ubyte"));
  REQUIRE(images.size() == 16 + 12 * 784);
  CHECK(images[3] == 3);
  CHECK(images[7] == 12);  // big-endian count
  CHECK(images[11] == 28);
  // The loader takes any shape: one channel, normalised with the MNIST mean and std.
  LoaderOptions o = LoaderOptions::evaluation(4);
  o.mean = {0.1307f};
  o.stddev = {0.3081f};
  Loader loader(back, o);
  const auto* b = loader.next();
  REQUIRE(b);
  CHECK(b->images(1, 0, 0, 3) == doctest::Approx((float(train.pixel(1, 0, 0, 3)) / 255.f - 0.1307f) / 0.3081f));
  CHECK_THROWS_WITH_AS(Loader(back, LoaderOptions::evaluation(4)), doctest::Contains("mean has 3 and stddev 3 values but the images have 1 channel"), Error);
}

TEST_CASE("IDX: every malformed file is a ctnn::Error naming the file and what was expected") {
  TempDir dir("idx_bad");
  const MnistDataset d = make(3);
  Idx::write(dir.file("i"), dir.file("l"), d);
  const auto images = bytes_of(dir.file("i")), labels = bytes_of(dir.file("l"));
  auto with = [](std::vector<std::uint8_t> b, std::size_t at, std::uint8_t v) {
    b[at] = v;
    return b;
  };
  CHECK(error_of_parse(with(images, 2, 0x0d), labels).find("'imgs' starts with the magic 00 00 0d 03 at byte offset 0; expected 00 00 08 03") != std::string::npos);
  CHECK(error_of_parse(images, with(labels, 3, 3)).find("'lbls' starts with the magic") != std::string::npos);
  CHECK(error_of_parse(with(images, 11, 27), labels).find("'imgs' is 2368 bytes but its header (3 x 27 x 28) says 2284") != std::string::npos);
  auto truncated = images;
  truncated.pop_back();
  CHECK(error_of_parse(truncated, labels).find("the file is truncated") != std::string::npos);
  auto longer = images;
  longer.push_back(0);
  CHECK(error_of_parse(longer, labels).find("extra bytes after the data") != std::string::npos);
  CHECK(error_of_parse(std::vector<std::uint8_t>(images.begin(), images.begin() + 6), labels).find("truncated at byte offset 6") != std::string::npos);
  // 28x28 images in a 14x56 dataset.
  CHECK(io_test::error_of([&] { Idx::parse<14, 56>(images, "imgs", labels, "lbls", mnist_class_names()); })
            .find("holds images of 28x28 (byte offsets 8..15) but the dataset is 1x14x56") != std::string::npos);
  auto fewer = labels;
  fewer[7] = 2;
  fewer.pop_back();
  CHECK(error_of_parse(images, fewer).find("'lbls' holds 2 labels but 'imgs' holds 3 images") != std::string::npos);
  CHECK(error_of_parse(images, with(labels, 9, 10)).find("label 10 of image 1 at byte offset 9 is not a class index") != std::string::npos);
  CHECK(error_of_parse({0x1f, 0x8b, 8, 0}, labels).find("gzip-compressed") != std::string::npos);
  CHECK(io_test::error_of([&] { Idx::load_folder(dir.file("missing"), Split::train); }).find("not a folder") != std::string::npos);
  CHECK(io_test::error_of([&] { Idx::load_folder(dir.path, Split::train); }).find("train-images-idx3-ubyte' does not exist") != std::string::npos);
}
