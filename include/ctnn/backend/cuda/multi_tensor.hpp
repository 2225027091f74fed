#pragma once
// One kernel for the update of every parameter of an optimizer (registered as
// backend::multi_tensor<Cuda>, see backend/contract.hpp): instead of one to three launches per
// tensor (62 tensors in ResNet-18), one launch walks a device table of
// {value, grad, state0, state1, size} in chunks of `chunk_elements`, one chunk per block at a time.
// The per-element arithmetic is update_rule::sgd_update / adamw_update (backend/update_rule.hpp,
// tested on the CPU against the CPU optimizers); the step's scalars come from a StepScalars block,
// so a captured graph replays every step with that step's learning rate and bias corrections.
//
// The table is built (uploaded, which waits for the stream) when the parameter list or a state
// pointer changes, that is on the first step; later steps compare pointers on the host and launch.
// It is a tracked resource: a graph that captured an update refuses to replay once the table has
// been rebuilt or freed (reset()).

#include "buffer.hpp"
#include "check.hpp"
#include "context.hpp"
#include "device.hpp"
#include "launch.hpp"
#include "step_scalars.hpp"
#include "portable/capture_record.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/parameter.hpp"
#include "../../core/step_values.hpp"
#include "../update_rule.hpp"
#include "../contract.hpp"

namespace ctnn::cuda {

namespace detail {

struct TensorEntry {
  float* value;
  const float* grad;
  float* state0;
  float* state1;
  std::size_t size;
  friend bool operator==(const TensorEntry&, const TensorEntry&) = default;
};

struct Chunk {
  std::uint32_t tensor;
  std::size_t begin;
};

inline constexpr std::size_t chunk_elements = std::size_t{1} << 14;

struct SgdRule {
  __device__ static void apply(const TensorEntry& t, std::size_t i, const float* s) {
    float none = 0.f;
    update_rule::sgd_update(t.value[i], t.grad[i], t.state0 ? t.state0[i] : none, s);
  }
};

struct AdamWRule {
  __device__ static void apply(const TensorEntry& t, std::size_t i, const float* s) {
    update_rule::adamw_update(t.value[i], t.grad[i], t.state0[i], t.state1[i], s);
  }
};

template <class Rule>
__global__ void multi_tensor_update(const TensorEntry* tensors, const Chunk* chunks, std::size_t n_chunks,
                                    const float* scalars, const std::uint32_t* skip) {
  if (skip && *skip) return;  // an fp16 step with an inf/NaN gradient (loss_scale.hpp)
  __shared__ float s[StepValues::size];
  if (threadIdx.x < StepValues::size) s[threadIdx.x] = scalars[threadIdx.x];
  __syncthreads();
  for (std::size_t k = blockIdx.x; k < n_chunks; k += gridDim.x) {
    const Chunk c = chunks[k];
    const TensorEntry t = tensors[c.tensor];
    const std::size_t end = c.begin + chunk_elements < t.size ? c.begin + chunk_elements : t.size;
    for (std::size_t i = c.begin + threadIdx.x; i < end; i += blockDim.x) Rule::apply(t, i, s);
  }
}

}  // namespace detail

class MultiTensorOptimizer {
public:
  MultiTensorOptimizer() = default;
  MultiTensorOptimizer(MultiTensorOptimizer&&) noexcept = default;
  MultiTensorOptimizer& operator=(MultiTensorOptimizer&&) noexcept = default;

  // Parameters without a gradient or without values are left out (the optimizers skip them).
  void bind(std::span<const Parameter> params, std::span<float* const> state0, std::span<float* const> state1) {
    std::vector<detail::TensorEntry> entries;
    entries.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Parameter& p = params[i];
      if (!p.grad || p.size == 0) continue;
      entries.push_back({p.value, p.grad, i < state0.size() ? state0[i] : nullptr, i < state1.size() ? state1[i] : nullptr,
                         p.size});
    }
    if (table_.data() && entries == entries_) return;
    std::vector<detail::Chunk> chunks;
    for (std::size_t t = 0; t < entries.size(); ++t)
      for (std::size_t b = 0; b < entries[t].size; b += detail::chunk_elements)
        chunks.push_back({static_cast<std::uint32_t>(t), b});
    DeviceBuffer<detail::TensorEntry> table(std::max<std::size_t>(entries.size(), 1), "the multi-tensor optimizer table");
    DeviceBuffer<detail::Chunk> chunk_table(std::max<std::size_t>(chunks.size(), 1), "the multi-tensor optimizer chunks");
    Cuda::upload(table.data(), entries.data(), entries.size() * sizeof(detail::TensorEntry));
    Cuda::upload(chunk_table.data(), chunks.data(), chunks.size() * sizeof(detail::Chunk));
    table_ = std::move(table);
    chunks_ = std::move(chunk_table);
    entries_ = std::move(entries);
    n_chunks_ = chunks.size();
    tracked_.relocated(table_.data());
    if (!scalars_) scalars_.emplace("the optimizer's step scalars");
  }

  template <class Values>
  void sgd(Values&& values) {
    launch<detail::SgdRule>(std::forward<Values>(values));
  }
  template <class Values>
  void adamw(Values&& values) {
    launch<detail::AdamWRule>(std::forward<Values>(values));
  }

  void reset() {
    table_ = {};
    chunks_ = {};
    entries_.clear();
    n_chunks_ = 0;
    tracked_ = detail::TrackedResource("the multi-tensor optimizer table");  // the old one retires
  }

  // A device flag: while it is nonzero when an update runs, the update leaves everything as it is
  // (dynamic loss scaling skips steps with non-finite gradients; nullptr: never skip).
  void skip_when(const std::uint32_t* flag) noexcept { skip_ = flag; }

  std::size_t tensors() const noexcept { return entries_.size(); }
  std::size_t chunks() const noexcept { return n_chunks_; }

private:
  template <class Rule, class Values>
  void launch(Values&& values) {
    if (!scalars_) ctnn::detail::fail("ctnn::cuda::MultiTensorOptimizer: update before bind()");
    // The host half runs even without tensors (it advances the optimizer's step count).
    scalars_->publish(std::forward<Values>(values));
    detail::note_use(tracked_);
    if (n_chunks_ == 0) return;
    const unsigned grid =
        static_cast<unsigned>(std::min<std::size_t>(n_chunks_, static_cast<std::size_t>(context().sm_count()) * 8));
    detail::multi_tensor_update<Rule><<<grid, ctnn::cuda::detail::block_size, 0, context().stream()>>>(
        table_.data(), chunks_.data(), n_chunks_, scalars_->device(), skip_);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::multi_tensor_update");
  }

  DeviceBuffer<detail::TensorEntry> table_;
  DeviceBuffer<detail::Chunk> chunks_;
  std::vector<detail::TensorEntry> entries_;
  std::size_t n_chunks_ = 0;
  std::optional<StepScalars> scalars_;
  const std::uint32_t* skip_ = nullptr;
  detail::TrackedResource tracked_{"the multi-tensor optimizer table"};
};

}  // namespace ctnn::cuda

template <>
struct ctnn::backend::multi_tensor<ctnn::Cuda> {
  using type = ctnn::cuda::MultiTensorOptimizer;
};
