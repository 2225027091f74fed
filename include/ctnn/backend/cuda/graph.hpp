#pragma once
// Whole-step CUDA graphs. Because nothing in a ctnn step changes shape or address, the GPU work of a
// step can be recorded once and replayed with one launch:
//
//   cuda::Graph graph;
//   step();                                   // at least once first: optimizer state and cuDNN
//                                             // plans are allocated outside the capture
//   graph.capture([&] { step(); });           // records the work; nothing runs
//   for (...) { copy the next batch into x; graph.replay(); }
//
// What the graph records is the GPU work only, with every argument as it was during the capture:
//   - scalars baked into kernels (the learning rate in SGD, momentum, ...) keep their captured
//     values: capture again after changing them, or keep them constant;
//   - host-side effects do not happen on replay (SGD::steps does not advance);
//   - the step must not synchronise with the host or allocate: use
//     cuda::softmax_cross_entropy_async (not softmax_cross_entropy, which returns the loss) and
//     copy_from_host_async for inputs; a call that is not allowed during capture fails with a
//     ctnn::Error naming it.
// Capture runs in cudaStreamCaptureModeThreadLocal, so other threads (a loader) may keep using
// CUDA meanwhile.

#include "check.hpp"
#include "context.hpp"

#include <exception>
#include <utility>

namespace ctnn::cuda {

class Graph {
public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&& o) noexcept : graph_(std::exchange(o.graph_, nullptr)), exec_(std::exchange(o.exec_, nullptr)) {}
  Graph& operator=(Graph&& o) noexcept {
    if (this != &o) {
      reset();
      graph_ = std::exchange(o.graph_, nullptr);
      exec_ = std::exchange(o.exec_, nullptr);
    }
    return *this;
  }
  ~Graph() { reset(); }

  // Records the GPU work that f enqueues on the context's stream (replacing an earlier capture).
  template <class F>
  void capture(F&& f) {
    reset();
    const cudaStream_t stream = context().stream();
    CTNN_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      f();
    } catch (...) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(stream, &partial);  // leave capture mode before reporting
      if (partial) (void)cudaGraphDestroy(partial);
      (void)cudaGetLastError();
      throw;
    }
    CTNN_CUDA_CHECK(cudaStreamEndCapture(stream, &graph_));
    CTNN_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
  }

  // Enqueues the recorded work on the context's stream.
  void replay() {
    if (!exec_) ctnn::detail::fail("ctnn::cuda::Graph::replay: nothing has been captured");
    CTNN_CUDA_CHECK(cudaGraphLaunch(exec_, context().stream()));
  }

  bool empty() const noexcept { return exec_ == nullptr; }

  // Kernel and copy nodes in the recorded graph (0 when empty).
  std::size_t nodes() const {
    if (!graph_) return 0;
    std::size_t n = 0;
    CTNN_CUDA_CHECK(cudaGraphGetNodes(graph_, nullptr, &n));
    return n;
  }

private:
  void reset() noexcept {
    if (exec_) (void)cudaGraphExecDestroy(exec_);
    if (graph_) (void)cudaGraphDestroy(graph_);
    exec_ = nullptr;
    graph_ = nullptr;
  }
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace ctnn::cuda
