// ctnn::detail::cat and fail (core/error.hpp): a message prints every argument as an std::ostream
// prints it (numbers, characters, text, addresses, and anything else with an operator<<, through
// that operator), and fail throws ctnn::Error with it.
#include <ctnn/core/error.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

namespace {

enum Plain { plain_value = 7 };

template <class... Args>
std::string streamed(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace

TEST_CASE("cat prints its arguments as a stream does") {
  const std::string s = "text";
  const std::string_view v = "view";
  const char* none = nullptr;
  const int array[2] = {1, 2};
  const std::filesystem::path path = "dir/file name.bin";  // a stream quotes a path
  const std::size_t big = std::numeric_limits<std::size_t>::max();
  const long long small = std::numeric_limits<long long>::min();
  const auto sc = static_cast<signed char>(66);
  CHECK(ctnn::detail::cat("a", s, v, 'c', std::uint8_t{65}, sc) == streamed("a", s, v, 'c', std::uint8_t{65}, sc));
  CHECK(ctnn::detail::cat(-3, 4u, big, small, true, false, short{-5}) ==
        streamed(-3, 4u, big, small, true, false, short{-5}));
  CHECK(ctnn::detail::cat(0.1f, 1e-7, 123456789.0, -0.0f, 2.5e300, std::numeric_limits<float>::infinity(),
                          std::numeric_limits<double>::quiet_NaN()) ==
        streamed(0.1f, 1e-7, 123456789.0, -0.0f, 2.5e300, std::numeric_limits<float>::infinity(),
                 std::numeric_limits<double>::quiet_NaN()));
  CHECK(ctnn::detail::cat(path, " ", plain_value, " ", static_cast<const void*>(array), " ", array) ==
        streamed(path, " ", plain_value, " ", static_cast<const void*>(array), " ", array));
  CHECK(ctnn::detail::cat(path) == "\"dir/file name.bin\"");
  CHECK(ctnn::detail::cat(none) == "(null)");
  CHECK(ctnn::detail::cat() == "");
  CHECK(ctnn::detail::cat("batch ", std::size_t{65}, " exceeds ", 64) == "batch 65 exceeds 64");
}

TEST_CASE("fail throws ctnn::Error with the message") {
  CHECK_THROWS_WITH_AS(ctnn::detail::fail("ctnn::thing: ", 3, " of ", 2.5f, 'x'), "ctnn::thing: 3 of 2.5x", ctnn::Error);
}
