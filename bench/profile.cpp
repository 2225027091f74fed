// Where a training step's time goes: ctnn::Profiler over a few steps of ResNet-18 on CIFAR-10 (or
// the small network of bench/small_net.hpp), one row per layer and one per kind of layer, and the
// part of the step outside the layers (loss, optimizer, zero_grad).
//
//   OMP_NUM_THREADS=2 build/release/bench/bench_profile [--net resnet18|small] [--batch 64] [--steps 5]
//                                                       [--eval | --inference]
// --eval and --inference time forward passes only, in Mode::eval (every layer on its own) or
// Mode::inference (the batch norms, ReLUs and residual adds that fold into a convolution run in its
// pass and count as its time).
#include <ctnn/ctnn.hpp>
#include <ctnn/profile.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "small_net.hpp"

namespace {

struct Args {
  std::string net = "resnet18";
  std::size_t batch = 64, steps = 5;
  ctnn::Mode mode = ctnn::Mode::train;
};

const char* mode_name(ctnn::Mode m) {
  return m == ctnn::Mode::train ? "training" : m == ctnn::Mode::eval ? "eval" : "inference";
}

template <class Spec, class In>
int run(const Args& a) {
  using Net = ctnn::Network<Spec, In>;
  Net net(a.batch, 1);
  ctnn::Tensor<In> x(a.batch);
  ctnn::Tensor<typename Net::output_shape> grad(a.batch);
  std::vector<std::int32_t> labels(a.batch);
  ctnn::Rng rng(2);
  for (auto& v : x.span()) v = rng.uniform(-2, 2);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  ctnn::SGD opt{0.01f, 0.9f, 5e-4f};
  auto step = [&] {
    if (a.mode != ctnn::Mode::train)
      net.forward(x, a.mode);
    else
      ctnn::train::step(net, opt, x, labels, grad);
  };
  ctnn::Profiler profiler(net);
  step();  // first touch of every buffer, outside the figures
  profiler.reset();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < a.steps; ++i) step();
  const double per_step = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / double(a.steps);
  std::cout << profiler.table() << '\n' << profiler.by_kind() << '\n';
  std::printf("%s %s, batch %zu, %d threads, %zu steps: %.1f ms per step (%.1f img/s), layers %.1f ms, outside the layers %.1f ms\n",
              a.net.c_str(), mode_name(a.mode), a.batch, ctnn::num_threads(), a.steps, per_step * 1e3,
              double(a.batch) / per_step, profiler.per_call() * 1e3, (per_step - profiler.per_call()) * 1e3);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_profile: %s needs a value\n", s.c_str());
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (s == "--net") a.net = value();
    else if (s == "--batch") a.batch = std::stoul(value());
    else if (s == "--steps") a.steps = std::stoul(value());
    else if (s == "--eval") a.mode = ctnn::Mode::eval;
    else if (s == "--inference") a.mode = ctnn::Mode::inference;
    else {
      std::fprintf(stderr, "usage: bench_profile [--net resnet18|small] [--batch N] [--steps N] [--eval | --inference]\n");
      return 2;
    }
  }
  if (a.net == "resnet18") return run<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>>(a);
  if (a.net == "small") return run<bench::SmallNet, bench::SmallInput>(a);
  std::fprintf(stderr, "bench_profile: unknown --net %s (resnet18, small)\n", a.net.c_str());
  return 2;
}
