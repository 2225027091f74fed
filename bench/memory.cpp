// Peak memory of a ResNet-18 CIFAR training step (forward, cross-entropy, backward, SGD with
// momentum and weight decay): the bytes the memory plan reports beside the process's peak resident
// set. One batch per process, since the peak is the process's:
//
//   build/release/bench/bench_memory --batch 64 [--steps 3]
//
// prints one JSON object: batch, the plan by role (Network::memory() + the optimizer's state),
// the bytes ctnn holds (host_memory_in_use) and peak_rss (getrusage, bytes).
// bench/compare_memory.py runs it beside the same step in PyTorch.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ctnn/ctnn.hpp>

int main(int argc, char** argv) {
  std::size_t batch = 64;
  int steps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--batch"))
      batch = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--steps"))
      steps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench_memory [--batch N] [--steps K]\n");
      return 2;
    }
  }
  if (batch == 0 || steps < 1) {
    std::fprintf(stderr, "bench_memory: --batch and --steps must be at least 1\n");
    return 2;
  }
  using Net = ctnn::Network<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>>;
  Net net(batch, 1);
  ctnn::SGD opt{0.1f, 0.9f, 5e-4f};
  ctnn::Tensor<ctnn::Shape<3, 32, 32>> x(batch);
  ctnn::Tensor<ctnn::Shape<10>> grad(batch);
  std::vector<std::int32_t> labels(batch);
  ctnn::Rng rng(2);
  for (auto& v : x.span()) v = rng.uniform(-2, 2);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  for (int s = 0; s < steps; ++s) ctnn::train::step(net, opt, x, labels, grad);

  const ctnn::MemoryReport r = ctnn::memory(net, opt);
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  std::printf(
      "{\"batch\": %zu, \"parameters\": %zu, \"gradients\": %zu, \"buffers\": %zu, \"optimizer_state\": %zu, "
      "\"activations\": %zu, \"activation_gradients\": %zu, \"workspace\": %zu, \"layer_state\": %zu, "
      "\"planned\": %zu, \"held\": %zu, \"peak_rss\": %ld}\n",
      batch, r.parameters, r.gradients, r.buffers, r.optimizer_state, r.activations, r.activation_gradients,
      r.workspace, r.layer_state, r.total(), ctnn::host_memory_in_use(), u.ru_maxrss * 1024L);
}
