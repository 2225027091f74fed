// A user's layer spec that names its output shape but not its layer: one error, naming the spec
// and where it sits.
// expect-first-error: ctnn layer error: this spec is not a layer: it has no member 'template <class In, class D> class layer'
// expect: where<ctnn::wiring::seq_position<1> >, ctnn::wiring::defines_layer<my::Half
// expect-first-context: where<ctnn::wiring::seq_position<1> >, ctnn::wiring::defines_layer<my::Half
#include <ctnn/ctnn.hpp>

namespace my {
struct Half {
  template <class X>
  using output = X;
};
}  // namespace my

int main() {
  ctnn::Network<ctnn::Seq<ctnn::Conv<3, 4>, my::Half, ctnn::ReLU>, ctnn::Shape<3, 8, 8>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, ctnn::Mode::train));
}
