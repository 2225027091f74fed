#pragma once
// cuda::StepScalars: a device block of StepValues (core/step_values.hpp) that a step's kernels read
// through a pointer, and the one way ctnn changes per-step scalars on the GPU:
//
//   scalars.publish([&] { return values_for_this_step(); });   // then launch kernels reading scalars.device()
//
// publish() writes the values in stream order with a one-block kernel that takes them as its
// argument. Eagerly, the callback runs at once. Under cuda::Graph::capture it does not run: the
// graph records the write's kernel node with the callback and, at every replay, calls it and sets
// its result as the node's argument (cudaGraphExecKernelNodeSetParams) before the launch.
// Why a kernel argument rather than a copy from a pinned host block: a replay reads a pinned block
// when it runs, so the host would have to wait for the previous replay before writing the next
// step's values; a node's parameters are copied when they are set, so the host never waits.
//
// The block and the owner's callback are tied to the StepScalars object: moving it (with the
// optimizer that owns it) or destroying it makes graphs that captured it refuse to replay.

#include "check.hpp"
#include "context.hpp"
#include "buffer.hpp"
#include "portable/capture_record.hpp"

#include <functional>
#include <utility>

#include "../../core/error.hpp"
#include "../../core/step_values.hpp"

namespace ctnn::cuda {

namespace detail {

// A template, so that every translation unit refers to one kernel (a plain __global__ function in
// a header would be defined once per translation unit).
template <class = void>
__global__ void write_step_values(float* block, StepValues values) {
  if (threadIdx.x < StepValues::size) block[threadIdx.x] = values.v[threadIdx.x];
}

inline constexpr unsigned step_values_threads = 32;
static_assert(StepValues::size <= step_values_threads);

// The kernel node the stream's capture just recorded (the one dependency of whatever comes next).
inline cudaGraphNode_t last_captured_node(cudaStream_t stream, const char* who) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  const cudaGraphNode_t* deps = nullptr;
  std::size_t count = 0;
  CTNN_CUDA_CHECK(cudaStreamGetCaptureInfo(stream, &status, nullptr, nullptr, &deps, nullptr, &count));
  if (status != cudaStreamCaptureStatusActive || count != 1 || !deps)
    ctnn::detail::fail(who, ": expected the stream to be capturing with one open dependency after the write, found ",
                       count, " (status ", int(status), ")");
  return deps[0];
}

}  // namespace detail

class StepScalars {
public:
  explicit StepScalars(const char* what = "step scalars")
      : block_(StepValues::size, what), tracked_(what, block_.data()) {
    block_.zero();
  }
  StepScalars(StepScalars&& o) noexcept : block_(std::move(o.block_)), tracked_(std::move(o.tracked_)) {
    tracked_.relocated(block_.data());  // a callback captured with the old owner must not run again
  }
  StepScalars& operator=(StepScalars&& o) noexcept {
    if (this != &o) {
      block_ = std::move(o.block_);
      tracked_ = std::move(o.tracked_);
      tracked_.relocated(block_.data());
    }
    return *this;
  }

  const float* device() const noexcept { return block_.data(); }
  const detail::TrackedResource& resource() const noexcept { return tracked_; }

  // Writes compute()'s values into the block (see the top of this file).
  template <class Compute>
  void publish(Compute&& compute) {
    const cudaStream_t stream = context().stream();
    detail::CaptureRecord* record = detail::active_capture();
    if (!record) {
      cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
      CTNN_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
      if (status != cudaStreamCaptureStatusNone)
        ctnn::detail::fail("ctnn::cuda::StepScalars (", tracked_.what(),
                           "): the stream is being captured outside ctnn::cuda::Graph::capture; a graph captured that "
                           "way would replay this step's values forever: capture with cuda::Graph");
      const StepValues values = compute();
      detail::write_step_values<><<<1, detail::step_values_threads, 0, stream>>>(block_.data(), values);
      CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::write_step_values");
      return;
    }
    detail::write_step_values<><<<1, detail::step_values_threads, 0, stream>>>(block_.data(), StepValues{});
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::write_step_values");
    const cudaGraphNode_t node = detail::last_captured_node(stream, "ctnn::cuda::StepScalars::publish");
    record->step_values(static_cast<void*>(node), block_.data(), tracked_,
                        std::function<StepValues()>(std::forward<Compute>(compute)));
  }

  // Sets a recorded node's argument in an instantiated graph (called by cuda::Graph::replay).
  static void set_node(cudaGraphExec_t exec, void* node, float* block, const StepValues& values) {
    cudaKernelNodeParams p{};
    p.func = reinterpret_cast<void*>(&detail::write_step_values<>);
    p.gridDim = dim3(1);
    p.blockDim = dim3(detail::step_values_threads);
    p.sharedMemBytes = 0;
    StepValues v = values;
    void* args[] = {&block, &v};
    p.kernelParams = args;
    p.extra = nullptr;
    CTNN_CUDA_CHECK(cudaGraphExecKernelNodeSetParams(exec, static_cast<cudaGraphNode_t>(node), &p));
  }

private:
  DeviceBuffer<float> block_;
  detail::TrackedResource tracked_;
};

}  // namespace ctnn::cuda
