#pragma once
// gemm.hpp's definitions (core/config.hpp: separate compilation).

#include <cstring>

#include "../gemm.hpp"
// Eigen only where its products run: <Eigen/Core> alone takes a second and 175 MB of compiler
// memory to parse (0.3-0.7 s and 60-70 MB of the example's train.cpp).
#if CTNN_USE_OPENBLAS
#include <cblas.h>

#include <mutex>
#else
#include <Eigen/Core>
#endif

#include "../../../core/memory.hpp"
#include "../../../core/threading.hpp"

namespace ctnn::backend::cpu {

namespace gemm_kernels {

#define CTNN_ISA_KERNELS "gemm_kernels.inl"  // found beside for_each_isa.hpp
#include "../for_each_isa.hpp"

CTNN_INLINE Kernel kernel(Isa isa) {
#if CTNN_ISA_DISPATCH
  if (isa == Isa::avx512) return &avx512::gemm;
  if (isa == Isa::avx2) return &avx2::gemm;
#endif
  (void)isa;
  return &baseline::gemm;
}

}  // namespace gemm_kernels

namespace detail {

class GemmWorkspace
#if !CTNN_USE_OPENBLAS
    : public Eigen::internal::level3_blocking<float, float>
#endif
{
public:
#if !CTNN_USE_OPENBLAS
  // Chooses cache blocking for a column-major product of rows x cols x depth and makes sure the
  // packing buffers can hold it.
  void prepare(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth) {
    Eigen::Index kc = depth, mc = rows, nc = cols;
    Eigen::internal::computeProductBlockingSizes<float, float, 1>(kc, mc, nc, Eigen::Index{1});
    m_kc = kc;
    m_mc = mc;
    m_nc = nc;
    a_.reserve(static_cast<std::size_t>(mc * kc));
    b_.reserve(static_cast<std::size_t>(kc * nc));
    m_blockA = a_.data();
    m_blockB = b_.data();
  }
#endif
  // Grows the buffers to at least a and b floats.
  void reserve(std::size_t a, std::size_t b) {
    a_.reserve(a);
    b_.reserve(b);
  }
  // The buffers, at least a and b floats (ctnn's kernel packs its operands there).
  float* a(std::size_t n) {
    a_.reserve(n);
    return a_.data();
  }
  float* b(std::size_t n) {
    b_.reserve(n);
    return b_.data();
  }

private:
  ctnn::detail::Scratch<float> a_, b_;
};

CTNN_INLINE GemmWorkspace& gemm_workspace() {
  thread_local GemmWorkspace ws;
  return ws;
}

#if !CTNN_USE_OPENBLAS
template <int LhsOrder, int RhsOrder>
void gemm_run(Eigen::Index M, Eigen::Index N, Eigen::Index K, const float* A, Eigen::Index lda,
              const float* B, Eigen::Index ldb, float* C, Eigen::Index ldc, float alpha) {
  auto& ws = gemm_workspace();
  // A row-major result is computed as the transposed column-major product (N x M).
  ws.prepare(N, M, K);
  Eigen::internal::general_matrix_matrix_product<Eigen::Index, float, LhsOrder, false, float, RhsOrder,
                                                 false, Eigen::RowMajor, 1>::run(M, N, K, A, lda, B, ldb, C,
                                                                                 1, ldc, alpha, ws, nullptr);
}
#endif

}  // namespace detail

CTNN_INLINE void GemmNeeds::add(std::size_t M, std::size_t N, std::size_t K) {
  if (M == 0 || N == 0 || K == 0) return;
  if (own_kernel(M, N, K)) {
    a_ = std::max(a_, gemm_kernels::packed_a(M, K));
    b_ = std::max(b_, gemm_kernels::packed_b(N, K));
    return;
  }
#if CTNN_USE_OPENBLAS
  return;  // OpenBLAS packs in its own memory
#else
  // gemm_run blocks the transposed product, N x M (see GemmWorkspace::prepare).
  Eigen::Index kc = static_cast<Eigen::Index>(K), mc = static_cast<Eigen::Index>(N), nc = static_cast<Eigen::Index>(M);
  Eigen::internal::computeProductBlockingSizes<float, float, 1>(kc, mc, nc, Eigen::Index{1});
  a_ = std::max(a_, static_cast<std::size_t>(mc * kc));
  b_ = std::max(b_, static_cast<std::size_t>(kc * nc));
#endif
}

CTNN_INLINE void reserve_gemm(const GemmNeeds& needs, int workers) {
  if (needs.a() == 0 && needs.b() == 0) return;
  const auto w = static_cast<std::size_t>(std::max(1, workers));
  ctnn::detail::parallel_chunks(w, workers, [&](int, std::size_t, std::size_t) { detail::gemm_workspace().reserve(needs.a(), needs.b()); });
}

CTNN_INLINE void gemm(Trans ta, Trans tb, std::size_t M, std::size_t N, std::size_t K, float alpha, const float* A,
                      std::size_t lda, const float* B, std::size_t ldb, float beta, float* C, std::size_t ldc) {
  if (M == 0 || N == 0) return;
  if (K > 0 && alpha != 0.f && own_kernel(M, N, K, ta == Trans::yes || tb == Trans::yes)) {
    auto& ws = detail::gemm_workspace();
    gemm_kernels::kernel(active_isa())(ta == Trans::yes, tb == Trans::yes, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                       ws.a(gemm_kernels::packed_a(M, K)), ws.b(gemm_kernels::packed_b(N, K)));
    return;
  }
  // beta is applied to C here, and the product then accumulated into it, for every product that
  // is not ctnn's own kernel's: OpenBLAS meets beta = 0 with a pass of its own over C, slower
  // than memset (the small network's training step, bench_profile --net small, 2 threads, took 7%
  // less with C cleared here), and Eigen's kernels only accumulate.
  if (beta == 0.f) {
    if (ldc == N)
      std::memset(C, 0, M * N * sizeof(float));
    else
      for (std::size_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, N * sizeof(float));
  } else if (beta != 1.f) {
    for (std::size_t i = 0; i < M; ++i)
      for (std::size_t j = 0; j < N; ++j) C[i * ldc + j] *= beta;
  }
  if (K == 0 || alpha == 0.f) return;
#if CTNN_USE_OPENBLAS
  static std::once_flag single_threaded;
  std::call_once(single_threaded, [] { openblas_set_num_threads(1); });
  cblas_sgemm(CblasRowMajor, ta == Trans::yes ? CblasTrans : CblasNoTrans, tb == Trans::yes ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), 1.f, C, static_cast<blasint>(ldc));
#else
  using Eigen::ColMajor;
  using Eigen::RowMajor;
  const auto m = static_cast<Eigen::Index>(M), n = static_cast<Eigen::Index>(N), k = static_cast<Eigen::Index>(K);
  const auto a = static_cast<Eigen::Index>(lda), b = static_cast<Eigen::Index>(ldb), c = static_cast<Eigen::Index>(ldc);
  // A row-major matrix read transposed is the same memory read column-major.
  if (ta == Trans::no && tb == Trans::no)
    detail::gemm_run<RowMajor, RowMajor>(m, n, k, A, a, B, b, C, c, alpha);
  else if (ta == Trans::yes && tb == Trans::no)
    detail::gemm_run<ColMajor, RowMajor>(m, n, k, A, a, B, b, C, c, alpha);
  else if (ta == Trans::no && tb == Trans::yes)
    detail::gemm_run<RowMajor, ColMajor>(m, n, k, A, a, B, b, C, c, alpha);
  else
    detail::gemm_run<ColMajor, ColMajor>(m, n, k, A, a, B, b, C, c, alpha);
#endif
}

}  // namespace ctnn::backend::cpu
