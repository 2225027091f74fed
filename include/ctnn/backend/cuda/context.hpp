#pragma once
// The CUDA context: one per process, created on first use. It binds to the GPU that is current
// when it is created and holds
//   - the stream every ctnn kernel, copy and library call runs on (non-blocking, so it does not
//     serialise with the legacy default stream),
//   - a cuDNN handle and a cuBLAS handle, both bound to that stream,
//   - the workspace shared by all convolutions (they run one after another on the one stream),
//     sized while layers are constructed, so a training step allocates nothing; it is a tracked
//     resource (portable/capture_record.hpp): a captured graph that used it refuses to replay
//     after it has grown.
// It lives until the process exits and is never destroyed (destroying library handles during
// static destruction races the CUDA runtime's own teardown).
//
// Use ctnn from one host thread at a time per process, as with one cuDNN handle; a loader thread
// may fill pinned buffers and call Cuda::upload / copy_from_host_async, which only enqueue copies.
//
// ctnn::cuda::settings() are read when a kernel is constructed (that is, when a Network is built):
//   allow_tf32             TF32 tensor-core math in convolutions and GEMMs (off: results match
//                          the CPU to ~1e-5; on: ~1e-3 and faster)
//   deterministic          only deterministic convolution algorithms
//   conv_search            find: time the candidate algorithms once per layer (cudnnFind*Ex);
//                          heuristic: take cuDNN's first suggestion (cudnnGet*_v7), no timing
//   conv_workspace_limit   largest convolution workspace an algorithm may use
//   verbose                log each layer's algorithm and math type to stderr (default: on when the
//                          environment has CTNN_CUDA_VERBOSE=1)

#include "check.hpp"
#include "portable/capture_record.hpp"
#include "portable/device_memory.hpp"
#include "portable/host_waits.hpp"

#include <cstddef>
#include <cstdlib>
#include <string>

#include "../../core/error.hpp"

namespace ctnn::cuda {

enum class ConvSearch { find, heuristic };

inline bool verbose_from_environment() {
  const char* v = std::getenv("CTNN_CUDA_VERBOSE");
  return v && v[0] == '1';
}

struct Settings {
  bool allow_tf32 = false;
  bool deterministic = false;
  ConvSearch conv_search = ConvSearch::find;
  std::size_t conv_workspace_limit = std::size_t{512} << 20;
  bool verbose = verbose_from_environment();
};

inline Settings& settings() {
  static Settings s;
  return s;
}

// The number of usable GPUs; 0 when there is none or the driver cannot be reached (never throws).
inline int device_count() noexcept {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

// Why there is no GPU, in words ("" when there is one): "no CUDA-capable device is detected", ...
inline std::string no_device_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return ctnn::detail::cat(cudaGetErrorName(e), ": ", cudaGetErrorString(e));
  }
  return n == 0 ? std::string("cudaGetDeviceCount returned 0 devices") : std::string();
}

class Context {
public:
  Context() {
    if (device_count() == 0) ctnn::detail::fail("ctnn::Cuda: no usable GPU (", no_device_reason(), ")");
    CTNN_CUDA_CHECK(cudaGetDevice(&device_));
    CTNN_CUDA_CHECK(cudaGetDeviceProperties(&props_, device_));
    CTNN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CTNN_CUDNN_CHECK(cudnnCreate(&cudnn_));
    CTNN_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    CTNN_CUBLAS_CHECK(cublasCreate(&cublas_));
    CTNN_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // A fixed cuBLAS workspace keeps cuBLAS from allocating during a step (and so makes steps
    // capturable as CUDA graphs).
    CTNN_CUDA_CHECK(cudaMalloc(&cublas_workspace_, cublas_workspace_bytes));
    detail::count_allocation(cublas_workspace_, cublas_workspace_bytes);
    CTNN_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_, cublas_workspace_bytes));
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const noexcept { return device_; }
  const cudaDeviceProp& properties() const noexcept { return props_; }
  int sm_count() const noexcept { return props_.multiProcessorCount; }
  cudaStream_t stream() const noexcept { return stream_; }
  cudnnHandle_t cudnn() const noexcept { return cudnn_; }
  cublasHandle_t cublas() const noexcept { return cublas_; }

  // Waits until everything enqueued on the stream has finished (a counted host wait, `why` naming
  // the caller: portable/host_waits.hpp).
  void synchronize(const char* why = "ctnn::cuda::synchronize") {
    detail::count_host_wait(why);
    CTNN_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  // The shared convolution workspace, grown to at least `bytes`. Growing frees the old block
  // (cudaFree waits for the device), so call it while building layers, not inside a step.
  void* workspace(std::size_t bytes) {
    if (bytes > workspace_bytes_) {
      if (workspace_) {
        detail::count_free(workspace_);
        CTNN_CUDA_CHECK(cudaFree(workspace_));
      }
      workspace_ = nullptr;
      workspace_bytes_ = 0;
      const cudaError_t e = cudaMalloc(&workspace_, bytes);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        ctnn::detail::fail("ctnn: out of GPU memory: could not allocate ", bytes, " bytes for the convolution workspace (",
                           cudaGetErrorString(e), ")");
      }
      workspace_bytes_ = bytes;
      detail::count_allocation(workspace_, bytes);
      workspace_tracked_.relocated(workspace_);
    }
    return workspace_;
  }
  void* workspace() const noexcept { return workspace_; }
  std::size_t workspace_size() const noexcept { return workspace_bytes_; }
  const detail::TrackedResource& workspace_resource() const noexcept { return workspace_tracked_; }

private:
  static constexpr std::size_t cublas_workspace_bytes = std::size_t{32} << 20;

  int device_ = 0;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* cublas_workspace_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
  detail::TrackedResource workspace_tracked_{"the shared convolution workspace (ctnn::cuda::Context::workspace)"};
};

// The process's context, created on the first call (throws ctnn::Error when there is no GPU).
inline Context& context() {
  static Context* ctx = new Context();  // intentionally never destroyed, see above
  return *ctx;
}

inline void synchronize() { context().synchronize("ctnn::cuda::synchronize"); }

namespace detail {
// Waits for `event` (a counted host wait).
inline void wait_for(cudaEvent_t event, const char* why) {
  count_host_wait(why);
  CTNN_CUDA_CHECK(cudaEventSynchronize(event));
}
}  // namespace detail

}  // namespace ctnn::cuda
