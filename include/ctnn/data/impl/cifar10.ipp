#pragma once
// cifar10.hpp's definitions (core/config.hpp: separate compilation).

#include "../cifar10.hpp"

namespace ctnn::data {

CTNN_INLINE CifarDataset Cifar10::load(const std::filesystem::path& dir, Split split, Options options) {
  namespace fs = std::filesystem;
  const fs::path folder = resolve_folder(dir);
  std::vector<fs::path> files;
  if (contains(split, Split::train))
    for (const auto name : train_files) files.push_back(folder / name);
  if (contains(split, Split::test)) files.push_back(folder / test_file);
  if (files.empty()) ctnn::detail::fail("ctnn::data::Cifar10::load: the split selects no files");
  for (const auto& f : files) require_file(f);

  CifarDataset out;
  out.class_names = read_class_names(folder / meta_file);
  std::vector<std::uint8_t> buffer;  // one file's bytes, reused for every file
  for (const auto& f : files) append_file(f, options, buffer, out);
  return out;
}

CTNN_INLINE CifarDataset Cifar10::load_file(const std::filesystem::path& file, Options options) {
  require_file(file);
  CifarDataset out;
  out.class_names.assign(standard_class_names.begin(), standard_class_names.end());
  std::vector<std::uint8_t> buffer;
  append_file(file, options, buffer, out);
  return out;
}

CTNN_INLINE CifarDataset Cifar10::parse(std::span<const std::uint8_t> bytes, const std::string& name, Options options) {
  CifarDataset out;
  out.class_names.assign(standard_class_names.begin(), standard_class_names.end());
  check_size(name, bytes.size(), options);
  append_records(name, bytes.data(), bytes.size(), out);
  return out;
}

CTNN_INLINE std::vector<std::string> Cifar10::read_class_names(const std::filesystem::path& meta) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  const fs::file_type type = file_type(meta);
  if (type == fs::file_type::not_found) {
    names.assign(standard_class_names.begin(), standard_class_names.end());
    return names;
  }
  if (type != fs::file_type::regular)
    ctnn::detail::fail("ctnn::data::Cifar10: '", meta.string(), "' is ", describe(type),
                       ", not a text file of class names");
  std::ifstream in(meta);
  if (!in) ctnn::detail::fail("ctnn::data::Cifar10: cannot open '", meta.string(), "' for reading");
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r\n");
    names.push_back(line.substr(b, e - b + 1));
  }
  if (in.bad()) ctnn::detail::fail("ctnn::data::Cifar10: reading '", meta.string(), "' failed");
  if (names.size() != num_classes)
    ctnn::detail::fail("ctnn::data::Cifar10: '", meta.string(), "' lists ", names.size(),
                 " class names; expected ", num_classes, " (one per line)");
  return names;
}

CTNN_INLINE std::filesystem::file_type Cifar10::file_type(const std::filesystem::path& p) {
  std::error_code ec;
  const auto st = std::filesystem::status(p, ec);
  if (ec && st.type() != std::filesystem::file_type::not_found)
    ctnn::detail::fail("ctnn::data::Cifar10: cannot examine '", p.string(), "': ", ec.message());
  return st.type();
}

CTNN_INLINE const char* Cifar10::describe(std::filesystem::file_type t) {
  using std::filesystem::file_type;
  switch (t) {
    case file_type::regular: return "a regular file";
    case file_type::directory: return "a folder";
    case file_type::symlink: return "a symbolic link";
    case file_type::block: return "a block device";
    case file_type::character: return "a character device";
    case file_type::fifo: return "a named pipe";
    case file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

CTNN_INLINE void Cifar10::require_file(const std::filesystem::path& f) {
  const auto type = file_type(f);
  if (type == std::filesystem::file_type::not_found) missing(f, "the CIFAR-10 binary file");
  if (type != std::filesystem::file_type::regular)
    ctnn::detail::fail("ctnn::data::Cifar10: '", f.string(), "' is ", describe(type),
                       ", not a CIFAR-10 binary file; expected a regular file of 3,073-byte records");
}

CTNN_INLINE void Cifar10::missing(const std::filesystem::path& p, const char* what) {
  ctnn::detail::fail("ctnn::data::Cifar10: ", what, " '", p.string(),
               "' does not exist. Download CIFAR-10 (binary version) with "
               "scripts/download_cifar10.sh [DIR] (it fetches cifar-10-binary.tar.gz, checks its MD5 "
               "and extracts DIR/cifar-10-batches-bin/), or train on a synthetic set instead (--synthetic "
               "in the examples, ctnn::data::synthetic_cifar in code)");
}

CTNN_INLINE std::filesystem::path Cifar10::resolve_folder(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  const fs::file_type type = file_type(dir);
  if (type == fs::file_type::not_found) missing(dir, "the CIFAR-10 folder");
  if (type != fs::file_type::directory)
    ctnn::detail::fail("ctnn::data::Cifar10: '", dir.string(), "' is ", describe(type),
                       ", not a folder; pass the folder that holds data_batch_1.bin ... test_batch.bin");
  const fs::path nested = dir / archive_folder;
  const bool here = file_type(dir / train_files[0]) != fs::file_type::not_found ||
                    file_type(dir / test_file) != fs::file_type::not_found;
  if (!here && file_type(nested) == fs::file_type::directory) return nested;
  return dir;
}

CTNN_INLINE void Cifar10::check_size(const std::string& name, std::uintmax_t size, const Options& options) {
  if (size == 0)
    ctnn::detail::fail("ctnn::data::Cifar10: '", name, "' is empty (byte offset 0); expected ",
                 options.strict_size ? file_bytes : record_bytes, " bytes or more: records of 1 label byte + ",
                 image_bytes, " pixel bytes");
  if (options.strict_size && size != file_bytes) {
    if (size % record_bytes != 0)
      ctnn::detail::fail("ctnn::data::Cifar10: '", name, "' is ", size, " bytes; expected exactly ", file_bytes,
                   " (", records_per_file, " records of ", record_bytes, " bytes). It ends at byte offset ", size,
                   " inside record ", size / record_bytes, " (which starts at byte offset ",
                   (size / record_bytes) * record_bytes, "): the file is truncated or not a CIFAR-10 binary file");
    ctnn::detail::fail("ctnn::data::Cifar10: '", name, "' is ", size, " bytes (", size / record_bytes,
                 " records); expected exactly ", file_bytes, " bytes (", records_per_file, " records of ",
                 record_bytes, " bytes), as in the official cifar-10-binary.tar.gz");
  }
  if (size % record_bytes != 0)
    ctnn::detail::fail("ctnn::data::Cifar10: '", name, "' is truncated: it ends at byte offset ", size,
                 " inside record ", size / record_bytes, " (which starts at byte offset ",
                 (size / record_bytes) * record_bytes, "); expected a whole number of ", record_bytes,
                 "-byte records (1 label byte + ", image_bytes, " pixel bytes)");
}

CTNN_INLINE void Cifar10::append_file(const std::filesystem::path& file, const Options& options,
                                      std::vector<std::uint8_t>& buffer, CifarDataset& out) {
  const std::string name = file.string();
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) ctnn::detail::fail("ctnn::data::Cifar10: cannot get the size of '", name, "': ", ec.message());
  check_size(name, size, options);
  if (size > static_cast<std::uintmax_t>(std::numeric_limits<std::streamsize>::max()))
    ctnn::detail::fail("ctnn::data::Cifar10: '", name, "' is too large (", size, " bytes)");

  const std::size_t bytes = static_cast<std::size_t>(size);
  const std::size_t records = bytes / record_bytes;
  buffer.resize(bytes);
  {
    std::ifstream in(file, std::ios::binary);
    if (!in) ctnn::detail::fail("ctnn::data::Cifar10: cannot open '", name, "' for reading");
    in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(bytes));
    const std::size_t got = static_cast<std::size_t>(in.gcount());
    if (got != bytes)
      ctnn::detail::fail("ctnn::data::Cifar10: reading '", name, "' failed at byte offset ", got, " inside record ",
                   got / record_bytes, " (which starts at byte offset ", (got / record_bytes) * record_bytes,
                   "); expected ", bytes, " bytes (", records, " records of ", record_bytes, " bytes)");
  }
  append_records(name, buffer.data(), bytes, out);
}

CTNN_INLINE void Cifar10::append_records(const std::string& name, const std::uint8_t* data, std::size_t bytes,
                                         CifarDataset& out) {
  const std::size_t records = bytes / record_bytes;
  const std::size_t first = out.labels.size();
  for (std::size_t r = 0; r < records; ++r) {
    const std::uint8_t label = data[r * record_bytes];
    if (label >= num_classes)
      ctnn::detail::fail("ctnn::data::Cifar10: '", name, "': record ", r, " at byte offset ", r * record_bytes,
                   " has label ", static_cast<unsigned>(label), "; expected a class index 0..", num_classes - 1);
  }
  out.labels.resize(first + records);
  out.images.resize((first + records) * image_bytes);
  std::uint8_t* dst = out.images.data() + first * image_bytes;
  for (std::size_t r = 0; r < records; ++r) {
    const std::uint8_t* rec = data + r * record_bytes;
    out.labels[first + r] = static_cast<std::int32_t>(rec[0]);
    std::copy_n(rec + 1, image_bytes, dst + r * image_bytes);
  }
}

CTNN_INLINE void write_cifar_binary(const std::filesystem::path& path, const CifarDataset& dataset, std::size_t first,
                                    std::size_t count) {
  const std::string name = path.string();
  if (dataset.images.size() != dataset.labels.size() * Cifar10::image_bytes)
    ctnn::detail::fail("ctnn::data::write_cifar_binary('", name, "'): the dataset has ", dataset.labels.size(),
                 " labels but ", dataset.images.size(), " image bytes");
  if (first > dataset.size())
    ctnn::detail::fail("ctnn::data::write_cifar_binary('", name, "'): first image ", first, " is past the end of a dataset of ",
                 dataset.size(), " images");
  count = std::min(count, dataset.size() - first);
  std::vector<std::uint8_t> bytes(count * Cifar10::record_bytes);
  for (std::size_t r = 0; r < count; ++r) {
    const std::int32_t label = dataset.labels[first + r];
    if (label < 0 || label > 255)
      ctnn::detail::fail("ctnn::data::write_cifar_binary('", name, "'): label ", label, " of image ", first + r,
                   " does not fit in the format's label byte (0..255)");
    std::uint8_t* rec = bytes.data() + r * Cifar10::record_bytes;
    rec[0] = static_cast<std::uint8_t>(label);
    const auto img = dataset.image(first + r);
    std::copy(img.begin(), img.end(), rec + 1);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) ctnn::detail::fail("ctnn::data::write_cifar_binary: cannot open '", name, "' for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) ctnn::detail::fail("ctnn::data::write_cifar_binary: writing ", bytes.size(), " bytes to '", name, "' failed");
}

}  // namespace ctnn::data
