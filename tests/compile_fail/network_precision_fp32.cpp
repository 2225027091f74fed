// The control of network_precision_cpu: Precision::fp32 spelled out on the CPU compiles, and is the
// default.
// expect-success
#include <ctnn/ctnn.hpp>

#include <type_traits>

static_assert(std::is_same_v<ctnn::Network<ctnn::Linear<4, 3>, ctnn::Shape<4>, ctnn::Cpu, ctnn::Precision::fp32>::device,
                             ctnn::Cpu>);
static_assert(ctnn::Network<ctnn::Linear<4, 3>, ctnn::Shape<4>>::precision == ctnn::Precision::fp32);

int main() {
  ctnn::Network<ctnn::Seq<ctnn::Linear<4, 3>, ctnn::ReLU>, ctnn::Shape<4>, ctnn::Cpu, ctnn::Precision::fp32> net(2);
  return net.parameter_count() > 0 ? 0 : 1;
}
