#pragma once
// Whole-step CUDA graphs. Because nothing in a ctnn step changes shape or address, the GPU work of a
// step can be recorded once and replayed with one launch:
//
//   cuda::Graph graph;
//   step();                                   // at least once first: optimizer state and cuDNN
//                                             // plans are allocated outside the capture
//   graph.capture([&] { step(); });           // records the work; nothing runs
//   for (...) { opt.lr = schedule(t); graph.replay(); }
//
// A replay is the same step as an eager call:
//   - values that change between steps (an optimizer's learning rate, momentum factors, AdamW's
//     step count and bias corrections) reach the kernels through cuda::StepScalars: at each replay
//     the graph runs the host half of the step (reads opt.lr, advances opt.steps) and sets the
//     results as arguments of the recorded nodes, without waiting for the GPU;
//   - the graph records what it used that can be reallocated (the shared convolution workspace,
//     an optimizer's state table, the step-scalar blocks) and refuses to replay, with a ctnn::Error
//     naming it, once one of them has been replaced, moved or freed: capture again then
//     (cuda::CapturedStep does it on request, see below);
//   - other host-side effects of the captured code do not happen on replay, and the step must not
//     synchronise with the host or allocate: use cuda::softmax_cross_entropy_async (not
//     softmax_cross_entropy, which returns the loss) and device-side inputs; a call that is not
//     allowed during capture fails with a ctnn::Error naming it.
// Capture runs in cudaStreamCaptureModeThreadLocal, so other threads (a loader) may keep using
// CUDA meanwhile.
//
//   cuda::CapturedStep step([&] { train::step(net, opt, x, grad, device_loss); });
//   step();                  // runs eagerly `warmup` times (1 by default), then captures once and
//                            // replays from then on
//   step.recapture();        // the next call captures again (after a batch-size change, say)
// With Recapture::when_stale it captures again by itself when the graph refuses to replay.

#include "check.hpp"
#include "context.hpp"
#include "step_scalars.hpp"
#include "portable/capture_record.hpp"

#include <cstdlib>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

namespace ctnn::cuda {

class Graph {
public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&& o) noexcept
      : graph_(std::exchange(o.graph_, nullptr)), exec_(std::exchange(o.exec_, nullptr)), record_(std::move(o.record_)) {}
  Graph& operator=(Graph&& o) noexcept {
    if (this != &o) {
      reset();
      graph_ = std::exchange(o.graph_, nullptr);
      exec_ = std::exchange(o.exec_, nullptr);
      record_ = std::move(o.record_);
    }
    return *this;
  }
  ~Graph() { reset(); }

  // Records the GPU work that f enqueues on the context's stream (replacing an earlier capture).
  template <class F>
  void capture(F&& f) {
    reset();
    const cudaStream_t stream = context().stream();
    detail::CaptureRecord record;
    {
      detail::CaptureScope scope(record);
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
    }
    CTNN_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
    record_ = std::move(record);
  }

  // "" when the graph may be replayed; otherwise why not (nothing captured, or what changed).
  std::string stale() const {
    if (!exec_) return "nothing has been captured";
    return record_.stale();
  }

  // Runs the host half of the step (the step-value callbacks) and enqueues the recorded work on the
  // context's stream; throws ctnn::Error, launching nothing, when stale() is not empty.
  void replay() {
    if (!exec_) ctnn::detail::fail("ctnn::cuda::Graph::replay: nothing has been captured");
    if (const std::string why = record_.stale(); !why.empty())
      ctnn::detail::fail("ctnn::cuda::Graph::replay: refusing to replay: ", why,
                         "; capture the step again (Graph::capture, or CapturedStep::recapture())");
    record_.refresh([&](void* node, float* block, const StepValues& values) {
      StepScalars::set_node(exec_, node, block, values);
    });
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
  // The resources the capture used and the step-value nodes it refreshes at each replay.
  const detail::CaptureRecord& record() const noexcept { return record_; }

private:
  void reset() noexcept {
    if (exec_) (void)cudaGraphExecDestroy(exec_);
    if (graph_) (void)cudaGraphDestroy(graph_);
    exec_ = nullptr;
    graph_ = nullptr;
    record_ = {};
  }
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  detail::CaptureRecord record_;
};

enum class Recapture { on_request, when_stale };

// A step function run eagerly for `warmup` calls, then captured once and replayed.
template <class F>
class CapturedStep {
public:
  explicit CapturedStep(F step, std::size_t warmup = 1, Recapture policy = Recapture::on_request)
      : step_(std::move(step)), warmup_(warmup), policy_(policy) {}

  void operator()() {
    if (eager_done_ < warmup_) {
      step_();
      ++eager_done_;
      return;
    }
    if (graph_.empty() || (policy_ == Recapture::when_stale && !graph_.stale().empty())) {
      if (!graph_.empty() && settings().verbose)
        std::fprintf(stderr, "ctnn cuda: capturing the step again (%s)\n", graph_.stale().c_str());
      graph_.capture(step_);
      ++captures_;
    }
    graph_.replay();
  }

  // The next call captures the step again (eagerly first if `warmup` > 0).
  void recapture(std::size_t warmup = 0) {
    graph_ = Graph();
    eager_done_ = 0;
    warmup_ = warmup;
  }

  const Graph& graph() const noexcept { return graph_; }
  std::size_t captures() const noexcept { return captures_; }

private:
  F step_;
  Graph graph_;
  std::size_t warmup_;
  std::size_t eager_done_ = 0;
  std::size_t captures_ = 0;
  Recapture policy_;
};

template <class F>
CapturedStep(F, std::size_t = 1, Recapture = Recapture::on_request) -> CapturedStep<F>;

}  // namespace ctnn::cuda
