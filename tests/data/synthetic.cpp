#include <ctnn/data/cifar10.hpp>
#include <ctnn/data/synthetic.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

using namespace ctnn::data;

TEST_CASE("synthetic_cifar is deterministic for a seed; each image depends on (seed, index) only") {
  const CifarDataset a = synthetic_cifar(300, 42);
  const CifarDataset b = synthetic_cifar(300, 42);
  const CifarDataset prefix = synthetic_cifar(120, 42);
  const CifarDataset other = synthetic_cifar(300, 43);
  REQUIRE(a.size() == 300);
  CHECK(a.images.size() == 300 * Cifar10::image_bytes);
  CHECK(a.labels == b.labels);
  CHECK(a.images == b.images);
  CHECK(std::equal(prefix.labels.begin(), prefix.labels.end(), a.labels.begin()));
  CHECK(std::equal(prefix.images.begin(), prefix.images.end(), a.images.begin()));
  CHECK(a.images != other.images);
  CHECK(a.labels != other.labels);
  CHECK_NOTHROW(a.validate());
  CHECK(a.num_classes() == 10);
  CHECK(a.class_names[0] == "h-stripes-wide");
  CHECK(synthetic_cifar(0, 1).empty());
}

TEST_CASE("synthetic labels are balanced-ish and images are varied") {
  const CifarDataset d = synthetic_cifar(2000, 7);
  for (const std::size_t n : d.class_counts()) {
    CHECK(n > 140);
    CHECK(n < 260);
  }
  // Images use most of the byte range and differ from each other.
  std::array<std::size_t, 256> hist{};
  for (const auto v : d.images) ++hist[v];
  std::size_t used = 0;
  for (const auto h : hist) used += h > 0;
  CHECK(used > 200);
  CHECK(!std::equal(d.image(0).begin(), d.image(0).end(), d.image(1).begin()));
}

TEST_CASE("synthetic classes carry their texture: stripes vary along their axis") {
  // Mean squared difference between neighbours along y and along x, per class.
  const CifarDataset d = synthetic_cifar(1000, 3);
  std::array<double, 10> dy{}, dx{};
  std::array<std::size_t, 10> count{};
  for (std::size_t i = 0; i < d.size(); ++i) {
    const auto l = static_cast<std::size_t>(d.labels[i]);
    ++count[l];
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t y = 0; y + 1 < 32; ++y)
        for (std::size_t x = 0; x + 1 < 32; ++x) {
          const double p = d.pixel(i, c, y, x);
          dy[l] += (d.pixel(i, c, y + 1, x) - p) * (d.pixel(i, c, y + 1, x) - p);
          dx[l] += (d.pixel(i, c, y, x + 1) - p) * (d.pixel(i, c, y, x + 1) - p);
        }
  }
  for (const std::size_t l : {0, 5}) CHECK(dy[l] > 2 * dx[l]);  // horizontal stripes
  for (const std::size_t l : {1, 6}) CHECK(dx[l] > 2 * dy[l]);  // vertical stripes
  // Narrow textures change faster than wide ones.
  for (std::size_t p = 0; p < 5; ++p)
    CHECK((dx[p + 5] + dy[p + 5]) / static_cast<double>(count[p + 5]) > 1.3 * (dx[p] + dy[p]) / static_cast<double>(count[p]));
}

TEST_CASE("a synthetic set survives a round trip through the CIFAR-10 binary format") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ctnn_test_data_synthetic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const CifarDataset d = synthetic_cifar(25, 1);
  write_cifar_binary(dir / "test_batch.bin", d);
  const CifarDataset back = Cifar10::load(dir, Split::test, {.strict_size = false});
  CHECK(back.labels == d.labels);
  CHECK(back.images == d.images);
  fs::remove_all(dir);
}
