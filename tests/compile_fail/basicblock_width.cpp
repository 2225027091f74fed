// A stem of width 32 followed by BasicBlock<64, 64>: the block's first convolution is reported,
// not its shortcut.
// expect-first-error: ctnn wiring error: channel mismatch
// expect: channel_count<ctnn::Conv<64, 64, 3, 1, 1>, ctnn::wiring::expects<64>, ctnn::wiring::input_has<32>
// expect-first-context: where<ctnn::wiring::seq_position<3>, ctnn::wiring::residual_main_branch, ctnn::wiring::seq_position<0> >
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 32>, BatchNorm<32>, ReLU, BasicBlock<64, 64>, BasicBlock<64, 128, stride2>, GlobalAvgPool,
                Flatten, Linear<128, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
