#pragma once
// Checkpoints: a network's parameters and buffers, and optionally the optimizer state and the
// training state, in one architecture-checked, checksummed file that is replaced atomically.
//
//   ctnn::io::save_checkpoint(path, net, optimizer, state);            // everything needed to resume
//   ctnn::io::TrainingState s = ctnn::io::load_checkpoint(path, net, optimizer);
//   net.save(path);  net.load(path);                                   // parameters and buffers only
//   (ctnn::io::save_weights / load_weights are the free-function forms of the last two)
//
// Loading validates the whole file (magic, version, size, checksum, architecture, every section's
// name and size, every tensor's name and size) before it writes anything into the network or the
// optimizer, so a load that throws leaves both unchanged. (The optimizer's state() may allocate its
// zero state while the optimizer section is being checked; the values it already had do not change.)
// A file written by net.save() loads with load_weights only; a full checkpoint loads either way.
// Checkpoints hold float32 values and do not record the device: one written from the GPU loads on
// the CPU and the other way round.
//
// FILE FORMAT, version 1. Every integer is little-endian; u32/u64/f64 are 4/8/8 bytes; f32 is
// IEEE-754 binary32 and f64 binary64, both little-endian; str is a u64 byte length followed by
// that many bytes of UTF-8 (no terminator).
//
//   offset  size  field
//   0       8     magic: the bytes "CTNNCKPT"
//   8       4     u32 format version (1)
//   12      8     u64 file size in bytes, including the trailing checksum
//   20      8     u64 FNV-1a 64 hash of the architecture signature (see below)
//   28      ...   str architecture: Network::architecture(), e.g. "ResNet18<10> on 3x32x32"
//           8     u64 number of sections: 2 (weights) or 4 (full checkpoint)
//           ...   sections, in this order: "parameters", "buffers" [, "optimizer", "training"]
//   end-8   8     u64 checksum: FNV-1a 64 of every byte before it (offset 0 to end-8)
//
// Each section is
//           str   name
//           u64   size of the body in bytes
//           ...   body
// with these bodies (a tensor list is a u64 count, then per tensor: str name, u64 number of
// values n, then n f32 values):
//   parameters   tensor list, in Network::parameters() order ("0.weight", "1.running_mean", ...)
//   buffers      tensor list, in Network::buffers() order (batch-norm running statistics)
//   optimizer    u64 optimizer step count (Opt::steps), then the tensor list of Opt::state()
//   training     u64 epoch, u64 step, 4 x u64 random generator state (ctnn::Rng::State::s),
//                u64 count, then per entry: str key, f64 value    (TrainingState::metrics)
//                u64 count, then per entry: str key, str value    (TrainingState::notes)
//
// The architecture signature is the text
//   "<architecture>\n" then per parameter "parameter <name> <size>\n" then per buffer
//   "buffer <name> <size>\n"
// (Network::architecture_signature()); the file stores the first line and the hash of the whole.
//
// The optimizer contract (ctnn::SGD, ctnn::AdamW and any user optimizer):
//   std::vector<ctnn::Buffer> opt.state(std::span<ctnn::Parameter> params)
//       allocates the state for `params` if it does not exist yet and returns named buffers that
//       point into the optimizer's (device) memory, in a fixed order;
//   std::uint64_t opt.steps      the number of steps taken (restored on load).

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../core/random.hpp"
#include "checksum.hpp"
#include "file.hpp"

namespace ctnn::io {

inline constexpr char checkpoint_magic[8] = {'C', 'T', 'N', 'N', 'C', 'K', 'P', 'T'};
inline constexpr std::uint32_t checkpoint_version = 1;

// Where training stands, saved next to the network and optimizer state.
struct TrainingState {
  std::uint64_t epoch = 0;  // completed epochs (or whatever the training loop counts)
  std::uint64_t step = 0;   // completed optimizer steps
  Rng::State rng{};         // e.g. the data loader's generator, to resume the same sample order
  std::map<std::string, double> metrics;    // e.g. {"best_accuracy", 0.953}
  std::map<std::string, std::string> notes;  // e.g. {"schedule", "cosine"}
};

// What checkpointing needs from a network (ctnn::Network provides it).
template <class Net>
concept CheckpointNetwork = requires(Net& net, const Net& cnet) {
  typename Net::device;
  { Net::architecture() } -> std::convertible_to<std::string>;
  { net.parameters() } -> std::convertible_to<std::span<Parameter>>;
  { net.buffers() } -> std::convertible_to<std::span<Buffer>>;
  { cnet.parameters() } -> std::convertible_to<std::span<const Parameter>>;
  { cnet.buffers() } -> std::convertible_to<std::span<const Buffer>>;
};

// What checkpointing needs from an optimizer (see the contract above).
template <class Opt>
concept CheckpointOptimizer = requires(Opt& opt, std::span<Parameter> params, std::uint64_t n) {
  { opt.state(params) } -> std::convertible_to<std::vector<Buffer>>;
  { opt.steps } -> std::convertible_to<std::uint64_t>;
  opt.steps = n;
};

// The architecture signature described in the format notes.
inline std::string architecture_signature(std::string_view architecture, std::span<const Parameter> params,
                                          std::span<const Buffer> buffers) {
  std::string s(architecture);
  s += '\n';
  for (const auto& p : params) s += "parameter " + p.name + ' ' + std::to_string(p.size) + '\n';
  for (const auto& b : buffers) s += "buffer " + b.name + ' ' + std::to_string(b.size) + '\n';
  return s;
}

template <CheckpointNetwork Net>
std::string architecture_signature(const Net& net) {
  return architecture_signature(Net::architecture(), net.parameters(), net.buffers());
}

namespace detail {

using ctnn::detail::cat;

inline constexpr std::size_t header_size = 28;  // magic, version, file size, signature hash
// Header, architecture length, section count and checksum: no valid file is shorter.
inline constexpr std::size_t minimum_file_size = header_size + 8 + 8 + 8;
inline constexpr const char* section_names[4] = {"parameters", "buffers", "optimizer", "training"};

inline std::uint32_t byteswap32(std::uint32_t v) noexcept {
  return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

// ---- writing ---------------------------------------------------------------------------------

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

struct WriteInput {
  std::string architecture;
  std::uint64_t signature_hash = 0;
  std::span<const Parameter> parameters;
  std::span<const Buffer> buffers;
  bool full = false;  // optimizer and training sections too
  std::span<const Buffer> optimizer_state;
  std::uint64_t optimizer_steps = 0;
  const TrainingState* training = nullptr;
};

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

// ---- reading ---------------------------------------------------------------------------------

// Text read from a file (a name, the architecture), made safe to quote in an error message: bytes
// outside printable ASCII become \xNN and a backslash \\, so that a corrupt file cannot cut a
// message short (a NUL), split it (a newline) or send escape sequences to a terminal; at most 200
// bytes are shown.
inline std::string printable(std::string_view s) {
  constexpr std::size_t shown = 200;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char b[5];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
      out += b;
    }
  }
  if (s.size() > shown) out += cat("... (", s.size(), " bytes)");
  return out;
}

struct TensorRecord {
  std::string name;
  std::uint64_t count = 0;
  std::size_t offset = 0;  // byte offset of the values in the file
};

struct ParsedCheckpoint {
  std::string architecture;
  std::uint64_t signature_hash = 0;
  std::size_t sections = 0;
  std::vector<TensorRecord> parameters, buffers, optimizer;
  std::uint64_t optimizer_steps = 0;
  TrainingState training;
  bool full() const noexcept { return sections == 4; }
};

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

  [[noreturn]] void fail_need(std::uint64_t n, const std::string& what) const {
    if (ctx_.truncated && end_ == ctx_.file_end)
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx_.path, "' is truncated at byte offset ", ctx_.file_end,
                         ": expected ", what, " (", n, " bytes at byte offset ", pos_, ")",
                         ctx_.recorded_size ? cat("; its header records ", ctx_.recorded_size, " bytes") : std::string{});
    if (section_.empty())
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx_.path, "' is malformed: ", what, " (", n,
                         " bytes at byte offset ", pos_, ") runs past the end of the data at byte offset ", end_);
    ctnn::detail::fail("ctnn::io: checkpoint '", ctx_.path, "' is malformed: ", what, " (", n, " bytes at byte offset ",
                       pos_, ") runs past the end of section '", section_, "' at byte offset ", end_);
  }

private:
  const ParseContext& ctx_;
  std::size_t pos_;
  std::size_t end_;
  std::string section_;
};

inline void parse_tensors(Cursor& c, std::vector<TensorRecord>& out, const char* kind) {
  const std::uint64_t n = c.u64(cat("the number of ", kind, " tensors"));
  for (std::uint64_t i = 0; i < n; ++i) {
    TensorRecord r;
    r.name = c.str(cat("the name of ", kind, " ", i));
    const std::string shown = printable(r.name);
    r.count = c.u64(cat("the size of ", kind, " '", shown, "'"));
    r.offset = c.floats(r.count, cat("the ", r.count, " float32 values of ", kind, " '", shown, "'"));
    out.push_back(std::move(r));
  }
}

inline void parse_training(Cursor& c, TrainingState& t) {
  t.epoch = c.u64("the epoch");
  t.step = c.u64("the step");
  for (std::size_t i = 0; i < 4; ++i) t.rng.s[i] = c.u64(cat("word ", i, " of the random generator state"));
  const std::uint64_t metrics = c.u64("the number of metrics");
  for (std::uint64_t i = 0; i < metrics; ++i) {
    std::string key = c.str(cat("the name of metric ", i));
    const double v = c.f64(cat("the value of metric '", printable(key), "'"));
    t.metrics[std::move(key)] = v;
  }
  const std::uint64_t notes = c.u64("the number of notes");
  for (std::uint64_t i = 0; i < notes; ++i) {
    std::string key = c.str(cat("the name of note ", i));
    t.notes[std::move(key)] = c.str(cat("the text of note '", printable(key), "'"));
  }
}

// Everything after the fixed header fields, up to (not including) the checksum.
inline void parse_body(const ParseContext& ctx, Cursor& c, ParsedCheckpoint& out) {
  out.signature_hash = c.u64("the architecture signature hash");
  out.architecture = c.str("the architecture name");
  const std::size_t count_at = c.pos();
  const std::uint64_t sections = c.u64("the number of sections");
  if (sections != 2 && sections != 4)
    ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: it records ", sections,
                       " sections at byte offset ", count_at,
                       "; expected 2 (parameters, buffers) or 4 (parameters, buffers, optimizer, training)");
  out.sections = static_cast<std::size_t>(sections);
  for (std::size_t i = 0; i < out.sections; ++i) {
    const std::string expected = section_names[i];
    const std::size_t name_at = c.pos();
    const std::string name = c.str(cat("the name of section ", i + 1, " ('", expected, "')"));
    if (name != expected)
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: section ", i + 1, " at byte offset ",
                         name_at, " is named '", printable(name), "' but '", expected, "' was expected");
    const std::uint64_t size = c.u64(cat("the size of section '", name, "'"));
    const std::size_t begin = c.pos();
    const bool complete = size <= c.end() - begin;
    const std::size_t end = complete ? begin + static_cast<std::size_t>(size) : c.end();
    if (!complete && !(ctx.truncated && c.end() == ctx.file_end))
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: section '", name, "' at byte offset ",
                         begin, " records ", size, " bytes but only ", c.end() - begin, " remain");
    Cursor body(ctx, begin, end, complete ? name : std::string{});
    switch (i) {
      case 0: parse_tensors(body, out.parameters, "parameter"); break;
      case 1: parse_tensors(body, out.buffers, "buffer"); break;
      case 2:
        out.optimizer_steps = body.u64("the optimizer step count");
        parse_tensors(body, out.optimizer, "optimizer state");
        break;
      default: parse_training(body, out.training); break;
    }
    if (!complete) c.fail_need(size, cat("the ", size, "-byte body of section '", name, "'"));
    if (body.pos() != end)
      ctnn::detail::fail("ctnn::io: checkpoint '", ctx.path, "' is malformed: section '", name, "' records ", size,
                         " bytes but its contents end at byte offset ", body.pos(), ", ", end - body.pos(),
                         " bytes before its end");
    c.take(size, cat("the body of section '", name, "'"));
  }
}

inline std::string hex64(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Checks the file's structure, size and checksum; knows nothing about networks.
inline ParsedCheckpoint parse_checkpoint(const std::string& path, const std::vector<unsigned char>& bytes) {
  const std::size_t size = bytes.size();
  const std::size_t magic_present = std::min(size, sizeof checkpoint_magic);
  if (std::memcmp(bytes.data(), checkpoint_magic, magic_present) != 0) {
    std::string seen;
    for (std::size_t i = 0; i < magic_present; ++i) {
      char b[4];
      std::snprintf(b, sizeof b, "%02x", bytes[i]);
      if (i) seen += ' ';
      seen += b;
    }
    ctnn::detail::fail("ctnn::io: '", path, "' is not a ctnn checkpoint: it starts with the bytes ", seen,
                       " instead of the magic \"CTNNCKPT\"");
  }

  ParseContext ctx{path, bytes.data(), size, 0, true};
  Cursor c(ctx, 0, size);
  c.take(sizeof checkpoint_magic, "the 8-byte magic \"CTNNCKPT\"");
  const std::uint32_t version = c.u32("the format version");
  if (version != checkpoint_version)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' has format version ", version,
                       " but this build of ctnn reads version ", checkpoint_version);
  const std::uint64_t recorded = c.u64("the file size");
  if (recorded < minimum_file_size)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is corrupted: its header records a size of ", recorded,
                       " bytes, less than the ", minimum_file_size, " bytes of an empty checkpoint");
  if (recorded < size)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is corrupted: it is ", size,
                       " bytes long but its header records ", recorded, " bytes");

  ParsedCheckpoint out;
  if (recorded > size) {
    // Truncated: walk the structure as far as it goes to say what is missing.
    ctx.recorded_size = recorded;
    parse_body(ctx, c, out);
    c.u64("the checksum");
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is truncated at byte offset ", size, ": its header records ",
                       recorded, " bytes");
  }

  const std::size_t data_end = size - 8;
  Cursor sum_at(ctx, data_end, size);
  const std::uint64_t stored = sum_at.u64("the checksum");
  const std::uint64_t computed = fnv1a64(bytes.data(), data_end);
  if (stored != computed)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is corrupted: its checksum (FNV-1a 64 of bytes 0 to ",
                       data_end, ") is ", hex64(computed), " but the file records ", hex64(stored));

  ctx.truncated = false;
  Cursor body(ctx, c.pos(), data_end);
  parse_body(ctx, body, out);
  if (body.pos() != data_end)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' is malformed: ", data_end - body.pos(),
                       " unexpected bytes at byte offset ", body.pos(), " before the checksum");
  return out;
}

// ---- checking against a network / optimizer ----------------------------------------------------

template <class T>
void check_tensors(const std::string& path, const char* kind, const std::vector<TensorRecord>& records,
                   std::span<const T> expected, const char* owner) {
  if (records.size() != expected.size())
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' holds ", records.size(), " ", kind, " tensors but ",
                       owner, " has ", expected.size(),
                       records.empty() || expected.empty()
                           ? std::string{}
                           : cat(" (the first is '", printable(records[0].name), "' in the checkpoint and '", expected[0].name,
                                 "' in ", owner, ")"));
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    const auto& e = expected[i];
    if (r.name != e.name)
      ctnn::detail::fail("ctnn::io: checkpoint '", path, "': ", kind, " ", i, " is '", printable(r.name),
                         "' in the checkpoint but '", e.name, "' in ", owner);
    if (r.count != e.size)
      ctnn::detail::fail("ctnn::io: checkpoint '", path, "': ", kind, " '", r.name, "' holds ", r.count,
                         " values in the checkpoint but ", e.size, " in ", owner);
  }
}

template <class Net>
void check_network(const std::string& path, const ParsedCheckpoint& ckpt, const Net& net) {
  const std::string arch = Net::architecture();
  if (ckpt.architecture != arch)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' holds '", printable(ckpt.architecture),
                       "' but the network is '", arch, "'");
  check_tensors(path, "parameter", ckpt.parameters, std::span<const Parameter>(net.parameters()), "the network");
  check_tensors(path, "buffer", ckpt.buffers, std::span<const Buffer>(net.buffers()), "the network");
  const std::uint64_t hash = fnv1a64(architecture_signature(net));
  if (ckpt.signature_hash != hash)
    ctnn::detail::fail("ctnn::io: checkpoint '", path, "' records the architecture signature hash ",
                       hex64(ckpt.signature_hash), " but the network '", arch, "' has ", hex64(hash),
                       " although their parameters and buffers agree");
}

template <class D>
void upload_floats(float* dst, const unsigned char* src, std::size_t count) {
  if constexpr (std::endian::native == std::endian::little) {
    D::upload(dst, src, count * sizeof(float));
  } else {
    constexpr std::size_t chunk = std::size_t{1} << 16;
    std::vector<float> staging(std::min(count, chunk));
    for (std::size_t off = 0; off < count; off += chunk) {
      const std::size_t k = std::min(chunk, count - off);
      std::memcpy(staging.data(), src + off * sizeof(float), k * sizeof(float));
      for (std::size_t i = 0; i < k; ++i)
        staging[i] = std::bit_cast<float>(byteswap32(std::bit_cast<std::uint32_t>(staging[i])));
      D::upload(dst + off, staging.data(), k * sizeof(float));
    }
  }
}

template <class D, class T>
void upload_tensors(const std::vector<unsigned char>& bytes, const std::vector<TensorRecord>& records,
                    std::span<T> targets) {
  for (std::size_t i = 0; i < records.size(); ++i)
    upload_floats<D>(targets[i].value, bytes.data() + records[i].offset, static_cast<std::size_t>(records[i].count));
}

}  // namespace detail

// Writes the parameters and buffers of `net` to `path` (atomically; see the format notes).
template <CheckpointNetwork Net>
void save_weights(const std::string& path, const Net& net) {
  detail::WriteInput in;
  in.architecture = Net::architecture();
  in.signature_hash = fnv1a64(architecture_signature(net));
  in.parameters = net.parameters();
  in.buffers = net.buffers();
  detail::write_checkpoint<typename Net::device>(path, in);
}

// Loads parameters and buffers from a file written by save_weights or save_checkpoint. Throws
// ctnn::Error, leaving `net` unchanged, unless the file is intact and fits the network exactly.
template <CheckpointNetwork Net>
void load_weights(const std::string& path, Net& net) {
  const std::vector<unsigned char> bytes = read_file(path, "checkpoint");
  const detail::ParsedCheckpoint ckpt = detail::parse_checkpoint(path, bytes);
  detail::check_network(path, ckpt, std::as_const(net));
  using D = typename Net::device;
  detail::upload_tensors<D>(bytes, ckpt.parameters, std::span<Parameter>(net.parameters()));
  detail::upload_tensors<D>(bytes, ckpt.buffers, std::span<Buffer>(net.buffers()));
}

// Writes everything needed to resume training: parameters, buffers, the optimizer's state and
// step count, and `state`. The optimizer's state() is called for net.parameters() (it only reads
// them), which allocates zero state if the optimizer has not stepped yet.
// (In the optimizer contract above, state() may take std::span<const Parameter>, as ctnn::SGD and
// ctnn::AdamW do, or std::span<Parameter>.)
template <CheckpointNetwork Net, CheckpointOptimizer Opt>
void save_checkpoint(const std::string& path, const Net& net, Opt& optimizer, const TrainingState& state) {
  std::vector<Buffer> opt_state;
  if constexpr (requires { optimizer.state(std::span<const Parameter>(net.parameters())); })
    opt_state = optimizer.state(std::span<const Parameter>(net.parameters()));
  else  // an optimizer whose state() takes mutable parameters; it only reads them
    opt_state = optimizer.state(std::span<Parameter>(const_cast<Net&>(net).parameters()));
  detail::WriteInput in;
  in.architecture = Net::architecture();
  in.signature_hash = fnv1a64(architecture_signature(net));
  in.parameters = net.parameters();
  in.buffers = net.buffers();
  in.full = true;
  in.optimizer_state = opt_state;
  in.optimizer_steps = static_cast<std::uint64_t>(optimizer.steps);
  in.training = &state;
  detail::write_checkpoint<typename Net::device>(path, in);
}

// Restores a checkpoint written by save_checkpoint into `net` and `optimizer` and returns the
// training state. Throws ctnn::Error, leaving both unchanged, unless the file is intact and fits
// the network and the optimizer exactly.
template <CheckpointNetwork Net, CheckpointOptimizer Opt>
TrainingState load_checkpoint(const std::string& path, Net& net, Opt& optimizer) {
  const std::vector<unsigned char> bytes = read_file(path, "checkpoint");
  detail::ParsedCheckpoint ckpt = detail::parse_checkpoint(path, bytes);
  detail::check_network(path, ckpt, std::as_const(net));
  if (!ckpt.full())
    ctnn::detail::fail("ctnn::io: checkpoint '", path,
                       "' holds only parameters and buffers (it was written by Network::save / save_weights), "
                       "no optimizer or training state to resume from; load it with Network::load");
  const std::vector<Buffer> opt_state = optimizer.state(std::span<Parameter>(net.parameters()));
  detail::check_tensors(path, "optimizer state", ckpt.optimizer, std::span<const Buffer>(opt_state), "the optimizer");

  using D = typename Net::device;
  detail::upload_tensors<D>(bytes, ckpt.parameters, std::span<Parameter>(net.parameters()));
  detail::upload_tensors<D>(bytes, ckpt.buffers, std::span<Buffer>(net.buffers()));
  detail::upload_tensors<D>(bytes, ckpt.optimizer, std::span<const Buffer>(opt_state));
  optimizer.steps = static_cast<std::remove_cvref_t<decltype(optimizer.steps)>>(ckpt.optimizer_steps);
  return std::move(ckpt.training);
}

}  // namespace ctnn::io
