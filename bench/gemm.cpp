// sgemm baseline: the machine's GEMM rate through the same Eigen kernels ctnn's convolutions use,
// at 2048^3 and at the shapes of ResNet-18's convolutions (M = out channels, N = output pixels,
// K = in channels * k * k), so convolution rates can be read as a fraction of it.
#include <benchmark/benchmark.h>

#include <ctnn/backend/cpu/gemm.hpp>
#include <ctnn/core/random.hpp>

#include <vector>

namespace {

using ctnn::backend::cpu::gemm;
using ctnn::backend::cpu::Trans;

void BM_sgemm(benchmark::State& state) {
  const auto M = static_cast<std::size_t>(state.range(0)), N = static_cast<std::size_t>(state.range(1)),
             K = static_cast<std::size_t>(state.range(2));
  std::vector<float> a(M * K), b(K * N), c(M * N);
  ctnn::Rng rng(1);
  for (auto& v : a) v = rng.uniform(-1, 1);
  for (auto& v : b) v = rng.uniform(-1, 1);
  for (auto _ : state) {
    gemm(Trans::no, Trans::no, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, c.data(), N);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(M) * double(N) * double(K) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

}  // namespace

BENCHMARK(BM_sgemm)->Args({2048, 2048, 2048})->Unit(benchmark::kMillisecond);
// Single-image forward GEMMs of ResNet-18 on CIFAR (M, N, K).
BENCHMARK(BM_sgemm)
    ->Args({64, 1024, 27})
    ->Args({64, 1024, 576})
    ->Args({128, 256, 576})
    ->Args({128, 256, 1152})
    ->Args({128, 256, 64})
    ->Args({256, 64, 1152})
    ->Args({256, 64, 2304})
    ->Args({256, 64, 128})
    ->Args({512, 16, 2304})
    ->Args({512, 16, 4608})
    ->Args({512, 16, 256})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
