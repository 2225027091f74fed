// CUDA backend tests, part 2: a ResNet-18 CIFAR training step from the same weights on the CPU and
// the GPU: softmax cross-entropy, backward, SGD (momentum, Nesterov, weight decay), twice. Logits
// and running statistics agree to 1e-3 (relative, max-norm, per tensor), the loss to 1e-4, the
// gradients to 3e-2 in the 2-norm (why: below), the SGD update of equal gradients to 1e-5, and an
// evaluation forward afterwards to 1e-3.
#include "parity.hpp"

#include <ctnn/loss.hpp>
#include <ctnn/optim.hpp>

#include <cmath>

using namespace ctnn;
using parity::Pair;
using parity::Worst;

// The whole network's gradients are compared in the 2-norm: any two correct float32 backends
// disagree at the few ReLU inputs that rounding puts on the other side of zero, and a randomly
// initialised ResNet-18 with batch statistics carries that far. Measured on the CPU backend alone
// (this case's batch, weights and data, im2col against Winograd F(4x4,3x3)): the worst tensor
// differs by 7.4e-3 in the 2-norm and 9.8e-2 in the max-norm, the whole gradient by 3.6e-3
// (5.8e-3); after a second step from those different weights, by 0.5 in the max-norm. So: 2-norm,
// 3e-2 per tensor and 1e-2 for all of them together; a wrong layer is off by O(1). The update is
// then checked on equal gradients (the GPU's SGD on the CPU's), and a second forward and an
// evaluation forward from equal state.
TEST_CASE("ResNet-18 CIFAR training step: CPU and CUDA agree") {
  constexpr std::size_t batch = 8;
  using In = Shape<3, 32, 32>;
  Pair<ResNet18<10>, In> p(batch, 42);
  Rng rng(43);
  const auto x = parity::random_values(batch * In::size, rng, -2.f, 2.f);
  std::vector<std::int32_t> labels(batch);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  auto xc = parity::make_tensor<In, Cpu>(x);
  auto xg = parity::make_tensor<In, Cuda>(x);
  Tensor<Shape<10>, Cpu> gc(batch);
  Tensor<Shape<10>, Cuda> gg(batch);
  SGD<Cpu> opt_c{0.1f, 0.9f, 5e-4f, true};
  SGD<Cuda> opt_g{0.1f, 0.9f, 5e-4f, true};
  Worst worst, grads;
  grads.l2 = true;

  for (int step = 0; step < 2; ++step) {
    const std::string s = "step " + std::to_string(step);
    p.cpu.zero_grad();
    p.gpu.zero_grad();
    const auto& yc = p.cpu.forward(xc, Mode::train);
    const auto& yg = p.gpu.forward(xg, Mode::train);
    worst.check(s + " logits", parity::host_copy(yc), parity::host_copy(yg), 1e-3);
    p.compare_buffers(worst, s, 1e-3);
    const float loss_c = softmax_cross_entropy(yc, labels, gc);
    const float loss_g = softmax_cross_entropy(yg, labels, gg);
    MESSAGE(s << ": loss cpu " << loss_c << ", gpu " << loss_g);
    CHECK(std::fabs(loss_g - loss_c) <= 1e-4 * std::fabs(loss_c));
    p.cpu.backward(gc);
    p.gpu.backward(gg);
    p.compare_grads(grads, s, 3e-2);
    std::vector<float> all_c, all_g;
    for (const auto& q : p.cpu.parameters()) {
      const auto h = parity::host_copy(q.grad, q.size, Cpu{});
      all_c.insert(all_c.end(), h.begin(), h.end());
    }
    for (const auto& q : p.gpu.parameters()) {
      const auto h = parity::host_copy(q.grad, q.size, Cuda{});
      all_g.insert(all_g.end(), h.begin(), h.end());
    }
    grads.check(s + " all gradients", all_c, all_g, 1e-2);
    p.copy_grads();
    opt_c.step(p.cpu.parameters());
    opt_g.step(p.gpu.parameters());
    p.compare_values(worst, s + " updated", 1e-5);
    p.copy_state();  // the next step starts from equal weights and statistics
  }
  worst.check("eval logits", parity::host_copy(p.cpu.forward(xc, Mode::eval)),
              parity::host_copy(p.gpu.forward(xg, Mode::eval)), 1e-3);
  MESSAGE("ResNet-18 step: worst relative error " << worst.error << " (" << worst.what << "); gradients, 2-norm: "
                                                  << grads.error << " (" << grads.what << ")");
}

TEST_CASE("AdamW steps on the GPU match the CPU") {
  using Spec = Seq<Conv<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, GlobalAvgPool, Flatten, Linear<8, 5>>;
  using In = Shape<3, 8, 8>;
  constexpr std::size_t batch = 6;
  Pair<Spec, In> p(batch, 21);
  Rng rng(22);
  auto xc = parity::make_tensor<In, Cpu>(parity::random_values(batch * In::size, rng));
  auto xg = parity::make_tensor<In, Cuda>(parity::host_copy(xc));
  std::vector<std::int32_t> labels(batch);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(5));
  Tensor<Shape<5>, Cpu> gc(batch);
  Tensor<Shape<5>, Cuda> gg(batch);
  AdamW<Cpu> opt_c{1e-2f};
  AdamW<Cuda> opt_g{1e-2f};
  Worst worst;
  for (int step = 0; step < 3; ++step) {
    p.cpu.zero_grad();
    p.gpu.zero_grad();
    softmax_cross_entropy(p.cpu.forward(xc, Mode::train), labels, gc);
    softmax_cross_entropy(p.gpu.forward(xg, Mode::train), labels, gg);
    p.cpu.backward(gc);
    p.gpu.backward(gg);
    opt_c.step(p.cpu.parameters());
    opt_g.step(p.gpu.parameters());
    p.compare_values(worst, "AdamW step " + std::to_string(step), 1e-4);
  }
  MESSAGE("AdamW: worst relative error " << worst.error << " (" << worst.what << ")");
}
