// Layer-level benchmarks at ResNet-18 sizes (batch 64): batch norm forward/backward, fused against
// unfused element-wise work (residual add + ReLU, inference batch norm + ReLU: what the expression
// templates save), Linear, softmax cross-entropy, the optimizer step over all ResNet-18 parameters,
// and the data loader on its own.
#include <benchmark/benchmark.h>

#include <ctnn/ctnn.hpp>

#include <vector>

namespace {

constexpr std::size_t batch = 64;
using Act = ctnn::Shape<64, 32, 32>;  // the largest ResNet-18 activation
using PerChannel = ctnn::Shape<ctnn::channels_v<Act>>;

template <class S>
ctnn::Tensor<S> random_tensor(std::size_t n, std::uint64_t seed) {
  ctnn::Tensor<S> t(n);
  ctnn::Rng rng(seed);
  for (auto& v : t.span()) v = rng.uniform(-1, 1);
  return t;
}

void bytes_counter(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * double(state.iterations()),
                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

void BM_batchnorm_forward_train(benchmark::State& state) {
  ctnn::Rng rng(1);
  ctnn::layer_t<ctnn::BatchNorm<64>, Act> bn(batch, rng);
  auto x = random_tensor<Act>(batch, 2);
  for (auto _ : state) benchmark::DoNotOptimize(bn.forward(x, ctnn::Mode::train).data());
  bytes_counter(state, 2.0 * double(x.bytes()));
}

void BM_batchnorm_backward(benchmark::State& state) {
  ctnn::Rng rng(1);
  ctnn::layer_t<ctnn::BatchNorm<64>, Act> bn(batch, rng);
  auto x = random_tensor<Act>(batch, 2);
  auto dy = random_tensor<Act>(batch, 3);
  bn.forward(x, ctnn::Mode::train);
  for (auto _ : state) benchmark::DoNotOptimize(bn.backward(dy, true).data());
  bytes_counter(state, 3.0 * double(x.bytes()));
}

// relu(a + b) in one pass (the residual add + ReLU) ...
void BM_residual_relu_fused(benchmark::State& state) {
  auto a = random_tensor<Act>(batch, 1), b = random_tensor<Act>(batch, 2);
  ctnn::Tensor<Act> y(batch);
  for (auto _ : state) {
    ctnn::expr::assign(y, ctnn::expr::relu(a + b));
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, 3.0 * double(a.bytes()));
}

// ... against two passes through a temporary, as an unfused library runs it.
void BM_residual_relu_unfused(benchmark::State& state) {
  auto a = random_tensor<Act>(batch, 1), b = random_tensor<Act>(batch, 2);
  ctnn::Tensor<Act> t(batch), y(batch);
  for (auto _ : state) {
    ctnn::expr::assign(t, a + b);
    ctnn::expr::assign(y, ctnn::expr::relu(t));
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, 3.0 * double(a.bytes()));
}

// Batch norm in inference form + ReLU, relu(x * scale[c] + shift[c]), in one pass ...
void BM_bn_apply_relu_fused(benchmark::State& state) {
  auto x = random_tensor<Act>(batch, 1);
  const auto scale = random_tensor<PerChannel>(1, 2), shift = random_tensor<PerChannel>(1, 3);
  ctnn::Tensor<Act> y(batch);
  for (auto _ : state) {
    ctnn::expr::assign(y, ctnn::expr::relu(x * ctnn::expr::channel(scale) + ctnn::expr::channel(shift)));
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, 2.0 * double(x.bytes()));
}

// ... against the batch-norm output written out and read back by a separate ReLU.
void BM_bn_apply_relu_unfused(benchmark::State& state) {
  auto x = random_tensor<Act>(batch, 1);
  const auto scale = random_tensor<PerChannel>(1, 2), shift = random_tensor<PerChannel>(1, 3);
  ctnn::Tensor<Act> t(batch), y(batch);
  for (auto _ : state) {
    ctnn::expr::assign(t, x * ctnn::expr::channel(scale) + ctnn::expr::channel(shift));
    ctnn::expr::assign(y, ctnn::expr::relu(t));
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, 2.0 * double(x.bytes()));
}

void BM_linear_forward_backward(benchmark::State& state) {
  ctnn::Rng rng(1);
  ctnn::layer_t<ctnn::Linear<512, 10>, ctnn::Shape<512>> fc(batch, rng);
  auto x = random_tensor<ctnn::Shape<512>>(batch, 2);
  auto dy = random_tensor<ctnn::Shape<10>>(batch, 3);
  for (auto _ : state) {
    fc.forward(x, ctnn::Mode::train);
    benchmark::DoNotOptimize(fc.backward(dy, true).data());
  }
}

void BM_softmax_cross_entropy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto logits = random_tensor<ctnn::Shape<10>>(n, 1);
  ctnn::Tensor<ctnn::Shape<10>> grad(n);
  std::vector<std::int32_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  for (auto _ : state) benchmark::DoNotOptimize(ctnn::softmax_cross_entropy(logits, labels, grad));
}

void BM_sgd_step_resnet18(benchmark::State& state) {
  ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>> net(1, 1);
  ctnn::SGD opt{0.1f, 0.9f, 5e-4f, state.range(0) != 0};
  opt.step(net.parameters());
  for (auto _ : state) opt.step(net.parameters());
  // Reads parameter, gradient and momentum, writes momentum and parameter.
  bytes_counter(state, 5.0 * 4.0 * double(net.parameter_count()));
}

void BM_loader_epoch(benchmark::State& state) {
  const auto data = ctnn::data::synthetic_cifar(5120, 1);
  ctnn::data::Loader loader(data, ctnn::data::LoaderOptions::training(1, 128));
  std::size_t epoch = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (const auto* b = loader.next()) benchmark::DoNotOptimize(b->images.data());
  }
  state.counters["img/s"] = benchmark::Counter(double(loader.samples_per_epoch()) * double(state.iterations()),
                                               benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_batchnorm_forward_train)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_batchnorm_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_residual_relu_fused)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_residual_relu_unfused)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_bn_apply_relu_fused)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_bn_apply_relu_unfused)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_linear_forward_backward)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_softmax_cross_entropy)->Arg(128)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_sgd_step_resnet18)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_loader_epoch)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
