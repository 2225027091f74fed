// ResNet blocks and networks: BasicBlock and Bottleneck with both shortcut kinds and a small
// ResNet end to end by finite differences; parameter counts against torchvision/PyTorch, output
// shapes and multiply-accumulate counts at compile time.
#include <ctnn/models/resnet.hpp>
#include <ctnn/network.hpp>
#include <ctnn/backend/cpu.hpp>
#include <doctest/doctest.h>

#include "support/harness.hpp"

using namespace ctnn;

namespace {

std::vector<std::string> names_of(const std::vector<Parameter>& params) {
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p.name);
  return names;
}

// Finite differences through ReLUs and training-mode batch norms. A larger step crosses more ReLU
// kinks; a smaller one drowns in the float forward's rounding, which in training mode reaches
// every output through the batch statistics: the same analytic gradient met central differences
// 1.9e-3 apart when only the GEMM's summation order changed (Eigen against ctnn's own kernel),
// hence atol. One-sided differences may vouch at a kink. A 5% error in one layer's backward still
// fails.
ref::FdOptions block_fd() {
  ref::FdOptions fd;
  fd.h = 3e-4;
  fd.kinks = true;
  fd.atol = 3e-3;
  fd.max_points = 12;
  return fd;
}

// A small ResNet: stem, one downsampling BasicBlock, head.
using SmallResNet = Seq<Conv<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, BasicBlock<8, 16, stride2>, GlobalAvgPool, Flatten,
                        Linear<16, 5>>;

}  // namespace

TEST_CASE("BasicBlock: shortcut kinds, shapes and parameter names") {
  static_assert(std::is_same_v<output_shape_t<BasicBlock<64, 64>, Shape<64, 32, 32>>, Shape<64, 32, 32>>);
  static_assert(std::is_same_v<output_shape_t<BasicBlock<64, 128, stride2>, Shape<64, 32, 32>>, Shape<128, 16, 16>>);
  static_assert(std::is_same_v<output_shape_t<BasicBlock<4, 8, stride2>, Shape<4, 7, 5>>, Shape<8, 4, 3>>);
  // Identity shortcut: two 3x3 convolutions and two batch norms.
  static_assert(parameter_count_v<BasicBlock<64, 64>, Shape<64, 32, 32>> == 2 * 64 * 64 * 9 + 4 * 64);
  // Projection: plus a 1x1 convolution and a batch norm.
  static_assert(parameter_count_v<BasicBlock<64, 128, stride2>, Shape<64, 32, 32>> ==
                128 * 64 * 9 + 128 * 128 * 9 + 4 * 128 + 128 * 64 + 2 * 128);
  static_assert(parameter_count_v<BasicBlock<64, 128>, Shape<64, 8, 8>> ==
                128 * 64 * 9 + 128 * 128 * 9 + 4 * 128 + 128 * 64 + 2 * 128);  // width change alone
  CHECK(BasicBlock<64, 128, stride2>::name() == "BasicBlock<64,128,2>");

  ref::Harness<BasicBlock<4, 4>, Shape<4, 5, 5>> same(1);
  CHECK(names_of(same.params) == std::vector<std::string>{"main.0.weight", "main.1.weight", "main.1.bias",
                                                          "main.3.weight", "main.4.weight", "main.4.bias"});
  ref::Harness<BasicBlock<4, 8, stride2>, Shape<4, 5, 5>> down(1);
  CHECK(names_of(down.params) ==
        std::vector<std::string>{"main.0.weight", "main.1.weight", "main.1.bias", "main.3.weight", "main.4.weight",
                                 "main.4.bias", "shortcut.0.weight", "shortcut.1.weight", "shortcut.1.bias"});
  CHECK(down.param("shortcut.0.weight").size == 8 * 4);
}

TEST_CASE("BasicBlock with an identity shortcut by finite differences") {
  ref::Harness<BasicBlock<4, 4>, Shape<4, 7, 5>> h(2, 3);
  h.randomize_parameters(-0.5f, 0.5f);
  h.check_gradients(Mode::train, block_fd());
  h.check_gradients(Mode::eval, block_fd());
}

TEST_CASE("BasicBlock with a 1x1 convolution + batch norm projection by finite differences") {
  ref::Harness<BasicBlock<4, 8, stride2>, Shape<4, 7, 5>> h(2, 4);
  h.randomize_parameters(-0.5f, 0.5f);
  h.check_gradients(Mode::train, block_fd());
  h.check_gradients(Mode::eval, block_fd());
}

TEST_CASE("Bottleneck: expansion 4, both shortcut kinds, by finite differences") {
  static_assert(std::is_same_v<output_shape_t<Bottleneck<64, 64>, Shape<64, 56, 56>>, Shape<256, 56, 56>>);
  static_assert(std::is_same_v<output_shape_t<Bottleneck<256, 128, stride2>, Shape<256, 56, 56>>, Shape<512, 28, 28>>);
  // torchvision layer1[0] of ResNet-50: 1x1 64->64, 3x3 64->64, 1x1 64->256, projection 64->256.
  static_assert(parameter_count_v<Bottleneck<64, 64>, Shape<64, 56, 56>> ==
                64 * 64 + 64 * 64 * 9 + 64 * 256 + 2 * (64 + 64 + 256) + 64 * 256 + 2 * 256);
  {
    ref::Harness<Bottleneck<8, 2>, Shape<8, 5, 4>> h(2, 5);  // 8 == 4 * 2: identity shortcut
    CHECK(h.params.size() == 9);
    h.randomize_parameters(-0.5f, 0.5f);
    h.check_gradients(Mode::train, block_fd());
  }
  {
    ref::Harness<Bottleneck<4, 2, stride2>, Shape<4, 5, 4>> h(2, 6);
    CHECK(h.params.size() == 12);
    h.randomize_parameters(-0.5f, 0.5f);
    h.check_gradients(Mode::train, block_fd());
  }
}

TEST_CASE("A small ResNet end to end by finite differences") {
  static_assert(std::is_same_v<output_shape_t<SmallResNet, Shape<3, 9, 7>>, Shape<5>>);
  ref::Harness<SmallResNet, Shape<3, 9, 7>> h(2, 8);
  h.randomize_parameters(-0.5f, 0.5f);
  CHECK(h.params.size() == 3 + 9 + 2);
  h.check_gradients(Mode::train, block_fd());
  h.check_gradients(Mode::eval, block_fd());
}

TEST_CASE("ResNet output shapes") {
  static_assert(std::is_same_v<output_shape_t<ResNet18<10>, Shape<3, 32, 32>>, Shape<10>>);
  static_assert(std::is_same_v<output_shape_t<ResNet34<100>, Shape<3, 32, 32>>, Shape<100>>);
  static_assert(std::is_same_v<output_shape_t<ResNet50<10>, Shape<3, 32, 32>>, Shape<10>>);
  static_assert(std::is_same_v<output_shape_t<ImageNetResNet50<1000>, Shape<3, 224, 224>>, Shape<1000>>);
  static_assert(std::is_same_v<output_shape_t<ImageNetResNet18<>, Shape<3, 224, 224>>, Shape<1000>>);
  // Inside: the CIFAR body ends at 512 x 4 x 4, ResNet-50's at 2048 x 7 x 7 on ImageNet.
  using Body18 = std::tuple_element_t<3, ResNet18<10>::specs>;
  static_assert(std::is_same_v<output_shape_t<Body18, Shape<64, 32, 32>>, Shape<512, 4, 4>>);
  using Body50 = std::tuple_element_t<4, ImageNetResNet50<1000>::specs>;
  static_assert(std::is_same_v<output_shape_t<Body50, Shape<64, 56, 56>>, Shape<2048, 7, 7>>);
  // The ImageNet stem: 7x7/2 convolution then 3x3/2 max-pool, 224 -> 112 -> 56.
  using Stem = Seq<Conv<3, 64, 7, 2, 3>, BatchNorm<64>, ReLU, MaxPool<3, 2, 1>>;
  static_assert(std::is_same_v<output_shape_t<Stem, Shape<3, 224, 224>>, Shape<64, 56, 56>>);
  CHECK(ResNet18<10>::name() == "ResNet18<10>");
}

TEST_CASE("ResNet parameter counts equal PyTorch's") {
  // torchvision.models.resnet18/34/50 (ImageNet) and the usual CIFAR variants (3x3 stem, no
  // max-pool, 10 classes). Compile-time only: nothing is instantiated.
  static_assert(parameter_count_v<ResNet18<10>, Shape<3, 32, 32>> == 11173962);
  static_assert(parameter_count_v<ResNet34<10>, Shape<3, 32, 32>> == 21282122);
  static_assert(parameter_count_v<ResNet50<10>, Shape<3, 32, 32>> == 23520842);
  static_assert(parameter_count_v<ImageNetResNet18<1000>, Shape<3, 224, 224>> == 11689512);
  static_assert(parameter_count_v<ImageNetResNet34<1000>, Shape<3, 224, 224>> == 21797672);
  static_assert(parameter_count_v<ImageNetResNet50<1000>, Shape<3, 224, 224>> == 25557032);
  static_assert(Network<ImageNetResNet50<1000>, Shape<3, 224, 224>>::static_parameter_count == 25557032);
  static_assert(parameter_count_v<ResNet18<100>, Shape<3, 32, 32>> == 11173962 + 90 * 513);

  // The instantiated CIFAR ResNet-18 collects the same number, in 62 tensors, as PyTorch.
  Network<ResNet18<10>, Shape<3, 32, 32>> net(1);
  CHECK(net.parameter_count() == 11173962);
  CHECK(net.parameters().size() == 62);
  CHECK(net.buffers().size() == 2 * 20);  // running mean and variance of 20 batch norms
  CHECK(net.parameters().front().name == "0.weight");
  CHECK(net.parameters()[3].name == "3.0.0.main.0.weight");
  CHECK(net.parameters().back().name == "6.bias");
  std::size_t projections = 0;
  for (const auto& p : net.parameters())
    if (p.name.find("shortcut.0.weight") != std::string::npos) {
      ++projections;
      CHECK(p.size % (64 * 2) == 0);
    }
  CHECK(projections == 3);
}

TEST_CASE("ResNet-18 multiply-accumulates per sample on 32x32") {
  // Convolutions, counted independently: H * W * Cout * Cin * K * K per layer.
  auto conv = [](std::size_t hw, std::size_t cin, std::size_t cout, std::size_t k) { return hw * hw * cout * cin * k * k; };
  std::size_t convs = conv(32, 3, 64, 3) + 4 * conv(32, 64, 64, 3);
  for (std::size_t s = 1, hw = 16, c = 128; s < 4; ++s, hw /= 2, c *= 2)
    convs += conv(hw, c / 2, c, 3) + 3 * conv(hw, c, c, 3) + conv(hw, c / 2, c, 1);
  const std::size_t linear = 512 * 10;
  CHECK(convs + linear == 555422720);
  // Our convention also counts one per element for batch norm, residual add and global pooling:
  // BN over 64x32x32 (stem) + per stage (2 BN + 1 add per block, + projection BN) + pooling input.
  const std::size_t elementwise = 65536 + 2 * 3 * 65536 + (6 * 32768 + 32768) + (6 * 16384 + 16384) + (6 * 8192 + 8192) + 8192;
  constexpr std::size_t macs = macs_v<ResNet18<10>, Shape<3, 32, 32>>;
  CHECK(macs == convs + linear + elementwise);
  CHECK(macs == 556291072);
  CHECK(macs > 550000000);
  CHECK(macs < 560000000);
}
