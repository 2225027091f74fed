#pragma once
// ctnn::Number: a floating-point value as a template argument, for layers such as Dropout<0.25>
// and LeakyReLU<0.2>. A `double` template parameter needs GCC 11 or Clang 18; a class of integers
// is accepted by every C++20 compiler (Clang 14 and nvcc included). The value is held exactly, as
// mantissa * 2^exponent with an odd mantissa (or 0), so one double always gives one type. An
// infinity or a NaN is not a constant expression here: such an argument does not compile.

#include <bit>
#include <cstdint>

namespace ctnn {

struct Number {
  // Public: the members of a class used as a template argument must be.
  std::int64_t mantissa = 0;
  std::int32_t exponent = 0;

  constexpr Number(double v) : Number(decompose(v)) {}  // NOLINT: implicit, so that Dropout<0.25> reads naturally
  // The form the CUDA compiler writes back when it emits host code for a template argument.
  constexpr Number(std::int64_t m, std::int32_t e) : mantissa(m), exponent(e) {}

  constexpr double value() const noexcept {
    double v = static_cast<double>(mantissa);  // |mantissa| < 2^53: exact
    for (std::int32_t e = exponent; e > 0; --e) v *= 2.0;
    for (std::int32_t e = exponent; e < 0; ++e) v *= 0.5;
    return v;
  }
  constexpr operator double() const noexcept { return value(); }  // NOLINT: reads as the double it holds

private:
  struct Parts {
    std::int64_t m;
    std::int32_t e;
  };
  constexpr Number(Parts p) : mantissa(p.m), exponent(p.e) {}

  static constexpr Parts decompose(double v) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    const auto biased = static_cast<std::int32_t>((bits >> 52) & 0x7FF);
    auto m = static_cast<std::int64_t>(bits & ((std::uint64_t{1} << 52) - 1));
    if (biased == 0x7FF) throw "ctnn::Number: an infinity or a NaN is not a valid template argument";
    std::int32_t e = biased == 0 ? -1074 : biased - 1075;
    if (biased != 0) m |= std::int64_t{1} << 52;
    if (m == 0) return {0, 0};
    while ((m & 1) == 0) {
      m >>= 1;
      ++e;
    }
    return {(bits >> 63) ? -m : m, e};
  }
};

}  // namespace ctnn
