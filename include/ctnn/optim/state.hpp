#pragma once
// The optimizer-state contract, and building blocks shared by the optimizers: an RAII float array
// in a device's memory and the record of the parameter list an optimizer's state was built for.
//
// What a checkpoint needs from an optimizer (ctnn::SGD, ctnn::AdamW and any user optimizer):
//   std::vector<ctnn::Buffer> opt.state(std::span<ctnn::Parameter> params)
//       allocates the state for `params` if it does not exist yet and returns named buffers that
//       point into the optimizer's (device) memory, in a fixed order (it may take
//       std::span<const Parameter> instead, as ctnn::SGD and ctnn::AdamW do);
//   std::uint64_t opt.steps      the number of steps taken (restored on load).

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/parameter.hpp"

namespace ctnn {

template <class Opt>
concept OptimizerState = requires(Opt& opt, std::span<Parameter> params, std::uint64_t n) {
  { opt.state(params) } -> std::convertible_to<std::vector<Buffer>>;
  { opt.steps } -> std::convertible_to<std::uint64_t>;
  opt.steps = n;
};

}  // namespace ctnn

namespace ctnn::detail {

// n zero-initialised floats in D's memory (D::allocate / D::zero / D::deallocate); move-only.
template <class D>
class DeviceArray {
public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t n, const char* what = "optimizer state") : size_(n) {
    data_ = static_cast<float*>(D::allocate(n * sizeof(float), what));
    D::zero(data_, n * sizeof(float));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      D::deallocate(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~DeviceArray() { D::deallocate(data_); }

  float* data() noexcept { return data_; }
  const float* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

private:
  float* data_ = nullptr;
  std::size_t size_ = 0;
};

// The sizes of the parameters an optimizer's state belongs to. Empty until the first step.
class ParamLayout {
public:
  bool built() const noexcept { return built_; }
  void clear() {
    sizes_.clear();
    built_ = false;
  }
  void build(std::span<const Parameter> params) {
    sizes_.clear();
    sizes_.reserve(params.size());
    for (const auto& p : params) sizes_.push_back(p.size);
    built_ = true;
  }
  // Throws when `params` is not the list the state was built for (count or any size).
  void check(const char* call, std::span<const Parameter> params) const {
    if (params.size() != sizes_.size())
      fail(call, ": the optimizer's state was built for ", sizes_.size(), " parameters, got ",
           params.size(), " (call reset() to start over with a new parameter list)");
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i].size != sizes_[i])
        fail(call, ": parameter ", i, " (", params[i].name, ") has ", params[i].size,
             " values, the optimizer's state was built for ", sizes_[i]);
  }

private:
  std::vector<std::size_t> sizes_;
  bool built_ = false;
};

// prefix + name, appended (g++ 12 gives false -Wrestrict warnings on chained string operator+).
inline std::string prefixed(const char* prefix, const std::string& name) {
  std::string out = prefix;
  out += name;
  return out;
}

inline void check_parameter(const char* call, std::size_t index, const Parameter& p) {
  if (p.size != 0 && p.value == nullptr)
    fail(call, ": parameter ", index, " (", p.name, ") has ", p.size, " values but no storage");
}

}  // namespace ctnn::detail
