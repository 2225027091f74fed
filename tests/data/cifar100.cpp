// The CIFAR-100 reader: fine and coarse labels, the official file sizes, the folder layout, class
// names from the meta files, and a ctnn::Error naming the file and offset for bad contents.
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

std::vector<std::uint8_t> records(std::size_t n) {
  std::vector<std::uint8_t> b(n * Cifar100::record_bytes);
  for (std::size_t r = 0; r < n; ++r) {
    std::uint8_t* rec = b.data() + r * Cifar100::record_bytes;
    rec[0] = static_cast<std::uint8_t>(r % 20);
    rec[1] = static_cast<std::uint8_t>((r * 3) % 100);
    for (std::size_t j = 0; j < 3072; ++j) rec[2 + j] = static_cast<std::uint8_t>((r + j) & 0xff);
  }
  return b;
}

void write(const std::string& path, const std::vector<std::uint8_t>& b) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("CIFAR-100: fine and coarse labels, pixels as stored, standard names") {
  const auto b = records(7);
  const CifarDataset fine = Cifar100::parse(b, "x.bin");
  const CifarDataset coarse = Cifar100::parse(b, "x.bin", Cifar100::Labels::coarse);
  REQUIRE(fine.size() == 7);
  CHECK(fine.labels[5] == 15);
  CHECK(coarse.labels[5] == 5);
  CHECK(fine.num_classes() == 100);
  CHECK(coarse.num_classes() == 20);
  CHECK(fine.class_names[0] == "apple");
  CHECK(coarse.class_names[19] == "vehicles_2");
  CHECK(fine.pixel(2, 1, 0, 4) == static_cast<std::uint8_t>(2 + 1024 + 4));
}

TEST_CASE("CIFAR-100: the folder, the archive's subfolder, strict sizes and the meta files") {
  TempDir dir("cifar100");
  const auto sub = dir.path / "cifar-100-binary";
  std::filesystem::create_directories(sub);
  write((sub / "train.bin").string(), records(6));
  write((sub / "test.bin").string(), records(4));
  const std::string strict = io_test::error_of([&] { Cifar100::load(dir.path, Split::train); });
  CHECK(strict.find("(6 records); expected exactly 153700000 bytes (50000 records of 3074 bytes)") != std::string::npos);
  const CifarDataset all = Cifar100::load(dir.path, Split::all, Cifar100::Labels::fine, {.strict_size = false});
  CHECK(all.size() == 10);
  {
    std::ofstream names(sub / "coarse_label_names.txt");
    for (int i = 0; i < 20; ++i) names << "group" << i << "\n\n";
  }
  const CifarDataset coarse = Cifar100::load(dir.path, Split::test, Cifar100::Labels::coarse, {.strict_size = false});
  CHECK(coarse.class_names[3] == "group3");
  {
    std::ofstream names(sub / "fine_label_names.txt");
    names << "only one\n";
  }
  CHECK(io_test::error_of([&] { Cifar100::load(dir.path, Split::test, Cifar100::Labels::fine, {.strict_size = false}); })
            .find("lists 1 class names; expected 100") != std::string::npos);
  CHECK(io_test::error_of([&] { Cifar100::load(dir.file("nowhere"), Split::test); }).find("not a folder") != std::string::npos);
}

TEST_CASE("CIFAR-100: truncated files, empty files and labels out of range name the file and offset") {
  auto b = records(3);
  b.pop_back();
  CHECK(io_test::error_of([&] { Cifar100::parse(b, "t.bin"); }).find("'t.bin' is truncated: it ends at byte offset 9221 inside record 2") != std::string::npos);
  CHECK(io_test::error_of([&] { Cifar100::parse({}, "e.bin"); }).find("'e.bin' is empty") != std::string::npos);
  auto c = records(3);
  c[Cifar100::record_bytes * 2] = 20;
  CHECK(io_test::error_of([&] { Cifar100::parse(c, "c.bin"); }).find("record 2 has the coarse label 20 at byte offset 6148") != std::string::npos);
  auto f = records(3);
  f[1] = 100;
  CHECK(io_test::error_of([&] { Cifar100::parse(f, "f.bin"); }).find("record 0 has the fine label 100 at byte offset 1") != std::string::npos);
  CHECK(io_test::error_of([&] { Cifar100::parse(records(3), "n.bin", Cifar100::Labels::fine, 5); }).find("expected exactly 15370 bytes (5 records") != std::string::npos);
}
