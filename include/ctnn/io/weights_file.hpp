#pragma once
// One entry point for every weight format ctnn reads and writes, for programs that take a file
// name from their user (the example's --weights, --export-onnx and --export-safetensors):
//
//   ctnn::io::load_weights_file("resnet18.safetensors", net, {.name_map = "pytorch-cifar"});
//   ctnn::io::save_weights_file("resnet18.onnx", net);
//
// A load recognises the format by the file's first bytes, whatever its name:
//   ctnn        a ctnn weights file or full checkpoint (the magic "CTNNCKPT"); io::load_weights
//   safetensors an 8-byte little-endian header length that fits the file, then '{'; io::load_safetensors
//   ONNX        a protobuf ModelProto, which starts with field 1 (ir_version); io::import_onnx
// A save picks the format by the extension (".onnx", ".safetensors", anything else ctnn's) unless
// the options name one.
// The name map ("ctnn": none, "pytorch-cifar", "torchvision"; io/name_maps.hpp) translates the
// names of a safetensors file, read or written. The other formats need none (a ctnn file holds
// ctnn's names, ONNX import matches the graph, not the names) and ignore it, so that one program
// option can name the map for whichever of its files is a safetensors one.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include "../core/error.hpp"
#include "checkpoint.hpp"
#include "name_maps.hpp"
#include "onnx.hpp"
#include "safetensors.hpp"

namespace ctnn::io {

enum class WeightFormat { ctnn, safetensors, onnx };

inline const char* format_name(WeightFormat f) {
  return f == WeightFormat::ctnn ? "ctnn checkpoint" : f == WeightFormat::safetensors ? "safetensors" : "ONNX";
}

struct WeightFileOptions {
  std::string name_map = "ctnn";  // safetensors names: "ctnn", "pytorch-cifar" or "torchvision"
  bool strict = true;             // safetensors: every tensor present and nothing else (see LoadReport)
  Dtype dtype = Dtype::f32;       // what a safetensors save writes
  std::optional<WeightFormat> format = std::nullopt;  // a save in this format whatever the extension (e.g. --export-onnx model.bin)
};

// The format of an existing file, from its first bytes.
inline WeightFormat detect_weight_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) ctnn::detail::fail("ctnn::io: cannot open weights file '", path, "'");
  const auto size = static_cast<std::uint64_t>(in.tellg());
  std::array<unsigned char, 9> head{};
  in.seekg(0);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(std::min<std::uint64_t>(size, head.size())));
  if (size >= 8 && std::equal(head.begin(), head.begin() + 8, checkpoint_magic)) return WeightFormat::ctnn;
  if (size >= 9) {
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | head[std::size_t(i)];
    if (header >= 2 && header <= size - 8 && head[8] == '{') return WeightFormat::safetensors;
  }
  if (size >= 2 && head[0] == 0x08) return WeightFormat::onnx;
  ctnn::detail::fail("ctnn::io: '", path, "' (", size, " bytes) is none of the weight formats ctnn reads: expected a ctnn ",
                     "checkpoint (starting \"CTNNCKPT\"), a safetensors file (an 8-byte header length, then '{') or an ",
                     "ONNX model (starting with byte 0x08, its ir_version field)");
}

// The format a save writes for `path`, by its extension.
inline WeightFormat weight_format_for(const std::string& path) {
  auto ends_with = [&](const char* ext) {
    const std::string e(ext);
    return path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends_with(".onnx")) return WeightFormat::onnx;
  if (ends_with(".safetensors")) return WeightFormat::safetensors;
  return WeightFormat::ctnn;
}

namespace detail {

// The NameMap for `name` (nullopt for "ctnn", or for a file that is not safetensors).
template <class Net>
std::optional<NameMap> name_map_for(const std::string& call, const std::string& path, WeightFormat format, const Net& net,
                                    const std::string& name) {
  if (name == "ctnn" || name.empty()) return std::nullopt;
  if (name != "pytorch-cifar" && name != "torchvision")
    ctnn::detail::fail(call, ": unknown name map '", detail::printable(name), "' for '", path,
                       "': expected ctnn, pytorch-cifar or torchvision");
  if (format != WeightFormat::safetensors) return std::nullopt;
  return name_maps::resnet(net, name == "torchvision" ? name_maps::Convention::torchvision : name_maps::Convention::pytorch_cifar);
}

}  // namespace detail

// Loads weights from a file in any of the formats above. The report lists what a non-strict
// safetensors load skipped; the other formats load everything or throw, leaving `net` unchanged.
template <CheckpointNetwork Net>
LoadReport load_weights_file(const std::string& path, Net& net, const WeightFileOptions& o = {}) {
  const WeightFormat format = detect_weight_format(path);
  const std::optional<NameMap> map = detail::name_map_for("ctnn::io::load_weights_file", path, format, std::as_const(net), o.name_map);
  if (format == WeightFormat::safetensors)
    return load_safetensors(path, net, {.map = map ? &*map : nullptr, .strict = o.strict});
  if (format == WeightFormat::onnx) import_onnx(path, net);
  else load_weights(path, net);
  LoadReport all;
  for (const auto& p : net.parameters()) all.loaded.push_back(p.name);
  for (const auto& b : net.buffers()) all.loaded.push_back(b.name);
  return all;
}

// Writes the weights in o.format, or else the format that `path`'s extension names; returns it.
template <CheckpointNetwork Net>
WeightFormat save_weights_file(const std::string& path, const Net& net, const WeightFileOptions& o = {}) {
  const WeightFormat format = o.format.value_or(weight_format_for(path));
  const std::optional<NameMap> map = detail::name_map_for("ctnn::io::save_weights_file", path, format, net, o.name_map);
  if (format == WeightFormat::safetensors) save_safetensors(path, net, {.map = map ? &*map : nullptr, .dtype = o.dtype});
  else if (format == WeightFormat::onnx) export_onnx(path, net);
  else save_weights(path, net);
  return format;
}

}  // namespace ctnn::io
