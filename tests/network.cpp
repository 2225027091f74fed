// Network: construction, forward/backward shapes, gradients, parameter names, errors,
// determinism, and that a training step allocates nothing once warmed up (operator new and the
// C allocator are both counted, so Eigen's and OpenMP's internal allocations would show).
#include <ctnn/ctnn.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "support/reference.hpp"

using namespace ctnn;

// ---- allocation counting ------------------------------------------------------------------------
// Every C allocation entry point is replaced by a counting wrapper around glibc's own allocator
// (__libc_*, exported by glibc); the replaceable global operator new/delete forms count too.
// Counting is on only while `counting` is set, in any thread. Without glibc only operator new is
// counted, and under AddressSanitizer too (it owns the C allocator; replacing malloc around it crashes).

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CTNN_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CTNN_TEST_ASAN 1
#endif

#if defined(__GLIBC__) && !defined(CTNN_TEST_ASAN)
#define CTNN_TEST_COUNT_MALLOC 1
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
void __libc_free(void*);
}
#else
#define CTNN_TEST_COUNT_MALLOC 0
#endif

namespace {
// The allocator under operator new: glibc's own, or the C library's.
#if CTNN_TEST_COUNT_MALLOC
void* raw_malloc(std::size_t n) { return __libc_malloc(n); }
void* raw_memalign(std::size_t align, std::size_t n) { return __libc_memalign(align, n); }
void raw_free(void* p) { __libc_free(p); }
#else
void* raw_malloc(std::size_t n) { return std::malloc(n); }
void* raw_memalign(std::size_t align, std::size_t n) { return std::aligned_alloc(align, (n + align - 1) / align * align); }
void raw_free(void* p) { std::free(p); }
#endif

std::atomic<bool> counting{false};
std::atomic<long> c_allocations{0}, new_allocations{0};

[[maybe_unused]] void note_c() {
  if (counting.load(std::memory_order_relaxed)) c_allocations.fetch_add(1, std::memory_order_relaxed);
}
void* counted_new(std::size_t n, std::size_t align, bool nothrow) {
  if (counting.load(std::memory_order_relaxed)) new_allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t) ? raw_memalign(align, n) : raw_malloc(n);
  if (!p && !nothrow) throw std::bad_alloc();
  return p;
}
}  // namespace

#if CTNN_TEST_COUNT_MALLOC
extern "C" {
void* malloc(std::size_t n) noexcept { note_c(); return __libc_malloc(n); }
void* calloc(std::size_t n, std::size_t size) noexcept { note_c(); return __libc_calloc(n, size); }
void* realloc(void* p, std::size_t n) noexcept { note_c(); return __libc_realloc(p, n); }
void* reallocarray(void* p, std::size_t n, std::size_t size) noexcept {
  note_c();
  if (size && n > static_cast<std::size_t>(-1) / size) {
    errno = ENOMEM;
    return nullptr;
  }
  return __libc_realloc(p, n * size);
}
void* memalign(std::size_t align, std::size_t n) noexcept { note_c(); return __libc_memalign(align, n); }
void* aligned_alloc(std::size_t align, std::size_t n) noexcept { note_c(); return __libc_memalign(align, n); }
int posix_memalign(void** out, std::size_t align, std::size_t n) noexcept {
  note_c();
  void* p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(std::size_t n) noexcept { note_c(); return __libc_valloc(n); }
void* pvalloc(std::size_t n) noexcept { note_c(); return __libc_pvalloc(n); }
void free(void* p) noexcept { __libc_free(p); }
}
#endif

void* operator new(std::size_t n) { return counted_new(n, 0, false); }
void* operator new[](std::size_t n) { return counted_new(n, 0, false); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n, 0, true); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n, 0, true); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_new(n, std::size_t(a), false); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_new(n, std::size_t(a), false); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_new(n, std::size_t(a), true); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_new(n, std::size_t(a), true); }
void operator delete(void* p) noexcept { raw_free(p); }
void operator delete[](void* p) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { raw_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { raw_free(p); }

namespace {

// Counts the allocations (both kinds) made while f runs, in any thread.
template <class F>
std::pair<long, long> allocations_during(F&& f) {
  c_allocations = 0;
  new_allocations = 0;
  counting = true;
  f();
  counting = false;
  return {new_allocations.load(), c_allocations.load()};
}

// ---- networks under test ------------------------------------------------------------------------

using Small = Seq<Conv<3, 8, 3, 1, 1>, BatchNorm<8>, ReLU, BasicBlock<8, 16, stride2>, GlobalAvgPool, Flatten,
                  Linear<16, 5>>;
using SmallIn = Shape<3, 9, 7>;
using SmallNet = Network<Small, SmallIn>;

template <class T>
void fill_uniform(T& t, std::uint64_t seed) {
  Rng rng(seed);
  for (auto& v : t.span()) v = rng.uniform(-1.f, 1.f);
}

template <class Net>
std::vector<float> all_values(const Net& net, bool grads) {
  std::vector<float> out;
  for (const auto& p : net.parameters()) out.insert(out.end(), grads ? p.grad : p.value, (grads ? p.grad : p.value) + p.size);
  return out;
}

}  // namespace

TEST_CASE("The allocation counter sees operator new, malloc and aligned allocations") {
  const auto [news, cs] = allocations_during([] {
    delete new int(3);
    std::free(std::malloc(16));
    void* p = nullptr;
    REQUIRE(posix_memalign(&p, 64, 128) == 0);
    std::free(p);
    Tensor<Shape<4>> t(2);  // aligned operator new
  });
  CHECK(news == 2);
  CHECK(cs == (CTNN_TEST_COUNT_MALLOC ? 2 : 0));
}

TEST_CASE("Network: construction, shapes of forward and backward") {
  SmallNet net(4, 42);
  static_assert(std::is_same_v<SmallNet::output_shape, Shape<5>>);
  static_assert(SmallNet::static_parameter_count == parameter_count_v<Small, SmallIn>);
  CHECK(net.max_batch() == 4);
  CHECK(net.parameter_count() == SmallNet::static_parameter_count);
  CHECK(SmallNet::architecture().find("on 3x9x7") != std::string::npos);

  Tensor<SmallIn> x(4, 3);
  fill_uniform(x, 1);
  const auto& y = net.forward(x, Mode::train);
  CHECK(y.batch() == 3);
  Tensor<Shape<5>> dy(4, 3);
  fill_uniform(dy, 2);
  const auto& dx = net.backward(dy, true);
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(dx)>, Tensor<SmallIn>>);
  CHECK(dx.batch() == 3);
  bool nonzero = false;
  for (float v : dx.span()) nonzero = nonzero || v != 0.f;
  CHECK(nonzero);
  x.set_batch(1);
  CHECK(net.forward(x, Mode::eval).batch() == 1);
}

TEST_CASE("Network: the input gradient equals finite differences of sum(y * dy)") {
  SmallNet net(2, 3);
  Tensor<SmallIn> x(2);
  Tensor<Shape<5>> dy(2);
  fill_uniform(x, 4);
  fill_uniform(dy, 5);
  auto loss = [&] {
    const auto& y = net.forward(x, Mode::eval);
    double s = 0;
    for (std::size_t i = 0; i < y.size(); ++i) s += double(y.data()[i]) * dy.data()[i];
    return s;
  };
  net.forward(x, Mode::eval);
  const ref::Vec dx = ref::to_double(net.backward(dy, true).span());
  ref::FdOptions fd;
  fd.h = 3e-4;
  fd.kinks = true;
  fd.atol = 1e-3;
  ref::check_gradient(loss, x.data(), dx, fd, "dL/dx");
}

TEST_CASE("Network: gradients accumulate until zero_grad") {
  SmallNet net(3, 7);
  Tensor<SmallIn> x(3);
  Tensor<Shape<5>> dy(3);
  fill_uniform(x, 1);
  fill_uniform(dy, 2);
  for (float g : all_values(net, true)) REQUIRE(g == 0.f);
  net.forward(x, Mode::train);
  net.backward(dy);
  const auto once = all_values(net, true);
  std::size_t nonzero = 0;
  for (float g : once) nonzero += g != 0.f;
  CHECK(nonzero > once.size() / 2);
  net.forward(x, Mode::train);
  net.backward(dy);
  const auto twice = all_values(net, true);
  for (std::size_t i = 0; i < once.size(); ++i) REQUIRE(twice[i] == doctest::Approx(2 * once[i]).epsilon(1e-4).scale(1e-6));
  net.zero_grad();
  for (float g : all_values(net, true)) REQUIRE(g == 0.f);
}

TEST_CASE("Network: parameter names are unique paths, sizes add up") {
  SmallNet net(1);
  std::set<std::string> names;
  std::size_t total = 0;
  for (const auto& p : net.parameters()) {
    CHECK(names.insert(p.name).second);
    CHECK(p.size > 0);
    CHECK(p.value != nullptr);
    CHECK(p.grad != nullptr);
    total += p.size;
  }
  CHECK(total == net.parameter_count());
  const auto params = net.parameters();
  REQUIRE(params.size() == 14);
  CHECK(params[0].name == "0.weight");
  CHECK(params[0].size == 8 * 3 * 9);
  CHECK(params[1].name == "1.weight");
  CHECK(params[1].kind == ParamKind::norm_weight);
  CHECK(params[3].name == "3.main.0.weight");
  CHECK(params[3].size == 16 * 8 * 9);
  CHECK(params[9].name == "3.shortcut.0.weight");
  CHECK(params[9].size == 16 * 8);
  CHECK(params[12].name == "6.weight");
  CHECK(params[12].size == 16 * 5);
  CHECK(params[13].name == "6.bias");
  CHECK(params[13].kind == ParamKind::bias);
  REQUIRE(net.buffers().size() == 8);  // four batch norms
  CHECK(net.buffers()[0].name == "1.running_mean");
  CHECK(net.buffers()[7].name == "3.shortcut.1.running_var");
}

TEST_CASE("Network: bad batches and a backward before forward throw ctnn::Error") {
  CHECK_THROWS_WITH_AS(SmallNet(0), doctest::Contains("max_batch must be at least 1"), Error);
  SmallNet net(2);
  Tensor<SmallIn> big(3), empty(2, 0);
  Tensor<Shape<5>> dy(2);
  big.fill(0.5f);
  dy.fill(1.f);
  CHECK_THROWS_WITH_AS(net.backward(dy), "ctnn::Network::backward called before forward", Error);
  CHECK_THROWS_WITH_AS(net.forward(big, Mode::train), "ctnn::Network::forward: batch 3 exceeds the max_batch 2 the network was built for",
                       Error);
  CHECK_THROWS_WITH_AS(net.forward(empty, Mode::train), "ctnn::Network::forward: the input batch is empty", Error);
  Tensor<SmallIn> x(2);
  x.fill(0.25f);
  net.forward(x, Mode::train);
  dy.set_batch(1);
  CHECK_THROWS_WITH_AS(net.backward(dy), doctest::Contains("gradient batch 1 differs from the forward batch 2"), Error);
  dy.set_batch(2);
  CHECK_NOTHROW(net.backward(dy));
}

TEST_CASE("Network: the same seed gives the same parameters, outputs and gradients") {
  SmallNet a(3, 11), b(3, 11), c(3, 12);
  CHECK(all_values(a, false) == all_values(b, false));
  CHECK(all_values(a, false) != all_values(c, false));
  Tensor<SmallIn> x(3);
  Tensor<Shape<5>> dy(3);
  fill_uniform(x, 1);
  fill_uniform(dy, 2);
  const auto& ya = a.forward(x, Mode::train);
  const auto& yb = b.forward(x, Mode::train);
  CHECK(std::equal(ya.span().begin(), ya.span().end(), yb.span().begin()));
  a.backward(dy);
  b.backward(dy);
  CHECK(all_values(a, true) == all_values(b, true));
  // Evaluation is a pure function of the input.
  const std::vector<float> first(a.forward(x, Mode::eval).span().begin(), a.forward(x, Mode::eval).span().end());
  const auto& again = a.forward(x, Mode::eval);
  CHECK(std::equal(first.begin(), first.end(), again.span().begin()));
}

TEST_CASE("A ResNet-18 training step allocates nothing after two warm-up steps") {
  // 16x16 inputs instead of CIFAR's 32x32 keep the test fast; every layer and kernel path is the same.
  using Net = Network<ResNet18<10>, Shape<3, 16, 16>>;
  Net net(3, 1);
  Tensor<Shape<3, 16, 16>> x(3);
  Tensor<Shape<10>> dy(3);
  fill_uniform(x, 3);
  fill_uniform(dy, 4);
  auto step = [&] {
    net.zero_grad();
    net.forward(x, Mode::train);
    net.backward(dy);
  };
  step();
  step();
  const auto [news, cs] = allocations_during(step);
  CHECK_MESSAGE(news == 0, "operator new calls in a training step: " << news);
  CHECK_MESSAGE(cs == 0, "C allocator calls in a training step: " << cs);

  // Evaluation, and a smaller last batch, allocate nothing either.
  net.forward(x, Mode::eval);
  const auto [eval_news, eval_cs] = allocations_during([&] { net.forward(x, Mode::eval); });
  CHECK(eval_news + eval_cs == 0);
  net.forward(x, Mode::inference);
  const auto [inference_news, inference_cs] = allocations_during([&] { net.forward(x, Mode::inference); });
  CHECK(inference_news + inference_cs == 0);
  x.set_batch(2);
  dy.set_batch(2);
  const auto [small_news, small_cs] = allocations_during(step);
  CHECK_MESSAGE(small_news + small_cs == 0, "allocations in a step of batch 2: " << small_news << " + " << small_cs);
}

TEST_CASE("Network: every gradient in one buffer, the last parameter first, zeroed by zero_grad") {
  Network<Seq<Conv<3, 4>, BatchNorm<4>, ReLU, GlobalAvgPool, Flatten, Linear<4, 3>>, Shape<3, 6, 6>> net(2, 1);
  const auto params = net.parameters();
  const std::span<float> all = net.gradient_buffer();
  REQUIRE(params.size() == 5);
  CHECK(params.back().grad == all.data());  // Linear's bias, finished first by backward
  for (std::size_t i = 0; i + 1 < params.size(); ++i) {
    CHECK(params[i].grad > params[i + 1].grad);
    CHECK(params[i + 1].grad + params[i + 1].size <= params[i].grad);
    CHECK((params[i].grad - all.data()) % 16 == 0);
  }
  CHECK(params[0].grad + params[0].size <= all.data() + all.size());
  // The layers write into it: one backward makes every gradient nonzero somewhere.
  Tensor<Shape<3, 6, 6>> x(2);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float(i % 5) - 2.f;
  const auto& y = net.forward(x, Mode::train);
  Tensor<Shape<3>> dy(2);
  for (std::size_t i = 0; i < dy.size(); ++i) dy.data()[i] = float(i) - 2.5f;
  (void)y;
  net.zero_grad();
  net.backward(dy);
  for (const auto& p : params) {
    bool nonzero = false;
    for (std::size_t i = 0; i < p.size; ++i) nonzero = nonzero || p.grad[i] != 0.f;
    CHECK_MESSAGE(nonzero, p.name);
  }
  net.zero_grad();
  for (float v : all) REQUIRE(v == 0.f);
}

TEST_CASE("ResNet-18: Mode::inference (batch norms and ReLUs folded into the convolutions) gives eval's logits") {
  // 16x16 as in the allocation test above (one instantiation of the network for both): every
  // layer kind and kernel path is the same as at 32x32.
  using Net = Network<ResNet18<10>, Shape<3, 16, 16>>;
  Net net(3, 2);
  Rng rng(8);  // batch-norm statistics and affine parameters far from their initial identity
  for (const Parameter& p : net.parameters())
    if (p.kind == ParamKind::norm_weight || p.kind == ParamKind::norm_bias)
      for (std::size_t i = 0; i < p.size; ++i) p.value[i] += rng.uniform(-0.3f, 0.3f);
  for (const Buffer& b : net.buffers()) {
    const bool var = b.name.find("running_var") != std::string::npos;
    for (std::size_t i = 0; i < b.size; ++i) b.value[i] = var ? rng.uniform(0.5f, 2.f) : rng.uniform(-0.2f, 0.2f);
  }
  Tensor<Shape<3, 16, 16>> x(3);
  fill_uniform(x, 5);
  const auto& eval_out = net.forward(x, Mode::eval);
  const std::vector<float> eval(eval_out.span().begin(), eval_out.span().end());
  const auto& out = net.forward(x, Mode::inference);
  double scale = 0;
  for (float v : eval) scale = std::max(scale, double(std::fabs(v)));
  REQUIRE(scale > 0.01);
  ref::expect_close(out.span(), ref::to_double(eval), 1e-4, 1e-5 * scale, "ResNet-18 logits, inference against eval");
}
