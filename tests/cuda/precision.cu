// CUDA backend tests, part 4: Precision::bf16 and fp16 against fp32 on the GPU. The same weights in
// a float32 network and a 16-bit one, fed the same inputs (rounded to the 16-bit type, as the 16-bit
// network receives them); every layer's output, input gradient and parameter gradients within the
// documented tolerances (relative, in the 2-norm: ||a - b|| / ||b|| per tensor; the max-norm would
// measure the few ReLU inputs near zero that rounding turns the other way, and max-pool windows
// whose values rounding made equal, nothing else):
//
//                                  bf16     fp16
//   forward (every layer)          2e-2     4e-3
//   dx and parameter gradients     4e-2     8e-3
//     ... behind a ReLU            1.5e-1   2e-2      (a batch norm's bias gradient sums a few hundred
//                                                      dy; one ReLU input that rounding turns the
//                                                      other way changes it by ~10% (measured: 9.9e-2))
//   ResNet-18 step: loss           2e-2     4e-3      (relative)
//   ResNet-18 step: gradients      6e-1     2.5e-1    (per tensor; through 20 layers the flips add
//                                                      up: PyTorch's bf16 autocast on this model from
//                                                      random weights, batch 16, differs from its
//                                                      fp32 by 0.43 at most, 0.32 in the median,
//                                                      and ctnn's bf16 by 0.45 and 0.32 (fp16: 0.18,
//                                                      0.11); a wrong layer differs by 1 or more)
//   a 4-epoch training run         mean loss per epoch within 10% of fp32's (or 0.05 absolute)
//
// bf16 keeps 8 significant bits (a relative rounding of 2^-9 = 0.2%), fp16 11 (0.02%); products
// accumulate in float32 in both. Checkpoints hold float32 and load into any precision.
#include "parity.hpp"

#include <ctnn/io/checkpoint.hpp>
#include <ctnn/loss.hpp>
#include <ctnn/optim.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

using namespace ctnn;
using parity::Worst;

namespace {

struct Tolerance {
  double forward, backward, backward_relu, loss, step_grads;
};
template <Precision P>
constexpr Tolerance tolerance =
    P == Precision::bf16 ? Tolerance{2e-2, 4e-2, 1.5e-1, 2e-2, 6e-1} : Tolerance{4e-3, 8e-3, 2e-2, 4e-3, 2.5e-1};

enum class Relu { none, inside };  // whether a ReLU lies on the layers' gradient path

template <class S, Precision P>
Tensor<S, CudaMixed<P>> half_tensor(const std::vector<float>& host) {
  Tensor<S, CudaMixed<P>> t(host.size() / S::size);
  cuda::upload_values(t, std::span<const float>(host));
  return t;
}

// A float32 and a 16-bit network of one spec with the same parameters and buffers.
template <class Spec, class In, Precision P>
struct Twins {
  Network<Spec, In, Cuda> ref;
  Network<Spec, In, Cuda, P> half;
  Twins(std::size_t batch, std::uint64_t seed) : ref(batch, seed), half(batch, seed) {
    auto a = ref.parameters();
    auto b = half.parameters();
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) Cuda::copy(b[i].value, a[i].value, a[i].size * sizeof(float));
    auto c = ref.buffers();
    auto d = half.buffers();
    for (std::size_t i = 0; i < c.size(); ++i) Cuda::copy(d[i].value, c[i].value, c[i].size * sizeof(float));
  }
  void compare_grads(Worst& w, const std::string& when, double tol) {
    auto a = ref.parameters();
    auto b = half.parameters();
    for (std::size_t i = 0; i < a.size(); ++i)
      w.check(when + " grad " + a[i].name, parity::host_copy(a[i].grad, a[i].size, Cuda{}),
              parity::host_copy(b[i].grad, b[i].size, Cuda{}), tol);
  }
};

template <Precision P, class Spec, class In>
void check_layer(const char* name, std::size_t batch, Mode mode, Relu relu = Relu::none) {
  using Out = output_shape_t<Spec, In>;
  constexpr Tolerance tol = tolerance<P>;
  const double backward_tol = relu == Relu::inside ? tol.backward_relu : tol.backward;
  Twins<Spec, In, P> t(batch, 3);
  Rng rng(4);
  Worst worst;
  worst.l2 = true;
  const auto x = parity::random_values(batch * In::size, rng);
  auto xh = half_tensor<In, P>(x);
  auto xr = parity::make_tensor<In, Cuda>(cuda::download_values(xh));
  worst.check("forward", parity::host_copy(t.ref.forward(xr, mode)), cuda::download_values(t.half.forward(xh, mode)),
              tol.forward);
  const auto dy = parity::random_values(batch * Out::size, rng);
  auto dyh = half_tensor<Out, P>(dy);
  auto dyr = parity::make_tensor<Out, Cuda>(cuda::download_values(dyh));
  t.ref.zero_grad();
  t.half.zero_grad();
  worst.check("dx", parity::host_copy(t.ref.backward(dyr, true)), cuda::download_values(t.half.backward(dyh, true)),
              backward_tol);
  t.compare_grads(worst, "backward", backward_tol);
  MESSAGE(std::string(precision_name(P)) << " " << std::string(name) << " ["
                                         << std::string(mode == Mode::train ? "train" : "eval")
                                         << "]: worst relative error " << worst.error << " (" << worst.what << ")");
}

template <Precision P>
void every_layer() {
  check_layer<P, Conv<16, 32, 3, 1, 1>, Shape<16, 8, 8>>("Conv<16,32,3,1,1>", 8, Mode::train);
  check_layer<P, Conv<16, 32, 1, 2, 0>, Shape<16, 8, 8>>("Conv<16,32,1,2,0>", 8, Mode::train);
  check_layer<P, Conv<3, 16, 3, 1, 1>, Shape<3, 12, 12>>("Conv<3,16> (3 input channels)", 8, Mode::train);
  check_layer<P, BatchNorm<16>, Shape<16, 6, 6>>("BatchNorm<16>", 8, Mode::train);
  check_layer<P, BatchNorm<16>, Shape<16, 6, 6>>("BatchNorm<16>", 8, Mode::eval);
  // The vectorised kernels with several blocks and rounds of rows, 64 threads per row; and the
  // generic ones (12 channels: not a multiple of 8).
  check_layer<P, BatchNorm<64>, Shape<64, 16, 16>>("BatchNorm<64> 16x16", 8, Mode::train);
  check_layer<P, BatchNorm<512>, Shape<512, 2, 2>>("BatchNorm<512> 2x2", 8, Mode::train);
  check_layer<P, BatchNorm<12>, Shape<12, 5, 5>>("BatchNorm<12>", 8, Mode::train);
  check_layer<P, BatchNorm<12>, Shape<12, 5, 5>>("BatchNorm<12>", 8, Mode::eval);
  check_layer<P, Seq<Conv<8, 16, 3, 1, 1>, BatchNorm<16>, ReLU>, Shape<8, 8, 8>>("Conv-BN-ReLU", 8, Mode::train, Relu::inside);
  check_layer<P, MaxPool<2>, Shape<16, 8, 8>>("MaxPool<2>", 4, Mode::train);
  check_layer<P, Seq<GlobalAvgPool, Flatten, Linear<32, 10>>, Shape<32, 4, 4>>("GlobalAvgPool-Flatten-Linear", 8,
                                                                              Mode::train);
  check_layer<P, BasicBlock<16, 32, stride2>, Shape<16, 8, 8>>("BasicBlock<16,32,2>", 8, Mode::train, Relu::inside);
}

template <Precision P>
void resnet_step() {
  constexpr std::size_t batch = 16;
  constexpr Tolerance tol = tolerance<P>;
  using In = Shape<3, 32, 32>;
  Twins<ResNet18<10>, In, P> t(batch, 5);
  Rng rng(6);
  const auto x = parity::random_values(batch * In::size, rng, -2.f, 2.f);
  std::vector<std::int32_t> labels(batch);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  auto xh = half_tensor<In, P>(x);
  auto xr = parity::make_tensor<In, Cuda>(cuda::download_values(xh));
  Tensor<Shape<10>, Cuda> gr(batch);
  typename Network<ResNet18<10>, In, Cuda, P>::output_type gh(batch);
  Worst worst;
  worst.l2 = true;
  const float lr = softmax_cross_entropy(t.ref.forward(xr, Mode::train), labels, gr);
  const float lh = softmax_cross_entropy(t.half.forward(xh, Mode::train), labels, gh);
  MESSAGE(std::string(precision_name(P)) << " ResNet-18 step: loss fp32 " << lr << ", " << std::string(precision_name(P)) << " " << lh);
  CHECK(std::fabs(lh - lr) <= tol.loss * std::fabs(lr));
  t.ref.zero_grad();
  t.half.zero_grad();
  t.ref.backward(gr);
  t.half.backward(gh);
  t.compare_grads(worst, "step", tol.step_grads);
  SGD<Cuda> opt_r{0.1f, 0.9f, 5e-4f, true}, opt_h{0.1f, 0.9f, 5e-4f, true};
  opt_r.step(t.ref.parameters());
  opt_h.step(t.half.parameters());
  auto a = t.ref.parameters();
  auto b = t.half.parameters();
  for (std::size_t i = 0; i < a.size(); ++i)  // one update from equal weights: as close as the gradients
    worst.check("updated " + a[i].name, parity::host_copy(a[i].value, a[i].size, Cuda{}),
                parity::host_copy(b[i].value, b[i].size, Cuda{}), tol.step_grads);
  MESSAGE(std::string(precision_name(P)) << " ResNet-18 step: worst relative error " << worst.error << " (" << worst.what << ")");
}

using Small = Seq<Conv<3, 16, 3, 2, 1>, BatchNorm<16>, ReLU, Conv<16, 32, 3, 2, 1>, BatchNorm<32>, ReLU, GlobalAvgPool,
                  Flatten, Linear<32, 10>>;
using Cifar = Shape<3, 32, 32>;

// Mean loss per epoch of `epochs` epochs of graph-replayed DeviceSteps.
template <Precision P>
std::vector<double> loss_curve(const data::Dataset<Cifar>& set, std::size_t epochs) {
  cuda::DeviceLoader<Cifar> loader(set, data::LoaderOptions::training(9, 128));
  Network<Small, Cifar, Cuda, P> net(128, 10);
  SGD<Cuda> opt{0.1f, 0.9f, 5e-4f, true};
  cuda::DeviceStep step(net, opt, loader);
  cuda::CapturedStep graph([&] { step(); });
  std::vector<double> losses;
  for (std::size_t e = 0; e < epochs; ++e) {
    for (std::size_t b = 0; b < loader.batches_per_epoch(); ++b) graph();
    losses.push_back(step.read().mean_loss());
  }
  if constexpr (P == Precision::fp16) MESSAGE("fp16 loss scale after the run: " << step.loss_scale().scale);
  return losses;
}

}  // namespace

TEST_CASE("bf16 layers against fp32 (forward, dx, parameter gradients)") { every_layer<Precision::bf16>(); }
TEST_CASE("fp16 layers against fp32 (forward, dx, parameter gradients)") { every_layer<Precision::fp16>(); }
TEST_CASE("bf16 ResNet-18 step against fp32") { resnet_step<Precision::bf16>(); }
TEST_CASE("fp16 ResNet-18 step against fp32") { resnet_step<Precision::fp16>(); }

TEST_CASE("a 16-bit network's parameters are float32: checkpoints move between precisions and devices") {
  using In = Shape<3, 16, 16>;
  using Spec = Seq<Conv<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, GlobalAvgPool, Flatten, Linear<8, 4>>;
  Network<Spec, In, Cpu> cpu(2, 1);
  Network<Spec, In, Cuda, Precision::bf16> half(2, 99);  // other initial weights
  static_assert(std::is_same_v<std::remove_reference_t<decltype(*half.parameters()[0].value)>, float>);
  const std::string path = "/tmp/ctnn_precision_checkpoint.ctnn";
  cpu.save(path);
  half.load(path);  // the same architecture: the precision is not part of it
  for (std::size_t i = 0; i < cpu.parameters().size(); ++i) {
    const auto& p = cpu.parameters()[i];
    CHECK(parity::host_copy(half.parameters()[i].value, p.size, Cuda{}) == std::vector<float>(p.value, p.value + p.size));
  }
  Network<Spec, In, Cpu> back(2, 7);
  half.save(path);
  back.load(path);
  for (std::size_t i = 0; i < cpu.parameters().size(); ++i) {
    const auto& p = cpu.parameters()[i];
    CHECK(std::vector<float>(back.parameters()[i].value, back.parameters()[i].value + p.size) ==
          std::vector<float>(p.value, p.value + p.size));
  }
  std::remove(path.c_str());
}

TEST_CASE("bf16 and fp16 training runs follow the fp32 loss curve within the stated band") {
  const auto set = data::synthetic_cifar(2048, 21);
  const auto fp32 = loss_curve<Precision::fp32>(set, 4);
  const auto bf16 = loss_curve<Precision::bf16>(set, 4);
  const auto fp16 = loss_curve<Precision::fp16>(set, 4);
  for (std::size_t e = 0; e < fp32.size(); ++e) {
    MESSAGE("epoch " << e + 1 << ": mean loss fp32 " << fp32[e] << ", bf16 " << bf16[e] << ", fp16 " << fp16[e]);
    CHECK(std::fabs(bf16[e] - fp32[e]) <= std::max(0.1 * fp32[e], 0.05));
    CHECK(std::fabs(fp16[e] - fp32[e]) <= std::max(0.1 * fp32[e], 0.05));
  }
  CHECK(bf16.back() < 0.8 * bf16.front());
}

TEST_CASE("fp16 loss scaling: an inf/NaN gradient skips the update and halves the scale") {
  cuda::LossScaler scaler({2.f, 0.5f, 2000}, 1024.f);
  cuda::DeviceBuffer<float> w(4, "w"), g(4, "g");
  const std::vector<float> w0{1, 2, 3, 4};
  Cuda::upload(w.data(), w0.data(), 16);
  std::vector<Parameter> params{Parameter{"w", w.data(), g.data(), 4}};
  SGD<Cuda> opt{0.5f};
  opt.skip_when(scaler.found_inf());
  const std::vector<float> finite{1024, 2048, -1024, 0}, bad{1024, INFINITY, 0, 0};

  Cuda::upload(g.data(), bad.data(), 16);
  scaler.unscale(g.data(), 4);
  opt.step(params);
  scaler.update();
  CHECK(parity::host_copy(w.data(), 4, Cuda{}) == w0);  // skipped
  auto s = scaler.read();
  CHECK(s.scale == 512.f);
  CHECK(s.found_inf == 0);

  Cuda::upload(g.data(), finite.data(), 16);
  scaler.unscale(g.data(), 4);  // / 512
  opt.step(params);
  scaler.update();
  CHECK(parity::host_copy(w.data(), 4, Cuda{}) == std::vector<float>{1 - 0.5f * 2, 2 - 0.5f * 4, 3 + 0.5f * 2, 4});
  CHECK(scaler.read().good_steps == 1);
}
