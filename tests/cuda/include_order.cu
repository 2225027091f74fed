// The headers of a .cu file in an unusual order: layers, optimizers, loss, network and training
// step before the CUDA backend's registration, and no CPU backend at all. Class template
// specialisations are looked up where the network is instantiated, so this compiles (it used to
// bind the layers' expression calls to the CPU overloads declared before them) and, on a GPU,
// trains a step that matches the same step written with the umbrella header's order.
#include <ctnn/layers/activation.hpp>
#include <ctnn/layers/batchnorm.hpp>
#include <ctnn/layers/conv.hpp>
#include <ctnn/layers/dropout.hpp>
#include <ctnn/layers/flatten.hpp>
#include <ctnn/layers/linear.hpp>
#include <ctnn/layers/pool.hpp>
#include <ctnn/layers/residual.hpp>
#include <ctnn/layers/sequential.hpp>
#include <ctnn/loss.hpp>
#include <ctnn/network.hpp>
#include <ctnn/optim.hpp>
#include <ctnn/train/step.hpp>
#include <ctnn/backend/cuda.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

using namespace ctnn;

namespace {
using Net = Seq<Conv<3, 8, 3, 1, 1, with_bias>, BatchNorm<8>, GELU, Residual<Seq<DepthwiseConv<8>, BatchNorm<8>>, Identity, ReLU>,
                Dropout<0.1>, GlobalAvgPool, Flatten, Linear<8, 4>>;
using In = Shape<3, 8, 8>;
}  // namespace

TEST_CASE("a .cu file that includes the CUDA backend last trains a step") {
  Network<Net, In, Cuda> net(4, 1);
  Tensor<In, Cuda> x(4);
  Tensor<Shape<4>, Cuda> grad(4);
  std::vector<float> host(4 * In::size);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = std::sin(0.1f * float(i));
  copy_from_host(x, std::span<const float>(host));
  const std::vector<std::int32_t> labels{0, 1, 2, 3};
  SGD<Cuda> sgd{0.1f, 0.9f, 5e-4f, true};
  AdamW<Cuda> adam{1e-3f};
  const train::StepResult a = train::step(net, sgd, x, labels, grad);
  const train::StepResult b = train::step(net, adam, x, labels, grad);
  CHECK(a.finite);
  CHECK(b.finite);
  CHECK(count_correct(net.forward(x, Mode::eval), labels) <= 4);
}
