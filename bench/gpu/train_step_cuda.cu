// ResNet-18 (CIFAR stem, 10 classes) training-step throughput on the GPU: forward, softmax
// cross-entropy, backward, SGD (momentum 0.9, Nesterov, weight decay 5e-4) on one fixed batch, the
// same step as bench/gpu/pytorch_step.py. The loss and accuracy are accumulated on the device
// (cuda::StepMetrics), so nothing waits for the host, as PyTorch's loop that never calls
// loss.item().
//
//   bench_train_step_cuda [--batch 128] [--steps 20] [--repeats 7] [--warmup 10] [--configs LIST]
//   bench_train_step_cuda --train-epoch [--batch 512] [--images 50000]
//   bench_train_step_cuda --profile [--batch 512] [--configs fp32_eager,bf16_graph]
//
// Configurations (--configs, comma-separated; default all): fp32_eager (float32, TF32 off, launched
// step by step), fp32_graph (the same replayed from one captured CUDA graph), bf16_graph
// (Precision::bf16, replayed). For each: warm-up steps (cuDNN's algorithm search happens when the
// network is built, before them), then `repeats` timed runs of `steps` steps, timed with CUDA
// events on ctnn's stream; prints the median and the peak of ctnn's device memory during the timed
// steps as
//   RESULT ctnn_<config> <batch> <img/s> <peak MiB>
//
// --train-epoch: one epoch of real training (cosine learning rate from 0.2, batch 512 by default,
// Precision::bf16 unless --precision fp32) on data::synthetic_cifar images through
// cuda::DeviceLoader and cuda::DeviceStep, replayed from a CUDA graph; the mean loss of every 10
// steps (one host wait each), then
//   RESULT train_first_loss <loss>   RESULT train_last_loss <loss>   RESULT train_img_per_s <img/s>
//
// --profile: instead of the timed runs, 10 eager steps of each configuration's network under
// ctnn::Profiler (the device is synchronised after every layer, so each layer's time is its own
// work; the sum is slower than a real step) and its tables by kind of layer and per layer.
#include <ctnn/ctnn.hpp>
#include <ctnn/profile.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace ctnn;

namespace {

struct Options {
  std::size_t batch = 128;
  int steps = 20, repeats = 7, warmup = 10;
  std::string configs = "fp32_eager,fp32_graph,bf16_graph";
  bool train_epoch = false;
  bool profile = false;
  std::size_t images = 50000;
  std::string precision = "bf16";  // of the --train-epoch run
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--batch N] [--steps N] [--repeats N] [--warmup N] [--configs fp32_eager,fp32_graph,bf16_graph]\n"
               "       %s --train-epoch [--batch N] [--images N] [--precision bf16|fp32]\n"
               "       %s --profile [--batch N] [--configs ...]\n",
               argv0, argv0, argv0);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--profile") {
      o.profile = true;
      continue;
    }
    if (k == "--train-epoch") {
      o.train_epoch = true;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    const std::string v = argv[++i];
    if (k == "--configs") {
      o.configs = v;
      continue;
    }
    if (k == "--precision") {
      if (v != "bf16" && v != "fp32") usage(argv[0]);
      o.precision = v;
      continue;
    }
    const long n = std::strtol(v.c_str(), nullptr, 10);
    if (n <= 0) usage(argv[0]);
    if (k == "--batch") o.batch = static_cast<std::size_t>(n);
    else if (k == "--steps") o.steps = static_cast<int>(n);
    else if (k == "--repeats") o.repeats = static_cast<int>(n);
    else if (k == "--warmup") o.warmup = static_cast<int>(n);
    else if (k == "--images") o.images = static_cast<std::size_t>(n);
    else usage(argv[0]);
  }
  return o;
}

bool wanted(const Options& o, const char* config) {
  std::string list = ",", item = ",";  // built with += (g++ 12 warns wrongly on chained +)
  list += o.configs;
  list += ',';
  item += config;
  item += ',';
  return list.find(item) != std::string::npos;
}

double mib(std::size_t bytes) { return double(bytes) / double(1 << 20); }

template <class Net>
void run(const char* config, const Options& o, bool graph) {
  using In = Shape<3, 32, 32>;
  Net net(o.batch, 1);
  Rng rng(2);
  std::vector<float> x_host(o.batch * In::size);
  for (auto& v : x_host) v = static_cast<float>(rng.normal());
  std::vector<std::int32_t> labels_host(o.batch);
  for (auto& l : labels_host) l = static_cast<std::int32_t>(rng.below(10));

  typename Net::input_type x(o.batch);
  if constexpr (cuda::is_mixed_v<typename Net::device>)
    cuda::upload_values(x, std::span<const float>(x_host));
  else
    copy_from_host(x, std::span<const float>(x_host));
  cuda::DeviceBuffer<std::int32_t> labels(o.batch, "labels");
  Cuda::upload(labels.data(), labels_host.data(), o.batch * sizeof(std::int32_t));
  typename Net::output_type grad(o.batch);
  cuda::StepMetrics metrics;
  SGD<Cuda> opt{0.1f, 0.9f, 5e-4f, true};

  auto step = [&] {
    const auto& logits = net.forward(x, Mode::train);
    grad.set_batch(logits.batch());
    metrics.accumulate(logits.data(), labels.data(), o.batch, 10, 0.f, grad.data());
    net.zero_grad();
    net.backward(grad);
    opt.step(net.parameters());
  };
  if (o.profile) {  // eager steps, each layer timed on its own
    for (int i = 0; i < 3; ++i) step();
    Profiler profiler(net);
    for (int i = 0; i < 10; ++i) step();
    cuda::context().synchronize("the benchmark");
    std::printf("ctnn_%s, batch %zu, 10 eager steps under the profiler:\n%s\n%s\n", config, o.batch,
                profiler.by_kind().c_str(), profiler.table().c_str());
    std::fflush(stdout);
    return;
  }
  cuda::CapturedStep captured(step, std::size_t(o.warmup));  // eager warm-up, then one capture
  auto timed_step = [&] {
    if (graph)
      captured();
    else
      step();
  };
  for (int i = 0; i < o.warmup; ++i) timed_step();
  for (int i = 0; graph && i < o.warmup; ++i) timed_step();
  auto& ctx = cuda::context();
  ctx.synchronize("the benchmark");
  cuda::reset_peak_device_memory();

  cudaEvent_t start, stop;
  CTNN_CUDA_CHECK(cudaEventCreate(&start));
  CTNN_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> rates;
  for (int r = 0; r < o.repeats; ++r) {
    CTNN_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    for (int i = 0; i < o.steps; ++i) timed_step();
    CTNN_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
    CTNN_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    CTNN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    rates.push_back(double(o.steps) * double(o.batch) / (double(ms) * 1e-3));
  }
  CTNN_CUDA_CHECK(cudaEventDestroy(start));
  CTNN_CUDA_CHECK(cudaEventDestroy(stop));

  const auto totals = metrics.read();
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  const double peak = mib(cuda::device_memory().peak);
  std::printf("ctnn_%s: batch %zu, %d x %d steps: median %.0f img/s (min %.0f, max %.0f), %.3f ms/step; peak %.0f MiB; "
              "mean loss %.4f over %llu steps\n",
              config, o.batch, o.repeats, o.steps, median, rates.front(), rates.back(), 1e3 * double(o.batch) / median, peak,
              totals.mean_loss(), totals.steps);
  std::printf("RESULT ctnn_%s %zu %.1f %.1f\n", config, o.batch, median, peak);
  std::fflush(stdout);
}

// One epoch of real training on synthetic CIFAR images: the loss must fall.
template <class Net>
int train_epoch(const Options& o) {
  using In = Shape<3, 32, 32>;
  std::printf("generating %zu synthetic CIFAR images...\n", o.images);
  std::fflush(stdout);
  const auto set = data::synthetic_cifar(o.images, 11);
  cuda::DeviceLoader<In> loader(set, data::LoaderOptions::training(1, o.batch));
  Net net(o.batch, 3);
  SGD<Cuda> opt{0.2f, 0.9f, 5e-4f, true};
  cuda::DeviceStep step(net, opt, loader, 0.f);
  const std::size_t steps = loader.batches_per_epoch();
  const schedule::Cosine lr_at{0.2f, steps, std::min<std::size_t>(steps / 10, 20)};
  cuda::CapturedStep graph([&] { step(); });
  auto& ctx = cuda::context();
  ctx.synchronize("the benchmark");
  cudaEvent_t start, stop;
  CTNN_CUDA_CHECK(cudaEventCreate(&start));
  CTNN_CUDA_CHECK(cudaEventCreate(&stop));
  CTNN_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
  std::vector<double> losses;
  constexpr std::size_t interval = 10;
  for (std::size_t t = 0; t < steps; ++t) {
    opt.lr = lr_at(t);
    graph();
    if ((t + 1) % interval == 0 || t + 1 == steps) {
      const auto m = step.read();
      losses.push_back(m.mean_loss());
      std::printf("step %4zu/%zu  lr %.4f  loss %.4f  acc %.1f%%\n", t + 1, steps, double(opt.lr), m.mean_loss(),
                  100.0 * m.accuracy());
    }
  }
  CTNN_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
  CTNN_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = 0.f;
  CTNN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  const double rate = double(steps * o.batch) / (double(ms) * 1e-3);
  std::printf("one epoch: %zu steps of %zu in %.2f s (%.0f img/s, data preparation and the loss reads included)\n", steps,
              o.batch, double(ms) * 1e-3, rate);
  std::printf("RESULT train_first_loss %.4f\nRESULT train_last_loss %.4f\nRESULT train_img_per_s %.1f\n", losses.front(),
              losses.back(), rate);
  const bool fell = std::isfinite(losses.back()) && losses.back() < 0.8 * losses.front();
  std::printf("the loss %s (%.4f -> %.4f)\n", fell ? "fell" : "DID NOT FALL", losses.front(), losses.back());
  return fell ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (cuda::device_count() == 0) {
    std::printf("bench_train_step_cuda: no GPU (%s), nothing to measure\n", cuda::no_device_reason().c_str());
    return 0;
  }
  using In = Shape<3, 32, 32>;
  using Fp32 = Network<ResNet18<10>, In, Cuda>;
  try {
    const auto& p = cuda::context().properties();
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    std::printf("ctnn ResNet-18 CIFAR training step on %s: CUDA runtime %d, driver %d, cuDNN %zu\n", p.name, runtime, driver,
                cudnnGetVersion());
    cuda::settings().allow_tf32 = false;
    using Bf16 = Network<ResNet18<10>, In, Cuda, Precision::bf16>;
    if (o.train_epoch) return o.precision == "bf16" ? train_epoch<Bf16>(o) : train_epoch<Fp32>(o);
    if (wanted(o, "fp32_eager")) run<Fp32>("fp32_eager", o, false);
    if (wanted(o, "fp32_graph")) run<Fp32>("fp32_graph", o, true);
    if (wanted(o, "bf16_graph")) run<Bf16>("bf16_graph", o, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
