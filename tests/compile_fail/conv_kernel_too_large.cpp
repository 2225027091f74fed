// A 7x7 unpadded convolution on a 5x5 input; the layers after it must not add errors.
// expect-first-error: ctnn wiring error: kernel too large
// expect: kernel_fits<ctnn::Conv<3, 8, 7, 1, 0>, ctnn::wiring::kernel<7>, ctnn::wiring::padded_input<5>
// expect-first-context: where<ctnn::wiring::seq_position<0> >, ctnn::wiring::kernel_fits<
#include <ctnn/ctnn.hpp>

using namespace ctnn;
using Net = Seq<Conv<3, 8, 7, 1, 0>, MaxPool<2>, Flatten, Linear<32, 10>>;

int main() {
  Network<Net, Shape<3, 5, 5>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, Mode::train));
}
