// CUDA backend tests, part 1: the test driver (skips without a GPU), device basics, expressions,
// and the forward and backward pass of every layer on the GPU against the CPU backend, with the
// same random inputs and weights. Relative error (max |gpu - cpu| / max |cpu| per tensor) <= 1e-4
// with TF32 off (ctnn::cuda::settings() default).
#define DOCTEST_CONFIG_IMPLEMENT
#include "parity.hpp"

#include <ctnn/loss.hpp>

#include <cstdio>

using namespace ctnn;
using parity::Pair;
using parity::Worst;

namespace {

constexpr double tol = 1e-4;

// One network spec on the CPU and the GPU: forward (and the running statistics it updates),
// backward with dx, then a second backward without dx on top (parameter gradients accumulate).
// In Mode::eval a training forward first moves the running statistics away from (0, 1).
// `sync`: batch norm synchronised through it on both devices.
template <class Spec, class In>
void check_layer(const char* name, std::size_t batch, Mode mode, std::uint64_t seed = 1, CrossReplicaSum* sync = nullptr) {
  using Out = output_shape_t<Spec, In>;
  Pair<Spec, In> p(batch, seed);
  p.cpu.synchronize_batch_norm(sync);
  p.gpu.synchronize_batch_norm(sync);
  Rng rng(seed + 1000);
  Worst worst;
  const std::string m = mode == Mode::train ? "train" : "eval";

  if (mode == Mode::eval) {
    const auto x0 = parity::random_values(batch * In::size, rng, -2.f, 3.f);
    auto xc0 = parity::make_tensor<In, Cpu>(x0);
    auto xg0 = parity::make_tensor<In, Cuda>(x0);
    p.cpu.forward(xc0, Mode::train);
    p.gpu.forward(xg0, Mode::train);
    p.compare_buffers(worst, "warm-up", tol);
  }

  const auto x = parity::random_values(batch * In::size, rng);
  auto xc = parity::make_tensor<In, Cpu>(x);
  auto xg = parity::make_tensor<In, Cuda>(x);
  const auto& yc = p.cpu.forward(xc, mode);
  const auto& yg = p.gpu.forward(xg, mode);
  worst.check("forward", parity::host_copy(yc), parity::host_copy(yg), tol);
  p.compare_buffers(worst, "after forward", tol);

  const auto dy = parity::random_values(batch * Out::size, rng);
  auto dyc = parity::make_tensor<Out, Cpu>(dy);
  auto dyg = parity::make_tensor<Out, Cuda>(dy);
  p.cpu.zero_grad();
  p.gpu.zero_grad();
  const auto& dxc = p.cpu.backward(dyc, true);
  const auto& dxg = p.gpu.backward(dyg, true);
  worst.check("dx", parity::host_copy(dxc), parity::host_copy(dxg), tol);
  p.compare_grads(worst, "backward", tol);

  p.cpu.backward(dyc, false);
  p.gpu.backward(dyg, false);
  p.compare_grads(worst, "accumulated", tol);

  MESSAGE(std::string(name) << " [" << m << ", batch " << batch << "]: worst relative error " << worst.error << " ("
               << worst.what << ")");
}

}  // namespace

TEST_CASE("Cuda device: allocate, upload, download, copy, zero") {
  std::vector<float> host(1000);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = float(i) * 0.5f;
  Tensor<Shape<10, 10>, Cuda> a(10), b(10);
  copy_from_host(a, std::span<const float>(host));
  b.copy_from(a);
  CHECK(to_host(b) == host);
  b.zero();
  CHECK(to_host(b) == std::vector<float>(1000, 0.f));
  CHECK_THROWS_WITH_AS(Cuda::allocate(std::size_t{1} << 62, "a test tensor"),
                       doctest::Contains("could not allocate 4611686018427387904 bytes"), Error);
}

TEST_CASE("Cuda checked calls name the call") {
  CHECK_THROWS_WITH_AS(CTNN_CUDA_CHECK(cudaSetDevice(1 << 20)), doctest::Contains("cudaSetDevice(1 << 20)"), Error);
  CHECK_THROWS_WITH_AS(CTNN_CUDA_CHECK(cudaSetDevice(1 << 20)), doctest::Contains("layers.cu"), Error);
}

TEST_CASE("Cuda expressions: assign, assign_flat, sum_per_channel") {
  using S = Shape<3, 4, 5>;
  Rng rng(3);
  const auto a = parity::random_values(2 * S::size, rng), b = parity::random_values(2 * S::size, rng);
  const std::vector<float> scale{0.5f, -1.f, 2.f}, shift{1.f, 0.f, -3.f};
  auto ac = parity::make_tensor<S, Cpu>(a), bc = parity::make_tensor<S, Cpu>(b);
  auto ag = parity::make_tensor<S, Cuda>(a), bg = parity::make_tensor<S, Cuda>(b);
  auto scale_g = parity::make_tensor<Shape<3>, Cuda>(scale), shift_g = parity::make_tensor<Shape<3>, Cuda>(shift);
  Tensor<S, Cpu> yc(2);
  Tensor<S, Cuda> yg(2);
  expr::assign(yc, expr::relu(ac * expr::channel(scale.data()) + expr::channel(shift.data())) + expr::sqrt(expr::abs(bc)));
  expr::assign(yg, expr::relu(ag * expr::channel(scale_g) + expr::channel(shift_g)) + expr::sqrt(expr::abs(bg)));
  CHECK(parity::rel_error(parity::host_copy(yc), parity::host_copy(yg)) <= 1e-6);

  expr::assign_flat<Cuda>(yg.data(), yg.size(), expr::TensorLeaf<float>{{}, ag.data()} * 2.f - 1.f);
  expr::assign_flat(yc.data(), yc.size(), expr::TensorLeaf<float>{{}, ac.data()} * 2.f - 1.f);
  CHECK(parity::rel_error(parity::host_copy(yc), parity::host_copy(yg)) <= 1e-6);

  double sums_c[3];
  expr::sum_per_channel<S>(sums_c, 2, expr::square(ac));
  cuda::DeviceBuffer<double> sums_g(3);
  expr::sum_per_channel<S, Cuda>(sums_g.data(), 2, expr::square(ag));
  double sums_h[3];
  Cuda::download(sums_h, sums_g.data(), sizeof(sums_h));
  for (int c = 0; c < 3; ++c) CHECK(sums_h[c] == doctest::Approx(sums_c[c]).epsilon(1e-6));
}

TEST_CASE("softmax cross-entropy on the GPU matches the CPU (fused kernel)") {
  constexpr std::size_t classes = 100, batch = 37;
  Rng rng(11);
  const auto logits = parity::random_values(batch * classes, rng, -8.f, 8.f);
  std::vector<std::int32_t> labels(batch);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(classes));
  for (const float smoothing : {0.f, 0.1f}) {
    auto lc = parity::make_tensor<Shape<classes>, Cpu>(logits);
    auto lg = parity::make_tensor<Shape<classes>, Cuda>(logits);
    Tensor<Shape<classes>, Cpu> gc(batch);
    Tensor<Shape<classes>, Cuda> gg(batch);
    const float loss_c = softmax_cross_entropy(lc, labels, gc, smoothing);
    const float loss_g = softmax_cross_entropy(lg, labels, gg, smoothing);
    CHECK(loss_g == doctest::Approx(loss_c).epsilon(1e-6));
    CHECK(parity::rel_error(parity::host_copy(gc), parity::host_copy(gg)) <= 1e-6);
    // In place: the gradient overwrites the logits.
    CHECK(softmax_cross_entropy(lg, labels, lg, smoothing) == doctest::Approx(loss_c).epsilon(1e-6));
    CHECK(parity::rel_error(parity::host_copy(gc), parity::host_copy(lg)) <= 1e-6);
  }
}

TEST_CASE("Conv parity") {
  check_layer<Conv<3, 8, 3, 1, 1>, Shape<3, 9, 9>>("Conv<3,8,3,1,1> 9x9", 4, Mode::train);
  check_layer<Conv<4, 6, 3, 2, 1>, Shape<4, 10, 10>>("Conv<4,6,3,2,1> 10x10", 3, Mode::train);
  check_layer<Conv<4, 6, 3, 2, 1>, Shape<4, 11, 11>>("Conv<4,6,3,2,1> 11x11", 3, Mode::train);
  check_layer<Conv<8, 16, 1, 1, 0>, Shape<8, 6, 6>>("Conv<8,16,1,1,0>", 4, Mode::train);
  check_layer<Conv<8, 16, 1, 2, 0>, Shape<8, 8, 8>>("Conv<8,16,1,2,0>", 4, Mode::train);
  check_layer<Conv<3, 8, 7, 2, 3>, Shape<3, 16, 16>>("Conv<3,8,7,2,3>", 2, Mode::train);
  check_layer<Conv<16, 32, 3, 1, 1>, Shape<16, 8, 8>>("Conv<16,32,3,1,1>", 8, Mode::train);
}

TEST_CASE("grouped, depthwise and biased Conv parity") {
  check_layer<Conv<6, 4, 3, 1, 1, groups<2>>, Shape<6, 9, 9>>("Conv groups<2>", 3, Mode::train);
  check_layer<DepthwiseConv<8>, Shape<8, 10, 10>>("DepthwiseConv<8>", 4, Mode::train);
  check_layer<DepthwiseConv<8, 3, 2, 1, with_bias>, Shape<8, 10, 10>>("DepthwiseConv<8,3,2> with_bias", 4, Mode::train);
  check_layer<Conv<3, 8, 3, 1, 1, with_bias>, Shape<3, 9, 9>>("Conv with_bias", 4, Mode::train);
}

TEST_CASE("LeakyReLU, GELU, Sigmoid, Tanh and Dropout parity (the dropout mask is the same on both devices)") {
  check_layer<LeakyReLU<>, Shape<4, 5, 5>>("LeakyReLU", 3, Mode::train);
  check_layer<GELU, Shape<4, 5, 5>>("GELU", 3, Mode::train);
  check_layer<Sigmoid, Shape<4, 5, 5>>("Sigmoid", 3, Mode::train);
  check_layer<Tanh, Shape<4, 5, 5>>("Tanh", 3, Mode::train);
  check_layer<Seq<Linear<32, 16>, Dropout<0.3>, Linear<16, 4>>, Shape<32>>("Linear-Dropout-Linear", 5, Mode::train);
  check_layer<Seq<Linear<32, 16>, Dropout<0.3>, Linear<16, 4>>, Shape<32>>("Linear-Dropout-Linear", 5, Mode::eval);
}

TEST_CASE("Conv: a batch below max_batch") {
  // The network is built for 6; a batch of 2 builds a second plan (heuristic algorithms).
  Pair<Conv<3, 8, 3, 1, 1>, Shape<3, 8, 8>> p(6, 5);
  Rng rng(6);
  const auto x = parity::random_values(2 * 3 * 8 * 8, rng);
  auto xc = parity::make_tensor<Shape<3, 8, 8>, Cpu>(x);
  auto xg = parity::make_tensor<Shape<3, 8, 8>, Cuda>(x);
  CHECK(parity::rel_error(parity::host_copy(p.cpu.forward(xc, Mode::train)), parity::host_copy(p.gpu.forward(xg, Mode::train))) <= tol);
}

TEST_CASE("BatchNorm parity") {
  check_layer<BatchNorm<6>, Shape<6, 5, 5>>("BatchNorm<6> 5x5", 4, Mode::train);
  check_layer<BatchNorm<6>, Shape<6, 5, 5>>("BatchNorm<6> 5x5", 4, Mode::eval);
  // Planes of a multiple of 4 positions: the vectorised kernels (several blocks per channel, and
  // 512 channels of 2x2); 5x5 and flat ones go through cuDNN.
  check_layer<BatchNorm<16>, Shape<16, 16, 16>>("BatchNorm<16> 16x16", 8, Mode::train);
  check_layer<BatchNorm<512>, Shape<512, 2, 2>>("BatchNorm<512> 2x2", 8, Mode::train);
  check_layer<BatchNorm<12>, Shape<12>>("BatchNorm<12> flat", 5, Mode::train);
  check_layer<BatchNorm<12>, Shape<12>>("BatchNorm<12> flat", 5, Mode::eval);
  check_layer<Seq<Conv<3, 6, 3, 1, 1>, BatchNorm<6>, ReLU>, Shape<3, 8, 8>>("Conv-BN-ReLU", 4, Mode::train);
  check_layer<Seq<Conv<3, 6, 3, 1, 1>, BatchNorm<6>, ReLU>, Shape<3, 8, 8>>("Conv-BN-ReLU", 4, Mode::eval);
}

// Synchronised batch norm with a stand-in for another process whose batch was the same: every
// sum doubles (so the counts do too, and the running variance's M / (M - 1) is that of 2M values).
struct Twice final : CrossReplicaSum {
  void sum(double* v, std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) v[i] *= 2;
  }
};

TEST_CASE("synchronised BatchNorm parity") {
  Twice twice;
  check_layer<BatchNorm<6>, Shape<6, 5, 5>>("synchronised BatchNorm<6> 5x5", 4, Mode::train, 1, &twice);
  check_layer<Seq<Conv<3, 6, 3, 1, 1>, BatchNorm<6>, ReLU>, Shape<3, 8, 8>>("synchronised Conv-BN-ReLU", 4, Mode::train, 1,
                                                                          &twice);
}

TEST_CASE("BatchNorm on the GPU: a batch of one value per channel is rejected like on the CPU") {
  Network<BatchNorm<4>, Shape<4>, Cuda> net(1);
  Tensor<Shape<4>, Cuda> x(1);
  x.zero();
  CHECK_THROWS_WITH_AS(net.forward(x, Mode::train), doctest::Contains("more than one value per channel"), Error);
}

TEST_CASE("ReLU, Flatten and Linear parity") {
  check_layer<ReLU, Shape<4, 5, 5>>("ReLU", 3, Mode::train);
  check_layer<Linear<32, 10>, Shape<32>>("Linear<32,10>", 7, Mode::train);
  check_layer<Seq<Flatten, Linear<48, 5>>, Shape<3, 4, 4>>("Flatten-Linear", 4, Mode::train);
  check_layer<Seq<Linear<64, 40>, ReLU, Linear<40, 3>>, Shape<64>>("MLP", 9, Mode::eval);
}

TEST_CASE("Pooling parity") {
  check_layer<MaxPool<2>, Shape<3, 8, 8>>("MaxPool<2>", 4, Mode::train);
  check_layer<MaxPool<3, 2, 1>, Shape<3, 9, 9>>("MaxPool<3,2,1>", 4, Mode::train);
  check_layer<AvgPool<2>, Shape<3, 8, 8>>("AvgPool<2>", 4, Mode::train);
  check_layer<AvgPool<3, 2, 1>, Shape<3, 9, 9>>("AvgPool<3,2,1>", 4, Mode::train);
  check_layer<GlobalAvgPool, Shape<5, 7, 7>>("GlobalAvgPool 7x7", 4, Mode::train);
  check_layer<GlobalAvgPool, Shape<6, 40, 40>>("GlobalAvgPool 40x40", 3, Mode::train);
}

TEST_CASE("Residual blocks parity") {
  check_layer<BasicBlock<8, 8>, Shape<8, 6, 6>>("BasicBlock<8,8>", 4, Mode::train);
  check_layer<BasicBlock<8, 16, stride2>, Shape<8, 8, 8>>("BasicBlock<8,16,2>", 4, Mode::train);
  check_layer<BasicBlock<8, 16, stride2>, Shape<8, 8, 8>>("BasicBlock<8,16,2>", 4, Mode::eval);
  check_layer<Bottleneck<16, 4>, Shape<16, 6, 6>>("Bottleneck<16,4>", 3, Mode::train);
  check_layer<Seq<Conv<3, 8, 7, 2, 3>, BatchNorm<8>, ReLU, MaxPool<3, 2, 1>, BasicBlock<8, 8>, GlobalAvgPool, Flatten,
                  Linear<8, 4>>,
              Shape<3, 32, 32>>("ImageNet-style stem + block + head", 2, Mode::train);
}

TEST_CASE("A training step captured as a CUDA graph replays the eager step") {
  using Spec = Seq<Conv<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, GlobalAvgPool, Flatten, Linear<8, 4>>;
  using In = Shape<3, 8, 8>;
  Network<Spec, In, Cuda> net(4, 9);
  Rng rng(10);
  auto x = parity::make_tensor<In, Cuda>(parity::random_values(4 * In::size, rng));
  auto dy = parity::make_tensor<Shape<4>, Cuda>(parity::random_values(4 * 4, rng));
  auto step = [&] {
    net.zero_grad();
    net.forward(x, Mode::train);
    net.backward(dy);
  };
  step();
  std::vector<std::vector<float>> eager;
  for (const auto& p : net.parameters()) eager.push_back(parity::host_copy(p.grad, p.size, Cuda{}));
  for (const auto& p : net.parameters()) Cuda::zero(p.grad, p.size * sizeof(float));

  cuda::Graph graph;
  graph.capture(step);
  CHECK(graph.nodes() > 0);
  // Capturing ran nothing: the gradients are still zero.
  CHECK(parity::host_copy(net.parameters()[0].grad, 4, Cuda{}) == std::vector<float>(4, 0.f));
  graph.replay();
  graph.replay();  // zero_grad is part of the step: replaying twice gives the same gradients
  std::size_t i = 0;
  for (const auto& p : net.parameters())
    CHECK(parity::rel_error(eager[i++], parity::host_copy(p.grad, p.size, Cuda{})) <= 1e-5);
}

int main(int argc, char** argv) {
  if (cuda::device_count() == 0) {
    std::printf("ctnn CUDA tests: no GPU (%s), skipping\n", cuda::no_device_reason().c_str());
    return 0;
  }
  const auto& props = cuda::context().properties();
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  int cublas_version = 0;
  cublasGetVersion(cuda::context().cublas(), &cublas_version);
  std::printf("ctnn CUDA tests on %s (sm_%d%d, %d SMs): CUDA runtime %d, driver %d, cuDNN %zu, cuBLAS %d\n", props.name,
              props.major, props.minor, props.multiProcessorCount, runtime, driver, cudnnGetVersion(), cublas_version);
  doctest::Context context(argc, argv);
  return context.run();
}
