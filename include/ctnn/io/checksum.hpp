#pragma once
// FNV-1a 64: the checksum of checkpoint files and the hash of architecture signatures.
// Offset basis 0xcbf29ce484222325, prime 0x100000001b3, one byte at a time (the standard
// definition, so any other implementation reproduces it).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ctnn::io {

class Fnv1a64 {
public:
  static constexpr std::uint64_t offset_basis = 0xcbf29ce484222325ull;
  static constexpr std::uint64_t prime = 0x100000001b3ull;

  constexpr void update(const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = h_;
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= prime;
    }
    h_ = h;
  }
  constexpr void update(std::string_view s) noexcept {
    std::uint64_t h = h_;
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= prime;
    }
    h_ = h;
  }
  constexpr std::uint64_t value() const noexcept { return h_; }

private:
  std::uint64_t h_ = offset_basis;
};

inline std::uint64_t fnv1a64(const void* data, std::size_t n) noexcept {
  Fnv1a64 h;
  h.update(data, n);
  return h.value();
}

constexpr std::uint64_t fnv1a64(std::string_view s) noexcept {
  Fnv1a64 h;
  h.update(s);
  return h.value();
}

// Test vectors of the reference implementation.
static_assert(fnv1a64(std::string_view{}) == 0xcbf29ce484222325ull);
static_assert(fnv1a64(std::string_view{"a"}) == 0xaf63dc4c8601ec8cull);
static_assert(fnv1a64(std::string_view{"foobar"}) == 0x85944171f73967e8ull);

}  // namespace ctnn::io
