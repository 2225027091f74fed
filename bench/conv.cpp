// Convolution microbenchmarks: every distinct convolution of ResNet-18 on CIFAR-10 (batch 64),
// forward, backward data and backward filter, in GFLOP/s (2 * MACs per second) and as a fraction of
// the GEMM rate this machine reaches on one large sgemm in the same run.
//
// The last argument picks the algorithm: algo=0 im2col + GEMM, algo=1 automatic (Winograd
// F(2x2,3x3) for the 3x3 stride-1 layers with >= 16 channels, unless CTNN_WINOGRAD=0). The 3x3
// stride-1 shapes run with both, so one run compares them. GFLOP/s always counts the direct
// convolution's 2 * MACs, so Winograd's figure is an effective rate.
#include <benchmark/benchmark.h>

#include <ctnn/backend/cpu.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/core/threading.hpp>

#include <vector>

namespace {

using ctnn::backend::Geometry2d;
using ctnn::backend::cpu::Conv2d;
using ctnn::backend::cpu::ConvAlgorithm;

constexpr std::size_t batch = 64;

// in_c, out_c, size, kernel, stride (pad = kernel / 2), algo
Geometry2d geometry(const benchmark::State& s) {
  const auto in_c = std::size_t(s.range(0)), out_c = std::size_t(s.range(1)), hw = std::size_t(s.range(2)),
             k = std::size_t(s.range(3)), st = std::size_t(s.range(4));
  const std::size_t pad = k / 2, out = (hw + 2 * pad - k) / st + 1;
  return {in_c, hw, hw, out_c, out, out, k, st, pad};
}

ConvAlgorithm algorithm(const benchmark::State& s) {
  return s.range(5) == 0 ? ConvAlgorithm::im2col : ConvAlgorithm::automatic;
}

Conv2d make_conv(benchmark::State& state, const Geometry2d& g) {
  Conv2d conv(g, batch, algorithm(state));
  state.SetLabel(conv.winograd() ? "winograd" : "im2col");
  return conv;
}

struct Buffers {
  std::vector<float> x, w, y, dw, dx;
  explicit Buffers(const Geometry2d& g)
      : x(batch * g.in_size()), w(g.out_c * g.patch()), y(batch * g.out_size()), dw(w.size()), dx(x.size()) {
    ctnn::Rng rng(1);
    for (auto& v : x) v = rng.uniform(-1, 1);
    for (auto& v : w) v = rng.uniform(-1, 1);
    for (auto& v : y) v = rng.uniform(-1, 1);
  }
};

void set_rate(benchmark::State& state, const Geometry2d& g) {
  const double flops = 2.0 * double(batch) * double(g.out_size()) * double(g.patch());
  state.counters["GFLOP/s"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate,
                                                 benchmark::Counter::kIs1000);
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_conv_forward(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  Buffers b(g);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.forward(b.x.data(), b.w.data(), b.y.data(), batch);
    benchmark::DoNotOptimize(b.y.data());
  }
  set_rate(state, g);
}

void BM_conv_backward_filter(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  Buffers b(g);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.backward(b.x.data(), b.w.data(), b.y.data(), nullptr, b.dw.data(), batch);
    benchmark::DoNotOptimize(b.dw.data());
  }
  set_rate(state, g);
}

// Backward data and filter together (what a layer inside the network runs); twice the work.
void BM_conv_backward(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  Buffers b(g);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.backward(b.x.data(), b.w.data(), b.y.data(), b.dx.data(), b.dw.data(), batch);
    benchmark::DoNotOptimize(b.dx.data());
  }
  const double flops = 4.0 * double(batch) * double(g.out_size()) * double(g.patch());
  state.counters["GFLOP/s"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate,
                                                 benchmark::Counter::kIs1000);
}

void resnet18_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"in", "out", "hw", "k", "s", "algo"});
  b->Args({3, 64, 32, 3, 1, 1});
  b->Args({64, 64, 32, 3, 1, 1});
  b->Args({64, 128, 32, 3, 2, 1});
  b->Args({64, 128, 32, 1, 2, 1});
  b->Args({128, 128, 16, 3, 1, 1});
  b->Args({128, 256, 16, 3, 2, 1});
  b->Args({128, 256, 16, 1, 2, 1});
  b->Args({256, 256, 8, 3, 1, 1});
  b->Args({256, 512, 8, 3, 2, 1});
  b->Args({256, 512, 8, 1, 2, 1});
  b->Args({512, 512, 4, 3, 1, 1});
  // The Winograd layers again on im2col, last (compare_pytorch.py picks the first name that matches
  // a shape, i.e. the automatic choice).
  b->Args({64, 64, 32, 3, 1, 0});
  b->Args({128, 128, 16, 3, 1, 0});
  b->Args({256, 256, 8, 3, 1, 0});
  b->Args({512, 512, 4, 3, 1, 0});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_conv_forward)->Apply(resnet18_shapes);
BENCHMARK(BM_conv_backward_filter)->Apply(resnet18_shapes);
BENCHMARK(BM_conv_backward)->Apply(resnet18_shapes);

BENCHMARK_MAIN();
