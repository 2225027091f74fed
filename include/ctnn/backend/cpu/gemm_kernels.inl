// ctnn's own GEMM for small products (gemm.hpp), compiled once per instruction set by
// for_each_isa.hpp into namespace ctnn::backend::cpu::gemm_kernels::CTNN_ISA_NAMESPACE. No include
// guard and no includes: impl/gemm.ipp includes it, after everything it uses.
//
// C = alpha op(A) op(B) + beta C, row-major. op(A) is packed into panels of MR rows and op(B) is
// read in panels of NR columns (packed, zero-padded, where it is transposed or the panel is
// partial, so every tile runs the same loop); each MR x NR tile of C is
// accumulated in registers over the whole depth K, B's panel outermost so that it stays in cache
// while A's panels stream past it. Small products (the Winograd GEMMs of layers with few channels,
// im2col of small layers) need no deeper blocking: their panels fit in the first cache levels.

namespace CTNN_ISA_NAMESPACE {

// One register of this instruction set: 4, 8 or 16 floats.
inline constexpr std::size_t width = CTNN_ISA_FLOATS;
typedef float reg __attribute__((vector_size(width * sizeof(float)), aligned(4)));

// The register tile: MR rows of C by NR = 2 registers of columns (12 accumulators; 16 with
// AVX-512's 32 vector registers).
inline constexpr std::size_t MR = width == 16 ? 8 : 6, NR = 2 * width;

// ap[p * K * MR + k * MR + r] = op(A)[p * MR + r][k] (0 past M).
inline void pack_a(bool ta, std::size_t M, std::size_t K, const float* A, std::size_t lda, float* __restrict ap) {
  for (std::size_t p = 0; p * MR < M; ++p) {
    const std::size_t rows = std::min(MR, M - p * MR);
    float* dst = ap + p * K * MR;
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t i = p * MR + r;
        dst[k * MR + r] = ta ? A[k * lda + i] : A[i * lda + k];
      }
      for (std::size_t r = rows; r < MR; ++r) dst[k * MR + r] = 0.f;
    }
  }
}

// bp[q * K * NR + k * NR + c] = op(B)[k][q * NR + c] (0 past N).
inline void pack_b(bool tb, std::size_t N, std::size_t K, const float* B, std::size_t ldb, float* __restrict bp) {
  for (std::size_t q = 0; q * NR < N; ++q) {
    const std::size_t cols = std::min(NR, N - q * NR);
    float* dst = bp + q * K * NR;
    for (std::size_t k = 0; k < K; ++k) {
      float* row = dst + k * NR;
      if (tb) {
        for (std::size_t c = 0; c < cols; ++c) row[c] = B[(q * NR + c) * ldb + k];
      } else {
        const float* src = B + k * ldb + q * NR;
        for (std::size_t c = 0; c < cols; ++c) row[c] = src[c];
      }
      for (std::size_t c = cols; c < NR; ++c) row[c] = 0.f;
    }
  }
}

// The rows x cols corner of one tile: C = alpha acc + beta C (C not read when beta is 0).
inline void store_tile(const reg (&acc)[MR][2], std::size_t rows, std::size_t cols, float alpha, float beta, float* C,
                       std::size_t ldc) {
  if (rows == MR && cols == NR) {
    for (std::size_t r = 0; r < MR; ++r) {
      reg* c = reinterpret_cast<reg*>(C + r * ldc);
      if (beta == 0.f) {
        c[0] = alpha * acc[r][0];
        c[1] = alpha * acc[r][1];
      } else {
        c[0] = alpha * acc[r][0] + beta * c[0];
        c[1] = alpha * acc[r][1] + beta * c[1];
      }
    }
    return;
  }
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < cols; ++j) {
      const float v = alpha * acc[r][j / width][j % width];
      C[r * ldc + j] = beta == 0.f ? v : v + beta * C[r * ldc + j];
    }
}

// One tile: acc = the MR rows of packed A times the NR columns of B that start at b (row k at
// b + k * ldb).
inline void tile(std::size_t K, const float* __restrict a, const float* __restrict b, std::size_t ldb, reg (&acc)[MR][2]) {
  for (std::size_t k = 0; k < K; ++k) {
    const reg b0 = *reinterpret_cast<const reg*>(b + k * ldb);
    const reg b1 = *reinterpret_cast<const reg*>(b + k * ldb + width);
    for (std::size_t r = 0; r < MR; ++r) {
      const float x = a[k * MR + r];
      acc[r][0] += x * b0;
      acc[r][1] += x * b1;
    }
  }
}

// The whole product; ap and bp hold packed_a(M, K) and packed_b(N, K) floats. B's whole panels are
// read where they lie when B is not transposed (its rows are contiguous); transposed B and the
// last, partial panel are packed.
inline void gemm(bool ta, bool tb, std::size_t M, std::size_t N, std::size_t K, float alpha, const float* A, std::size_t lda,
                 const float* B, std::size_t ldb, float beta, float* C, std::size_t ldc, float* __restrict ap,
                 float* __restrict bp) {
  pack_a(ta, M, K, A, lda, ap);
  const std::size_t direct = tb ? 0 : N / NR;  // panels read in place
  if (direct * NR < N) pack_b(tb, N - direct * NR, K, tb ? B + direct * NR * ldb : B + direct * NR, ldb, bp);
  for (std::size_t q = 0; q * NR < N; ++q) {
    const bool in_place = q < direct;
    const float* b = in_place ? B + q * NR : bp + (q - direct) * K * NR;
    const std::size_t stride = in_place ? ldb : NR, cols = std::min(NR, N - q * NR);
    for (std::size_t p = 0; p * MR < M; ++p) {
      reg acc[MR][2] = {};
      tile(K, ap + p * K * MR, b, stride, acc);
      store_tile(acc, std::min(MR, M - p * MR), cols, alpha, beta, C + p * MR * ldc + q * NR, ldc);
    }
  }
}

}  // namespace CTNN_ISA_NAMESPACE
