// A network of Precision::bf16 (or fp16) on the CPU is one compile error that says where the
// 16-bit precisions run.
// expect-first-error: this device runs Precision::fp32 only; Precision::bf16 and Precision::fp16 run on ctnn::Cuda
#include <ctnn/ctnn.hpp>

int main() {
  ctnn::Network<ctnn::Seq<ctnn::Linear<4, 3>, ctnn::ReLU>, ctnn::Shape<4>, ctnn::Cpu, ctnn::Precision::bf16> net(2);
  return net.parameter_count() > 0 ? 0 : 1;
}
