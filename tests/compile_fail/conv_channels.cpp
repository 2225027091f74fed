// A convolution whose input channel count does not match the layer before it.
// expect-first-error: ctnn wiring error: channel mismatch
// expect: channel_count<ctnn::Conv<32, 32>, ctnn::wiring::expects<32>, ctnn::wiring::input_has<16>
// expect-first-context: where<ctnn::wiring::seq_position<3> >, ctnn::wiring::channel_count<ctnn::Conv<32, 32>
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 16>, BatchNorm<16>, ReLU, Conv<32, 32>, BatchNorm<32>, ReLU, GlobalAvgPool, Flatten,
                Linear<32, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
