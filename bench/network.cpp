// Whole-network benchmarks: a ResNet-18 CIFAR training step (forward, loss, backward, SGD update)
// and inference, at batch 32, 64 and 128, and the small 28x28 network of small_net.hpp (training
// and inference at batch 128), in images per second.
#include <benchmark/benchmark.h>

#include <ctnn/ctnn.hpp>

#include <vector>

#include "small_net.hpp"

namespace {

using Net = ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>>;

struct Fixture {
  Net net;
  ctnn::Tensor<ctnn::Shape<3, 32, 32>> x;
  ctnn::Tensor<ctnn::Shape<10>> grad;
  std::vector<std::int32_t> labels;
  explicit Fixture(std::size_t batch) : net(batch, 1), x(batch), grad(batch), labels(batch) {
    ctnn::Rng rng(2);
    for (auto& v : x.span()) v = rng.uniform(-2, 2);
    for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  }
};

void BM_resnet18_train_step(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  Fixture f(batch);
  ctnn::SGD opt{0.01f, 0.9f, 5e-4f};
  auto step = [&] { benchmark::DoNotOptimize(ctnn::train::step(f.net, opt, f.x, f.labels, f.grad).loss); };
  step();  // first touch of every buffer and workspace, outside the timing
  for (auto _ : state) step();
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_resnet18_inference(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  Fixture f(batch);
  f.net.forward(f.x, ctnn::Mode::inference);  // first touch, outside the timing
  for (auto _ : state) benchmark::DoNotOptimize(f.net.forward(f.x, ctnn::Mode::inference).data());
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

struct SmallFixture {
  ctnn::Network<bench::SmallNet, bench::SmallInput> net;
  ctnn::Tensor<bench::SmallInput> x;
  ctnn::Tensor<ctnn::Shape<10>> grad;
  std::vector<std::int32_t> labels;
  explicit SmallFixture(std::size_t batch) : net(batch, 1), x(batch), grad(batch), labels(batch) {
    ctnn::Rng rng(2);
    for (auto& v : x.span()) v = rng.uniform(-2, 2);
    for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  }
};

void BM_small_train_step(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  SmallFixture f(batch);
  ctnn::SGD opt{0.01f, 0.9f, 5e-4f};
  auto step = [&] { benchmark::DoNotOptimize(ctnn::train::step(f.net, opt, f.x, f.labels, f.grad).loss); };
  step();
  for (auto _ : state) step();
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_small_inference(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  SmallFixture f(batch);
  f.net.forward(f.x, ctnn::Mode::inference);
  for (auto _ : state) benchmark::DoNotOptimize(f.net.forward(f.x, ctnn::Mode::inference).data());
  state.counters["img/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_small_train_step)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(4);
BENCHMARK(BM_small_inference)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);
BENCHMARK(BM_resnet18_train_step)->Arg(32)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(8);
BENCHMARK(BM_resnet18_inference)->Arg(32)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(4);

BENCHMARK_MAIN();
