// Data-parallel training steps of ResNet-18 (CIFAR, global batch 64) under MPI, side by side:
//
//   bench/dist/run.sh            1 process x 2 threads, then 2 processes x 1 thread (mpirun)
//
// Each benchmark is one training step (forward, loss, backward, the gradient sums, SGD) at a bucket
// size, with the sums overlapped with backward or all started after it. Counters (medians over
// the repetitions, rank 0's clock; every iteration starts at a barrier):
//   img/s        global images per second
//   exposed_ms   time in DataParallel::finish(): the communication backward did not hide
//   backward_ms  backward alone (the sums it starts included)
//   averaging_ms the part of exposed_ms that divides the sums by the process count
// and BM_allreduce: a sum alone, its time and bus bandwidth (2 (N-1)/N bytes per process).
// With --timeline FILE rank 0 writes, for the last step at 25 MB buckets, each bucket's size and
// when its sum started, each parameter's size and when its gradient became final (ms after
// backward began), and how long backward took: the input of bench/dist/scaling_model.py.
#include <benchmark/benchmark.h>
#include <ctnn/ctnn.hpp>
#include <ctnn/dist/mpi.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using Net = ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>>;
constexpr std::size_t global_batch = 64;

ctnn::dist::MpiCommunicator* world = nullptr;
std::string timeline_path;

using clock_type = std::chrono::steady_clock;
double ms(clock_type::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Setup {
  std::size_t local = global_batch / std::size_t(world->size());
  Net net{local, 1};
  ctnn::SGD<> sgd{0.01f, 0.9f, 5e-4f};
  ctnn::Tensor<ctnn::Shape<3, 32, 32>> x{local};
  ctnn::Tensor<ctnn::Shape<10>> grad{local};
  std::vector<std::int32_t> labels = std::vector<std::int32_t>(local);
  Setup() {
    ctnn::Rng rng(world->rank() + 5);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform(-1.f, 1.f);
    for (std::size_t i = 0; i < local; ++i) labels[i] = std::int32_t(rng.below(10));
  }
};

// When each parameter's gradient became final in the last backward (ms after it began).
struct Timeline final : ctnn::GradientHook {
  clock_type::time_point start;
  std::vector<double> ready_ms;
  void gradients_ready(std::size_t first, std::size_t last) override {
    const double t = ms(clock_type::now() - start);
    for (std::size_t i = first; i < last; ++i)
      if (ready_ms[i] < 0) ready_ms[i] = t;
  }
};

void BM_step(benchmark::State& state) {
  static std::unique_ptr<Setup> setup;  // one network for every benchmark: built once
  if (!setup) setup = std::make_unique<Setup>();
  Setup& s = *setup;
  const bool parallel = world->size() > 1;
  const std::size_t bucket_bytes = std::size_t(state.range(0)) << 20;
  const bool overlap = state.range(1) != 0;
  const bool record = parallel && world->is_root() && !timeline_path.empty() && state.range(0) == 25 && state.range(1) == 1;
  Timeline timeline;
  timeline.ready_ms.assign(s.net.parameters().size(), -1.0);
  if (record) s.net.set_gradient_hook(&timeline);  // DataParallel passes the calls on
  std::unique_ptr<ctnn::dist::DataParallel<Net>> dp;
  if (parallel) dp = std::make_unique<ctnn::dist::DataParallel<Net>>(s.net, *world, ctnn::dist::DataParallelOptions{bucket_bytes, overlap, false});
  double exposed = 0, backward = 0, averaging = 0;
  clock_type::time_point backward_start, backward_end;
  for (auto _ : state) {
    world->barrier("the start of a step");
    const auto t0 = clock_type::now();
    const auto& logits = s.net.forward(s.x, ctnn::Mode::train);
    ctnn::softmax_cross_entropy(logits, s.labels, s.grad, 0.f);
    s.net.zero_grad();
    std::fill(timeline.ready_ms.begin(), timeline.ready_ms.end(), -1.0);
    backward_start = timeline.start = clock_type::now();
    s.net.backward(s.grad);
    backward_end = clock_type::now();
    const auto t2 = clock_type::now();
    if (dp) dp->finish();
    const auto t3 = clock_type::now();
    s.sgd.step(s.net.parameters());
    const auto t4 = clock_type::now();
    exposed += ms(t3 - t2);
    if (dp) averaging += dp->last_average_seconds() * 1000;
    backward += ms(backward_end - backward_start);
    state.SetIterationTime(std::chrono::duration<double>(t4 - t0).count());
  }
  const double n = double(state.iterations());
  state.counters["exposed_ms"] = exposed / n;
  state.counters["backward_ms"] = backward / n;
  state.counters["averaging_ms"] = averaging / n;
  state.counters["img/s"] = benchmark::Counter(double(global_batch) * n, benchmark::Counter::kIsRate);
  state.counters["buckets"] = dp ? double(dp->buckets().size()) : 0;
  if (record) {
    if (std::FILE* f = std::fopen(timeline_path.c_str(), "w")) {
      std::fprintf(f, "{\"processes\": %d, \"global_batch\": %zu, \"backward_ms\": %.3f, \"buckets\": [", world->size(),
                   global_batch, ms(backward_end - backward_start));
      const auto buckets = dp->buckets();
      for (std::size_t b = 0; b < buckets.size(); ++b)
        std::fprintf(f, "%s{\"bytes\": %zu, \"ready_ms\": %.3f}", b ? ", " : "", buckets[b].floats * sizeof(float),
                     ms(dp->started_at(b) - backward_start));
      std::fprintf(f, "], \"parameters\": [");  // in reverse order, as buckets take them
      const auto params = s.net.parameters();
      for (std::size_t i = params.size(); i-- > 0;)
        std::fprintf(f, "%s{\"bytes\": %zu, \"ready_ms\": %.3f}", i + 1 < params.size() ? ", " : "",
                     params[i].size * sizeof(float), timeline.ready_ms[i]);
      std::fprintf(f, "]}\n");
      std::fclose(f);
    }
  }
  dp.reset();
  s.net.set_gradient_hook(nullptr);
}
// Bucket MB x overlap. One process: a plain step (the bucket arguments do not apply).
BENCHMARK(BM_step)->ArgsProduct({{1, 5, 25, 100}, {1, 0}})->ArgNames({"bucket_mb", "overlap"})->Iterations(4)
    ->Repetitions(3)->ReportAggregatesOnly(true)->UseManualTime()->Unit(benchmark::kMillisecond);

// The sum alone, without backward: the link the scaling model needs (bus bandwidth = 2 (N-1)/N x
// bytes / time, the ring all-reduce's traffic per process).
void BM_allreduce(benchmark::State& state) {
  const std::size_t floats = (std::size_t(state.range(0)) << 20) / sizeof(float) / 4 * 4;
  std::vector<float> data(floats, 1.f);
  for (auto _ : state) {
    world->barrier("the start of a sum");
    const auto t0 = clock_type::now();
    world->wait(world->start_sum(data.data(), floats, "a benchmark sum"));
    state.SetIterationTime(std::chrono::duration<double>(clock_type::now() - t0).count());
  }
  const double n = double(world->size());
  state.counters["bus_GB/s"] = benchmark::Counter(2 * (n - 1) / n * double(floats * sizeof(float)) * double(state.iterations()) / 1e9,
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_allreduce)->Arg(1)->Arg(4)->Arg(25)->ArgName("MB")->Iterations(10)->Repetitions(3)->ReportAggregatesOnly(true)
    ->UseManualTime()->Unit(benchmark::kMillisecond);

// Reports nothing: the ranks other than 0.
class Silent : public benchmark::BenchmarkReporter {
public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  ctnn::dist::Mpi mpi(argc, argv);
  ctnn::dist::MpiCommunicator comm;
  world = &comm;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--timeline") == 0) {
      timeline_path = argv[i + 1];
      for (int j = i; j + 2 < argc + 1; ++j) argv[j] = argv[j + 2];
      argc -= 2;
      break;
    }
  if (comm.size() == 1) {  // the bucket and overlap arguments do not apply: one plain step
    benchmark::ClearRegisteredBenchmarks();
    benchmark::RegisterBenchmark("BM_step", BM_step)->Args({25, 1})->Iterations(4)->Repetitions(3)
        ->ReportAggregatesOnly(true)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (comm.is_root()) {
    std::printf("processes %d x threads %d, ResNet-18, global batch %zu\n", comm.size(), ctnn::num_threads(), global_batch);
    benchmark::RunSpecifiedBenchmarks();
  } else {
    Silent silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
}
