#pragma once
// printable.hpp's definitions (core/config.hpp: separate compilation).

#include "../printable.hpp"

namespace ctnn::io::detail {

CTNN_INLINE std::string printable(std::string_view s) {
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
  if (s.size() > shown) out += ctnn::detail::cat("... (", s.size(), " bytes)");
  return out;
}

}  // namespace ctnn::io::detail
