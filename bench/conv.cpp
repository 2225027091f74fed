// Convolution microbenchmarks: every distinct convolution of ResNet-18 on CIFAR-10 (batch 64) and
// of the small network (bench/small_net.hpp, batch 128; BM_small_conv_*),
// forward, backward data, backward filter and backward data + filter together, in GFLOP/s
// (2 * MACs per second), img/s, and of_gemm: the GFLOP/s as a fraction of the rate ctnn's own
// sgemm (backend/cpu/gemm.hpp) reaches on the convolution's im2col GEMM in the same process.
//
// of_gemm's reference, one definition for every pass: the forward im2col GEMM of the whole batch,
// M = out_c, K = in_c * k * k, N = batch * Ho * Wo, split by columns into one single-threaded GEMM
// per thread (ctnn's thread count, sharing A, as the convolutions run), each thread's N capped at
// 2048 columns (wide enough for a GEMM's full rate; the cap bounds the buffers). It is measured
// once per shape and process, the median of 5 timed runs of about 50 ms each. The backward passes
// run transposed GEMMs of the same size, so of_gemm says how far each pass is from the GEMM it
// amounts to. of_gemm is a rate counter divided by a fixed rate, so the console prints it with a
// stray "/s"; the JSON value is the plain fraction.
//
// The last argument picks the algorithm: algo=0 im2col + GEMM, algo=1 automatic (Winograd for the
// 3x3 stride-1 layers with >= 16 channels, with the tile Conv2d chooses, unless CTNN_WINOGRAD
// says otherwise), algo=2 Winograd F(2x2,3x3), algo=4 Winograd F(4x4,3x3). The 3x3 stride-1 shapes
// run with all four, so one run compares them (the label names what ran). GFLOP/s always counts the direct
// convolution's 2 * MACs, so Winograd's figure (and its of_gemm, which can exceed 1) is an
// effective rate.
//
// BM_winograd_split runs ResNet-18's 8x8 and 4x4 Winograd layers (forward, backward data and
// backward filter in one iteration) with each way the threads can share them (winograd::Split).
#include <benchmark/benchmark.h>

#include <ctnn/backend/cpu.hpp>
#include <ctnn/core/random.hpp>
#include <ctnn/core/threading.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <initializer_list>
#include <map>
#include <vector>

#include "gemm_per_thread.hpp"

namespace {

using ctnn::backend::Geometry2d;
using ctnn::backend::cpu::Conv2d;
using ctnn::backend::cpu::ConvAlgorithm;

// ResNet-18's batch here, and BM_winograd_split's; the small network's shapes run at its 128.
constexpr std::size_t resnet_batch = 64;

// in_c, out_c, size, kernel, stride (pad = kernel / 2), algo, batch
std::size_t batch_of(const benchmark::State& s) { return std::size_t(s.range(6)); }

Geometry2d geometry(const benchmark::State& s) {
  const auto in_c = std::size_t(s.range(0)), out_c = std::size_t(s.range(1)), hw = std::size_t(s.range(2)),
             k = std::size_t(s.range(3)), st = std::size_t(s.range(4));
  const std::size_t pad = k / 2, out = (hw + 2 * pad - k) / st + 1;
  return {in_c, hw, hw, out_c, out, out, k, st, pad};
}

ConvAlgorithm algorithm(const benchmark::State& s) {
  switch (s.range(5)) {
    case 0: return ConvAlgorithm::im2col;
    case 2: return ConvAlgorithm::winograd_2x2;
    case 4: return ConvAlgorithm::winograd_4x4;
    default: return ConvAlgorithm::automatic;
  }
}

Conv2d make_conv(benchmark::State& state, const Geometry2d& g) {
  Conv2d conv(g, batch_of(state), algorithm(state));
  state.SetLabel(conv.winograd_tile() == 4 ? "winograd 4x4" : conv.winograd_tile() == 2 ? "winograd 2x2" : "im2col");
  return conv;
}

struct Buffers {
  std::vector<float> x, w, y, dw, dx;
  Buffers(const Geometry2d& g, std::size_t batch)
      : x(batch * g.in_size()), w(g.out_c * g.patch()), y(batch * g.out_size()), dw(w.size()), dx(x.size()) {
    ctnn::Rng rng(1);
    for (auto& v : x) v = rng.uniform(-1, 1);
    for (auto& v : w) v = rng.uniform(-1, 1);
    for (auto& v : y) v = rng.uniform(-1, 1);
  }
};

// FLOP/s of one [M,K] x [K,N] sgemm per thread, all threads at once (A shared, B and C per thread);
// measured once per shape and thread count, the median of 5 timed runs of about 50 ms.
double gemm_rate(std::size_t M, std::size_t N, std::size_t K) {
  static std::map<std::array<std::size_t, 4>, double> cache;
  const auto T = static_cast<std::size_t>(std::max(1, ctnn::num_threads()));
  const std::array<std::size_t, 4> key{M, N, K, T};
  if (const auto it = cache.find(key); it != cache.end()) return it->second;

  std::vector<float> a(M * K), b(T * K * N), c(T * M * N);
  ctnn::Rng rng(2);
  for (auto& v : a) v = rng.uniform(-1, 1);
  for (auto& v : b) v = rng.uniform(-1, 1);
  const auto run = [&] { bench::gemm_per_thread(M, N, K, T, a.data(), b.data(), c.data()); };
  using clock = std::chrono::steady_clock;
  const auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
  auto start = clock::now();
  run();  // also sizes the GEMM workspaces
  const double first = seconds(clock::now() - start);
  const int reps = static_cast<int>(std::clamp(0.05 / std::max(first, 1e-9), 1.0, 10000.0));
  std::array<double, 5> rates{};
  for (auto& r : rates) {
    start = clock::now();
    for (int i = 0; i < reps; ++i) run();
    benchmark::DoNotOptimize(c.data());
    r = 2.0 * double(M) * double(N) * double(K) * double(T) * reps / seconds(clock::now() - start);
  }
  std::nth_element(rates.begin(), rates.begin() + 2, rates.end());
  return cache.emplace(key, rates[2]).first->second;
}

// of_gemm's reference for geometry g (see the top of the file).
double reference_rate(const Geometry2d& g, std::size_t batch) {
  const auto T = static_cast<std::size_t>(std::max(1, ctnn::num_threads()));
  const std::size_t columns = std::min<std::size_t>((batch * g.out_plane() + T - 1) / T, 2048);
  return gemm_rate(g.out_c, columns, g.patch());
}

// `passes` is 2 when one iteration runs backward data and backward filter.
void set_rate(benchmark::State& state, const Geometry2d& g, std::size_t batch, double passes = 1) {
  const double flops = passes * 2.0 * double(batch) * double(g.out_size()) * double(g.patch());
  const double done = flops * double(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(done, benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["of_gemm"] = benchmark::Counter(done / reference_rate(g, batch), benchmark::Counter::kIsRate);
}

void BM_conv_forward(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  const std::size_t batch = batch_of(state);
  Buffers b(g, batch);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.forward(b.x.data(), b.w.data(), b.y.data(), batch);
    benchmark::DoNotOptimize(b.y.data());
  }
  set_rate(state, g, batch);
}

void BM_conv_backward_data(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  const std::size_t batch = batch_of(state);
  Buffers b(g, batch);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.backward(b.x.data(), b.w.data(), b.y.data(), b.dx.data(), nullptr, batch);
    benchmark::DoNotOptimize(b.dx.data());
  }
  set_rate(state, g, batch);
}

void BM_conv_backward_filter(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  const std::size_t batch = batch_of(state);
  Buffers b(g, batch);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.backward(b.x.data(), b.w.data(), b.y.data(), nullptr, b.dw.data(), batch);
    benchmark::DoNotOptimize(b.dw.data());
  }
  set_rate(state, g, batch);
}

// Backward data and filter together (what a layer inside the network runs); twice the work.
void BM_conv_backward(benchmark::State& state) {
  const Geometry2d g = geometry(state);
  const std::size_t batch = batch_of(state);
  Buffers b(g, batch);
  Conv2d conv = make_conv(state, g);
  for (auto _ : state) {
    conv.backward(b.x.data(), b.w.data(), b.y.data(), b.dx.data(), b.dw.data(), batch);
    benchmark::DoNotOptimize(b.dx.data());
  }
  set_rate(state, g, batch, 2);
}

// One Winograd layer's forward, backward data and backward filter, with the threads sharing the
// work by images or by the transformed matrices (winograd::Split; Conv2d leaves the choice to the
// kernel). Arguments: channels (in = out), plane size, tile, split (1 images, 2 matrices).
void BM_winograd_split(benchmark::State& state) {
  const auto c = std::size_t(state.range(0)), hw = std::size_t(state.range(1)), tile = std::size_t(state.range(2));
  const auto split = state.range(3) == 2 ? ctnn::backend::cpu::winograd::Split::matrices : ctnn::backend::cpu::winograd::Split::images;
  const Geometry2d g{c, hw, hw, c, hw, hw, 3, 1, 1};
  const std::size_t batch = resnet_batch;
  Buffers b(g, batch);
  ctnn::backend::cpu::Winograd3x3 k(g, batch, tile, split);
  for (auto _ : state) {
    k.forward(b.x.data(), b.w.data(), b.y.data(), batch);
    k.backward_data(b.w.data(), b.y.data(), b.dx.data(), batch);
    k.backward_filter(b.x.data(), b.y.data(), b.dw.data(), batch);
    benchmark::DoNotOptimize(b.dw.data());
  }
  set_rate(state, g, batch, 3);
}

struct ConvShape {
  int in, out, hw, k, s;
};

// Every shape with the automatic algorithm, then the Winograd-able ones again with each tile and
// on im2col, last (compare_pytorch.py picks the first name that matches a shape, i.e. the
// automatic choice), all at `batch`.
void register_shapes(benchmark::internal::Benchmark* b, int batch, std::initializer_list<ConvShape> all,
                     std::initializer_list<ConvShape> winograd) {
  b->ArgNames({"in", "out", "hw", "k", "s", "algo", "batch"});
  for (const ConvShape& x : all) b->Args({x.in, x.out, x.hw, x.k, x.s, 1, batch});
  for (const int algo : {2, 4, 0})
    for (const ConvShape& x : winograd) b->Args({x.in, x.out, x.hw, x.k, x.s, algo, batch});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void resnet18_shapes(benchmark::internal::Benchmark* b) {
  register_shapes(b, resnet_batch,
                  {{3, 64, 32, 3, 1}, {64, 64, 32, 3, 1}, {64, 128, 32, 3, 2}, {64, 128, 32, 1, 2},
                   {128, 128, 16, 3, 1}, {128, 256, 16, 3, 2}, {128, 256, 16, 1, 2}, {256, 256, 8, 3, 1},
                   {256, 512, 8, 3, 2}, {256, 512, 8, 1, 2}, {512, 512, 4, 3, 1}},
                  {{64, 64, 32, 3, 1}, {128, 128, 16, 3, 1}, {256, 256, 8, 3, 1}, {512, 512, 4, 3, 1}});
}

// The small network's convolutions (bench/small_net.hpp) at its batch of 128.
void small_net_shapes(benchmark::internal::Benchmark* b) {
  register_shapes(b, 128,
                  {{1, 16, 28, 3, 1}, {16, 32, 28, 3, 2}, {16, 32, 28, 1, 2}, {32, 32, 14, 3, 1},
                   {32, 64, 14, 3, 2}, {32, 64, 14, 1, 2}, {64, 64, 7, 3, 1}},
                  {{32, 32, 14, 3, 1}, {64, 64, 7, 3, 1}});
}

}  // namespace

BENCHMARK(BM_conv_forward)->Apply(resnet18_shapes);
BENCHMARK(BM_conv_backward_data)->Apply(resnet18_shapes);
BENCHMARK(BM_conv_backward_filter)->Apply(resnet18_shapes);
BENCHMARK(BM_conv_backward)->Apply(resnet18_shapes);
BENCHMARK(BM_conv_forward)->Name("BM_small_conv_forward")->Apply(small_net_shapes);
BENCHMARK(BM_conv_backward_data)->Name("BM_small_conv_backward_data")->Apply(small_net_shapes);
BENCHMARK(BM_conv_backward_filter)->Name("BM_small_conv_backward_filter")->Apply(small_net_shapes);
BENCHMARK(BM_winograd_split)
    ->ArgNames({"c", "hw", "tile", "split"})
    ->ArgsProduct({{256}, {8}, {2, 4}, {1, 2}})
    ->ArgsProduct({{512}, {4}, {2, 4}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
