// Optimizers allocate their state once: no operator new after the first step, and the state's
// addresses never change. Global operator new is replaced to count allocations.
#include <ctnn/backend/cpu.hpp>  // the CPU backend: the tests run on ctnn::Cpu
#include <ctnn/optim.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

namespace {
std::atomic<long> allocations{0};

void* counted(std::size_t n, std::size_t align) {
  ++allocations;
  if (n == 0) n = 1;
  void* p = align <= alignof(std::max_align_t) ? std::malloc(n) : std::aligned_alloc(align, (n + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace ctnn;

namespace {

struct Params {
  std::vector<std::vector<float>> values, grads;
  std::vector<Parameter> list;
  explicit Params(const std::vector<std::size_t>& sizes) {
    for (std::size_t s : sizes) {
      values.emplace_back(s, 0.5f);
      grads.emplace_back(s, 0.25f);
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      std::string name = "p";
      name += std::to_string(i);
      list.push_back(Parameter{name, values[i].data(), grads[i].data(), sizes[i]});
    }
  }
};

// Allocations made by steps 2..6, after a first step; also checks that the state does not move.
template <class Opt>
void check_steady_state(Opt& opt) {
  Params ps({3, 4096 + 1, 70000, 64});  // includes the threaded path
  opt.step(ps.list);
  const auto before = opt.state(ps.list);
  const long start = allocations.load();
  for (int k = 0; k < 5; ++k) opt.step(ps.list);
  const long during = allocations.load() - start;
  CHECK(during == 0);
  const auto after = opt.state(ps.list);
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].value == before[i].value);
    CHECK(after[i].size == before[i].size);
  }
  CHECK(opt.steps == 6);
}

}  // namespace

TEST_CASE("the counter sees allocations (the test can fail)") {
  const long start = allocations.load();
  auto* p = new std::vector<float>(10);
  delete p;
  CHECK(allocations.load() - start >= 2);
  const long before = allocations.load();
  SGD opt{0.1f, 0.9f};
  Params ps({5, 6});
  const long mid = allocations.load();
  opt.step(ps.list);  // the first step allocates the momentum buffers
  CHECK(allocations.load() - mid >= 2);
  CHECK(mid > before);
}

TEST_CASE("SGD allocates nothing after the first step") {
  SUBCASE("momentum, weight decay, Nesterov") {
    SGD opt{0.1f, 0.9f, 5e-4f, true};
    check_steady_state(opt);
  }
  SUBCASE("plain") {
    SGD opt{0.1f};
    Params ps({100, 50000});
    opt.step(ps.list);
    const long start = allocations.load();
    for (int k = 0; k < 5; ++k) opt.step(ps.list);
    CHECK(allocations.load() - start == 0);
  }
}

TEST_CASE("AdamW allocates nothing after the first step") {
  AdamW opt{1e-3f};
  check_steady_state(opt);
}
