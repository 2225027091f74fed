#pragma once
// The protocol-buffers wire format, as much as ONNX files need: a writer that builds a message
// (varints, length-delimited fields, fixed 32-bit floats, packed repeated integers) and a reader
// that walks one message's fields, every error naming the file and the byte offset.
//   wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"

namespace ctnn::io::pb {

class Writer {
public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7F) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void tag(std::uint32_t field, std::uint32_t wire) { varint((std::uint64_t{field} << 3) | wire); }
  void integer(std::uint32_t field, std::int64_t v) {
    tag(field, 0);
    varint(static_cast<std::uint64_t>(v));
  }
  void bytes(std::uint32_t field, std::string_view v) {
    tag(field, 2);
    varint(v.size());
    out_.append(v.data(), v.size());
  }
  void message(std::uint32_t field, const Writer& m) { bytes(field, m.out_); }
  void f32(std::uint32_t field, float v) {
    tag(field, 5);
    const std::uint32_t b = std::bit_cast<std::uint32_t>(v);
    for (int i = 0; i < 4; ++i) out_ += static_cast<char>(b >> (8 * i));
  }
  void packed(std::uint32_t field, const std::vector<std::int64_t>& v) {
    Writer body;
    for (const auto x : v) body.varint(static_cast<std::uint64_t>(x));
    bytes(field, body.out_);
  }
  const std::string& str() const { return out_; }

private:
  std::string out_;
};

// One field of a message: its number, wire type, and the varint value or the bytes it spans.
struct Field {
  std::uint32_t number = 0, wire = 0;
  std::uint64_t value = 0;
  std::string_view bytes;  // length-delimited and fixed fields
  std::size_t offset = 0;  // of the field's tag, in the file
};

class Reader {
public:
  Reader(std::string_view data, std::string source, std::size_t base) : d_(data), source_(std::move(source)), base_(base) {}

  bool next(Field& f) {
    if (pos_ >= d_.size()) return false;
    f = Field{};
    f.offset = base_ + pos_;
    const std::uint64_t key = varint();
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire = static_cast<std::uint32_t>(key & 7);
    if (f.number == 0) fail(f.offset, "a field numbered 0");
    switch (f.wire) {
      case 0: f.value = varint(); break;
      case 1: f.bytes = take(8, f.offset); break;
      case 2: {
        const std::uint64_t n = varint();
        if (n > d_.size() - pos_) fail(f.offset, "a length-delimited field of " + std::to_string(n) + " bytes runs past the end");
        f.bytes = take(static_cast<std::size_t>(n), f.offset);
        break;
      }
      case 5: f.bytes = take(4, f.offset); break;
      default: fail(f.offset, "the unsupported wire type " + std::to_string(f.wire));
    }
    return true;
  }

  // A sub-message's reader (f must be length-delimited).
  Reader sub(const Field& f) const {
    return Reader(f.bytes, source_, base_ + static_cast<std::size_t>(f.bytes.data() - d_.data()));
  }

  // Packed or single repeated varints of field f.
  static void append_ints(const Field& f, std::vector<std::int64_t>& out, const Reader& parent) {
    if (f.wire == 0) {
      out.push_back(static_cast<std::int64_t>(f.value));
      return;
    }
    Reader r = parent.sub(f);
    while (r.pos_ < r.d_.size()) out.push_back(static_cast<std::int64_t>(r.varint()));
  }

  static float as_f32(const Field& f) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(f.bytes[std::size_t(i)]);
    return std::bit_cast<float>(v);
  }

  [[noreturn]] void fail(std::size_t offset, const std::string& what) const {
    ctnn::detail::fail(source_, " is malformed at byte offset ", offset, ": ", what);
  }

private:
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= d_.size()) fail(base_ + pos_, "a varint runs past the end");
      const auto b = static_cast<unsigned char>(d_[pos_++]);
      v |= std::uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail(base_ + pos_, "a varint longer than 10 bytes");
  }
  std::string_view take(std::size_t n, std::size_t at) {
    if (n > d_.size() - pos_) fail(at, "a field runs past the end");
    const std::string_view v = d_.substr(pos_, n);
    pos_ += n;
    return v;
  }

  std::string_view d_;
  std::string source_;
  std::size_t base_;
  std::size_t pos_ = 0;
};

}  // namespace ctnn::io::pb
