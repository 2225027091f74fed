#pragma once
// Checked CUDA, cuDNN and cuBLAS calls. Every status that is not success becomes a ctnn::Error
// that names the call, the file and the line:
//
//   CTNN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
//   CTNN_CUDNN_CHECK(cudnnConvolutionForward(...));
//   CTNN_CUBLAS_CHECK(cublasSgemm(...));
//   kernel<<<grid, block, 0, stream>>>(...);
//   CTNN_CUDA_CHECK_LAUNCH("kernel");   // reports a bad launch configuration at once
//
// The three macros are the same overloaded check; the names say what the call is.

#if !defined(__CUDACC__)
#error "ctnn's CUDA backend is compiled by nvcc only: include it from a .cu file (CTNN_HAS_CUDA == 1)"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "../../core/error.hpp"

namespace ctnn::cuda::detail {

[[noreturn]] inline void fail_call(const char* library, const char* call, const char* file, int line,
                                   const std::string& reason) {
  ctnn::detail::fail("ctnn: ", library, " call failed: ", call, "\n  at ", file, ":", line, "\n  ", reason);
}

inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  // Clear a non-sticky error so that later calls do not report it again.
  (void)cudaGetLastError();
  fail_call("CUDA", call, file, line,
            ctnn::detail::cat(cudaGetErrorName(status), ": ", cudaGetErrorString(status)));
}

inline void check(cudnnStatus_t status, const char* call, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  char details[512] = {0};
  cudnnGetLastErrorString(details, sizeof(details));
  std::string reason = cudnnGetErrorString(status);
  if (details[0]) reason += ctnn::detail::cat(" (", details, ")");
  fail_call("cuDNN", call, file, line, reason);
}

inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail_call("cuBLAS", call, file, line,
            ctnn::detail::cat(cublasGetStatusName(status), ": ", cublasGetStatusString(status)));
}

}  // namespace ctnn::cuda::detail

#define CTNN_CUDA_CHECK(call) ::ctnn::cuda::detail::check((call), #call, __FILE__, __LINE__)
#define CTNN_CUDNN_CHECK(call) ::ctnn::cuda::detail::check((call), #call, __FILE__, __LINE__)
#define CTNN_CUBLAS_CHECK(call) ::ctnn::cuda::detail::check((call), #call, __FILE__, __LINE__)
#define CTNN_CUDA_CHECK_LAUNCH(kernel_name) \
  ::ctnn::cuda::detail::check(cudaPeekAtLastError(), "launch of " kernel_name, __FILE__, __LINE__)
