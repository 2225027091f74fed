#pragma once
// The memory plan of a network: which buffers share storage, and how many bytes each role takes.
//
// A Network builds its layers, then walks them once in backward order (each layer's optional
// `plan` member, layers/layer.hpp) and lays out two shared arenas:
//   - activation gradients: the gradient a layer's backward returns is read once, by the layer
//     before it, and is dead after that. Every such buffer is a slot of the plan; a slot is acquired
//     while the gradient it consumes is still live and released when its reader has run, so a chain
//     needs two slots, a residual block four, and slots are reused across the whole network.
//   - workspace: the scratch a kernel uses only inside one call (detail::Workspace), one arena
//     sized by the largest, since layers run one at a time.
// Outputs and the state a layer keeps from forward to backward are the layer's own; the plan
// counts them, so that MemoryReport accounts for every byte the network holds.

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "device.hpp"
#include "error.hpp"
#include "memory.hpp"
#include "tensor.hpp"

namespace ctnn {

// Bytes a network holds, by role (Network::memory(); optimizer state from ctnn::memory(net, opt)).
struct MemoryReport {
  std::size_t parameters = 0;            // weights and biases
  std::size_t gradients = 0;             // their gradients
  std::size_t buffers = 0;               // batch-norm running statistics
  std::size_t optimizer_state = 0;       // momentum, Adam moments
  std::size_t activations = 0;           // layer outputs (kept for backward)
  std::size_t activation_gradients = 0;  // the plan's gradient slots
  std::size_t workspace = 0;             // the shared kernel workspace
  std::size_t layer_state = 0;           // other per-layer state (saved statistics, pooling indices, ...)

  std::size_t total() const {
    return parameters + gradients + buffers + optimizer_state + activations + activation_gradients + workspace +
           layer_state;
  }
  // One line per role, in bytes and MB.
  std::string table() const {
    const std::pair<const char*, std::size_t> rows[] = {
        {"parameters", parameters},   {"gradients", gradients},
        {"buffers", buffers},         {"optimizer state", optimizer_state},
        {"activations", activations}, {"activation gradients", activation_gradients},
        {"workspace", workspace},     {"layer state", layer_state},
        {"total", total()}};
    std::string s;
    for (const auto& [name, bytes] : rows) {
      std::string line = name;
      line.resize(22, ' ');
      std::string num = std::to_string(bytes);
      if (num.size() < 12) line.append(12 - num.size(), ' ');
      line += num;
      line += " bytes  ";
      const std::size_t tenths = (bytes + 50'000) / 100'000;
      line += std::to_string(tenths / 10);
      line += '.';
      line += std::to_string(tenths % 10);
      line += " MB\n";
      s += line;
    }
    return s;
  }
};

// A gradient buffer of a memory plan (an index), or MemoryPlan<D>::external.
using MemorySlot = int;

template <class D>
class MemoryPlan {
public:
  using Slot = MemorySlot;
  // A gradient the plan does not hold: the caller's (Network::backward's argument) or a layer's own.
  static constexpr Slot external = -1;

  MemoryPlan() = default;
  MemoryPlan(const MemoryPlan&) = delete;
  MemoryPlan& operator=(const MemoryPlan&) = delete;
  ~MemoryPlan() {
    D::deallocate(gradients_);
    detail::host_deallocate(workspace_);
  }

  // A slot of at least `bytes` that is not live now; live until release().
  Slot acquire(std::size_t bytes) {
    check_open("acquire");
    bytes = detail::align_up(bytes);
    Slot best = external;
    for (Slot s = 0; s < static_cast<Slot>(slots_.size()); ++s) {
      if (slots_[s].live) continue;
      // The smallest free slot that is large enough, else the largest free one (which then grows).
      if (best == external) {
        best = s;
        continue;
      }
      const std::size_t b = slots_[best].bytes, c = slots_[s].bytes;
      const bool fits = c >= bytes, best_fits = b >= bytes;
      if ((fits && (!best_fits || c < b)) || (!fits && !best_fits && c > b)) best = s;
    }
    if (best == external) {
      slots_.push_back({});
      best = static_cast<Slot>(slots_.size() - 1);
    }
    slots_[best].live = true;
    slots_[best].bytes = std::max(slots_[best].bytes, bytes);
    return best;
  }
  void release(Slot s) {
    if (s == external) return;
    auto& slot = slots_.at(static_cast<std::size_t>(s));
    if (!slot.pinned) slot.live = false;
  }
  // Keeps s live for good (a layer without a plan may return its argument as its result).
  void pin(Slot s) {
    if (s != external) slots_.at(static_cast<std::size_t>(s)).pinned = true;
  }

  // Acquires a slot for t (a layer's input-gradient buffer, built `deferred`) and binds t to it.
  template <class S, class T>
  Slot gradient(Tensor<S, D, T>& t) {
    const Slot s = acquire(t.capacity_bytes());
    bind(t, s);
    return s;
  }
  // Binds t to slot s, which grows to hold it (several tensors may share a slot when the layers
  // writing them know it is safe, e.g. an element-wise update in place).
  template <class S, class T>
  void bind(Tensor<S, D, T>& t, Slot s) {
    check_open("bind");
    auto& slot = slots_.at(static_cast<std::size_t>(s));
    slot.bytes = std::max(slot.bytes, detail::align_up(t.capacity_bytes()));
    binds_.push_back({&t, s, [](void* tensor, std::byte* storage) {
                        static_cast<Tensor<S, D, T>*>(tensor)->bind(reinterpret_cast<T*>(storage));
                      }});
  }

  // A kernel's workspace: shares the one workspace arena.
  void workspace(detail::Workspace& w) {
    check_open("workspace");
    workspace_bytes_ = std::max(workspace_bytes_, w.bytes());
    workspaces_.push_back(&w);
  }

  // Storage a layer keeps for itself: its output, or other state (counted, not shared).
  template <class S, class T>
  void activation(const Tensor<S, D, T>& t) { report_.activations += t.capacity_bytes(); }
  template <class S, class E, class T>
  void state(const Tensor<S, E, T>& t) { report_.layer_state += t.capacity_bytes(); }
  void state(std::size_t bytes) { report_.layer_state += bytes; }

  // Allocates both arenas and binds every tensor and workspace to its place.
  void finish() {
    check_open("finish");
    finished_ = true;
    std::vector<std::size_t> offset(slots_.size());
    std::size_t total = 0;
    for (std::size_t s = 0; s < slots_.size(); ++s) {
      offset[s] = total;
      total += slots_[s].bytes;
    }
    report_.activation_gradients = total;
    report_.workspace = workspace_bytes_;
    gradients_ = static_cast<std::byte*>(D::allocate(total, "activation gradients"));
    for (const auto& b : binds_) b.apply(b.tensor, gradients_ + offset[static_cast<std::size_t>(b.slot)]);
    workspace_ = static_cast<std::byte*>(detail::host_allocate(workspace_bytes_, "workspace"));
    for (auto* w : workspaces_) w->bind(workspace_);
    binds_.clear();
    binds_.shrink_to_fit();
    workspaces_.clear();
    workspaces_.shrink_to_fit();
  }

  // The planned bytes of the layers (activations, activation gradients, workspace, layer state).
  const MemoryReport& report() const { return report_; }
  std::size_t slot_count() const { return slots_.size(); }
  bool live(Slot s) const { return s != external && slots_.at(static_cast<std::size_t>(s)).live; }

private:
  struct SlotInfo {
    std::size_t bytes = 0;
    bool live = false, pinned = false;
  };
  struct Binding {
    void* tensor;
    Slot slot;
    void (*apply)(void*, std::byte*);
  };

  void check_open(const char* what) const {
    if (finished_) detail::fail("ctnn::MemoryPlan::", what, ": the plan is already laid out");
  }

  std::vector<SlotInfo> slots_;
  std::vector<Binding> binds_;
  std::vector<detail::Workspace*> workspaces_;
  std::size_t workspace_bytes_ = 0;
  std::byte* gradients_ = nullptr;
  std::byte* workspace_ = nullptr;
  MemoryReport report_;
  bool finished_ = false;
};

namespace detail {

// Plans one layer: its `plan` member; a layer without one keeps its own buffers (not in the
// report), and since its result might be its argument, the slot of dy stays live for good.
template <class L, class P>
typename P::Slot plan_layer(L& layer, P& plan, typename P::Slot dy) {
  if constexpr (requires { { layer.plan(plan, dy) } -> std::same_as<typename P::Slot>; }) {
    return layer.plan(plan, dy);
  } else {
    plan.pin(dy);
    return P::external;
  }
}

// Lets a kernel report its workspace and state (`plan(p)`); kernels without one report nothing.
template <class K, class P>
void plan_kernel(K& kernel, P& plan) {
  if constexpr (requires { kernel.plan(plan); }) kernel.plan(plan);
}

}  // namespace detail
}  // namespace ctnn
