// The CPU evaluator's loops (evaluator.hpp), compiled by for_each_isa.hpp into namespaces
// ctnn::backend::cpu::detail::loops::baseline and ::avx2 (without FMA: CTNN_ISA_WITHOUT_FMA). The
// expressions inline into each copy, so an element-wise pass (batch norm, activations, residual
// adds, optimizer updates) runs on AVX2 vectors where the CPU has them, in a program built for any
// x86-64 CPU. No include guard and no includes: evaluator.hpp includes it, after everything it uses.

namespace CTNN_ISA_NAMESPACE {

// dst[p * plane + j] = e(p * plane + j, p % channels) for p in [begin, end), j < plane.
template <class T, class E>
void assign_planes(T* dst, std::size_t begin, std::size_t end, std::size_t channels, std::size_t plane, const E& e) {
  for (std::size_t p = begin; p < end; ++p) {
    const std::size_t c = p % channels;
    const std::size_t base = p * plane;
    T* out = dst + base;
#pragma omp simd
    for (std::size_t j = 0; j < plane; ++j) out[j] = static_cast<T>(e(base + j, c));
  }
}

// The sums of each of e... over e(b + j, c), j in [0, n), for the `planes` ranges b = base + p *
// stride, p < planes (the planes of one channel in a batch), in float, in one pass: expressions
// that read the same tensors read them once. Sixteen independent partial sums per expression,
// kept over all the planes and added up once at the end (per plane, that last step cost more than
// the sums of a 4x4 plane: batch norm's statistics ran at 1.8 GB/s there against 28 for 32x32),
// in a loop of 16 steps that `omp simd` vectorises as it stands (two or four vector adds per
// expression, by instruction set): one accumulator serialises on the add latency, and GCC 12
// leaves an `omp simd reduction` scalar (3.7 GB/s on one core here). Unrolled instead (`GCC
// unroll`), the block vectorised along j for one expression, but for two GCC interleaved the
// partial sums across lanes with shuffles: batch norm's statistics ran at 4.7 GB/s (SSE2) and
// 2.6 GB/s (AVX2) against 17 and 26 now (one core, data in L2). Kept out of line: inlined into
// the OpenMP region, GCC spilled the partial sums to the stack.
template <std::size_t... X, class... E>
[[gnu::noinline]] std::array<float, sizeof...(E)> plane_sums(std::index_sequence<X...>, std::size_t base,
                                                             std::size_t stride, std::size_t planes, std::size_t c,
                                                             std::size_t n, const E&... e) {
  constexpr std::size_t count = sizeof...(E), lanes = 16;
  float acc[count][lanes] = {};
  for (std::size_t p = 0; p < planes; ++p) {
    const std::size_t b = base + p * stride;
    std::size_t j = 0;
    for (; j + lanes <= n; j += lanes) {
#pragma omp simd
      for (std::size_t k = 0; k < lanes; ++k) ((acc[X][k] += static_cast<float>(e(b + j + k, c))), ...);
    }
    const std::size_t rest = n - j;
#pragma omp simd
    for (std::size_t k = 0; k < rest; ++k) ((acc[X][k] += static_cast<float>(e(b + j + k, c))), ...);
  }
  std::array<float, count> totals{};
  for (std::size_t k = 0; k < lanes; ++k) ((totals[X] += acc[X][k]), ...);
  return totals;
}

}  // namespace CTNN_ISA_NAMESPACE
