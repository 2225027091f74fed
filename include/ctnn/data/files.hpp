#pragma once
// File checks shared by the dataset readers: what a path is, in words, and whole-file reads whose
// failures name the reader, the file and the byte offset. A reader passes its own name ("who",
// e.g. "ctnn::data::Idx") so that every message says which reader failed.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "../core/error.hpp"

namespace ctnn::data::detail {

// The type of `p` (not_found when it does not exist); a path that cannot be examined is an error.
inline std::filesystem::file_type file_type(const std::filesystem::path& p, const char* who) {
  std::error_code ec;
  const auto st = std::filesystem::status(p, ec);
  if (ec && st.type() != std::filesystem::file_type::not_found)
    ctnn::detail::fail(who, ": cannot examine '", p.string(), "': ", ec.message());
  return st.type();
}

inline const char* describe(std::filesystem::file_type t) {
  using std::filesystem::file_type;
  switch (t) {
    case file_type::regular: return "a regular file";
    case file_type::directory: return "a folder";
    case file_type::symlink: return "a symbolic link";
    case file_type::block: return "a block device";
    case file_type::character: return "a character device";
    case file_type::fifo: return "a named pipe";
    case file_type::socket: return "a socket";
    case file_type::not_found: return "missing";
    default: return "not a regular file";
  }
}

// The whole of `file` (which must be a regular file: `what` describes what it should be).
inline std::vector<std::uint8_t> read_whole_file(const std::filesystem::path& file, const char* who, const char* what) {
  const std::string name = file.string();
  const auto type = file_type(file, who);
  if (type == std::filesystem::file_type::not_found) ctnn::detail::fail(who, ": ", what, " '", name, "' does not exist");
  if (type != std::filesystem::file_type::regular)
    ctnn::detail::fail(who, ": '", name, "' is ", describe(type), ", not ", what);
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) ctnn::detail::fail(who, ": cannot get the size of '", name, "': ", ec.message());
  if (size > static_cast<std::uintmax_t>(std::numeric_limits<std::streamsize>::max()))
    ctnn::detail::fail(who, ": '", name, "' is too large (", size, " bytes)");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::ifstream in(file, std::ios::binary);
  if (!in) ctnn::detail::fail(who, ": cannot open '", name, "' for reading");
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got != bytes.size())
    ctnn::detail::fail(who, ": reading '", name, "' failed at byte offset ", got, "; expected ", bytes.size(), " bytes");
  return bytes;
}

// Class names from a text file, one per line (empty lines and surrounding spaces skipped); exactly
// `count` required.
inline std::vector<std::string> read_names(const std::filesystem::path& file, std::size_t count, const char* who) {
  const std::vector<std::uint8_t> bytes = read_whole_file(file, who, "a text file of class names");
  std::vector<std::string> names;
  std::string line;
  auto flush = [&] {
    const auto b = line.find_first_not_of(" \t\r\n");
    if (b != std::string::npos) names.push_back(line.substr(b, line.find_last_not_of(" \t\r\n") - b + 1));
    line.clear();
  };
  for (const std::uint8_t c : bytes) {
    if (c == '\n')
      flush();
    else
      line += static_cast<char>(c);
  }
  flush();
  if (names.size() != count)
    ctnn::detail::fail(who, ": '", file.string(), "' lists ", names.size(), " class names; expected ", count,
                       " (one per line)");
  return names;
}

}  // namespace ctnn::data::detail
