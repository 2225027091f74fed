// Linear on a channels x height x width input: a Flatten is missing.
// expect-first-error: ctnn wiring error: rank mismatch
// expect-first-error: put Flatten before Linear
// expect: input_rank<ctnn::Linear<8192, 10>, ctnn::wiring::expects<1>, ctnn::wiring::input_has<3>
// expect-first-context: where<ctnn::wiring::seq_position<2> >, ctnn::wiring::input_rank<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 8>, ReLU, Linear<8192, 10>>;

int main() {
  Network<Net, Shape<3, 32, 32>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
