// Pooling shrinks 8x8 to 2x2, then a 4x4 max-pool no longer fits.
// expect-first-error: ctnn wiring error: kernel too large
// expect: kernel_fits<ctnn::MaxPool<4>, ctnn::wiring::kernel<4>, ctnn::wiring::padded_input<2>
// expect-first-context: where<ctnn::wiring::seq_position<3> >, ctnn::wiring::kernel_fits<ctnn::MaxPool<4>
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 8>, MaxPool<2>, MaxPool<2>, MaxPool<4>, Flatten, Linear<8, 10>>;

int main() {
  Network<Net, Shape<3, 8, 8>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
