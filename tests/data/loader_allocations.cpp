// The loader allocates everything at construction: iterating epochs (with the background thread,
// restarts included) allocates nothing. This executable replaces the global operator new to count.
#include <ctnn/data/loader.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> allocations{0};

void* counted(std::size_t n, std::size_t align) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else {
    n = (n + align - 1) / align * align;
    p = std::aligned_alloc(align, n);
  }
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted(n, alignof(std::max_align_t)); }
void* operator new[](std::size_t n) { return counted(n, alignof(std::max_align_t)); }
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

using namespace ctnn::data;

TEST_CASE("iterating epochs allocates nothing after construction") {
  CifarDataset d;
  d.class_names = {"a", "b", "c"};
  d.labels.resize(500);
  d.images.resize(500 * CifarDataset::image_bytes);
  for (std::size_t i = 0; i < d.size(); ++i) {
    d.labels[i] = static_cast<std::int32_t>(i % 3);
    d.images[i * CifarDataset::image_bytes + i % CifarDataset::image_bytes] = static_cast<std::uint8_t>(i);
  }
  for (const bool background : {true, false}) {
    LoaderOptions o = LoaderOptions::training(2, 64);
    o.drop_last = false;
    o.background = background;
    const std::size_t at_start = allocations.load();
    Loader loader(d, o);
    CHECK(allocations.load() > at_start);  // the counter sees the loader's own buffers
    std::size_t samples = 0;
    const std::size_t before = allocations.load();
    for (std::size_t e = 0; e < 3; ++e) {
      loader.start_epoch(e);
      while (const auto* b = loader.next()) samples += b->size();
    }
    loader.start_epoch(7, 2);
    (void)loader.next();
    loader.start_epoch(8);  // restart while the worker holds a prefetched batch
    while (const auto* b = loader.next()) samples += b->size();
    const std::size_t after = allocations.load();
    CHECK(samples == 4 * 500);
    CHECK(after == before);
  }
}
