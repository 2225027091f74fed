#pragma once
// parameter.hpp's definitions (core/config.hpp: separate compilation).

#include "../parameter.hpp"

namespace ctnn {

CTNN_INLINE std::string architecture_signature(std::string_view architecture, std::span<const Parameter> params,
                                               std::span<const Buffer> buffers) {
  std::string s(architecture);
  s += '\n';
  for (const auto& p : params) s += "parameter " + p.name + ' ' + std::to_string(p.size) + '\n';
  for (const auto& b : buffers) s += "buffer " + b.name + ' ' + std::to_string(b.size) + '\n';
  return s;
}

CTNN_INLINE std::size_t Collector::timed_layer(std::string_view name, std::string what) {
  std::string path = prefix_;
  path += name;
  if (name.empty() && !path.empty()) path.pop_back();  // the scope itself: no trailing '.'
  timed_.push_back(TimedLayer{std::move(path), std::move(what)});
  return timed_.size() - 1;
}

}  // namespace ctnn
