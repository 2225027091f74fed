#pragma once
// io::detail::printable: text read from a file, made safe to quote in an error message.

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "../core/config.hpp"
#include "../core/error.hpp"

namespace ctnn::io::detail {

// Text read from a file (a name, the architecture), made safe to quote in an error message: bytes
// outside printable ASCII become \xNN and a backslash \\, so that a corrupt file cannot cut a
// message short (a NUL), split it (a newline) or send escape sequences to a terminal; at most 200
// bytes are shown.
std::string printable(std::string_view s);

}  // namespace ctnn::io::detail

#if CTNN_HEADER_DEFINITIONS
#include "impl/printable.ipp"
#endif
