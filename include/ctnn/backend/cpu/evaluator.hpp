#pragma once
// The CPU evaluator of ctnn::expr: one pass over memory per expression, vectorisable inner loops
// over the contiguous spatial extent of each (sample, channel) plane, planes spread over threads.
// Registered as expr::evaluator<Cpu>; the CPU kernels use its loops directly.

#include <cstddef>

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

// Sum of e(base + j, c) for j in [0, n), in float, over sixteen independent partial sums. One
// accumulator serialises on the add latency, and GCC 12 leaves an `omp simd reduction` scalar
// (3.7 GB/s on one core here); the unrolled fixed-width block becomes vector adds for any
// instruction set (16 GB/s at -O2, 35 GB/s at -O3). Kept out of line: inlined into the OpenMP
// region, GCC spilled the partial sums to the stack.
template <class E>
[[gnu::noinline]] float plane_sum(const E& e, std::size_t base, std::size_t c, std::size_t n) {
  constexpr std::size_t lanes = 16;
  float acc[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes) {
#if defined(__GNUC__) && !defined(__CUDACC__)  // GCC and Clang; nvcc's front end does not know it
#pragma GCC unroll 16
#endif
    for (std::size_t k = 0; k < lanes; ++k) acc[k] += static_cast<float>(e(base + j + k, c));
  }
  for (std::size_t k = 0; j + k < n; ++k) acc[k] += static_cast<float>(e(base + j + k, c));
  float total = 0.f;
  for (float a : acc) total += a;
  return total;
}

// The sums of e1 and of e2 over the same elements in one pass (eight partial sums each, which
// leaves registers for the expressions): two sums that read the same tensors read them once.
template <class E1, class E2>
[[gnu::noinline]] void plane_sum2(const E1& e1, const E2& e2, std::size_t base, std::size_t c, std::size_t n,
                                  float& sum1, float& sum2) {
  constexpr std::size_t lanes = 8;
  float acc1[lanes] = {}, acc2[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes) {
#if defined(__GNUC__) && !defined(__CUDACC__)
#pragma GCC unroll 8
#endif
    for (std::size_t k = 0; k < lanes; ++k) {
      acc1[k] += static_cast<float>(e1(base + j + k, c));
      acc2[k] += static_cast<float>(e2(base + j + k, c));
    }
  }
  for (std::size_t k = 0; j + k < n; ++k) {
    acc1[k] += static_cast<float>(e1(base + j + k, c));
    acc2[k] += static_cast<float>(e2(base + j + k, c));
  }
  float total1 = 0.f, total2 = 0.f;
  for (std::size_t k = 0; k < lanes; ++k) {
    total1 += acc1[k];
    total2 += acc2[k];
  }
  sum1 = total1;
  sum2 = total2;
}

// out[c] = sum over n < batch, j < HW of e((n * C + c) * HW + j, c): each plane summed in float
// (vectorised), planes accumulated in double.
template <class E>
void sum_planes(double* out, std::size_t batch, std::size_t C, std::size_t HW, const E& e) {
  auto run = [&](int, std::size_t c_begin, std::size_t c_end) {
    for (std::size_t c = c_begin; c < c_end; ++c) {
      double total = 0.0;
      for (std::size_t n = 0; n < batch; ++n) total += plane_sum(e, (n * C + c) * HW, c, HW);
      out[c] = total;
    }
  };
  if (batch * C * HW >= parallel_threshold)
    ctnn::detail::parallel_chunks(C, ctnn::num_threads(), run);
  else
    run(0, 0, C);
}

// sum_planes of e1 into out1 and of e2 into out2, in one pass.
template <class E1, class E2>
void sum_planes2(double* out1, double* out2, std::size_t batch, std::size_t C, std::size_t HW, const E1& e1,
                 const E2& e2) {
  auto run = [&](int, std::size_t c_begin, std::size_t c_end) {
    for (std::size_t c = c_begin; c < c_end; ++c) {
      double total1 = 0.0, total2 = 0.0;
      for (std::size_t n = 0; n < batch; ++n) {
        float sum1, sum2;
        plane_sum2(e1, e2, (n * C + c) * HW, c, HW, sum1, sum2);
        total1 += sum1;
        total2 += sum2;
      }
      out1[c] = total1;
      out2[c] = total2;
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
    detail::sum_planes(out, batch, channels, plane, e);
  }
};

}  // namespace ctnn::backend::cpu

template <>
struct ctnn::expr::evaluator<ctnn::Cpu> : ctnn::backend::cpu::Evaluator {};
