// A second Flatten on an input that is already flat.
// expect-first-error: ctnn wiring error: nothing to flatten
// expect: flatten_input<ctnn::Flatten, ctnn::wiring::input_has<1>
// expect-first-context: where<ctnn::wiring::seq_position<3> >, ctnn::wiring::flatten_input<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 8>, GlobalAvgPool, Flatten, Flatten, Linear<8, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
