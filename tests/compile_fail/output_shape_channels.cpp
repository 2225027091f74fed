// The same mistake found by shape inference alone, without instantiating a network.
// expect-first-error: ctnn wiring error: channel mismatch
// expect: channel_count<ctnn::BatchNorm<32>, ctnn::wiring::expects<32>, ctnn::wiring::input_has<64>
// expect-first-context: where<ctnn::wiring::seq_position<1> >, ctnn::wiring::channel_count<ctnn::BatchNorm<32>
#include <ctnn/layers.hpp>

using Out = ctnn::output_shape_t<ctnn::Seq<ctnn::Conv<3, 64>, ctnn::BatchNorm<32>>, ctnn::Shape<3, 32, 32>>;
static_assert(Out::rank == 3);
