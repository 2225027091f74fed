#pragma once
// Writing a checkpoint: little-endian byte sinks (one that only counts, so that sizes can be
// written before what they describe, and one that writes to a file and checksums it) and the file
// layout of format.hpp.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <span>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../core/transfer.hpp"
#include "checksum.hpp"
#include "file.hpp"
#include "format.hpp"

namespace ctnn::io::detail {

// A sink that only counts, so that sizes can be written before the data they describe.
struct ByteCounter {
  std::uint64_t n = 0;
  void bytes(const void*, std::size_t k) noexcept { n += k; }
  template <class D>
  void floats(const float*, std::size_t count) noexcept {
    n += std::uint64_t{count} * 4;
  }
};

// A sink that writes to a file and checksums what it writes.
class ChecksummedSink {
public:
  explicit ChecksummedSink(AtomicFileWriter& file) : file_(file) {}

  void bytes(const void* p, std::size_t n) {
    hash_.update(p, n);
    file_.write(p, n);
    n_ += n;
  }

  // `count` float32 values from memory of device D, written little-endian.
  template <class D>
  void floats(const float* src, std::size_t count) {
    if constexpr (is_host_device_v<D> && std::endian::native == std::endian::little) {
      bytes(src, count * sizeof(float));
    } else {
      constexpr std::size_t chunk = std::size_t{1} << 16;
      staging_.resize(std::min(count, chunk));
      for (std::size_t off = 0; off < count; off += chunk) {
        const std::size_t k = std::min(chunk, count - off);
        D::download(staging_.data(), src + off, k * sizeof(float));
        if constexpr (std::endian::native == std::endian::big)
          for (std::size_t i = 0; i < k; ++i)
            staging_[i] = std::bit_cast<float>(byteswap32(std::bit_cast<std::uint32_t>(staging_[i])));
        bytes(staging_.data(), k * sizeof(float));
      }
    }
  }

  std::uint64_t size() const noexcept { return n_; }
  std::uint64_t checksum() const noexcept { return hash_.value(); }

private:
  AtomicFileWriter& file_;
  Fnv1a64 hash_;
  std::uint64_t n_ = 0;
  std::vector<float> staging_;
};

inline void encode_u64(unsigned char* b, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
}

template <class S>
void put_u32(S& s, std::uint32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  s.bytes(b, 4);
}
template <class S>
void put_u64(S& s, std::uint64_t v) {
  unsigned char b[8];
  encode_u64(b, v);
  s.bytes(b, 8);
}
template <class S>
void put_f64(S& s, double v) {
  put_u64(s, std::bit_cast<std::uint64_t>(v));
}
template <class S>
void put_string(S& s, std::string_view v) {
  put_u64(s, v.size());
  s.bytes(v.data(), v.size());
}

template <class D, class S, class T>
void put_tensors(S& s, std::span<const T> list) {
  put_u64(s, list.size());
  for (const auto& t : list) {
    put_string(s, t.name);
    put_u64(s, t.size);
    s.template floats<D>(t.value, t.size);
  }
}

// A section: its name, the size of its body (measured with a ByteCounter first), the body.
template <class S, class Body>
void put_section(S& s, std::string_view name, Body&& body) {
  ByteCounter counter;
  body(counter);
  put_string(s, name);
  put_u64(s, counter.n);
  body(s);
}

template <class D, class S>
void put_checkpoint(S& s, const WriteInput& in, std::uint64_t file_size) {
  s.bytes(checkpoint_magic, sizeof checkpoint_magic);
  put_u32(s, checkpoint_version);
  put_u64(s, file_size);
  put_u64(s, in.signature_hash);
  put_string(s, in.architecture);
  put_u64(s, in.full ? 4 : 2);
  put_section(s, section_names[0], [&](auto& t) { put_tensors<D>(t, in.parameters); });
  put_section(s, section_names[1], [&](auto& t) { put_tensors<D>(t, in.buffers); });
  if (!in.full) return;
  put_section(s, section_names[2], [&](auto& t) {
    put_u64(t, in.optimizer_steps);
    put_tensors<D>(t, in.optimizer_state);
  });
  put_section(s, section_names[3], [&](auto& t) {
    const TrainingState& ts = *in.training;
    put_u64(t, ts.epoch);
    put_u64(t, ts.step);
    for (std::uint64_t w : ts.rng.s) put_u64(t, w);
    put_u64(t, ts.metrics.size());
    for (const auto& [k, v] : ts.metrics) {
      put_string(t, k);
      put_f64(t, v);
    }
    put_u64(t, ts.notes.size());
    for (const auto& [k, v] : ts.notes) {
      put_string(t, k);
      put_string(t, v);
    }
  });
}

template <class T>
void check_pointers(const std::string& path, const char* kind, std::span<const T> list) {
  for (const auto& t : list)
    if (t.size != 0 && t.value == nullptr)
      ctnn::detail::fail("ctnn::io: cannot write checkpoint '", path, "': ", kind, " '", t.name, "' has ", t.size,
                         " values but no memory");
}

template <class D>
void write_checkpoint(const std::string& path, const WriteInput& in) {
  check_pointers(path, "parameter", in.parameters);
  check_pointers(path, "buffer", in.buffers);
  check_pointers(path, "optimizer state", in.optimizer_state);
  ByteCounter counter;
  put_checkpoint<D>(counter, in, 0);
  const std::uint64_t file_size = counter.n + 8;

  AtomicFileWriter file(path, "checkpoint");
  ChecksummedSink sink(file);
  put_checkpoint<D>(sink, in, file_size);
  if (sink.size() + 8 != file_size)
    ctnn::detail::fail("ctnn::io: internal error writing checkpoint '", path, "': wrote ", sink.size() + 8,
                       " bytes but measured ", file_size);
  unsigned char sum[8];
  encode_u64(sum, sink.checksum());
  file.write(sum, 8);
  file.commit();
}

}  // namespace ctnn::io::detail
