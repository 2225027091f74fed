// Seq<Conv<3,64>, BatchNorm<32>>: the convolution produces 64 channels, the batch norm expects 32.
// expect-first-error: ctnn wiring error: channel mismatch
// expect: channel_count<ctnn::BatchNorm<32>, ctnn::wiring::expects<32>, ctnn::wiring::input_has<64>
// expect: BatchNorm<32>
// expect: expects<32>
// expect: input_has<64>
// expect-first-context: where<ctnn::wiring::seq_position<1> >, ctnn::wiring::channel_count<ctnn::BatchNorm<32>
#include <ctnn/ctnn.hpp>

using Net = ctnn::Seq<ctnn::Conv<3, 64>, ctnn::BatchNorm<32>>;

int main() {
  ctnn::Network<Net, ctnn::Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, ctnn::Mode::train));
}
