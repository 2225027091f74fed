// ctnn::Number, the floating-point template argument of Dropout<P> and LeakyReLU<Slope>: it holds
// every finite double exactly, one double gives one type, and layer names print the value.

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>

#include <ctnn/ctnn.hpp>

using ctnn::Number;

namespace {
template <Number V>
struct Holder {
  static constexpr double value = V;
};
}  // namespace

static_assert(Holder<0.25>::value == 0.25 && Holder<0.1>::value == 0.1 && Holder<-0.5>::value == -0.5);
static_assert(Holder<0.0>::value == 0.0 && Holder<1e-300>::value == 1e-300);
static_assert(Holder<std::numeric_limits<double>::max()>::value == std::numeric_limits<double>::max());
static_assert(Holder<std::numeric_limits<double>::denorm_min()>::value == std::numeric_limits<double>::denorm_min());
static_assert(std::is_same_v<Holder<0.5>, Holder<0.50>> && std::is_same_v<Holder<0.0>, Holder<-0.0>>);
static_assert(!std::is_same_v<Holder<0.1>, Holder<0.1 + 1e-17 * 2>>);
static_assert(std::is_same_v<ctnn::Dropout<>, ctnn::Dropout<0.5>> && !std::is_same_v<ctnn::LeakyReLU<0.2>, ctnn::LeakyReLU<0.3>>);
static_assert(Number(0.75).mantissa == 3 && Number(0.75).exponent == -2);  // odd mantissa: one form per value

TEST_CASE("Number holds every finite double exactly") {
  std::mt19937_64 gen(5);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t bits = gen();
    const double v = std::bit_cast<double>(bits);
    if (!std::isfinite(v)) continue;
    const Number n(v);
    REQUIRE(std::bit_cast<std::uint64_t>(n.value()) == (v == 0.0 ? 0u : bits));  // -0 and +0 are one value
    REQUIRE((n.mantissa == 0 || (n.mantissa & 1) == 1));
    REQUIRE(Number(n.mantissa, n.exponent).value() == v);
  }
}

TEST_CASE("layer names print the value as written") {
  CHECK(ctnn::Dropout<0.1>::name() == "Dropout<0.1>");
  CHECK(ctnn::LeakyReLU<-0.5>::name() == "LeakyReLU<-0.5>");
  CHECK(ctnn::LeakyReLU<1e-3>::name() == "LeakyReLU<0.001>");
}
