#pragma once
// The CPU evaluator of ctnn::expr: one pass over memory per expression, vectorisable inner loops
// over the contiguous spatial extent of each (sample, channel) plane, planes spread over threads.
// The loops (evaluator_loops.inl) are compiled for each instruction set and run with the active
// one (isa.hpp). Registered as expr::evaluator<Cpu>; the CPU kernels use its loops directly.

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include "../../core/device.hpp"
#include "../../core/threading.hpp"
#include "../../expr/evaluator.hpp"
#include "../../expr/nodes.hpp"
#include "isa.hpp"

namespace ctnn::backend::cpu {

namespace detail {

namespace loops {
#define CTNN_ISA_KERNELS "evaluator_loops.inl"  // found beside for_each_isa.hpp
#define CTNN_ISA_WITHOUT_FMA
#include "for_each_isa.hpp"
}  // namespace loops

// The loops of the active instruction set: avx2's on AVX2 and AVX-512 CPUs (no copy of its own
// for AVX-512: see CTNN_ISA_WITHOUT_FMA), baseline's when that set is active.
template <class T, class E>
void assign_plane_range(T* dst, std::size_t begin, std::size_t end, std::size_t channels, std::size_t plane, const E& e) {
#if CTNN_ISA_DISPATCH
  if (active_isa() != Isa::baseline) return loops::avx2::assign_planes(dst, begin, end, channels, plane, e);
#endif
  loops::baseline::assign_planes(dst, begin, end, channels, plane, e);
}
// The sums of each of e... over e(base + p * stride + j, c), j < n, p < planes, in float: one
// partial sum per lane for all the planes.
template <expr::Node... E>
std::array<float, sizeof...(E)> plane_sums(std::size_t base, std::size_t stride, std::size_t planes, std::size_t c,
                                           std::size_t n, const E&... e) {
  static_assert(sizeof...(E) > 0, "plane_sums: at least one expression");
  constexpr auto X = std::index_sequence_for<E...>{};
#if CTNN_ISA_DISPATCH
  if (active_isa() != Isa::baseline) return loops::avx2::plane_sums(X, base, stride, planes, c, n, e...);
#endif
  return loops::baseline::plane_sums(X, base, stride, planes, c, n, e...);
}
// The same over one range, e(base + j, c), j < n.
template <expr::Node... E>
std::array<float, sizeof...(E)> plane_sums(std::size_t base, std::size_t c, std::size_t n, const E&... e) {
  return plane_sums(base, 0, 1, c, n, e...);
}

// Below this many elements a thread team costs more than it saves.
inline constexpr std::size_t parallel_threshold = 1 << 15;

// dst[p * plane + j] = e(p * plane + j, p % channels) for p < planes, j < plane.
template <class T, class E>
void assign_planes(T* dst, std::size_t planes, std::size_t channels, std::size_t plane_size, const E& e) {
  auto run = [&](int, std::size_t begin, std::size_t end) { assign_plane_range(dst, begin, end, channels, plane_size, e); };
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

// Values a float partial sum of sum_planes adds at most before it goes into a double: about a
// 32x32 plane (the planes are summed in float in groups of this many values, or one at a time if
// larger).
inline constexpr std::size_t float_sum_values = 1024;

// out[x][c] = sum over n < batch, j < HW of e_x((n * C + c) * HW + j, c), for each expression e_x,
// in one pass: planes summed in float (vectorised) a group at a time (float_sum_values), the groups
// accumulated in double.
template <class... E>
void sum_planes(const std::array<double*, sizeof...(E)>& out, std::size_t batch, std::size_t C, std::size_t HW,
                const E&... e) {
  const std::size_t group = std::max<std::size_t>(1, float_sum_values / std::max<std::size_t>(HW, 1));
  auto run = [&](int, std::size_t c_begin, std::size_t c_end) {
    for (std::size_t c = c_begin; c < c_end; ++c) {
      std::array<double, sizeof...(E)> totals{};
      for (std::size_t n = 0; n < batch; n += group) {
        const auto sums = plane_sums((n * C + c) * HW, C * HW, std::min(group, batch - n), c, HW, e...);
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
