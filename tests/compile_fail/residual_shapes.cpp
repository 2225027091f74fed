// A main branch that changes channels and stride, with the default Identity shortcut.
// expect-first-error: ctnn wiring error: residual shape mismatch
// expect: main_branch_output<ctnn::Shape<32, 16, 16>
// expect: shortcut_output<ctnn::Shape<16, 32, 32>
// expect-first-context: where<ctnn::wiring::seq_position<1> >, ctnn::wiring::residual_shapes<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 16>, Residual<Seq<Conv<16, 32, 3, 2>, BatchNorm<32>>>, GlobalAvgPool>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
