#pragma once
// CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html, cifar-10-binary.tar.gz;
// scripts/download_cifar10.sh fetches and checks it).
//
//   CifarDataset train = ctnn::data::Cifar10::load("data", ctnn::data::Split::train);   // 50,000 images
//   CifarDataset test  = ctnn::data::Cifar10::load("data", ctnn::data::Split::test);    // 10,000 images
//   CifarDataset all   = ctnn::data::Cifar10::load("data", Split::train | Split::test); // 60,000, train first
//
// `dir` is the folder holding data_batch_1.bin ... data_batch_5.bin (train) and test_batch.bin
// (test), or a folder with a cifar-10-batches-bin/ subfolder holding them (what the archive
// extracts to). Each file is 10,000 records of 1 label byte (0..9) and 3,072 pixel bytes (1,024 red,
// 1,024 green, 1,024 blue; each plane 32x32 row-major), i.e. exactly 30,730,000 bytes; the pixels
// are kept exactly as stored (CHW). Class names come from batches.meta.txt when it is there (one per
// line, empty lines skipped; it must list 10), otherwise Cifar10::standard_class_names.
//
// Every problem is a ctnn::Error naming the file and, for bad contents, the byte offset and what was
// expected: a missing folder or file (with how to get the data), a file whose size is not exactly
// 30,730,000 bytes, a file that ends inside a record, a label above 9.
//
// Options{.strict_size = false} accepts files of any positive whole number of records (tests, or
// subsets written with write_cifar_binary). Cifar10::load_file(path, options) reads one file;
// Cifar10::parse(bytes, name, options) reads the bytes of one file already in memory (an archive
// member, a download), with the same checks and messages (`name` stands for the file in them).
// A path that exists but is not a regular file (a folder where a file is expected, or a file where
// the folder is expected) and a path that cannot be examined (no permission, a name too long) are
// ctnn::Errors that say so; the library never lets a std::filesystem_error escape.
//
// write_cifar_binary(path, dataset, first = 0, count = all) writes images [first, first + count) of
// a dataset in the same format (labels must fit in a byte), so any Dataset can be saved as a
// CIFAR-10 binary file.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "dataset.hpp"

namespace ctnn::data {

// Cifar10::Options (declared outside the class so that it can be a default argument of its members).
struct Cifar10Options {
  // true: every file must be exactly 30,730,000 bytes (10,000 records), as the official files are.
  // false: any positive whole number of 3,073-byte records is accepted.
  bool strict_size = true;
};

class Cifar10 {
public:
  static constexpr std::size_t num_classes = 10;
  static constexpr std::size_t image_bytes = CifarDataset::image_bytes;         // 3,072
  static constexpr std::size_t record_bytes = 1 + image_bytes;                 // 3,073
  static constexpr std::size_t records_per_file = 10'000;
  static constexpr std::size_t file_bytes = records_per_file * record_bytes;   // 30,730,000
  static constexpr std::array<std::string_view, 5> train_files{
      "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
  static constexpr std::string_view test_file = "test_batch.bin";
  static constexpr std::string_view meta_file = "batches.meta.txt";
  static constexpr std::string_view archive_folder = "cifar-10-batches-bin";
  static constexpr std::array<std::string_view, 10> standard_class_names{
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

  using Options = Cifar10Options;

  // Loads the files of `split` from `dir` (see the top of this header), train files first.
  static CifarDataset load(const std::filesystem::path& dir, Split split, Options options = {});

  // Reads one CIFAR-10 binary file (class names: the standard ten). By default any positive whole
  // number of records is accepted; pass Options{.strict_size = true} to require 10,000.
  static CifarDataset load_file(const std::filesystem::path& file, Options options = {.strict_size = false});

  // Reads the bytes of one CIFAR-10 binary file held in memory (class names: the standard ten),
  // with load_file's checks; `name` stands for the file in error messages.
  static CifarDataset parse(std::span<const std::uint8_t> bytes, const std::string& name = "(memory)",
                       Options options = {.strict_size = false});

  // The class names in `meta` (batches.meta.txt: one per line, empty lines and surrounding spaces
  // skipped; exactly 10 required), or the standard ten when the file does not exist.
  static std::vector<std::string> read_class_names(const std::filesystem::path& meta);

private:
  // The type of `p` (not_found when it does not exist); a path that cannot be examined is an error.
  static std::filesystem::file_type file_type(const std::filesystem::path& p);

  static const char* describe(std::filesystem::file_type t);

  // A CIFAR-10 binary file must exist and be a regular file.
  static void require_file(const std::filesystem::path& f);

  [[noreturn]] static void missing(const std::filesystem::path& p, const char* what);

  static std::filesystem::path resolve_folder(const std::filesystem::path& dir);

  // Throws unless `size` bytes is a valid file size under `options` (`name` names the file).
  static void check_size(const std::string& name, std::uintmax_t size, const Options& options);

  // Appends the records of `file` to `out` (labels, images); `buffer` holds the whole file.
  static void append_file(const std::filesystem::path& file, const Options& options,
                          std::vector<std::uint8_t>& buffer, CifarDataset& out);

  // Appends the records in `data` (`bytes` long, a whole number of records) to `out`; every label
  // is checked before anything is appended.
  static void append_records(const std::string& name, const std::uint8_t* data, std::size_t bytes, CifarDataset& out);
};

// Writes images [first, first + count) of `dataset` to `path` in the CIFAR-10 binary format (1 label
// byte + 3,072 CHW pixel bytes per record). count = npos: to the end. Labels must be 0..255.
void write_cifar_binary(const std::filesystem::path& path, const CifarDataset& dataset, std::size_t first = 0,
                        std::size_t count = static_cast<std::size_t>(-1));

}  // namespace ctnn::data

#if CTNN_HEADER_DEFINITIONS
#include "impl/cifar10.ipp"
#endif
