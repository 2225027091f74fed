#pragma once
// The memory plan of a network: which buffers share storage, and how many bytes each role takes.
//
// A Network builds its layers, then walks them once in backward order (each layer's optional
// `plan` member, layers/layer.hpp) and lays out two shared arenas:
//   - activation gradients: the gradient a layer's backward returns is read once, by the layer
//     before it, and is dead after that. The walk records each such buffer's lifetime: it begins
//     while the gradient it is computed from is still live and ends when its reader has run. Then
//     the buffers are placed in one arena, largest first, each at the lowest offset that no buffer
//     alive at the same time uses, so that a whole network needs little more than the few largest
//     gradients alive together.
//   - recomputed outputs: a batch norm's output that a ReLU overwrites in place and the next layer
//     reads (forward, and its backward) is recomputed from the batch norm's input just before that
//     backward (Seq does it), so it is one more lifetime in the arena: from the reader's backward
//     to the batch norm's, and during forward only while the reader has not yet run. Where the
//     batch norm's backward applies the ReLU's mask itself (from its input), nothing reads that
//     output after the reader's backward, and a reader that can (a CPU convolution) writes its
//     input gradient over it: one buffer for both.
//   - workspace: the scratch a kernel uses only inside one call (detail::Workspace). On a device
//     whose memory the host kernels use (the CPU), each kernel's workspace is one more lifetime in
//     the gradient arena, live while its layer's backward runs (its input and output gradients are
//     live then too), so it fills the gaps between the gradients; forward, when no gradient is
//     live, may use the whole arena. Elsewhere the workspaces share one host arena sized by the
//     largest, since layers run one at a time.
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
  std::size_t workspace = 0;             // what the kernel workspace adds to them (or its own arena)
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

  // A new buffer of `bytes`, live from now until release(). Buffers whose lifetimes do not
  // overlap may share storage (finish() lays them out).
  Slot acquire(std::size_t bytes) {
    check_open("acquire");
    slots_.push_back({detail::align_up(bytes), ++clock_, never});
    return static_cast<Slot>(slots_.size() - 1);
  }
  // Ends s's lifetime (a no-op for external, pinned and held buffers, and for one already released).
  void release(Slot s) {
    if (s == external) return;
    auto& slot = slots_.at(static_cast<std::size_t>(s));
    if (!slot.pinned && slot.holds == 0 && slot.end == never) slot.end = ++clock_;
  }
  // While held, release() leaves s alive (a caller that still needs it after the layer it gave it to).
  void hold(Slot s) {
    if (s != external) ++slots_.at(static_cast<std::size_t>(s)).holds;
  }
  void unhold(Slot s) {
    if (s != external) --slots_.at(static_cast<std::size_t>(s)).holds;
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

  // A kernel's workspace: a lifetime in the gradient arena that ends with the layer being planned
  // (detail::plan_layer), or a share of the one host workspace arena.
  void workspace(detail::Workspace& w) {
    check_open("workspace");
    if constexpr (D::host_accessible) {
      if (w.bytes() == 0) return;
      const Slot s = acquire(w.bytes());
      slots_.back().workspace = true;
      pending_.push_back(s);
      workspace_binds_.push_back({&w, s});
    } else {
      workspace_bytes_ = std::max(workspace_bytes_, w.bytes());
      workspaces_.push_back(&w);
    }
  }
  // The workspaces registered so far whose layer is still being planned; release_workspaces(mark)
  // ends those registered after `mark`.
  std::size_t workspace_mark() const { return pending_.size(); }
  void release_workspaces(std::size_t mark) {
    for (std::size_t k = mark; k < pending_.size(); ++k) release(pending_[k]);
    pending_.resize(std::min(mark, pending_.size()));
  }

  // Binds t, a layer's output, to slot s: an output its layers recompute in backward (BatchNorm +
  // ReLU before a convolution, layers/sequential.hpp) needs storage only while it is read, and its
  // layer's activation(t) then counts nothing.
  template <class S, class T>
  void bind_transient(Tensor<S, D, T>& t, Slot s) {
    bind(t, s);
    transient_.push_back(&t);
  }

  // Storage a layer keeps for itself: its output, or other state (counted, not shared).
  template <class S, class T>
  void activation(const Tensor<S, D, T>& t) {
    if (std::find(transient_.begin(), transient_.end(), static_cast<const void*>(&t)) == transient_.end())
      report_.activations += t.capacity_bytes();
  }
  template <class S, class E, class T>
  void state(const Tensor<S, E, T>& t) { report_.layer_state += t.capacity_bytes(); }
  // An output its layer counted as an activation but that nothing reads after forward, and that is
  // read right after it is written (a residual block's shortcut, read by the sum): it moves into
  // the gradient arena, where nothing is live during forward but the running layer's workspace.
  template <class S, class T>
  void forward_only(Tensor<S, D, T>& t) {
    check_open("forward_only");
    report_.activations -= std::min(report_.activations, t.capacity_bytes());
    forward_only_bytes_ = std::max(forward_only_bytes_, detail::align_up(t.capacity_bytes()));
    forward_only_.push_back({&t, 0, [](void* tensor, std::byte* storage) {
                               static_cast<Tensor<S, D, T>*>(tensor)->bind(reinterpret_cast<T*>(storage));
                             }});
  }
  void state(std::size_t bytes) { report_.layer_state += bytes; }

  // Lays out the gradient buffers (largest first, each at the lowest offset free during its whole
  // lifetime), allocates both arenas and binds every tensor and workspace to its place.
  void finish() {
    check_open("finish");
    finished_ = true;
    release_workspaces(0);  // a workspace registered outside plan_layer lives until the end of the walk
    std::vector<std::size_t> offset;
    const std::size_t total = std::max(lay_out(true, offset), forward_only_bytes_);
    std::vector<std::size_t> unused;
    const std::size_t gradients_alone = workspace_binds_.empty() ? total : lay_out(false, unused);
    report_.activation_gradients = std::max(gradients_alone, forward_only_bytes_);
    report_.workspace = workspace_bytes_ + (total - report_.activation_gradients);
    gradients_ = static_cast<std::byte*>(D::allocate(total, "activation gradients"));
    for (const auto& b : binds_) b.apply(b.tensor, gradients_ + offset[static_cast<std::size_t>(b.slot)]);
    for (const auto& [w, slot] : workspace_binds_) w->bind(gradients_ + offset[static_cast<std::size_t>(slot)]);
    for (const auto& b : forward_only_) b.apply(b.tensor, gradients_);
    workspace_ = static_cast<std::byte*>(detail::host_allocate(workspace_bytes_, "workspace"));
    for (auto* w : workspaces_) w->bind(workspace_);
    binds_.clear();
    binds_.shrink_to_fit();
    workspaces_.clear();
    workspaces_.shrink_to_fit();
    workspace_binds_.clear();
    workspace_binds_.shrink_to_fit();
    forward_only_.clear();
    forward_only_.shrink_to_fit();
    transient_.clear();
    transient_.shrink_to_fit();
  }

  // The planned bytes of the layers (activations, activation gradients, workspace, layer state).
  const MemoryReport& report() const { return report_; }
  std::size_t slot_count() const { return slots_.size(); }
  bool live(Slot s) const { return s != external && slots_.at(static_cast<std::size_t>(s)).end == never; }

private:
  static constexpr std::size_t never = static_cast<std::size_t>(-1);
  struct SlotInfo {
    std::size_t bytes = 0;
    std::size_t begin = 0, end = never;  // the lifetime, in acquire/release events
    bool pinned = false;
    int holds = 0;
    bool workspace = false;
  };

  // Places the slots (with or without the workspaces) largest first, each at the lowest offset free
  // during its whole lifetime; returns the arena's size.
  std::size_t lay_out(bool with_workspaces, std::vector<std::size_t>& offset) const {
    std::vector<std::size_t> order;
    offset.assign(slots_.size(), 0);
    for (std::size_t k = 0; k < slots_.size(); ++k)
      if (with_workspaces || !slots_[k].workspace) order.push_back(k);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return slots_[a].bytes != slots_[b].bytes ? slots_[a].bytes > slots_[b].bytes : slots_[a].begin < slots_[b].begin;
    });
    std::size_t total = 0;
    std::vector<std::pair<std::size_t, std::size_t>> taken;  // [offset, end) of placed buffers alive at the same time
    for (std::size_t k = 0; k < order.size(); ++k) {
      const SlotInfo& s = slots_[order[k]];
      taken.clear();
      for (std::size_t q = 0; q < k; ++q) {
        const SlotInfo& o = slots_[order[q]];
        if (s.begin < o.end && o.begin < s.end) taken.push_back({offset[order[q]], offset[order[q]] + o.bytes});
      }
      std::sort(taken.begin(), taken.end());
      std::size_t at = 0;
      for (const auto& [b, e] : taken) {
        if (at + s.bytes <= b) break;
        at = std::max(at, e);
      }
      offset[order[k]] = at;
      total = std::max(total, at + s.bytes);
    }
    return total;
  }
  struct Binding {
    void* tensor;
    Slot slot;
    void (*apply)(void*, std::byte*);
  };

  void check_open(const char* what) const {
    if (finished_) detail::fail("ctnn::MemoryPlan::", what, ": the plan is already laid out");
  }

  std::vector<SlotInfo> slots_;
  std::size_t clock_ = 0;
  std::vector<Binding> binds_;
  std::vector<detail::Workspace*> workspaces_;  // in the host arena (devices the host cannot use)
  std::vector<std::pair<detail::Workspace*, Slot>> workspace_binds_;  // in the gradient arena
  std::vector<Slot> pending_;  // workspaces of the layer being planned
  std::vector<Binding> forward_only_;  // at the start of the gradient arena
  std::vector<const void*> transient_;  // outputs bound by bind_transient
  std::size_t forward_only_bytes_ = 0;
  std::size_t workspace_bytes_ = 0;
  std::byte* gradients_ = nullptr;
  std::byte* workspace_ = nullptr;
  MemoryReport report_;
  bool finished_ = false;
};

namespace detail {

// Plans one layer: its `plan` member, after which dy is dead (released) unless the layer returned
// it or the caller still needs it (`keep_dy`: a residual block gives it to both branches). A layer
// without a plan keeps its own buffers (not in the report), and since its result might be its
// argument, dy stays live for good. `over`: a slot holding the layer's input that nothing reads
// after the layer's backward; a layer whose plan takes it may write its input gradient there.
template <class L, class P>
typename P::Slot plan_layer(L& layer, P& plan, typename P::Slot dy, bool keep_dy = false,
                            typename P::Slot over = P::external) {
  if constexpr (requires { { layer.plan(plan, dy) } -> std::same_as<typename P::Slot>; }) {
    if (keep_dy) plan.hold(dy);  // the layer (and the layers inside it) may not end it
    const std::size_t mark = plan.workspace_mark();
    typename P::Slot dx;
    if constexpr (requires { { layer.plan(plan, dy, over) } -> std::same_as<typename P::Slot>; })
      dx = layer.plan(plan, dy, over);
    else
      dx = layer.plan(plan, dy);
    plan.release_workspaces(mark);  // live with dy and dx: while the layer's backward runs
    if (keep_dy)
      plan.unhold(dy);
    else if (dx != dy)
      plan.release(dy);
    return dx;
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
