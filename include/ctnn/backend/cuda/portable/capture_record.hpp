#pragma once
// What a captured CUDA graph relies on, kept on the host, without a CUDA header (the headers in
// backend/cuda/portable/ compile with any C++20 compiler; tests/cuda_host/ runs them everywhere).
//
// A graph replays raw device addresses. Two things can make them wrong after the capture:
//   - an allocation is replaced: the shared convolution workspace grows when a later plan needs
//     more (another batch size, another network), an optimizer's state is freed by reset();
//   - an object whose address a replay-time callback holds moves (an optimizer moved after the
//     capture).
// Each such thing owns a TrackedResource (its name, current address, a generation bumped on every
// replacement or move, and whether it is still alive). While cuda::Graph captures, the code that
// uses one calls note_use(resource); the graph keeps the generation it saw and refuses to replay
// (a ctnn::Error naming it) once any has changed.
//
// The record also holds the graph's step-value nodes (backend/cuda/step_scalars.hpp): kernel nodes
// whose argument is one step's StepValues. At each replay the graph calls every node's `compute`
// (the host half of the step: an optimizer's learning rate, bias corrections, step count) and
// sets the result as that node's argument, so a replay is the same step as an eager call.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../../../core/error.hpp"
#include "../../../core/step_values.hpp"

namespace ctnn::cuda::detail {

struct ResourceState {
  std::string what;
  const void* address = nullptr;
  std::uint64_t generation = 0;
  bool alive = true;
};

class TrackedResource {
public:
  explicit TrackedResource(std::string what, const void* address = nullptr)
      : state_(std::make_shared<ResourceState>(ResourceState{std::move(what), address})) {}
  TrackedResource(const TrackedResource&) = delete;
  TrackedResource& operator=(const TrackedResource&) = delete;
  // The state moves with the owner; an owner whose address matters calls relocated() after a move.
  TrackedResource(TrackedResource&& o) noexcept : state_(std::move(o.state_)) {}
  TrackedResource& operator=(TrackedResource&& o) noexcept {
    if (this != &o) {
      retire();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  ~TrackedResource() { retire(); }

  // The resource now lives at `address` (a reallocation or a move): graphs that used it refuse.
  void relocated(const void* address) {
    state_->address = address;
    ++state_->generation;
  }
  const std::shared_ptr<ResourceState>& state() const { return state_; }
  const std::string& what() const { return state_->what; }
  std::uint64_t generation() const { return state_->generation; }
  const void* address() const { return state_->address; }

private:
  void retire() noexcept {
    if (state_) state_->alive = false;
  }
  std::shared_ptr<ResourceState> state_;
};

class CaptureRecord {
public:
  // `resource` is part of the captured work (repeats are recorded once).
  void use(const TrackedResource& resource) {
    for (const auto& u : uses_)
      if (u.state == resource.state()) return;
    uses_.push_back({resource.state(), resource.address(), resource.generation()});
  }

  // A step-value node: `node` (a cudaGraphNode_t, opaque here) writes `compute()`'s values into the
  // device block `block`, which belongs to `owner`.
  void step_values(void* node, float* block, const TrackedResource& owner, std::function<StepValues()> compute) {
    use(owner);
    nodes_.push_back({node, block, std::move(compute)});
  }

  // "" when everything the capture used is as it was; otherwise why not, naming the first change.
  std::string stale() const {
    for (const auto& u : uses_) {
      if (!u.state->alive)
        return ctnn::detail::cat(u.state->what, " was freed after the capture");
      if (u.state->generation != u.generation)
        return ctnn::detail::cat(u.state->what, " was reallocated or moved after the capture (at ", u.address,
                                 " then, at ", u.state->address, " now)");
    }
    return {};
  }

  // For each step-value node, in capture order: set(node, block, values) with fresh values.
  template <class Set>
  void refresh(Set&& set) const {
    for (const auto& n : nodes_) set(n.node, n.block, n.compute());
  }

  std::size_t uses() const noexcept { return uses_.size(); }
  std::size_t step_value_nodes() const noexcept { return nodes_.size(); }
  bool empty() const noexcept { return uses_.empty() && nodes_.empty(); }

private:
  struct Use {
    std::shared_ptr<const ResourceState> state;
    const void* address;
    std::uint64_t generation;
  };
  struct Node {
    void* node;
    float* block;
    std::function<StepValues()> compute;
  };
  std::vector<Use> uses_;
  std::vector<Node> nodes_;
};

// The record of the capture running on this thread; nullptr outside a capture.
inline CaptureRecord*& active_capture() noexcept {
  thread_local CaptureRecord* record = nullptr;
  return record;
}

inline void note_use(const TrackedResource& resource) {
  if (CaptureRecord* r = active_capture()) r->use(resource);
}

// Makes `record` the active one for its lifetime (one capture at a time per thread).
class CaptureScope {
public:
  explicit CaptureScope(CaptureRecord& record) {
    if (active_capture())
      ctnn::detail::fail("ctnn::cuda::Graph::capture: a capture is already running on this thread (captures do not nest)");
    active_capture() = &record;
  }
  CaptureScope(const CaptureScope&) = delete;
  CaptureScope& operator=(const CaptureScope&) = delete;
  ~CaptureScope() { active_capture() = nullptr; }
};

}  // namespace ctnn::cuda::detail
