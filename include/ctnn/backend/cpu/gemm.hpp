#pragma once
// Single-threaded float GEMM with row-major (BLAS-style) arguments:
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// Callers parallelise over independent products (for example over the images of a batch), so the
// product itself never starts threads.
//
// Three implementations:
//   - OpenBLAS's sgemm when CTNN_USE_OPENBLAS is 1 (the CMake target defines it when OpenBLAS is
//     found), told to use one thread, since ctnn already runs one product per thread;
//   - small products (at most small_product multiply-adds: the Winograd GEMMs of layers with few
//     channels, im2col of small layers, Linear) where OpenBLAS is not used for them: ctnn's own
//     kernel (gemm_kernels.inl), compiled for each instruction set and picked at run time like the
//     Winograd transforms. That is in builds without OpenBLAS (Eigen, the alternative, is compiled
//     for the build's baseline instruction set only: 22 GFLOP/s at 64 x 128 x 64 on an AVX-512
//     core, where ctnn's kernel runs 79; tests/backend/gemm.cpp, bench_gemm), and, on CPUs with
//     AVX-512, for small products without a transposed operand: OpenBLAS 0.3.21 (Debian 12) runs
//     those through kernels of its own that call malloc (on an Intel AVX-512 machine its small-
//     matrix kernels did on every call, transpositions not recorded; on an AMD one, 155 of 1,000
//     untransposed shapes did), which would break the allocation-free step. Small products with a
//     transposed operand (the backward passes) go to OpenBLAS, which allocated for none of 3,000
//     such shapes on the AMD machine and is the faster one on them (1.0-7.5x ctnn's kernel on the
//     small network's products; bench_gemm's BM_small_product, bench/RESULTS.md).
//     tests/network.cpp's zero-allocation step checks it;
//   - otherwise Eigen's packed block-panel kernels.
// The packing buffers of ctnn's kernel and of Eigen live in a per-thread workspace that only grows;
// kernels reserve it for their products when they are built (GemmNeeds, reserve_gemm), so that a
// step allocates nothing whichever thread runs which product.

#include <algorithm>
#include <cstddef>

#ifndef CTNN_USE_OPENBLAS
#define CTNN_USE_OPENBLAS 0
#endif

#include "../../core/config.hpp"
#include "isa.hpp"

namespace ctnn::backend::cpu {

enum class Trans { no, yes };

// Products of at most this many multiply-adds run ctnn's own kernel.
inline constexpr double small_product = 1e6;

namespace gemm_kernels {

using Kernel = void (*)(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t, const float*,
                        std::size_t, float, float*, std::size_t, float*, float*);

// The kernel of `isa` (gemm_kernels.inl, compiled once per instruction set).
Kernel kernel(Isa isa);

// Floats of the packed operands, for the largest register tile of any instruction set.
constexpr std::size_t packed_a(std::size_t M, std::size_t K) { return std::max((M + 5) / 6 * 6, (M + 7) / 8 * 8) * K; }
constexpr std::size_t packed_b(std::size_t N, std::size_t K) { return (N + 31) / 32 * 32 * K; }

}  // namespace gemm_kernels

inline bool is_small_product(std::size_t M, std::size_t N, std::size_t K) {
  return double(M) * double(N) * double(K) <= small_product;
}

// Whether gemm() runs this product with ctnn's own kernel: a small product that OpenBLAS does not
// take (see above). `transposed`: op(A) or op(B) is a transpose (unknown: false, the products
// that may run there).
inline bool own_kernel(std::size_t M, std::size_t N, std::size_t K, bool transposed = false) {
#if CTNN_USE_OPENBLAS
  static const bool avx512 = detected_isa() == Isa::avx512;
  return avx512 && !transposed && is_small_product(M, N, K);
#else
  (void)transposed;
  return is_small_product(M, N, K);
#endif
}

// The packing buffers the products of a kernel need: a kernel add()s every product it may run
// (each size its batches can give: Eigen's blocking is not monotonic in the sizes), then
// reserve_gemm() grows every worker thread's workspace to that once, when the kernel is built, so
// that a step allocates nothing whichever thread runs which product.
class GemmNeeds {
public:
  void add(std::size_t M, std::size_t N, std::size_t K);
  std::size_t a() const { return a_; }
  std::size_t b() const { return b_; }

private:
  std::size_t a_ = 0, b_ = 0;
};

void reserve_gemm(const GemmNeeds& needs, int workers);

void gemm(Trans ta, Trans tb, std::size_t M, std::size_t N, std::size_t K, float alpha, const float* A, std::size_t lda,
          const float* B, std::size_t ldb, float beta, float* C, std::size_t ldc);

}  // namespace ctnn::backend::cpu

#if CTNN_HEADER_DEFINITIONS
#include "impl/gemm.ipp"
#endif
