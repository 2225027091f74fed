// A hand-written downsampling block that forgot the projection shortcut.
// expect-first-error: ctnn wiring error: residual shape mismatch
// expect: main_branch_output<ctnn::Shape<32, 16, 16>
// expect: shortcut_output<ctnn::Shape<16, 32, 32>
// expect-first-context: where<ctnn::wiring::seq_position<3> >, ctnn::wiring::residual_shapes<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
template <std::size_t In, std::size_t Out, std::size_t Stride>
using MyBlock = Residual<Seq<Conv<In, Out, 3, Stride>, BatchNorm<Out>, ReLU, Conv<Out, Out>, BatchNorm<Out>>,
                         Identity, ReLU>;
using Net = Seq<Conv<3, 16>, BatchNorm<16>, ReLU, MyBlock<16, 32, 2>, GlobalAvgPool, Flatten, Linear<32, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
