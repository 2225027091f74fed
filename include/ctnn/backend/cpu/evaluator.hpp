#pragma once
// The CPU evaluator of ctnn::expr: one pass over memory per expression, vectorisable inner loops
// over the contiguous spatial extent of each (sample, channel) plane, planes spread over threads.
// Registered as expr::evaluator<Cpu>; the CPU kernels use its loops directly.

#include <array>
#include <cstddef>
#include <utility>

#include "../../core/device.hpp"
#include "../../core/threading.hpp"
#include "../../expr/evaluator.hpp"
#include "../../expr/nodes.hpp"

namespace ctnn::backend::cpu {

namespace detail {

// Below this many elements a thread team costs more than it saves.
inline constexpr std::size_t parallel_threshold = 1 << 15;

// dst[p * plane + j] = e(p * plane + j, p % channels) for p < planes, j < plane.
template <class T, class E>
void assign_planes(T* dst, std::size_t planes, std::size_t channels, std::size_t plane_size, const E& e) {
  auto run = [&](int, std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      const std::size_t c = p % channels;
      const std::size_t base = p * plane_size;
      T* out = dst + base;
#pragma omp simd
      for (std::size_t j = 0; j < plane_size; ++j) out[j] = static_cast<T>(e(base + j, c));
    }
  };
  if (planes * plane_size >= parallel_threshold)
    ctnn::detail::parallel_chunks(planes, ctnn::num_threads(), run);
  else
    run(0, 0, planes);
}

// dst[i] = e(i, 0) for i < n, in blocks of 4096 so that one long vector spreads over threads.
template <class T, class E>
void assign_flat(T* dst, std::size_t n, const E& e) {
  constexpr std::size_t block = 4096;
  const std::size_t full = n / block;
  if (full) assign_planes(dst, full, 1, block, e);
  for (std::size_t i = full * block; i < n; ++i) dst[i] = static_cast<T>(e(i, 0));
}

// The sums of each of e... over e(base + j, c), j in [0, n), in float, in one pass: expressions
// that read the same tensors read them once. Sixteen independent partial sums, shared among the
// expressions (eight each for two, which leaves registers for the expressions): one accumulator
// serialises on the add latency, and GCC 12 leaves an `omp simd reduction` scalar (3.7 GB/s on one
// core here); the unrolled fixed-width block becomes vector adds for any instruction set (16 GB/s at
// -O2, 35 GB/s at -O3). Kept out of line: inlined into the OpenMP region, GCC spilled the partial
// sums to the stack. The totals are added lane by lane for all expressions at once: a loop over
// the expressions there made GCC keep the partial sums in memory (the sum 15-20% slower).
template <std::size_t... X, class... E>
[[gnu::noinline]] std::array<float, sizeof...(E)> plane_sums_of(std::index_sequence<X...>, std::size_t base,
                                                                std::size_t c, std::size_t n, const E&... e) {
  constexpr std::size_t count = sizeof...(E), lanes = 16 / count;
  static_assert(count > 0 && lanes > 0, "plane_sums: one to sixteen expressions");
  float acc[count * lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes) {
#if defined(__GNUC__) && !defined(__CUDACC__)  // GCC and Clang; nvcc's front end does not know it
#pragma GCC unroll 16
#endif
    for (std::size_t k = 0; k < lanes; ++k) ((acc[X * lanes + k] += static_cast<float>(e(base + j + k, c))), ...);
  }
  for (std::size_t k = 0; j + k < n; ++k) ((acc[X * lanes + k] += static_cast<float>(e(base + j + k, c))), ...);
  std::array<float, count> totals{};
  for (std::size_t k = 0; k < lanes; ++k) ((totals[X] += acc[X * lanes + k]), ...);
  return totals;
}
template <class... E>
std::array<float, sizeof...(E)> plane_sums(std::size_t base, std::size_t c, std::size_t n, const E&... e) {
  return plane_sums_of(std::index_sequence_for<E...>{}, base, c, n, e...);
}

// out[x][c] = sum over n < batch, j < HW of e_x((n * C + c) * HW + j, c), for each expression e_x,
// in one pass: each plane summed in float (vectorised), planes accumulated in double.
template <class... E>
void sum_planes(const std::array<double*, sizeof...(E)>& out, std::size_t batch, std::size_t C, std::size_t HW,
                const E&... e) {
  auto run = [&](int, std::size_t c_begin, std::size_t c_end) {
    for (std::size_t c = c_begin; c < c_end; ++c) {
      std::array<double, sizeof...(E)> totals{};
      for (std::size_t n = 0; n < batch; ++n) {
        const auto sums = plane_sums((n * C + c) * HW, c, HW, e...);
        for (std::size_t x = 0; x < sizeof...(E); ++x) totals[x] += sums[x];
      }
      for (std::size_t x = 0; x < sizeof...(E); ++x) out[x][c] = totals[x];
    }
  };
  if (batch * C * HW >= parallel_threshold)
    ctnn::detail::parallel_chunks(C, ctnn::num_threads(), run);
  else
    run(0, 0, C);
}

}  // namespace detail

struct Evaluator {
  template <class T, class E>
  static void assign(T* dst, std::size_t planes, std::size_t channels, std::size_t plane, const E& e) {
    if (channels == 1 && planes == 1)
      detail::assign_flat(dst, plane, e);
    else
      detail::assign_planes(dst, planes, channels, plane, e);
  }
  template <class E>
  static void sum(double* out, std::size_t batch, std::size_t channels, std::size_t plane, const E& e) {
    detail::sum_planes({out}, batch, channels, plane, e);
  }
};

}  // namespace ctnn::backend::cpu

template <>
struct ctnn::expr::evaluator<ctnn::Cpu> : ctnn::backend::cpu::Evaluator {};
