// Driver self-test: this file fails to compile, but not with the expected text, so the driver must
// report a failure (the test is registered WILL_FAIL). It catches a driver that passes any failure.
// expect-driver-failure
// expect: this text never appears in the compiler output
#include <ctnn/layers.hpp>

using Out = ctnn::output_shape_t<ctnn::Seq<ctnn::Conv<3, 64>, ctnn::BatchNorm<32>>, ctnn::Shape<3, 32, 32>>;
static_assert(Out::rank == 3);
