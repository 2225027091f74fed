// A consumer of the ctnn package: builds a small network, runs a forward and a backward step.
#include <ctnn/ctnn.hpp>

#include <cmath>
#include <cstdio>

int main() {
  using namespace ctnn;
  using Net = Seq<Conv<1, 4>, BatchNorm<4>, ReLU, MaxPool<2>, Flatten, Linear<4 * 4 * 4, 3>>;
  using In = Shape<1, 8, 8>;
  static_assert(std::is_same_v<output_shape_t<Net, In>, Shape<3>>);

  Network<Net, In> net(2, /*seed=*/1);
  Tensor<In> x(2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 7) - 3.f;
  const auto& y = net.forward(x, Mode::train);
  Tensor<Shape<3>> dy(2);
  dy.fill(1.f);
  net.zero_grad();
  net.backward(dy);

  double sum = 0.0, grad = 0.0;
  for (float v : y.span()) sum += v;
  for (const auto& p : net.parameters())
    for (std::size_t i = 0; i < p.size; ++i) grad += std::abs(p.grad[i]);
  std::printf("ctnn consumer: %zu parameters, output sum %.4f, |grad| %.4f\n", net.parameter_count(), sum, grad);
  const bool ok = net.parameter_count() == parameter_count_v<Net, In> && std::isfinite(sum) && grad > 0.0;
  return ok ? 0 : 1;
}
