#pragma once
// ctnn::Error: the one exception type the library throws for bad input and failed calls.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ctnn {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

// Concatenates anything streamable into one string (g++ 12 has no std::format).
template <class... Args>
std::string cat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(Args&&... args) {
  throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace detail
}  // namespace ctnn
