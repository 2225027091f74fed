// End-to-end learning checks on the CPU: the pieces (layers, loss, optimizer, loader) together
// must actually learn.
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace ctnn;

namespace {

using Image = Shape<3, 32, 32>;
using SmallResNet = Seq<Conv<3, 8, 3, 2>, BatchNorm<8>, ReLU, BasicBlock<8, 16, stride2>, BasicBlock<16, 32, stride2>,
                        GlobalAvgPool, Flatten, Linear<32, 10>>;

struct EpochStats {
  double loss = 0;
  double accuracy = 0;
};

template <class Net, class Opt>
EpochStats run_epoch(Net& net, Opt& opt, data::Loader<Image>& loader, std::size_t epoch, Tensor<Shape<10>>& grad) {
  loader.start_epoch(epoch);
  double loss = 0;
  std::size_t correct = 0, seen = 0;
  while (const auto* b = loader.next()) {
    const train::StepResult r = train::step(net, opt, b->images, b->labels, grad);
    REQUIRE(r.finite);
    loss += double(r.loss) * double(r.size);
    correct += r.correct;
    seen += r.size;
  }
  return {loss / double(seen), double(correct) / double(seen)};
}

}  // namespace

TEST_CASE("a small ResNet overfits 64 synthetic images to 100% training accuracy") {
  const data::CifarDataset train = data::synthetic_cifar(64, 7);
  data::LoaderOptions options = data::LoaderOptions::evaluation(64);  // fixed images, no augmentation
  options.shuffle = true;
  options.seed = 3;
  data::Loader loader(train, options);
  Network<SmallResNet, Image> net(64, 11);
  SGD opt{0.1f, 0.9f, 0.f};
  Tensor<Shape<10>> grad(64);

  EpochStats first = run_epoch(net, opt, loader, 0, grad), last{};
  std::size_t epochs = 1;
  for (; epochs < 300; ++epochs) {
    last = run_epoch(net, opt, loader, epochs, grad);
    if (last.accuracy == 1.0 && last.loss < 0.05) break;
  }
  MESSAGE("first epoch loss " << first.loss << ", after " << epochs << " epochs loss " << last.loss
                              << " accuracy " << last.accuracy);
  CHECK(last.accuracy == 1.0);
  CHECK(last.loss < 0.1 * first.loss);

  // Evaluation mode (running statistics) also fits the training set by now.
  loader.start_epoch(0);
  std::size_t correct = 0;
  while (const auto* b = loader.next()) correct += count_correct(net.forward(b->images, Mode::eval), b->labels);
  CHECK(correct >= 60);
}

TEST_CASE("the loss falls over a short augmented synthetic run and test accuracy beats chance") {
  const data::CifarDataset train = data::synthetic_cifar(512, 1);
  const data::CifarDataset test = data::synthetic_cifar(256, 99);
  data::Loader loader(train, data::LoaderOptions::training(5, 64));
  data::Loader eval(test, data::LoaderOptions::evaluation(128));
  Network<SmallResNet, Image> net(128, 2);
  SGD opt{0.05f, 0.9f, 5e-4f, true};
  Tensor<Shape<10>> grad(128);

  const EpochStats e0 = run_epoch(net, opt, loader, 0, grad);
  EpochStats e = e0;
  for (std::size_t epoch = 1; epoch < 6; ++epoch) e = run_epoch(net, opt, loader, epoch, grad);
  eval.start_epoch(0);
  std::size_t correct = 0, seen = 0;
  while (const auto* b = eval.next()) {
    correct += count_correct(net.forward(b->images, Mode::eval), b->labels);
    seen += b->size();
  }
  const double test_acc = double(correct) / double(seen);
  MESSAGE("epoch 1 loss " << e0.loss << ", epoch 6 loss " << e.loss << ", test accuracy " << test_acc);
  CHECK(e.loss < 0.7 * e0.loss);
  CHECK(test_acc > 0.3);  // chance is 0.1
}
