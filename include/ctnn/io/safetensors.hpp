#pragma once
// safetensors (the Hugging Face weight format) for any network, both ways:
//   bytes 0-7   u64 little-endian N, the length of the header
//   bytes 8..   N bytes of JSON: {"<name>": {"dtype": "F32", "shape": [64, 3, 3, 3],
//               "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value", ...}}
//   then        the data; offsets are relative to its start, little-endian values, row-major.
//
//   ctnn::io::save_safetensors("net.safetensors", net);                      // F32 (or BF16, F16)
//   ctnn::io::load_safetensors("resnet18.safetensors", net, {.map = &map});  // names through a map
//   auto report = ctnn::io::load_safetensors(path, net, {.map = &map, .strict = false});
//
// Tensors are the network's parameters and buffers (batch-norm running statistics) with PyTorch's
// shapes. A NameMap translates ctnn's names ("3.0.0.main.0.weight") to the file's
// ("layer1.0.conv1.weight"); name_maps.hpp builds them for the common ResNets, and a user writes one
// as a table. F32, BF16, F16 and F64 tensors load, converted to float; a file may hold tensors of
// the format's other dtypes beside them (PyTorch's I64 num_batches_tracked, which a save through a
// map writes too). Loading validates the whole file
// first (the header length, the JSON, every entry's dtype, shape and offsets inside the data,
// entries that overlap or leave bytes unused) with errors naming the file, the byte offset and the
// tensor. A strict load (the default) changes nothing unless every tensor of the network is in the
// file with its shape and the file holds nothing else (PyTorch's num_batches_tracked is ignored);
// a non-strict load (PyTorch's strict=False) loads the tensors whose names and shapes match and
// reports the missing, unexpected and mismatched ones.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "checkpoint.hpp"
#include "file.hpp"
#include "json.hpp"

namespace ctnn::io {

// Every dtype of the format, so that any valid file parses; F32, BF16, F16 and F64 load into the
// network (converted to float), the others (integers, booleans, 8-bit floats: e.g. PyTorch's I64
// num_batches_tracked) may sit in a file beside them. A save writes F32, BF16 or F16.
enum class Dtype { f32, bf16, f16, f64, f8_e4m3, f8_e5m2, i8, u8, boolean, i16, u16, i32, u32, i64, u64 };

namespace detail {
struct DtypeInfo {
  Dtype dtype;
  const char* name;
  std::size_t bytes;
};
inline constexpr DtypeInfo dtypes[] = {
    {Dtype::f32, "F32", 4},         {Dtype::bf16, "BF16", 2}, {Dtype::f16, "F16", 2}, {Dtype::f64, "F64", 8},
    {Dtype::f8_e4m3, "F8_E4M3", 1}, {Dtype::f8_e5m2, "F8_E5M2", 1}, {Dtype::i8, "I8", 1}, {Dtype::u8, "U8", 1},
    {Dtype::boolean, "BOOL", 1},    {Dtype::i16, "I16", 2},   {Dtype::u16, "U16", 2}, {Dtype::i32, "I32", 4},
    {Dtype::u32, "U32", 4},         {Dtype::i64, "I64", 8},   {Dtype::u64, "U64", 8}};
inline const DtypeInfo& info(Dtype d) {
  for (const auto& i : dtypes)
    if (i.dtype == d) return i;
  return dtypes[0];
}
}  // namespace detail

inline const char* dtype_name(Dtype d) { return detail::info(d).name; }
inline std::size_t dtype_bytes(Dtype d) { return detail::info(d).bytes; }
// Whether tensors of this dtype load into the network's (float) tensors.
inline bool loads_as_float(Dtype d) { return d == Dtype::f32 || d == Dtype::bf16 || d == Dtype::f16 || d == Dtype::f64; }

namespace detail {

inline float bf16_to_float(std::uint16_t v) { return std::bit_cast<float>(std::uint32_t{v} << 16); }

inline float f16_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      std::uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      bits = sign | std::uint32_t(127 - 15 - e) << 23 | (m & 0x3FFu) << 13;
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

// Round to nearest even; NaN stays NaN.
inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
  return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

inline std::uint16_t float_to_f16(float f) {
  const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  const std::uint32_t abs = b & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;                  // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;                 // overflows to infinity (>= 65520)
  if (abs < 0x38800000u) {                                       // subnormal or zero in f16
    if (abs < 0x33000000u) return sign;                          // below half the smallest subnormal
    const std::uint32_t e = abs >> 23, m = (abs & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t s = 126 - e;                             // value = m * 2^(e - 150) = q * 2^-24
    const std::uint32_t q = m >> s, r = m & ((1u << s) - 1), half = 1u << (s - 1);
    return sign | static_cast<std::uint16_t>(q + (r > half || (r == half && (q & 1u))));
  }
  const std::uint32_t r = abs + 0xFFFu + ((abs >> 13) & 1u) - 0x38000000u;  // rebias 127 -> 15, round
  return sign | static_cast<std::uint16_t>(r >> 13);
}

}  // namespace detail

// ctnn name -> name in the file. A name the table does not list is used as it is.
struct NameMap {
  std::vector<std::pair<std::string, std::string>> names;
  std::string file_name(const std::string& ctnn_name) const {
    for (const auto& [c, f] : names)
      if (c == ctnn_name) return f;
    return ctnn_name;
  }
};

struct SafetensorsEntry {
  std::string name;
  Dtype dtype = Dtype::f32;
  std::vector<std::size_t> shape;
  std::size_t begin = 0, end = 0;  // byte offsets in the file
  std::size_t values() const {
    std::size_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
};

// A safetensors file read and checked (see the top of this header).
struct SafetensorsFile {
  std::string path;
  std::vector<unsigned char> bytes;
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;

  static SafetensorsFile read(const std::string& path) { return parse(read_file(path, "safetensors file"), path); }

  static SafetensorsFile parse(std::vector<unsigned char> bytes, const std::string& path) {
    SafetensorsFile f;
    f.path = path;
    f.bytes = std::move(bytes);
    const std::string who = "ctnn::io: safetensors '" + path + "'";
    const std::size_t size = f.bytes.size();
    if (size < 8) ctnn::detail::fail(who, " is truncated at byte offset ", size, ": expected the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | f.bytes[static_cast<std::size_t>(i)];
    if (n > size - 8)
      ctnn::detail::fail(who, " records a header of ", n, " bytes (byte offset 0) but only ", size - 8,
                         " bytes follow: the file is truncated or not a safetensors file");
    const std::size_t data = 8 + static_cast<std::size_t>(n);
    const json::Value root = json::parse(
        std::string_view(reinterpret_cast<const char*>(f.bytes.data()) + 8, static_cast<std::size_t>(n)), who, 8);
    if (root.kind != json::Value::Kind::object) ctnn::detail::fail(who, ": the header at byte offset 8 is not a JSON object");
    for (const auto& [name, v] : root.members) {
      const std::string what = who + ": tensor '" + printable(name) + "' (header byte offset " + std::to_string(v.offset) + ")";
      if (name == "__metadata__") {
        if (v.kind != json::Value::Kind::object) ctnn::detail::fail(who, ": __metadata__ is not an object");
        for (const auto& [k, m] : v.members) {
          if (m.kind != json::Value::Kind::string) ctnn::detail::fail(who, ": __metadata__ value '", printable(k), "' is not a string");
          f.metadata[k] = m.text;
        }
        continue;
      }
      if (v.kind != json::Value::Kind::object) ctnn::detail::fail(what, " is not an object");
      const json::Value* dt = v.find("dtype");
      const json::Value* shape = v.find("shape");
      const json::Value* offsets = v.find("data_offsets");
      if (!dt || dt->kind != json::Value::Kind::string) ctnn::detail::fail(what, " has no dtype string");
      if (!shape || shape->kind != json::Value::Kind::array) ctnn::detail::fail(what, " has no shape array");
      if (!offsets || offsets->kind != json::Value::Kind::array || offsets->items.size() != 2)
        ctnn::detail::fail(what, " has no data_offsets [begin, end]");
      SafetensorsEntry e;
      e.name = name;
      const auto known = std::find_if(std::begin(detail::dtypes), std::end(detail::dtypes),
                                      [&](const detail::DtypeInfo& i) { return dt->text == i.name; });
      if (known == std::end(detail::dtypes))
        ctnn::detail::fail(what, " has dtype ", printable(dt->text), ", which is not a safetensors dtype (F32, BF16, F16, F64, I64, ...)");
      e.dtype = known->dtype;
      std::size_t elements = 1, bytes_needed = 0;  // a shape whose size overflows could pass the size check below
      for (const auto& d : shape->items) {
        e.shape.push_back(count(d, what, "a dimension"));
        if (__builtin_mul_overflow(elements, e.shape.back(), &elements) ||
            __builtin_mul_overflow(elements, dtype_bytes(e.dtype), &bytes_needed))
          ctnn::detail::fail(what, " has a shape whose size overflows 64 bits (at dimension ", e.shape.size() - 1, " = ",
                             e.shape.back(), ")");
      }
      const std::size_t begin = count(offsets->items[0], what, "data_offsets[0]");
      const std::size_t end = count(offsets->items[1], what, "data_offsets[1]");
      if (begin > end || end > size - data)
        ctnn::detail::fail(what, " has data_offsets [", begin, ", ", end, "] outside the ", size - data,
                           " data bytes (file byte offsets ", data, "..", size, ")");
      if (end - begin != e.values() * dtype_bytes(e.dtype))
        ctnn::detail::fail(what, " holds ", end - begin, " bytes but its shape and dtype need ", e.values() * dtype_bytes(e.dtype));
      e.begin = data + begin;
      e.end = data + end;
      f.entries.push_back(std::move(e));
    }
    // Entries must not overlap and must cover the data exactly.
    std::vector<const SafetensorsEntry*> sorted;
    for (const auto& e : f.entries) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    std::size_t at = data;
    for (const auto* e : sorted) {
      if (e->begin < at)
        ctnn::detail::fail(who, ": tensor '", printable(e->name), "' (bytes ", e->begin, "..", e->end,
                           ") overlaps the tensor before it (which ends at byte offset ", at, ")");
      if (e->begin > at)
        ctnn::detail::fail(who, ": bytes ", at, "..", e->begin, " belong to no tensor");
      at = e->end;
    }
    if (at != size) ctnn::detail::fail(who, ": bytes ", at, "..", size, " after the last tensor belong to no tensor");
    return f;
  }

  const SafetensorsEntry* find(const std::string& name) const {
    for (const auto& e : entries)
      if (e.name == name) return &e;
    return nullptr;
  }

  // The values of `e` as float (little-endian in the file); e.dtype must load as float.
  void to_float(const SafetensorsEntry& e, float* out) const {
    if (!loads_as_float(e.dtype))
      ctnn::detail::fail("ctnn::io: safetensors '", path, "': tensor '", printable(e.name), "' has dtype ", dtype_name(e.dtype),
                         ", which does not convert to float");
    const unsigned char* p = bytes.data() + e.begin;
    const std::size_t n = e.values();
    for (std::size_t i = 0; i < n; ++i) {
      if (e.dtype == Dtype::f32) {
        std::uint32_t v = 0;
        for (int k = 3; k >= 0; --k) v = (v << 8) | p[i * 4 + std::size_t(k)];
        out[i] = std::bit_cast<float>(v);
      } else if (e.dtype == Dtype::f64) {
        std::uint64_t v = 0;
        for (int k = 7; k >= 0; --k) v = (v << 8) | p[i * 8 + std::size_t(k)];
        out[i] = static_cast<float>(std::bit_cast<double>(v));
      } else {
        const std::uint16_t v = static_cast<std::uint16_t>(p[i * 2] | (p[i * 2 + 1] << 8));
        out[i] = e.dtype == Dtype::bf16 ? detail::bf16_to_float(v) : detail::f16_to_float(v);
      }
    }
  }

private:
  static std::size_t count(const json::Value& v, const std::string& what, const char* field) {
    if (v.kind != json::Value::Kind::number || v.text.empty() || v.text.find_first_not_of("0123456789") != std::string::npos ||
        v.text.size() > 15)
      ctnn::detail::fail(what, ": ", field, " is not a whole number below 10^15 (", printable(v.text), ")");
    return static_cast<std::size_t>(std::stoull(v.text));
  }
  static std::string printable(std::string_view s) { return detail::printable(s); }
};

struct SafetensorsOptions {
  const NameMap* map = nullptr;   // ctnn names -> the file's; nullptr: ctnn's own names
  bool strict = true;             // every network tensor present with its shape, nothing else in the file
  Dtype dtype = Dtype::f32;       // what save writes: F32, BF16 or F16
  std::vector<std::string> ignore = {"num_batches_tracked"};  // file tensors whose names end so are skipped
  // A save through a map also writes, for every batch norm, PyTorch's <module>.num_batches_tracked
  // (I64, shape [], 0: ctnn does not count batches, and PyTorch reads the count only with
  // momentum=None), so that PyTorch's strict load_state_dict accepts the file.
  bool num_batches_tracked = true;
};

// What a load did; with strict = true a load that returns loaded everything.
struct LoadReport {
  std::vector<std::string> loaded;      // network names
  std::vector<std::string> missing;     // network tensors the file lacks (network names -> file names in the message)
  std::vector<std::string> mismatched;  // in both, of another shape ("name: file [..] network [..]")
  std::vector<std::string> unexpected;  // file tensors the network does not have (file names)
  bool complete() const { return missing.empty() && mismatched.empty() && unexpected.empty(); }
};

namespace detail {

inline std::string shape_text(const std::vector<std::size_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

inline bool ignored(const std::string& name, const std::vector<std::string>& suffixes) {
  for (const auto& s : suffixes)
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  return false;
}

}  // namespace detail

template <CheckpointNetwork Net>
void save_safetensors(const std::string& path, const Net& net, const SafetensorsOptions& o = {}) {
  using D = typename Net::device;
  if (o.dtype != Dtype::f32 && o.dtype != Dtype::bf16 && o.dtype != Dtype::f16)
    ctnn::detail::fail("ctnn::io::save_safetensors: writes F32, BF16 or F16, not ", dtype_name(o.dtype), " ('", path, "')");
  struct Item {
    std::string name;
    const float* value;  // nullptr: a num_batches_tracked counter (I64 0)
    std::size_t size;
    std::vector<std::size_t> shape;
  };
  std::vector<Item> items;
  for (const auto& p : net.parameters()) items.push_back({o.map ? o.map->file_name(p.name) : p.name, p.value, p.size, shape_of(p)});
  for (const auto& b : net.buffers()) items.push_back({o.map ? o.map->file_name(b.name) : b.name, b.value, b.size, shape_of(b)});
  if (o.map && o.num_batches_tracked) {
    const std::string mean = "running_mean";
    for (const auto& b : net.buffers()) {
      const std::string f = o.map->file_name(b.name);
      if (f.size() >= mean.size() && f.compare(f.size() - mean.size(), mean.size(), mean) == 0)
        items.push_back({f.substr(0, f.size() - mean.size()) + "num_batches_tracked", nullptr, 1, {}});
    }
  }
  std::string header = "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"ctnn\",\"architecture\":";
  header += json::quote(Net::architecture());
  header += '}';
  std::size_t offset = 0;
  for (const auto& it : items) {
    const Dtype dtype = it.value ? o.dtype : Dtype::i64;
    const std::size_t bytes = it.size * dtype_bytes(dtype);
    // Appended piece by piece (g++ 12 warns falsely about chained string operator+).
    header += ',';
    header += json::quote(it.name);
    header += ":{\"dtype\":\"";
    header += dtype_name(dtype);
    header += "\",\"shape\":[";
    for (std::size_t i = 0; i < it.shape.size(); ++i) {
      if (i) header += ',';
      header += std::to_string(it.shape[i]);
    }
    header += "],\"data_offsets\":[";
    header += std::to_string(offset);
    header += ',';
    header += std::to_string(offset + bytes);
    header += "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8) header += ' ';  // the data starts 8-byte aligned, as the reference writer does
  AtomicFileWriter file(path, "safetensors file");
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(std::uint64_t(header.size()) >> (8 * i));
  file.write(len, 8);
  file.write(header.data(), header.size());
  std::vector<float> host;
  std::vector<unsigned char> out;
  for (const auto& it : items) {
    if (!it.value) {
      const unsigned char zero[8] = {};
      file.write(zero, 8);
      continue;
    }
    host.resize(it.size);
    D::download(host.data(), it.value, it.size * sizeof(float));
    out.resize(it.size * dtype_bytes(o.dtype));
    for (std::size_t i = 0; i < it.size; ++i) {
      if (o.dtype == Dtype::f32) {
        const std::uint32_t v = std::bit_cast<std::uint32_t>(host[i]);
        for (int k = 0; k < 4; ++k) out[i * 4 + std::size_t(k)] = static_cast<unsigned char>(v >> (8 * k));
      } else {
        const std::uint16_t v = o.dtype == Dtype::bf16 ? detail::float_to_bf16(host[i]) : detail::float_to_f16(host[i]);
        out[i * 2] = static_cast<unsigned char>(v);
        out[i * 2 + 1] = static_cast<unsigned char>(v >> 8);
      }
    }
    file.write(out.data(), out.size());
  }
  file.commit();
}

template <CheckpointNetwork Net>
LoadReport load_safetensors(const std::string& path, Net& net, const SafetensorsOptions& o = {}) {
  using D = typename Net::device;
  const SafetensorsFile f = SafetensorsFile::read(path);
  struct Target {
    std::string name, file_name;
    float* value;
    std::size_t size;
    std::vector<std::size_t> shape;
  };
  std::vector<Target> targets;
  for (auto& p : net.parameters()) targets.push_back({p.name, o.map ? o.map->file_name(p.name) : p.name, p.value, p.size, shape_of(p)});
  for (auto& b : net.buffers()) targets.push_back({b.name, o.map ? o.map->file_name(b.name) : b.name, b.value, b.size, shape_of(b)});

  LoadReport report;
  std::vector<std::pair<const Target*, const SafetensorsEntry*>> plan;
  std::vector<bool> used(f.entries.size(), false);
  for (const auto& t : targets) {
    const SafetensorsEntry* e = f.find(t.file_name);
    if (!e) {
      report.missing.push_back(t.name == t.file_name ? t.name : t.name + " (file name " + t.file_name + ")");
      continue;
    }
    used[static_cast<std::size_t>(e - f.entries.data())] = true;
    if (e->shape != t.shape) {
      report.mismatched.push_back(t.name + ": " + detail::shape_text(e->shape) + " in the file, " + detail::shape_text(t.shape) +
                                  " in the network");
      continue;
    }
    if (!loads_as_float(e->dtype)) {
      report.mismatched.push_back(t.name + ": dtype " + dtype_name(e->dtype) + " in the file, which does not convert to float");
      continue;
    }
    plan.emplace_back(&t, e);
  }
  for (std::size_t i = 0; i < f.entries.size(); ++i)
    if (!used[i] && !detail::ignored(f.entries[i].name, o.ignore)) report.unexpected.push_back(f.entries[i].name);
  if (o.strict && !report.complete()) {
    const std::string who = "ctnn::io: safetensors '" + path + "' does not fit the network '" + Net::architecture() + "': ";
    if (!report.mismatched.empty())
      ctnn::detail::fail(who, "tensor ", report.mismatched[0], " (", report.mismatched.size(), " such)");
    if (!report.missing.empty())
      ctnn::detail::fail(who, "it has no tensor for ", report.missing[0], " (", report.missing.size(),
                         " missing; a name map translates ctnn's names to the file's)");
    ctnn::detail::fail(who, "it holds '", detail::printable(report.unexpected[0]), "', which the network does not have (",
                       report.unexpected.size(), " such; load with strict = false to skip them)");
  }
  std::vector<float> host;
  for (const auto& [t, e] : plan) {
    host.resize(t->size);
    f.to_float(*e, host.data());
    D::upload(t->value, host.data(), t->size * sizeof(float));
    report.loaded.push_back(t->name);
  }
  return report;
}

}  // namespace ctnn::io
