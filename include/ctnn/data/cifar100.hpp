#pragma once
// CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html, cifar-100-binary.tar.gz).
//
//   CifarDataset fine   = ctnn::data::Cifar100::load("data", Split::train);                    // 100 classes
//   CifarDataset coarse = ctnn::data::Cifar100::load("data", Split::test, Cifar100::Labels::coarse);  // 20
//
// `dir` holds train.bin (50,000 records) and test.bin (10,000), or a cifar-100-binary/ subfolder with
// them (what the archive extracts to). A record is 1 coarse label byte (0..19), 1 fine label byte
// (0..99) and 3,072 pixel bytes (red, green, blue planes of 32x32), so train.bin is exactly 153,700,000
// bytes and test.bin 30,740,000. Class names come from fine_label_names.txt / coarse_label_names.txt
// when present (one per line; they must list 100 / 20), otherwise the standard lists below.
// Every problem is a ctnn::Error naming the file and, for bad contents, the byte offset and what was
// expected. Options{.strict_size = false} accepts any positive whole number of records; parse() reads
// the bytes of a file already in memory with the same checks.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "dataset.hpp"
#include "files.hpp"

namespace ctnn::data {

struct Cifar100Options {
  bool strict_size = true;  // train.bin and test.bin exactly as in the official archive
};

class Cifar100 {
public:
  enum class Labels { fine, coarse };
  using Options = Cifar100Options;
  static constexpr const char* who = "ctnn::data::Cifar100";
  static constexpr std::size_t fine_classes = 100, coarse_classes = 20;
  static constexpr std::size_t image_bytes = CifarDataset::image_bytes;
  static constexpr std::size_t record_bytes = 2 + image_bytes;  // 3,074
  static constexpr std::size_t train_records = 50'000, test_records = 10'000;
  static constexpr std::string_view archive_folder = "cifar-100-binary";

  static constexpr std::array<std::string_view, 20> standard_coarse_names{
      "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices",
      "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
      "large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
      "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2"};
  static constexpr std::array<std::string_view, 100> standard_fine_names{
      "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
      "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
      "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest",
      "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard",
      "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
      "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
      "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper",
      "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone",
      "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf",
      "woman", "worm"};

  static CifarDataset load(const std::filesystem::path& dir, Split split, Labels labels = Labels::fine,
                           Options options = {}) {
    namespace fs = std::filesystem;
    fs::path folder = dir;
    if (detail::file_type(dir, who) != fs::file_type::directory)
      ctnn::detail::fail(who, ": '", dir.string(), "' is ", detail::describe(detail::file_type(dir, who)),
                         ", not a folder holding train.bin and test.bin. Download CIFAR-100 (binary version, "
                         "cifar-100-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html");
    if (detail::file_type(dir / "train.bin", who) == fs::file_type::not_found &&
        detail::file_type(dir / archive_folder, who) == fs::file_type::directory)
      folder = dir / archive_folder;
    CifarDataset out;
    out.class_names = class_names(folder, labels);
    for (const Split part : {Split::train, Split::test}) {
      if (!contains(split, part)) continue;
      const fs::path file = folder / (part == Split::train ? "train.bin" : "test.bin");
      const auto bytes = detail::read_whole_file(file, who, "a CIFAR-100 binary file");
      append(bytes, file.string(), labels, options.strict_size ? (part == Split::train ? train_records : test_records) : 0,
             out);
    }
    return out;
  }

  // One file's bytes; `records` = 0 accepts any positive whole number of records.
  static CifarDataset parse(std::span<const std::uint8_t> bytes, const std::string& name = "(memory)",
                            Labels labels = Labels::fine, std::size_t records = 0) {
    CifarDataset out;
    out.class_names = standard_names(labels);
    append(bytes, name, labels, records, out);
    return out;
  }

  static std::vector<std::string> standard_names(Labels labels) {
    if (labels == Labels::fine) return {standard_fine_names.begin(), standard_fine_names.end()};
    return {standard_coarse_names.begin(), standard_coarse_names.end()};
  }

private:
  static std::vector<std::string> class_names(const std::filesystem::path& folder, Labels labels) {
    const auto file = folder / (labels == Labels::fine ? "fine_label_names.txt" : "coarse_label_names.txt");
    if (detail::file_type(file, who) == std::filesystem::file_type::not_found) return standard_names(labels);
    return detail::read_names(file, labels == Labels::fine ? fine_classes : coarse_classes, who);
  }

  static void append(std::span<const std::uint8_t> b, const std::string& name, Labels labels, std::size_t records,
                     CifarDataset& out) {
    if (b.empty())
      ctnn::detail::fail(who, ": '", name, "' is empty (byte offset 0); expected records of 2 label bytes + ", image_bytes,
                         " pixel bytes");
    if (b.size() % record_bytes != 0)
      ctnn::detail::fail(who, ": '", name, "' is truncated: it ends at byte offset ", b.size(), " inside record ",
                         b.size() / record_bytes, " (which starts at byte offset ", b.size() / record_bytes * record_bytes,
                         "); expected a whole number of ", record_bytes, "-byte records (coarse label, fine label, ",
                         image_bytes, " pixel bytes)");
    const std::size_t n = b.size() / record_bytes;
    if (records && n != records)
      ctnn::detail::fail(who, ": '", name, "' is ", b.size(), " bytes (", n, " records); expected exactly ",
                         records * record_bytes, " bytes (", records, " records of ", record_bytes,
                         " bytes), as in the official cifar-100-binary.tar.gz");
    for (std::size_t r = 0; r < n; ++r) {
      const std::uint8_t coarse = b[r * record_bytes], fine = b[r * record_bytes + 1];
      if (coarse >= coarse_classes)
        ctnn::detail::fail(who, ": '", name, "': record ", r, " has the coarse label ", unsigned(coarse), " at byte offset ",
                           r * record_bytes, "; expected 0..", coarse_classes - 1);
      if (fine >= fine_classes)
        ctnn::detail::fail(who, ": '", name, "': record ", r, " has the fine label ", unsigned(fine), " at byte offset ",
                           r * record_bytes + 1, "; expected 0..", fine_classes - 1);
    }
    const std::size_t first = out.labels.size();
    out.labels.resize(first + n);
    out.images.resize((first + n) * image_bytes);
    for (std::size_t r = 0; r < n; ++r) {
      const std::uint8_t* rec = b.data() + r * record_bytes;
      out.labels[first + r] = labels == Labels::fine ? rec[1] : rec[0];
      std::copy_n(rec + 2, image_bytes, out.images.data() + (first + r) * image_bytes);
    }
  }
};

}  // namespace ctnn::data
