// Linear<16, 10> after a flattened 8 x 1 x 1 input.
// expect-first-error: ctnn wiring error: feature mismatch
// expect: feature_count<ctnn::Linear<16, 10>, ctnn::wiring::expects<16>, ctnn::wiring::input_has<8>
// expect-first-context: where<ctnn::wiring::seq_position<4> >, ctnn::wiring::feature_count<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 8>, ReLU, GlobalAvgPool, Flatten, Linear<16, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
