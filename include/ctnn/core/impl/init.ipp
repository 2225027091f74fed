#pragma once
// init.hpp's definitions (core/config.hpp: separate compilation).

#include "../init.hpp"

namespace ctnn {

CTNN_INLINE std::vector<Parameter> freeze(std::span<const Parameter> params, const std::vector<std::string>& prefixes) {
  std::vector<Parameter> out(params.begin(), params.end());
  std::size_t frozen = 0;
  for (auto& p : out)
    for (const auto& f : prefixes)
      if (p.name.rfind(f, 0) == 0) {
        p.grad = nullptr;
        ++frozen;
        break;
      }
  if (frozen == 0 && !prefixes.empty()) detail::fail("ctnn::freeze: no parameter's name starts with '", prefixes[0], "'");
  return out;
}

}  // namespace ctnn
