#pragma once
// The order of an epoch and the seeds of random choices, as pure functions of a user seed and
// where the choice is made (a stream tag, an epoch, a position) - never of how many choices came
// before. A loader therefore produces the same batches whether it prefetches or not, and resuming
// at batch k of epoch e reproduces them exactly.

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "../core/random.hpp"

namespace ctnn::data {

namespace detail {

// splitmix64's finaliser: a bijective 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t z) noexcept {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace detail

// A seed derived from a user seed and up to three coordinates.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) noexcept {
  std::uint64_t h = detail::mix64(seed);
  h = detail::mix64(h ^ a);
  h = detail::mix64(h ^ b);
  return detail::mix64(h ^ c);
}

inline constexpr std::uint64_t shuffle_stream = 0x5348'5546'464C'4521ull;  // "SHUFFLE!"
inline constexpr std::uint64_t augment_stream = 0x4155'474D'454E'5421ull;  // "AUGMENT!"

// order[p] = the dataset index at position p of epoch `epoch`: 0, 1, ... without shuffling, a
// Fisher-Yates permutation drawn from (seed, epoch) with it. Writes order.size() positions.
inline void epoch_order(std::uint64_t seed, std::size_t epoch, bool shuffle, std::vector<std::size_t>& order) {
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!shuffle || order.size() < 2) return;
  Rng rng(derive_seed(seed, shuffle_stream, epoch));
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[static_cast<std::size_t>(rng.below(i + 1))]);
}

}  // namespace ctnn::data
