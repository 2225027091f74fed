// ResNet-18 (CIFAR stem, 10 classes) training-step throughput on the GPU: forward, softmax
// cross-entropy, backward, SGD (momentum 0.9, Nesterov, weight decay 5e-4), the same step as
// bench/gpu/pytorch_step.py. The loss runs on the device without a host synchronisation
// (cuda::softmax_cross_entropy_async), like PyTorch's loop that never calls loss.item().
//
//   bench_train_step_cuda [--batch 128] [--steps 20] [--repeats 7] [--warmup 10]
//
// For each precision (float32 with TF32 off, then TF32 allowed), launched step by step and then
// replayed from one captured CUDA graph (cuda::Graph): warm-up steps (cuDNN algorithm search
// happens at construction, before them), then `repeats` timed runs of `steps` steps each, timed
// with CUDA events on ctnn's stream; prints the medians as
//   RESULT ctnn_fp32 <img/s>         RESULT ctnn_tf32 <img/s>
//   RESULT ctnn_fp32_graph <img/s>   RESULT ctnn_tf32_graph <img/s>
#include <ctnn/ctnn.hpp>
#include <ctnn/optim.hpp>

#include <algorithm>
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
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (v <= 0) {
      std::fprintf(stderr, "bad value for %s\n", k.c_str());
      std::exit(2);
    }
    if (k == "--batch") o.batch = static_cast<std::size_t>(v);
    else if (k == "--steps") o.steps = static_cast<int>(v);
    else if (k == "--repeats") o.repeats = static_cast<int>(v);
    else if (k == "--warmup") o.warmup = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: %s [--batch N] [--steps N] [--repeats N] [--warmup N]\n", argv[0]);
      std::exit(2);
    }
  }
  return o;
}

double run(const char* label, const Options& o, bool graph) {
  using In = Shape<3, 32, 32>;
  Network<ResNet18<10>, In, Cuda> net(o.batch, 1);
  Rng rng(2);
  std::vector<float> x_host(o.batch * In::size);
  for (auto& v : x_host) v = static_cast<float>(rng.normal());
  std::vector<std::int32_t> labels_host(o.batch);
  for (auto& l : labels_host) l = static_cast<std::int32_t>(rng.below(10));

  Tensor<In, Cuda> x(o.batch);
  copy_from_host(x, std::span<const float>(x_host));
  cuda::DeviceBuffer<std::int32_t> labels(o.batch, "labels");
  Cuda::upload(labels.data(), labels_host.data(), o.batch * sizeof(std::int32_t));
  Tensor<Shape<10>, Cuda> grad(o.batch);
  cuda::DeviceBuffer<double> loss_sum(1, "loss");
  SGD<Cuda> opt{0.1f, 0.9f, 5e-4f, true};

  // The loss stays on the device (no host synchronisation), so the step can be captured.
  auto device_loss = [&](const Tensor<Shape<10>, Cuda>& logits, Tensor<Shape<10>, Cuda>& g) {
    g.set_batch(logits.batch());
    cuda::softmax_cross_entropy_async(logits.data(), labels.data(), o.batch, 10, 0.f, g.data(), loss_sum.data());
  };
  auto step = [&] { train::step(net, opt, x, grad, device_loss); };

  auto& ctx = cuda::context();
  loss_sum.zero();
  for (int i = 0; i < o.warmup; ++i) step();
  cuda::Graph captured;
  if (graph) captured.capture(step);  // after the warm-up: the optimizer state exists
  auto timed_step = [&] {
    if (graph)
      captured.replay();
    else
      step();
  };
  for (int i = 0; graph && i < o.warmup; ++i) timed_step();
  ctx.synchronize();

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

  double loss_total = 0.0;
  Cuda::download(&loss_total, loss_sum.data(), sizeof(double));
  const int total_steps = (graph ? 2 : 1) * o.warmup + o.steps * o.repeats;
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  std::printf("%s: batch %zu, %d x %d steps: median %.0f img/s (min %.0f, max %.0f), %.2f ms/step; mean loss %.4f\n",
              label, o.batch, o.repeats, o.steps, median, rates.front(), rates.back(),
              1e3 * double(o.batch) / median, loss_total / (double(total_steps) * double(o.batch)));
  std::printf("RESULT %s %.1f\n", label, median);
  std::fflush(stdout);
  return median;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (cuda::device_count() == 0) {
    std::printf("bench_train_step_cuda: no GPU (%s), nothing to measure\n", cuda::no_device_reason().c_str());
    return 0;
  }
  try {
    const auto& p = cuda::context().properties();
    std::printf("ctnn ResNet-18 CIFAR training step on %s, cuDNN %zu\n", p.name, cudnnGetVersion());
    cuda::settings().allow_tf32 = false;
    run("ctnn_fp32", o, false);
    cuda::settings().allow_tf32 = true;
    run("ctnn_tf32", o, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step_cuda: %s\n", e.what());
    return 1;
  }
  // The same steps replayed from one CUDA graph (no per-kernel launch cost on the host).
  for (const bool tf32 : {false, true}) {
    try {
      cuda::settings().allow_tf32 = tf32;
      run(tf32 ? "ctnn_tf32_graph" : "ctnn_fp32_graph", o, true);
    } catch (const std::exception& e) {
      std::printf("ctnn_%s_graph: CUDA graph capture failed: %s\n", tf32 ? "tf32" : "fp32", e.what());
    }
  }
  return 0;
}
