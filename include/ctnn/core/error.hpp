#pragma once
// ctnn::Error: the one exception type the library throws for bad input and failed calls.

#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "config.hpp"

namespace ctnn {

class Error : public std::runtime_error {
public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

// One argument of a message: text, a number, a character or an address, as an std::ostream would
// print it. Messages are built by one non-template function (cat_pieces) from a list of these,
// so that the library's hundreds of error sites, each with its own argument types, do not each
// instantiate a stream and its operators: that cost a noticeable share of a network's compile time.
class MessagePiece {
public:
  enum class Kind : unsigned char { text, signed_int, unsigned_int, floating, character, address };

  MessagePiece(std::string_view s) noexcept : kind_(Kind::text), text_(s) {}
  MessagePiece(const char* s) noexcept : kind_(Kind::text), text_(s ? std::string_view(s) : std::string_view("(null)")) {}
  MessagePiece(const std::string& s) noexcept : kind_(Kind::text), text_(s) {}
  template <class T>
    requires std::is_arithmetic_v<T>
  MessagePiece(T v) noexcept {
    if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char>) {
      kind_ = Kind::character;
      c_ = static_cast<char>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      kind_ = Kind::floating;
      d_ = static_cast<double>(v);  // an ostream prints a float as the double it converts to
    } else if constexpr (std::is_signed_v<T>) {
      kind_ = Kind::signed_int;
      i_ = static_cast<long long>(v);
    } else {  // unsigned integers and bool (printed 0 or 1, as a stream does without boolalpha)
      kind_ = Kind::unsigned_int;
      u_ = static_cast<unsigned long long>(v);
    }
  }
  MessagePiece(const void* p) noexcept : kind_(Kind::address), p_(p) {}

  void print(std::ostream& out) const {
    switch (kind_) {
      case Kind::text: out << text_; break;
      case Kind::signed_int: out << i_; break;
      case Kind::unsigned_int: out << u_; break;
      case Kind::floating: out << d_; break;
      case Kind::character: out << c_; break;
      case Kind::address: out << p_; break;
    }
  }

private:
  Kind kind_;
  std::string_view text_;
  union {
    long long i_;
    unsigned long long u_;
    double d_;
    char c_;
    const void* p_;
  };
};

std::string cat_pieces(std::initializer_list<MessagePiece> pieces);

// The types a MessagePiece holds as they are (others may convert to one, as a path converts to a
// string, but print differently on a stream).
template <class T>
inline constexpr bool is_message_piece_v =
    std::is_arithmetic_v<T> || std::is_pointer_v<std::decay_t<T>> || std::is_same_v<T, std::string> ||
    std::is_same_v<T, std::string_view>;

// An argument a MessagePiece takes as it is, or anything else streamable (a path, an enum), printed
// here by its own operator<<.
template <class T>
decltype(auto) message_arg(const T& v) {
  if constexpr (is_message_piece_v<T>) {
    return (v);
  } else {
    std::ostringstream out;
    out << v;
    return out.str();
  }
}

// Concatenates anything streamable into one string (g++ 12 has no std::format).
template <class... Args>
std::string cat(const Args&... args) {
  return cat_pieces({MessagePiece(message_arg(args))...});
}

[[noreturn]] inline void fail_with(const std::string& message) { throw Error(message); }

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  fail_with(cat(args...));
}

}  // namespace detail
}  // namespace ctnn

#if CTNN_HEADER_DEFINITIONS
#include "impl/error.ipp"
#endif
