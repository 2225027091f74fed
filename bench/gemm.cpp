// sgemm baseline: the rate of ctnn::backend::cpu::gemm (OpenBLAS when the build found it, Eigen's
// packed kernels otherwise), the GEMM every convolution runs on, at 2048^3 and at the shapes of
// ResNet-18's convolutions on one CIFAR image (M = out channels, N = output pixels, K = in channels
// * k * k), so convolution rates can be read as a fraction of it.
//
// gemm() is single-threaded by design: ctnn parallelises over the batch, one GEMM per thread. So
// each shape runs twice: threads:1 is one GEMM on one core; threads:T runs T GEMMs of that shape at
// once, one per thread (ctnn::num_threads(), i.e. OMP_NUM_THREADS), the way the layers run them,
// and counts all of their work. (bench_conv's of_gemm uses the same all-threads reference.)
#include <benchmark/benchmark.h>

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

}  // namespace

BENCHMARK(BM_sgemm)->Apply(shapes)->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
