#pragma once
// The GEMM work unit of ctnn's CPU layers, shared by bench_gemm and bench_conv's of_gemm reference:
// ctnn::backend::cpu::gemm is single-threaded and the layers thread over the batch, so T threads
// run T GEMMs of one shape at once, A shared, B and C one block per thread.
#include <ctnn/backend/cpu/gemm.hpp>
#include <ctnn/core/threading.hpp>

#include <cstddef>

namespace bench {

// C_i = A B_i for i in [0, T), on T threads; b holds T blocks of K x N, c T blocks of M x N.
inline void gemm_per_thread(std::size_t M, std::size_t N, std::size_t K, std::size_t T, const float* a,
                            const float* b, float* c) {
  ctnn::detail::parallel_for(T, static_cast<int>(T), [&](std::size_t i, int) {
    ctnn::backend::cpu::gemm(ctnn::backend::cpu::Trans::no, ctnn::backend::cpu::Trans::no, M, N, K, 1.f, a, K,
                             b + i * K * N, N, 0.f, c + i * M * N, N);
  });
}

}  // namespace bench
