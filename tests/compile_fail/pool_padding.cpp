// A 2x2 max-pool padded by 2: padding may be at most half the kernel.
// expect-first-error: ctnn wiring error: pooling padding too large
// expect: pool_padding<ctnn::MaxPool<2, 2, 2>, ctnn::wiring::kernel<2>, ctnn::wiring::padded_input<2>
// expect-first-context: where<ctnn::wiring::seq_position<1> >, ctnn::wiring::pool_padding<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 8>, MaxPool<2, 2, 2>, GlobalAvgPool>;

int main() {
  Network<Net, Shape<3, 8, 8>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
