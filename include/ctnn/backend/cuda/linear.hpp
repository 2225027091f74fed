#pragma once
// CUDA fully connected layer through cuBLAS, mirroring backend::cpu::Linear (device pointers):
//   Linear(in, out, max_batch)
//   forward(x, w, b, y, batch)                 y = x w^T + b, w is [out, in] row-major
//   backward(x, w, dy, dx, dw, db, batch)      dw += dy^T x, db += column sums of dy,
//                                              dx = dy w unless dx == nullptr
// cuBLAS is column-major: a row-major [r, c] matrix is the column-major [c, r] matrix, so every
// product is written for the transposes (y^T = w x^T and so on). TF32 follows
// ctnn::cuda::settings().allow_tf32 at construction (off: CUBLAS_DEFAULT_MATH, exact float32).

#include "check.hpp"
#include "context.hpp"
#include "launch.hpp"

#include <cstddef>
#include <cstdio>

namespace ctnn::backend::cuda {

namespace detail {

// y[r * out + o] += b[o]
template <class T>
__global__ void add_bias(T* y, const T* b, std::size_t n, std::size_t out) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] += b[i % out];
}

// db[o] += sum over rows of dy[r * out + o]; one block per output, its threads over the rows (one
// thread per output left a 10-class head to 10 threads).
template <class T>
__global__ void bias_grad(const T* dy, T* db, std::size_t rows, std::size_t out) {
  const std::size_t o = blockIdx.x;
  T s = 0;
  for (std::size_t r = threadIdx.x; r < rows; r += blockDim.x) s += dy[r * out + o];
  s = ctnn::cuda::detail::block_sum(s);
  if (threadIdx.x == 0) db[o] += s;
}

}  // namespace detail

class Linear {
public:
  Linear(std::size_t in, std::size_t out, std::size_t /*max_batch*/)
      : in_(in), out_(out), math_(ctnn::cuda::settings().allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) {
    if (ctnn::cuda::settings().verbose)
      std::fprintf(stderr, "ctnn cuda: linear %zu -> %zu: cublasSgemm with %s\n", in, out,
                   math_ == CUBLAS_DEFAULT_MATH ? "CUBLAS_DEFAULT_MATH (float32 FMA, no TF32)" : "CUBLAS_TF32_TENSOR_OP_MATH (TF32 opt-in)");
  }

  void forward(const float* x, const float* w, const float* b, float* y, std::size_t batch) {
    if (batch == 0) return;
    auto& ctx = ctnn::cuda::context();
    const float one = 1.f, zero = 0.f;
    CTNN_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas(), math_));
    // y^T [out, batch] = (w^T [in, out])^T * x^T [in, batch]
    CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, i(out_), i(batch), i(in_), &one, w, i(in_), x,
                                  i(in_), &zero, y, i(out_)));
    const std::size_t n = batch * out_;
    detail::add_bias<float><<<ctnn::cuda::detail::grid_for(n), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(y, b, n, out_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::add_bias");
  }

  void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, std::size_t batch) {
    if (batch == 0) return;
    auto& ctx = ctnn::cuda::context();
    const float one = 1.f, zero = 0.f;
    CTNN_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas(), math_));
    // dw^T [in, out] += x^T [in, batch] * (dy^T [out, batch])^T
    CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, i(in_), i(out_), i(batch), &one, x, i(in_), dy,
                                  i(out_), &one, dw, i(in_)));
    detail::bias_grad<float><<<static_cast<unsigned>(out_), ctnn::cuda::detail::block_size, 0, ctx.stream()>>>(
        dy, db, batch, out_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::backend::cuda::bias_grad");
    if (!dx) return;
    // dx^T [in, batch] = w^T [in, out] * dy^T [out, batch]
    CTNN_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, i(in_), i(batch), i(out_), &one, w, i(in_), dy,
                                  i(out_), &zero, dx, i(in_)));
  }

private:
  static int i(std::size_t v) { return static_cast<int>(v); }

  std::size_t in_, out_;
  cublasMath_t math_;
};

}  // namespace ctnn::backend::cuda
