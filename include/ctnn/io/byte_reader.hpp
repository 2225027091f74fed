#pragma once
// Reading a checkpoint: a cursor over the file's bytes whose every failure names the file, the
// byte offset and what was expected, and the parser that checks a file's structure, size and
// checksum (it knows nothing about networks: checkpoint.hpp compares the result with one).

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../core/config.hpp"
#include "../core/error.hpp"
#include "checksum.hpp"
#include "format.hpp"
#include "printable.hpp"

namespace ctnn::io::detail {

using ctnn::detail::cat;

struct ParseContext {
  const std::string& path;
  const unsigned char* data;
  std::size_t file_end;          // bytes present
  std::uint64_t recorded_size;   // bytes the header records (0 before it is read)
  bool truncated;                // the file is shorter than its header says
};

// Reads fields within [pos, end); running out of bytes is a truncation when end is the end of a
// truncated file, and a malformed file otherwise.
class Cursor {
public:
  Cursor(const ParseContext& ctx, std::size_t pos, std::size_t end, std::string section = {})
      : ctx_(ctx), pos_(pos), end_(end), section_(std::move(section)) {}

  std::size_t pos() const noexcept { return pos_; }
  std::size_t end() const noexcept { return end_; }

  void need(std::uint64_t n, const std::string& what) const {
    if (n > end_ - pos_) fail_need(n, what);
  }
  const unsigned char* take(std::uint64_t n, const std::string& what) {
    need(n, what);
    const unsigned char* p = ctx_.data + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  std::uint32_t u32(const std::string& what) {
    const unsigned char* b = take(4, what);
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  std::uint64_t u64(const std::string& what) {
    const unsigned char* b = take(8, what);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  double f64(const std::string& what) { return std::bit_cast<double>(u64(what)); }
  std::string str(const std::string& what) {
    const std::uint64_t n = u64("the length of " + what);
    const auto* p = take(n, what);
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  // Skips `count` float32 values and returns their byte offset.
  std::size_t floats(std::uint64_t count, const std::string& what) {
    const std::uint64_t bytes = count > UINT64_MAX / 4 ? UINT64_MAX : count * 4;
    const std::size_t at = pos_;
    take(bytes, what);
    return at;
  }

  [[noreturn]] void fail_need(std::uint64_t n, const std::string& what) const;

private:
  const ParseContext& ctx_;
  std::size_t pos_;
  std::size_t end_;
  std::string section_;
};

void parse_tensors(Cursor& c, std::vector<TensorRecord>& out, const char* kind);

void parse_training(Cursor& c, TrainingState& t);

// Everything after the fixed header fields, up to (not including) the checksum.
void parse_body(const ParseContext& ctx, Cursor& c, ParsedCheckpoint& out);

std::string hex64(std::uint64_t v);

// Checks the file's structure, size and checksum; knows nothing about networks.
ParsedCheckpoint parse_checkpoint(const std::string& path, const std::vector<unsigned char>& bytes);

}  // namespace ctnn::io::detail

#if CTNN_HEADER_DEFINITIONS
#include "impl/byte_reader.ipp"
#endif
