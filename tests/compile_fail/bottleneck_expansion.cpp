// Two Bottleneck<64, 64> in a row: the first outputs 4 x 64 = 256 channels, the second expects 64.
// expect-first-error: ctnn wiring error: channel mismatch
// expect: channel_count<ctnn::Conv<64, 64, 1, 1, 0>, ctnn::wiring::expects<64>, ctnn::wiring::input_has<256>
// expect-first-context: where<ctnn::wiring::seq_position<4>, ctnn::wiring::residual_main_branch, ctnn::wiring::seq_position<0> >
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 64>, BatchNorm<64>, ReLU, Bottleneck<64, 64>, Bottleneck<64, 64>, GlobalAvgPool, Flatten,
                Linear<256, 10>>;

int main() {
  Network<Net, Shape<3, 16, 16>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
