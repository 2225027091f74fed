// The CPU GEMM (backend/cpu/gemm.hpp): ctnn's own kernel for small products, for every instruction
// set this CPU supports, and gemm() on both sides of the small-product size, against a double
// reference: sizes that are not multiples of the register tile, every transposition, leading
// dimensions wider than the matrices, alpha and beta; and no allocation once a kernel's products
// are reserved.
#include <ctnn/backend/cpu.hpp>
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/reference.hpp"

namespace cpu = ctnn::backend::cpu;
using cpu::Isa;
using cpu::Trans;

namespace {

struct Product {
  std::size_t M, N, K;
};

// C = alpha op(A) op(B) + beta C in double, A and B row-major with leading dimensions lda and ldb.
ref::Vec reference(bool ta, bool tb, const Product& p, float alpha, const std::vector<float>& A, std::size_t lda,
                   const std::vector<float>& B, std::size_t ldb, float beta, const std::vector<float>& C, std::size_t ldc) {
  ref::Vec out(C.begin(), C.end());
  for (std::size_t i = 0; i < p.M; ++i)
    for (std::size_t j = 0; j < p.N; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < p.K; ++k)
        s += double(ta ? A[k * lda + i] : A[i * lda + k]) * double(tb ? B[j * ldb + k] : B[k * ldb + j]);
      out[i * ldc + j] = double(alpha) * s + (beta == 0.f ? 0.0 : double(beta) * double(C[i * ldc + j]));
    }
  return out;
}

// Runs `run(ta, tb, product, alpha, A, lda, B, ldb, beta, C, ldc)` on awkward products and checks
// every element of C, the columns past N included (they must be left as they were).
template <class Run>
void check(Run run, const std::vector<Product>& products) {
  ctnn::Rng rng(17);
  for (const Product& p : products)
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const auto& [alpha, beta] : {std::pair{1.f, 0.f}, std::pair{0.5f, 1.f}, std::pair{-2.f, 0.25f}}) {
          CAPTURE(p.M);
          CAPTURE(p.N);
          CAPTURE(p.K);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(alpha);
          CAPTURE(beta);
          const std::size_t lda = (ta ? p.M : p.K) + 3, ldb = (tb ? p.K : p.N) + 5, ldc = p.N + 7;
          const auto A = ref::uniform((ta ? p.K : p.M) * lda, rng), B = ref::uniform((tb ? p.N : p.K) * ldb, rng);
          auto C = ref::uniform(p.M * ldc, rng);
          if (beta == 0.f)  // C must not be read: NaNs there must not show
            for (auto& v : C) v = std::nanf("");
          const ref::Vec want = reference(ta, tb, p, alpha, A, lda, B, ldb, beta, C, ldc);
          run(ta, tb, p, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          for (std::size_t i = 0; i < p.M; ++i)
            for (std::size_t j = 0; j < ldc; ++j) {
              const double got = C[i * ldc + j], w = want[i * ldc + j];
              if (j >= p.N) {  // outside the product
                REQUIRE((std::isnan(got) ? std::isnan(w) : got == w));
                continue;
              }
              REQUIRE(std::abs(got - w) <= 1e-5 * std::sqrt(double(p.K)) + 1e-5 * std::abs(w));
            }
        }
}

// Sizes around the register tiles (6 rows, 8 with AVX-512; 8 to 32 columns) and typical small
// products.
const std::vector<Product> small = {{1, 1, 1},     {5, 7, 3},     {6, 32, 16}, {7, 33, 9},  {8, 31, 5},
                                    {9, 64, 7},    {13, 17, 64},  {17, 40, 12}, {32, 256, 32}, {64, 100, 27},
                                    {3, 1, 300},   {40, 9, 1}};

}  // namespace

TEST_CASE("gemm kernels: every supported instruction set against the reference") {
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu::detected_isa())) continue;
    CAPTURE(std::string(cpu::name(isa)));
    const auto kernel = cpu::gemm_kernels::kernel(isa);
    check(
        [&](bool ta, bool tb, const Product& p, float alpha, const float* A, std::size_t lda, const float* B,
            std::size_t ldb, float beta, float* C, std::size_t ldc) {
          std::vector<float> ap(cpu::gemm_kernels::packed_a(p.M, p.K)), bp(cpu::gemm_kernels::packed_b(p.N, p.K));
          kernel(ta, tb, p.M, p.N, p.K, alpha, A, lda, B, ldb, beta, C, ldc, ap.data(), bp.data());
        },
        small);
  }
}

TEST_CASE("gemm: small products (ctnn's kernel) and larger ones (the library's) agree with the reference") {
  auto run = [](bool ta, bool tb, const Product& p, float alpha, const float* A, std::size_t lda, const float* B,
                std::size_t ldb, float beta, float* C, std::size_t ldc) {
    cpu::gemm(ta ? Trans::yes : Trans::no, tb ? Trans::yes : Trans::no, p.M, p.N, p.K, alpha, A, lda, B, ldb, beta, C, ldc);
  };
  check(run, small);
  const std::vector<Product> large = {{130, 129, 70}, {64, 1024, 27}};
  for (const Product& p : large) CHECK_FALSE(cpu::own_kernel(p.M, p.N, p.K));
  check(run, large);
#if CTNN_USE_OPENBLAS
  // Small products with a transposed operand run on OpenBLAS on every CPU; untransposed ones on
  // ctnn's kernel where the CPU has AVX-512 (backend/cpu/gemm.hpp says why).
  CHECK_FALSE(cpu::own_kernel(32, 32, 256, true));
  CHECK(cpu::own_kernel(32, 256, 32) == (cpu::detected_isa() == Isa::avx512));
#else
  CHECK(cpu::own_kernel(32, 32, 256, true));
#endif
}

TEST_CASE("gemm: a product whose packing was reserved allocates nothing, on any thread") {
  cpu::GemmNeeds needs;
  for (const Product& p : small) needs.add(p.M, p.N, p.K);
  cpu::reserve_gemm(needs, ctnn::num_threads());
  std::vector<std::vector<float>> A, B, C;
  for (std::size_t i = 0; i < small.size() * 4; ++i) {
    const Product& p = small[i % small.size()];
    A.emplace_back(p.M * p.K, 1.f);
    B.emplace_back(p.K * p.N, 1.f);
    C.emplace_back(p.M * p.N, 0.f);
  }
  const std::size_t before = ctnn::host_memory_in_use();
  ctnn::detail::parallel_for(C.size(), ctnn::num_threads(), [&](std::size_t i, int) {
    const Product& p = small[i % small.size()];
    cpu::gemm(Trans::no, Trans::no, p.M, p.N, p.K, 1.f, A[i].data(), p.K, B[i].data(), p.N, 0.f, C[i].data(), p.N);
  });
  CHECK(ctnn::host_memory_in_use() == before);
  for (std::size_t i = 0; i < C.size(); ++i) CHECK(C[i][0] == float(small[i % small.size()].K));
}
