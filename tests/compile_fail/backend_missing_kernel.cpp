// A device whose registration misspells one kernel family ("linaer" for "linear"): the static
// assertion at the registration fails and the compiler names the concept and the missing member.
// expect-first-error: static assertion failed: my device does not meet the backend contract
// expect: concept ctnn::backend::Backend
// expect: kernels<D>::linear
#include <ctnn/ctnn.hpp>

namespace my {
struct Device : ctnn::Cpu {
  static constexpr const char* name = "mine";
};
}  // namespace my

template <>
struct ctnn::expr::evaluator<my::Device> : ctnn::backend::cpu::Evaluator {};

template <>
struct ctnn::backend::kernels<my::Device> {
  using conv2d = cpu::Conv2d;
  using batchnorm = cpu::BatchNorm;
  using pool2d = cpu::Pool2d;
  using global_avg_pool = cpu::GlobalAvgPool;
  using linaer = cpu::Linear;
  using loss = cpu::Loss;
};
static_assert(ctnn::backend::Backend<my::Device>, "my device does not meet the backend contract");

int main() {}
