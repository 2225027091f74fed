#pragma once
// Parameters (with their gradients) and buffers (state such as batch-norm running statistics),
// gathered once when a network is built. Pointers refer to the network's device memory.

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.hpp"
#include "profile.hpp"

namespace ctnn {

enum class ParamKind { weight, bias, norm_weight, norm_bias };

struct Parameter {
  std::string name;  // "0.conv.weight": path through the network, then the tensor's role
  float* value = nullptr;
  float* grad = nullptr;
  std::size_t size = 0;
  ParamKind kind = ParamKind::weight;
  std::vector<std::size_t> shape = {};  // PyTorch's layout, e.g. {out, in, k, k}; empty: {size}
};

struct Buffer {
  std::string name;
  float* value = nullptr;
  std::size_t size = 0;
  std::vector<std::size_t> shape = {};  // empty: {size}
};

// A tensor's shape, {size} when it records none.
template <class T>
std::vector<std::size_t> shape_of(const T& t) {
  return t.shape.empty() ? std::vector<std::size_t>{t.size} : t.shape;
}

// Told during backward which parameters' gradients are final: indices [first, last) into the
// network's parameter list. Data-parallel training (dist/data_parallel.hpp) starts reducing a
// bucket of gradients as soon as all of them are, while the rest of backward runs.
class GradientHook {
public:
  virtual void gradients_ready(std::size_t first, std::size_t last) = 0;

protected:
  ~GradientHook() = default;
};

// Sums host values over the processes of a data-parallel run, in place; the same values on every
// process afterwards. Synchronised batch norm combines its per-channel sums through one.
class CrossReplicaSum {
public:
  virtual void sum(double* values, std::size_t n) = 0;

protected:
  ~CrossReplicaSum() = default;
};

// Layers report their state to a Collector; composite layers open a named scope per child.
class Collector {
public:
  void parameter(std::string_view name, float* value, float* grad, std::size_t size, ParamKind kind,
                 std::vector<std::size_t> shape = {}) {
    params_.push_back(Parameter{full_name(name), value, grad, size, kind, std::move(shape)});
    rebinders_.emplace_back();
  }
  // A parameter whose value and gradient are tensors: the network may move the gradient into its
  // one gradient buffer (Tensor::bind), so that all gradients are zeroed by one memset and reduced
  // in contiguous buckets.
  template <class Value, class Grad>
    requires requires(Value& v, Grad& g, float* p) { v.data(); g.bind(p); g.capacity(); }
  void parameter(std::string_view name, Value& value, Grad& grad, ParamKind kind, std::vector<std::size_t> shape = {}) {
    parameter(name, value.data(), grad.data(), grad.capacity() * Grad::sample_size, kind, std::move(shape));
    rebinders_.back() = [&grad](float* storage) { grad.bind(storage); };
  }
  void buffer(std::string_view name, float* value, std::size_t size, std::vector<std::size_t> shape = {}) {
    buffers_.push_back(Buffer{full_name(name), value, size, std::move(shape)});
  }

  class Scope {
  public:
    Scope(Collector& c, std::string_view name) : c_(c), saved_(c.prefix_.size()) {
      c.prefix_ += name;
      c.prefix_ += '.';
    }
    ~Scope() { c_.prefix_.resize(saved_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

  private:
    Collector& c_;
    std::size_t saved_;
  };

  // A layer whose statistics can be summed across processes registers how to set the sum (a
  // batch-norm layer: its batch statistics; nullptr: this process's batch alone).
  void synchronizable(std::function<void(CrossReplicaSum*)> set) { syncs_.push_back(std::move(set)); }

  // Where a composite layer finds the hook to tell when its children's gradients are final: the
  // network's hook pointer (it stays null, and the layers tell no one, until a hook is set).
  void gradient_hook(GradientHook* const* slot) { hook_ = slot; }
  GradientHook* const* gradient_hook() const { return hook_; }

  // A leaf layer (or a composite's own work) that its composite times while the network has a
  // LayerTimer (core/profile.hpp): `name` is its place under the current scope ("" for the scope
  // itself), `what` the layer's name. Returns its index in timed_layers().
  std::size_t timed_layer(std::string_view name, std::string what);
  // Where composites find the network's timer (null until one is set).
  void layer_timer(LayerTimer* const* slot) { timer_ = slot; }
  LayerTimer* const* layer_timer() const { return timer_; }

  std::vector<Parameter>& parameters() { return params_; }
  std::vector<Buffer>& buffers() { return buffers_; }
  std::vector<TimedLayer>& timed_layers() { return timed_; }
  std::vector<std::function<void(CrossReplicaSum*)>>& synchronizables() { return syncs_; }
  // Per parameter: how to move its gradient to other storage (empty: it cannot be moved).
  std::vector<std::function<void(float*)>>& gradient_rebinders() { return rebinders_; }

private:
  std::string full_name(std::string_view name) const {
    std::string s = prefix_;
    s += name;
    return s;
  }
  std::string prefix_;
  std::vector<Parameter> params_;
  std::vector<Buffer> buffers_;
  std::vector<std::function<void(CrossReplicaSum*)>> syncs_;
  std::vector<std::function<void(float*)>> rebinders_;
  GradientHook* const* hook_ = nullptr;
  std::vector<TimedLayer> timed_;
  LayerTimer* const* timer_ = nullptr;
};

// Identifies a network's architecture by its name and every parameter's and buffer's name and
// size: "<architecture>\n" then "parameter <name> <size>\n" per parameter and "buffer <name>
// <size>\n" per buffer. Checkpoints store a hash of it (io/format.hpp).
std::string architecture_signature(std::string_view architecture, std::span<const Parameter> params,
                                   std::span<const Buffer> buffers);

}  // namespace ctnn

#if CTNN_HEADER_DEFINITIONS
#include "impl/parameter.ipp"
#endif
