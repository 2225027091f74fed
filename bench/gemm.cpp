// sgemm baseline: the rate of ctnn::backend::cpu::gemm (OpenBLAS when the build found it, Eigen's
// packed kernels otherwise), the GEMM every convolution runs on, at 2048^3 and at the shapes of
// ResNet-18's convolutions on one CIFAR image (M = out channels, N = output pixels, K = in channels
// * k * k), so convolution rates can be read as a fraction of it.
//
// gemm() is single-threaded by design: ctnn parallelises over the batch, one GEMM per thread. So
// each shape runs twice: threads:1 is one GEMM on one core; threads:T runs T GEMMs of that shape at
// once, one per thread (ctnn::num_threads(), i.e. OMP_NUM_THREADS), the way the layers run them,
// and counts all of their work. (bench_conv's of_gemm uses the same all-threads reference.)
//
// BM_small_product compares, on one thread, what a small product can run on: gemm() as the build
// chooses (kernel:0, backend/cpu/gemm.hpp), ctnn's own kernel for the active instruction set
// (kernel:1) and OpenBLAS's sgemm (kernel:2, builds with OpenBLAS), at the products of the small
// 28x28 network (bench/small_net.hpp, batch 128): its 32- and 64-channel layers' Winograd
// products (forward, backward data with U transposed, backward filter with V transposed), the
// stem's forward and filter gradient, a 1x1 projection, and a stride-2 layer's im2col product.
#include <benchmark/benchmark.h>

#include <ctnn/backend/cpu/isa.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/core/threading.hpp>

#include <array>
#include <vector>

#include "gemm_per_thread.hpp"

namespace {

void BM_sgemm(benchmark::State& state) {
  const auto M = static_cast<std::size_t>(state.range(0)), N = static_cast<std::size_t>(state.range(1)),
             K = static_cast<std::size_t>(state.range(2)), T = static_cast<std::size_t>(state.range(3));
  std::vector<float> a(M * K), b(T * K * N), c(T * M * N);  // A shared, B and C per thread
  ctnn::Rng rng(1);
  for (auto& v : a) v = rng.uniform(-1, 1);
  for (auto& v : b) v = rng.uniform(-1, 1);
  for (auto _ : state) {
    bench::gemm_per_thread(M, N, K, T, a.data(), b.data(), c.data());
    benchmark::DoNotOptimize(c.data());
  }
  const double flops = 2.0 * double(M) * double(N) * double(K) * double(T);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// Each shape with one thread and with all of ctnn's threads.
void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "threads"});
  const std::array<std::array<long, 3>, 12> mnk{{
      {2048, 2048, 2048},
      // single-image forward GEMMs of ResNet-18 on CIFAR
      {64, 1024, 27},
      {64, 1024, 576},
      {128, 256, 576},
      {128, 256, 1152},
      {128, 256, 64},
      {256, 64, 1152},
      {256, 64, 2304},
      {256, 64, 128},
      {512, 16, 2304},
      {512, 16, 4608},
      {512, 16, 256},
  }};
  const long all = ctnn::num_threads();
  for (const auto& s : mnk) {
    b->Args({s[0], s[1], s[2], 1});
    if (all > 1) b->Args({s[0], s[1], s[2], all});
  }
}

// M, N, K, A transposed, B transposed, kernel (0: gemm(), 1: ctnn's own, 2: OpenBLAS).
void BM_small_product(benchmark::State& state) {
  namespace cpu = ctnn::backend::cpu;
  const auto M = static_cast<std::size_t>(state.range(0)), N = static_cast<std::size_t>(state.range(1)),
             K = static_cast<std::size_t>(state.range(2));
  const bool ta = state.range(3) != 0, tb = state.range(4) != 0;
  const long which = state.range(5);
  const std::size_t lda = ta ? M : K, ldb = tb ? K : N;
  std::vector<float> a(M * K), b(K * N), c(M * N), ap(cpu::gemm_kernels::packed_a(M, K)),
      bp(cpu::gemm_kernels::packed_b(N, K));
  ctnn::Rng rng(2);
  for (auto& v : a) v = rng.uniform(-1, 1);
  for (auto& v : b) v = rng.uniform(-1, 1);
  const auto kernel = cpu::gemm_kernels::kernel(cpu::active_isa());
  for (auto _ : state) {
    if (which == 1)
      kernel(ta, tb, M, N, K, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(), N, ap.data(), bp.data());
#if CTNN_USE_OPENBLAS
    else if (which == 2)
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(M),
                  static_cast<blasint>(N), static_cast<blasint>(K), 1.f, a.data(), static_cast<blasint>(lda), b.data(),
                  static_cast<blasint>(ldb), 0.f, c.data(), static_cast<blasint>(N));
#endif
    else
      cpu::gemm(ta ? cpu::Trans::yes : cpu::Trans::no, tb ? cpu::Trans::yes : cpu::Trans::no, M, N, K, 1.f, a.data(), lda,
                b.data(), ldb, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(M * N * K) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void small_products(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "ta", "tb", "kernel"});
  const std::array<std::array<long, 5>, 10> shapes{{
      {32, 256, 32, 0, 0},  // 32 channels at 14x14, Winograd F(4x4): forward
      {32, 256, 32, 1, 0},  // ... backward data
      {32, 32, 256, 0, 1},  // ... backward filter
      {64, 256, 64, 0, 0},  // 64 channels at 7x7
      {64, 256, 64, 1, 0},
      {64, 64, 256, 0, 1},
      {16, 784, 9, 0, 0},   // the 1 -> 16 stem at 28x28: forward
      {16, 9, 784, 0, 1},   // ... filter gradient
      {32, 196, 16, 0, 0},  // 1x1 projection 16 -> 32, stride 2
      {32, 392, 144, 0, 0}, // 16 -> 32 3x3 stride 2, two images (above small_product: OpenBLAS)
  }};
  for (const auto& s : shapes)
    for (long which = 0; which <= (CTNN_USE_OPENBLAS ? 2 : 1); ++which) b->Args({s[0], s[1], s[2], s[3], s[4], which});
}

}  // namespace

BENCHMARK(BM_small_product)->Apply(small_products)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sgemm)->Apply(shapes)->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
