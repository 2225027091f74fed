// Headers in an unusual order: the optimizers, the loss, the training step, the layers and the
// network before the CPU backend's registration and the checkpoint API. Everything reaches the
// device through class template specialisations, looked up when main() instantiates it.
// expect-success
#include <ctnn/optim/sgd.hpp>
#include <ctnn/optim/adamw.hpp>
#include <ctnn/train/step.hpp>
#include <ctnn/loss/metrics.hpp>
#include <ctnn/network.hpp>
#include <ctnn/layers/residual.hpp>
#include <ctnn/layers/conv.hpp>
#include <ctnn/layers/dropout.hpp>
#include <ctnn/layers/pool.hpp>
#include <ctnn/layers/linear.hpp>
#include <ctnn/layers/flatten.hpp>
#include <ctnn/layers/batchnorm.hpp>
#include <ctnn/layers/sequential.hpp>
#include <ctnn/backend/cpu.hpp>
#include <ctnn/io/checkpoint.hpp>

#include <cstdint>
#include <vector>

using namespace ctnn;
using Net = Seq<Conv<3, 8, 3, 1, 1, with_bias>, BatchNorm<8>, GELU, Residual<Seq<DepthwiseConv<8>, BatchNorm<8>>, Identity, ReLU>,
                Dropout<0.1>, GlobalAvgPool, Flatten, Linear<8, 4>>;

int main() {
  Network<Net, Shape<3, 8, 8>> net(2, 1);
  Tensor<Shape<3, 8, 8>> x(2);
  Tensor<Shape<4>> grad(2);
  x.fill(0.5f);
  const std::vector<std::int32_t> labels{1, 3};
  SGD opt{0.1f, 0.9f, 5e-4f, true};
  AdamW adam{1e-3f};
  const train::StepResult r = train::step(net, opt, x, labels, grad);
  train::step(net, adam, x, labels, grad);
  io::save_checkpoint("/nonexistent/unused.ckpt", net, opt, io::TrainingState{});
  net.save("/nonexistent/unused.ckpt");
  return r.finite ? 0 : 1;
}
