// A hand-written basic block whose second convolution repeats the first one's input width
// (Conv<In, Out> instead of Conv<Out, Out>). Only the convolution is reported: the Residual does
// not add a second error about its branch shapes.
// expect-first-error: ctnn wiring error: channel mismatch
// expect: channel_count<ctnn::Conv<16, 32, 3, 1, 1>, ctnn::wiring::expects<16>, ctnn::wiring::input_has<32>
// expect-first-context: where<ctnn::wiring::seq_position<3>, ctnn::wiring::residual_main_branch, ctnn::wiring::seq_position<3> >, ctnn::wiring::channel_count<ctnn::Conv<16, 32, 3, 1, 1>
#include <ctnn/ctnn.hpp>

using namespace ctnn;
template <std::size_t In, std::size_t Out>
using MyBlock = Residual<Seq<Conv<In, Out>, BatchNorm<Out>, ReLU, Conv<In, Out>, BatchNorm<Out>>,
                         Seq<Conv<In, Out, 1, 1, 0>, BatchNorm<Out>>, ReLU>;
using Net = Seq<Conv<3, 16>, BatchNorm<16>, ReLU, MyBlock<16, 32>, GlobalAvgPool, Flatten, Linear<32, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
