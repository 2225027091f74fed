// softmax_cross_entropy and count_correct on a device other than Cpu: through a device's own loss
// kernel (registered in backend::kernels<D> after the ctnn headers) or, for a device that
// registers backend::host_loss<D>, through download / compute / upload. The fake devices keep
// their memory on the host.
#include <ctnn/backend/cpu.hpp>  // the CPU backend: the tests run on ctnn::Cpu
#include <ctnn/backend/host_loss.hpp>
#include <ctnn/loss.hpp>
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace fake {

struct HostMemory {
  static constexpr const char* name = "fake";
  static constexpr bool host_accessible = false;
  static inline int downloads = 0, uploads = 0;
  static void* allocate(std::size_t bytes, const char* what) { return ctnn::detail::host_allocate(bytes, what); }
  static void deallocate(void* p) noexcept { ctnn::detail::host_deallocate(p); }
  static void copy(void* dst, const void* src, std::size_t bytes) { if (bytes) std::memcpy(dst, src, bytes); }
  static void upload(void* dst, const void* host, std::size_t bytes) { ++uploads; copy(dst, host, bytes); }
  static void download(void* host, const void* src, std::size_t bytes) { ++downloads; copy(host, src, bytes); }
  static void zero(void* dst, std::size_t bytes) { if (bytes) std::memset(dst, 0, bytes); }
};
struct Plain : HostMemory {};   // no kernel: the fallback runs
struct Fused : HostMemory {};   // has a kernel
inline int fused_calls = 0;

}  // namespace fake

namespace fake {
struct FusedLoss {
  static double softmax_cross_entropy_sum(const float* logits, std::span<const std::int32_t> labels, std::size_t classes,
                                          float eps, float* grad) {
    ++fused_calls;
    return ctnn::backend::cpu::softmax_cross_entropy_rows(logits, labels.data(), labels.size(), classes, eps, grad);
  }
};
}  // namespace fake

// Registered after <ctnn/loss.hpp>: looked up when the loss is instantiated.
template <>
struct ctnn::backend::kernels<fake::Plain> {
  using loss = ctnn::backend::host_loss<fake::Plain>;
};
template <>
struct ctnn::backend::kernels<fake::Fused> {
  using loss = fake::FusedLoss;
};
static_assert(ctnn::backend::LossKernel<ctnn::backend::kernels<fake::Plain>::loss>);
static_assert(ctnn::backend::LossKernel<ctnn::backend::kernels<fake::Fused>::loss>);

using namespace ctnn;

template <class D>
void check_against_cpu() {
  const std::vector<float> x{0.5f, -1.f, 2.f, 3.f, 0.f, 1.f, 1.f, 1.f, -2.f};
  const std::vector<std::int32_t> labels{2, 0, 1};
  Tensor<Shape<3>> cx(3), cg(3);
  cx.copy_from(std::span<const float>(x));
  Tensor<Shape<3>, D> dx(3), dg(3);
  std::memcpy(dx.data(), x.data(), x.size() * sizeof(float));
  const float expected = softmax_cross_entropy(cx, labels, cg, 0.1f);
  CHECK(softmax_cross_entropy(dx, labels, dg, 0.1f) == expected);
  CHECK(dg.batch() == 3);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(dg.data()[i] == cg.data()[i]);
  CHECK(count_correct(dx, labels) == count_correct(cx, labels));
  const std::vector<std::int32_t> bad{2, 0, 3};
  CHECK_THROWS_WITH_AS(softmax_cross_entropy(dx, bad, dg), doctest::Contains("labels[2] = 3"), Error);
}

TEST_CASE("a device without its own kernel: download, compute on the host, upload") {
  fake::HostMemory::downloads = fake::HostMemory::uploads = 0;
  check_against_cpu<fake::Plain>();
  CHECK(fake::HostMemory::uploads == 1);
  CHECK(fake::HostMemory::downloads == 2);  // the loss and count_correct
}

TEST_CASE("a device with its own kernel: the hook is called, nothing is transferred") {
  fake::HostMemory::downloads = fake::HostMemory::uploads = 0;
  fake::fused_calls = 0;
  check_against_cpu<fake::Fused>();
  CHECK(fake::fused_calls == 1);
  CHECK(fake::HostMemory::uploads == 0);
}
