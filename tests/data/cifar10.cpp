#include <ctnn/data/cifar10.hpp>
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace ctnn;
using namespace ctnn::data;
namespace fs = std::filesystem;

namespace {

// A fresh, empty folder under the system's temporary directory, removed at the end of the scope.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("ctnn_test_data_cifar10_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& f) const { return path / f; }
};

std::uint8_t pattern(std::size_t i, std::size_t c, std::size_t y, std::size_t x) {
  return static_cast<std::uint8_t>(i * 37 + c * 85 + y * 7 + x * 3);
}

// n images whose pixels follow pattern(first + i, ...) and labels (first + i) % 10.
CifarDataset make_dataset(std::size_t n, std::size_t first = 0) {
  CifarDataset d;
  d.class_names.assign(Cifar10::standard_class_names.begin(), Cifar10::standard_class_names.end());
  d.labels.resize(n);
  d.images.resize(n * Cifar10::image_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    d.labels[i] = static_cast<std::int32_t>((first + i) % 10);
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t y = 0; y < 32; ++y)
        for (std::size_t x = 0; x < 32; ++x)
          d.images[i * Cifar10::image_bytes + c * 1024 + y * 32 + x] = pattern(first + i, c, y, x);
  }
  return d;
}

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Writes small train and test files: file k of the train split holds k + 1 records.
void write_small_split(const fs::path& dir, std::size_t& total_train) {
  total_train = 0;
  for (std::size_t k = 0; k < 5; ++k) {
    write_cifar_binary(dir / std::string(Cifar10::train_files[k]), make_dataset(k + 1, total_train));
    total_train += k + 1;
  }
  write_cifar_binary(dir / std::string(Cifar10::test_file), make_dataset(4, 1000));
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const ctnn::Error& e) {
    return e.what();
  }
  return "(no ctnn::Error thrown)";
}

}  // namespace

TEST_CASE("write_cifar_binary writes the official record layout: label byte, then R, G, B planes") {
  TempDir dir("layout");
  const CifarDataset d = make_dataset(3);
  write_cifar_binary(dir / "three.bin", d);
  const auto bytes = read_bytes(dir / "three.bin");
  REQUIRE(bytes.size() == 3 * 3073);
  for (std::size_t r = 0; r < 3; ++r) {
    CHECK(bytes[r * 3073] == r % 10);
    // red plane first, then green, then blue; each 32x32 row-major
    CHECK(bytes[r * 3073 + 1 + 0] == pattern(r, 0, 0, 0));
    CHECK(bytes[r * 3073 + 1 + 1023] == pattern(r, 0, 31, 31));
    CHECK(bytes[r * 3073 + 1 + 1024 + 5 * 32 + 9] == pattern(r, 1, 5, 9));
    CHECK(bytes[r * 3073 + 1 + 2048 + 31 * 32 + 2] == pattern(r, 2, 31, 2));
  }
}

TEST_CASE("load_file reads labels and pixels back exactly, CHW as stored") {
  TempDir dir("roundtrip");
  const CifarDataset d = make_dataset(3);
  write_cifar_binary(dir / "three.bin", d);
  const CifarDataset back = Cifar10::load_file(dir / "three.bin");
  REQUIRE(back.size() == 3);
  CHECK(back.labels == d.labels);
  CHECK(back.images == d.images);
  CHECK(back.num_classes() == 10);
  CHECK(back.class_names[0] == "airplane");
  CHECK(back.class_names[9] == "truck");
  CHECK(back.pixel(2, 1, 5, 9) == pattern(2, 1, 5, 9));
  CHECK(back.image(1)[2048] == pattern(1, 2, 0, 0));

  SUBCASE("first and count select a range") {
    write_cifar_binary(dir / "one.bin", d, 1, 1);
    const CifarDataset one = Cifar10::load_file(dir / "one.bin");
    REQUIRE(one.size() == 1);
    CHECK(one.labels[0] == 1);
    CHECK(one.pixel(0, 2, 3, 4) == pattern(1, 2, 3, 4));
    write_cifar_binary(dir / "tail.bin", d, 1);
    CHECK(Cifar10::load_file(dir / "tail.bin").size() == 2);
  }
}

TEST_CASE("load reads the train files in order, then the test file; names from batches.meta.txt") {
  TempDir dir("split");
  std::size_t total = 0;
  write_small_split(dir.path, total);
  const Cifar10::Options lax{.strict_size = false};

  const CifarDataset train = Cifar10::load(dir.path, Split::train, lax);
  REQUIRE(train.size() == total);  // 1 + 2 + 3 + 4 + 5
  CHECK(train.size() == 15);
  for (std::size_t i = 0; i < total; ++i) {
    CHECK(train.labels[i] == static_cast<std::int32_t>(i % 10));
    CHECK(train.pixel(i, 2, 17, 30) == pattern(i, 2, 17, 30));
  }
  CHECK(train.class_names[1] == "automobile");

  const CifarDataset test = Cifar10::load(dir.path, Split::test, lax);
  REQUIRE(test.size() == 4);
  CHECK(test.labels[0] == 0);  // 1000 % 10
  CHECK(test.pixel(3, 0, 1, 1) == pattern(1003, 0, 1, 1));

  const CifarDataset all = Cifar10::load(dir.path, Split::train | Split::test, lax);
  CHECK(all.size() == 19);
  CHECK(all.pixel(15, 1, 2, 3) == pattern(1000, 1, 2, 3));

  SUBCASE("class names from batches.meta.txt, empty lines and CR skipped") {
    std::ofstream(dir / "batches.meta.txt") << "a0\r\nb1\nc2\nd3\n\ne4\nf5\ng6\nh7\ni8\n  j9  \n\n";
    const CifarDataset named = Cifar10::load(dir.path, Split::test, lax);
    REQUIRE(named.num_classes() == 10);
    CHECK(named.class_names[0] == "a0");
    CHECK(named.class_names[4] == "e4");
    CHECK(named.class_names[9] == "j9");
  }
  SUBCASE("a batches.meta.txt without ten names is an error naming it") {
    std::ofstream(dir / "batches.meta.txt") << "one\ntwo\n";
    const std::string msg = error_of([&] { Cifar10::load(dir.path, Split::test, lax); });
    CHECK(msg.find("batches.meta.txt") != std::string::npos);
    CHECK(msg.find("lists 2 class names; expected 10") != std::string::npos);
  }
}

TEST_CASE("load finds the files in the archive's cifar-10-batches-bin subfolder") {
  TempDir dir("nested");
  fs::create_directories(dir / "cifar-10-batches-bin");
  std::size_t total = 0;
  write_small_split(dir / "cifar-10-batches-bin", total);
  CHECK(Cifar10::load(dir.path, Split::train, {.strict_size = false}).size() == total);
}

TEST_CASE("strict size (the default) rejects a short file and accepts exactly 10,000 records") {
  TempDir dir("strict");
  write_cifar_binary(dir / "test_batch.bin", make_dataset(3));
  const std::string msg = error_of([&] { Cifar10::load(dir.path, Split::test); });
  CHECK(msg.find((dir / "test_batch.bin").string()) != std::string::npos);
  CHECK(msg.find("is 9219 bytes (3 records); expected exactly 30730000 bytes") != std::string::npos);
  CHECK_THROWS_AS(Cifar10::load_file(dir / "test_batch.bin", {.strict_size = true}), ctnn::Error);

  CifarDataset full;
  full.class_names.assign(Cifar10::standard_class_names.begin(), Cifar10::standard_class_names.end());
  full.labels.resize(10'000);
  full.images.resize(10'000 * Cifar10::image_bytes);
  for (std::size_t i = 0; i < full.size(); ++i) {
    full.labels[i] = static_cast<std::int32_t>(i % 7);
    full.images[i * Cifar10::image_bytes + 5] = static_cast<std::uint8_t>(i);
  }
  write_cifar_binary(dir / "test_batch.bin", full);
  CHECK(fs::file_size(dir / "test_batch.bin") == 30'730'000);
  const CifarDataset back = Cifar10::load(dir.path, Split::test);
  REQUIRE(back.size() == 10'000);
  CHECK(back.labels[9'999] == 9'999 % 7);
  CHECK(back.images[9'999 * Cifar10::image_bytes + 5] == static_cast<std::uint8_t>(9'999));
}

TEST_CASE("a truncated file is rejected with the byte offset where it ends") {
  TempDir dir("truncated");
  write_cifar_binary(dir / "t.bin", make_dataset(3));
  auto bytes = read_bytes(dir / "t.bin");
  bytes.resize(2 * 3073 + 100);
  write_bytes(dir / "t.bin", bytes);
  const std::string msg = error_of([&] { Cifar10::load_file(dir / "t.bin"); });
  CHECK(msg.find((dir / "t.bin").string()) != std::string::npos);
  CHECK(msg.find("truncated") != std::string::npos);
  CHECK(msg.find("ends at byte offset 6246 inside record 2 (which starts at byte offset 6146)") != std::string::npos);

  // The strict check says the same.
  fs::copy_file(dir / "t.bin", dir / "test_batch.bin");
  const std::string strict = error_of([&] { Cifar10::load(dir.path, Split::test); });
  CHECK(strict.find("expected exactly 30730000") != std::string::npos);
  CHECK(strict.find("byte offset 6246") != std::string::npos);
}

TEST_CASE("an empty file is rejected") {
  TempDir dir("empty");
  std::ofstream(dir / "e.bin").close();
  CHECK(error_of([&] { Cifar10::load_file(dir / "e.bin"); }).find("is empty") != std::string::npos);
}

TEST_CASE("a label above 9 is rejected with file, record, byte offset and value") {
  TempDir dir("label");
  CifarDataset d = make_dataset(3);
  d.labels[1] = 10;
  write_cifar_binary(dir / "bad.bin", d);
  const std::string msg = error_of([&] { Cifar10::load_file(dir / "bad.bin"); });
  CHECK(msg.find((dir / "bad.bin").string()) != std::string::npos);
  CHECK(msg.find("record 1 at byte offset 3073 has label 10; expected a class index 0..9") != std::string::npos);
}

TEST_CASE("a missing folder or file says which, and how to get the data") {
  TempDir dir("missing");
  const std::string no_dir = error_of([&] { Cifar10::load(dir / "nope", Split::train); });
  CHECK(no_dir.find((dir / "nope").string()) != std::string::npos);
  CHECK(no_dir.find("does not exist") != std::string::npos);
  CHECK(no_dir.find("scripts/download_cifar10.sh") != std::string::npos);
  CHECK(no_dir.find("--synthetic") != std::string::npos);

  std::size_t total = 0;
  write_small_split(dir.path, total);
  fs::remove(dir / "data_batch_3.bin");
  const std::string no_file = error_of([&] { Cifar10::load(dir.path, Split::train, {.strict_size = false}); });
  CHECK(no_file.find((dir / "data_batch_3.bin").string()) != std::string::npos);
  CHECK(no_file.find("scripts/download_cifar10.sh") != std::string::npos);
  // The test split does not need the train files.
  CHECK(Cifar10::load(dir.path, Split::test, {.strict_size = false}).size() == 4);

  CHECK(error_of([&] { Cifar10::load_file(dir / "absent.bin"); }).find("absent.bin") != std::string::npos);
}

TEST_CASE("write_cifar_binary rejects labels that do not fit in a byte and bad ranges") {
  TempDir dir("write");
  CifarDataset d = make_dataset(2);
  CHECK_THROWS_WITH(write_cifar_binary(dir / "x.bin", d, 3), doctest::Contains("past the end"));
  d.labels[1] = 256;
  CHECK_THROWS_WITH(write_cifar_binary(dir / "x.bin", d), doctest::Contains("label 256 of image 1"));
  CHECK_THROWS_WITH(write_cifar_binary(dir / "no_such_dir" / "x.bin", make_dataset(1)),
                    doctest::Contains("cannot open"));
}

TEST_CASE("Split combines with |") {
  static_assert((Split::train | Split::test) == Split::all);
  static_assert(contains(Split::all, Split::test) && !contains(Split::train, Split::test));
}

TEST_CASE("an oversized file is rejected in strict mode; whole extra records are fine in lax mode") {
  TempDir dir("oversized");
  CifarDataset big;
  big.class_names.assign(Cifar10::standard_class_names.begin(), Cifar10::standard_class_names.end());
  big.labels.assign(10'001, 3);
  big.images.assign(10'001 * Cifar10::image_bytes, 7);
  write_cifar_binary(dir / "test_batch.bin", big);
  const std::string msg = error_of([&] { Cifar10::load(dir.path, Split::test); });
  CHECK(msg.find((dir / "test_batch.bin").string()) != std::string::npos);
  CHECK(msg.find("is 30733073 bytes (10001 records); expected exactly 30730000 bytes") != std::string::npos);
  CHECK(Cifar10::load(dir.path, Split::test, {.strict_size = false}).size() == 10'001);

  // One stray byte after 10,000 records: not a whole number of records either way.
  auto bytes = read_bytes(dir / "test_batch.bin");
  bytes.resize(30'730'001);
  write_bytes(dir / "test_batch.bin", bytes);
  const std::string strict = error_of([&] { Cifar10::load(dir.path, Split::test); });
  CHECK(strict.find("is 30730001 bytes; expected exactly 30730000") != std::string::npos);
  const std::string lax = error_of([&] { Cifar10::load(dir.path, Split::test, {.strict_size = false}); });
  CHECK(lax.find("is truncated: it ends at byte offset 30730001 inside record 10000") != std::string::npos);
}

TEST_CASE("a folder where a file is expected, or a file where the folder is, is named as such") {
  TempDir dir("kinds");
  fs::create_directories(dir / "test_batch.bin");
  const std::string file_is_dir = error_of([&] { Cifar10::load(dir.path, Split::test, {.strict_size = false}); });
  CHECK(file_is_dir.find((dir / "test_batch.bin").string() + "' is a folder, not a CIFAR-10 binary file") !=
        std::string::npos);
  CHECK(error_of([&] { Cifar10::load_file(dir / "test_batch.bin"); }).find("is a folder") != std::string::npos);

  write_cifar_binary(dir / "plain.bin", make_dataset(1));
  const std::string dir_is_file = error_of([&] { Cifar10::load(dir / "plain.bin", Split::test); });
  CHECK(dir_is_file.find((dir / "plain.bin").string() + "' is a regular file, not a folder") != std::string::npos);

  fs::remove(dir / "test_batch.bin");
  write_cifar_binary(dir / "test_batch.bin", make_dataset(2));
  fs::create_directories(dir / "batches.meta.txt");
  const std::string meta = error_of([&] { Cifar10::load(dir.path, Split::test, {.strict_size = false}); });
  CHECK(meta.find("batches.meta.txt' is a folder, not a text file of class names") != std::string::npos);
}

TEST_CASE("a path that cannot be examined is a ctnn::Error, not a std::filesystem_error") {
  TempDir dir("unexaminable");
  const fs::path long_name = dir / std::string(300, 'x') / "test_batch.bin";  // a component over NAME_MAX
  const std::string msg = error_of([&] { Cifar10::load_file(long_name); });
  CHECK(msg.find("cannot examine") != std::string::npos);
  CHECK_THROWS_AS(Cifar10::load(dir / std::string(300, 'x'), Split::test), ctnn::Error);
}

TEST_CASE("Cifar10::parse reads bytes in memory with load_file's checks and messages") {
  TempDir dir("parse");
  write_cifar_binary(dir / "three.bin", make_dataset(3));
  auto bytes = read_bytes(dir / "three.bin");
  const CifarDataset d = Cifar10::parse(bytes, "three.bin");
  CHECK(d.labels == make_dataset(3).labels);
  CHECK(d.images == make_dataset(3).images);
  CHECK(d.class_names[9] == "truck");
  CHECK(error_of([&] { Cifar10::parse(bytes, "three.bin", {.strict_size = true}); })
            .find("'three.bin' is 9219 bytes (3 records); expected exactly 30730000") != std::string::npos);
  bytes[3073] = 200;
  CHECK(error_of([&] { Cifar10::parse(bytes, "mem"); }).find("'mem': record 1 at byte offset 3073 has label 200") !=
        std::string::npos);
  bytes.resize(100);
  CHECK(error_of([&] { Cifar10::parse(bytes); }).find("'(memory)' is truncated: it ends at byte offset 100") !=
        std::string::npos);
  CHECK(error_of([&] { Cifar10::parse({}); }).find("is empty") != std::string::npos);
}
