#pragma once
// io::detail::printable: text read from a file, made safe to quote in an error message.

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "../core/error.hpp"

namespace ctnn::io::detail {

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
  if (s.size() > shown) out += ctnn::detail::cat("... (", s.size(), " bytes)");
  return out;
}

}  // namespace ctnn::io::detail
