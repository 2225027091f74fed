// A CUDA consumer of the installed ctnn package (find_package(ctnn COMPONENTS CUDA), ctnn::cuda):
// a small network trains one step on the GPU, or the program says there is no GPU and succeeds.
#include <ctnn/ctnn.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  using namespace ctnn;
  static_assert(CTNN_HAS_CUDA == 1);
  if (cuda::device_count() == 0) {
    std::printf("ctnn CUDA consumer: built; no GPU (%s), nothing to run\n", cuda::no_device_reason().c_str());
    return 0;
  }
  using Net = Seq<Conv<1, 4>, BatchNorm<4>, ReLU, MaxPool<2>, Flatten, Linear<4 * 4 * 4, 3>>;
  using In = Shape<1, 8, 8>;
  Network<Net, In, Cuda> net(2, /*seed=*/1);
  Tensor<In, Cuda> x(2);
  std::vector<float> host(x.size());
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i % 7) - 3.f;
  copy_from_host(x, std::span<const float>(host));
  Tensor<Shape<3>, Cuda> grad(2);
  SGD<Cuda> opt{0.1f, 0.9f};
  const std::vector<std::int32_t> labels{0, 2};
  const train::StepResult r = train::step(net, opt, x, labels, grad);
  std::printf("ctnn CUDA consumer: loss %.4f\n", double(r.loss));
  return r.finite ? 0 : 1;
}
