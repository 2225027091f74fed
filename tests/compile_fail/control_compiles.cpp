// Control case: correct networks compile, so a driver that fails everything cannot pass.
// expect-success
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Small = Seq<Conv<1, 8>, BatchNorm<8>, ReLU, MaxPool<2>, Residual<Seq<Conv<8, 8>, BatchNorm<8>>, Identity, ReLU>,
                  GlobalAvgPool, Flatten, Linear<8, 10>>;
static_assert(std::is_same_v<output_shape_t<Small, Shape<1, 28, 20>>, Shape<10>>);
static_assert(std::is_same_v<output_shape_t<ResNet18<10>, Shape<3, 32, 32>>, Shape<10>>);

int main() {
  Network<Small, Shape<1, 28, 20>> small(2);
  decltype(small)::input_type x(2);
  small.backward(small.forward(x, Mode::train));
  Network<ResNet18<10>, Shape<3, 32, 32>> resnet(1);
  decltype(resnet)::input_type y(1);
  resnet.backward(resnet.forward(y, Mode::train));
}
