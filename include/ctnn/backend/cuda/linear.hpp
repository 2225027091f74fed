#pragma once
// CUDA fully connected layer through cuBLAS, mirroring backend::cpu::Linear (device pointers):
//   Linear(in, out, max_batch)
//   forward(x, w, b, y, batch)                 y = x w^T + b, w is [out, in] row-major
//   backward(x, w, dy, dx, dw, db, batch)      dw += dy^T x, db += column sums of dy,
//                                              dx = dy w unless dx == nullptr
// cuBLAS is column-major: a row-major [r, c] matrix is the column-major [c, r] matrix, so every
// product is written for the transposes (y^T = w x^T and so on). TF32 follows
// ctnn::cuda::settings().allow_tf32 at construction (off: CUBLAS_DEFAULT_MATH, exact float32);
// 16-bit data (Precision::bf16/fp16) runs cublasGemmEx with float32 accumulation.

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "half.hpp"
#include "launch.hpp"

#include <cstddef>
#include <cstdio>

namespace ctnn::backend::cuda {

namespace detail {

// y[r * out + o] += b[o] (b float32)
template <class T>
__global__ void add_bias(T* y, const float* b, std::size_t n, std::size_t out) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = ctnn::cuda::store<T>(ctnn::cuda::load(y[i]) + b[i % out]);
}

// db[o] += sum over rows of dy[r * out + o], in float; one block per output, its threads over the
// rows (one thread per output left a 10-class head to 10 threads).
template <class T>
__global__ void bias_grad(const T* dy, float* db, std::size_t rows, std::size_t out) {
  const std::size_t o = blockIdx.x;
  float s = 0;
  for (std::size_t r = threadIdx.x; r < rows; r += blockDim.x) s += ctnn::cuda::load(dy[r * out + o]);
  s = ctnn::cuda::detail::block_sum(s);
  if (threadIdx.x == 0) db[o] += s;
}

}  // namespace detail

// T: float (cublasSgemm with CUBLAS_DEFAULT_MATH, or TF32 when allowed) or a 16-bit type
// (cublasGemmEx on tensor cores, float32 accumulation; the float32 weights are converted to a T
// copy at each forward, and the weight gradient accumulates straight into the float32 one).
template <class T>
class FullyConnected {
  static constexpr bool half = ctnn::cuda::is_half_v<T>;

public:
  FullyConnected(std::size_t in, std::size_t out, std::size_t /*max_batch*/)
      : in_(in), out_(out), math_(ctnn::cuda::settings().allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) {
    if constexpr (half) w16_ = ctnn::cuda::DeviceBuffer<T>(in * out, "a 16-bit copy of a linear layer's weights");
    if (ctnn::cuda::settings().verbose)
      std::fprintf(stderr, "ctnn cuda: linear %zu -> %zu: %s\n", in, out,
                   half ? "cublasGemmEx, 16-bit inputs on tensor cores, float32 accumulation"
                   : math_ == CUBLAS_DEFAULT_MATH ? "cublasSgemm with CUBLAS_DEFAULT_MATH (float32 FMA, no TF32)"
                                                  : "cublasSgemm with CUBLAS_TF32_TENSOR_OP_MATH (TF32 opt-in)");
  }

  void forward(const T* x, const float* w, const float* b, T* y, std::size_t batch) {
    if (batch == 0) return;
    auto& ctx = ctnn::cuda::context();
    const float one = 1.f, zero = 0.f;
    // y^T [out, batch] = (w^T [in, out])^T * x^T [in, batch]
    if constexpr (half) {
      to_half(w);
      gemm(CUBLAS_OP_T, CUBLAS_OP_N, out_, batch, in_, w16_.data(), in_, x, in_, &zero, y, ctnn::cuda::cublas_type<T>(), out_);
    } else {
      CTNN_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas(), math_));
      CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, i(out_), i(batch), i(in_), &one, w, i(in_), x,
                                    i(in_), &zero, y, i(out_)));
    }
    const std::size_t n = batch * out_;
    detail::add_bias<T><<<ctnn::cuda::detail::grid_for(n), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(y, b, n, out_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::add_bias");
  }

  void backward(const T* x, const float* w, const T* dy, T* dx, float* dw, float* db, std::size_t batch) {
    if (batch == 0) return;
    auto& ctx = ctnn::cuda::context();
    const float one = 1.f, zero = 0.f;
    // dw^T [in, out] += x^T [in, batch] * (dy^T [out, batch])^T
    if constexpr (half) {
      gemm(CUBLAS_OP_N, CUBLAS_OP_T, in_, out_, batch, x, in_, dy, out_, &one, dw, CUDA_R_32F, in_);
    } else {
      CTNN_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas(), math_));
      CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, i(in_), i(out_), i(batch), &one, x, i(in_), dy,
                                    i(out_), &one, dw, i(in_)));
    }
    detail::bias_grad<T><<<static_cast<unsigned>(out_), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(dy, db, batch,
                                                                                                         out_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bias_grad");
    if (!dx) return;
    // dx^T [in, batch] = w^T [in, out] * dy^T [out, batch] (the weights forward used)
    if constexpr (half) {
      gemm(CUBLAS_OP_N, CUBLAS_OP_N, in_, batch, out_, w16_.data(), in_, dy, out_, &zero, dx, ctnn::cuda::cublas_type<T>(), in_);
    } else {
      CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, i(in_), i(batch), i(out_), &one, w, i(in_), dy,
                                    i(out_), &zero, dx, i(in_)));
    }
  }

private:
  static int i(std::size_t v) { return static_cast<int>(v); }

  void to_half(const float* w) {
    const std::size_t n = in_ * out_;
    ctnn::cuda::detail::filter_to_krsc(w, w16_.data(), n, 1, 1);  // a plain conversion (C = RS = 1)
  }

  // C = A op B with 16-bit A and B, float32 accumulation and alpha 1; C of type c_type.
  void gemm(cublasOperation_t ta, cublasOperation_t tb, std::size_t m, std::size_t n, std::size_t k, const T* a,
            std::size_t lda, const T* b, std::size_t ldb, const float* beta, void* c, cudaDataType_t c_type,
            std::size_t ldc) {
    const float one = 1.f;
    auto& ctx = ctnn::cuda::context();
    CTNN_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas(), CUBLAS_DEFAULT_MATH));
    CTNN_CUBLAS_CHECK(cublasGemmEx(ctx.cublas(), ta, tb, i(m), i(n), i(k), &one, a, ctnn::cuda::cublas_type<T>(), i(lda), b,
                                   ctnn::cuda::cublas_type<T>(), i(ldb), beta, c, c_type, i(ldc), CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT));
  }

  std::size_t in_, out_;
  cublasMath_t math_;
  ctnn::cuda::DeviceBuffer<T> w16_;  // 16 bits only
};

using Linear = FullyConnected<float>;

}  // namespace ctnn::backend::cuda
