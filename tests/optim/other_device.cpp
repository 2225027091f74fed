// The optimizers on a device other than Cpu: state through D::allocate / zero / deallocate and
// every update through the device's expression evaluator (expr::evaluator<D>), registered after
// <ctnn/optim.hpp>: a specialisation is found when the optimizer is instantiated. Counting the
// calls checks "one fused expression per tensor". The fake device keeps its memory on the host.
#include <ctnn/optim.hpp>
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace fake {
struct Device {
  static inline int allocations = 0, deallocations = 0;
  static void* allocate(std::size_t bytes, const char* what) {
    ++allocations;
    return ctnn::detail::host_allocate(bytes, what);
  }
  static void deallocate(void* p) noexcept {
    if (p) ++deallocations;
    ctnn::detail::host_deallocate(p);
  }
  static void zero(void* dst, std::size_t bytes) { if (bytes) std::memset(dst, 0, bytes); }
  static constexpr const char* name = "fake";
  static constexpr bool host_accessible = false;
  static void copy(void* dst, const void* src, std::size_t bytes) { if (bytes) std::memcpy(dst, src, bytes); }
};
inline int assign_calls = 0;
}  // namespace fake

// Registered after <ctnn/optim.hpp>.
template <>
struct ctnn::expr::evaluator<fake::Device> {
  template <class T, class E>
  static void assign(T* dst, std::size_t planes, std::size_t, std::size_t plane, const E& e) {
    ++fake::assign_calls;
    for (std::size_t i = 0; i < planes * plane; ++i) dst[i] = static_cast<T>(e(i, 0));
  }
  template <class E>
  static void sum(double*, std::size_t, std::size_t, std::size_t, const E&) {}
};

using namespace ctnn;

namespace {
struct Params {
  std::vector<std::vector<float>> values, grads;
  std::vector<Parameter> list;
  Params() {
    for (std::size_t s : {3u, 5u}) {
      values.emplace_back(s, 1.f);
      grads.emplace_back(s, 1.f);
    }
    for (std::size_t i = 0; i < 2; ++i) {
      std::string name = "q";
      name += std::to_string(i);
      list.push_back(Parameter{name, values[i].data(), grads[i].data(), values[i].size()});
    }
  }
};
}  // namespace

TEST_CASE("SGD<D>: one assign_flat per tensor, state in D's memory, freed") {
  fake::Device::allocations = fake::Device::deallocations = 0;
  {
    Params ps;
    SGD<fake::Device> opt{0.1f, 0.9f};
    fake::assign_calls = 0;
    opt.step(ps.list);
    CHECK(fake::assign_calls == 4);  // buffer + parameter, for 2 parameters
    CHECK(fake::Device::allocations == 2);
    opt.step(ps.list);
    CHECK(fake::Device::allocations == 2);
    CHECK(ps.values[1][4] == doctest::Approx(0.71));
    SGD<fake::Device> plain{0.1f};
    fake::assign_calls = 0;
    plain.step(ps.list);
    CHECK(fake::assign_calls == 2);
  }
  CHECK(fake::Device::deallocations == 2);
}

TEST_CASE("AdamW<D>: three passes per tensor (m, v, p)") {
  fake::Device::allocations = fake::Device::deallocations = 0;
  {
    Params ps;
    AdamW<fake::Device> opt{0.1f, 0.9f, 0.999f, 1e-8f, 0.f};
    fake::assign_calls = 0;
    opt.step(ps.list);
    CHECK(fake::assign_calls == 6);
    CHECK(fake::Device::allocations == 4);
    CHECK(ps.values[0][0] == doctest::Approx(0.9));
    opt.reset();
    CHECK(fake::Device::deallocations == 4);
  }
  CHECK(fake::Device::deallocations == 4);
}
