// A user's layer whose forward() forgets the Mode argument: one error saying what a ctnn::Layer
// needs, with the compiler's note on the requirement that fails.
// expect-first-error: ctnn layer error: Spec::layer<In, D>
// expect: layer_interface_error<my::Scale
// expect: forward
#include <ctnn/ctnn.hpp>

namespace my {
struct Scale {
  template <class X>
  using output = X;
  template <class X, class D>
  struct layer {
    layer(std::size_t max_batch, ctnn::Rng&) : y(max_batch), dx(max_batch) {}
    const ctnn::Tensor<X, D>& forward(const ctnn::Tensor<X, D>& x) { return x; }
    const ctnn::Tensor<X, D>& backward(const ctnn::Tensor<X, D>& d, bool) { return d; }
    ctnn::Tensor<X, D> y, dx;
  };
};
}  // namespace my

int main() {
  ctnn::Network<ctnn::Seq<ctnn::Conv<3, 4>, my::Scale, ctnn::ReLU>, ctnn::Shape<3, 8, 8>> net(2);
  decltype(net)::input_type x(2);
  net.backward(net.forward(x, ctnn::Mode::train));
}
