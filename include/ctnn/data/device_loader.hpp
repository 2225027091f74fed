#pragma once
// cuda::DeviceLoader<Shape<C, H, W>>: the CPU data::Loader's batches, prepared on the GPU, so that
// the input pipeline never limits a step and a step never waits for the host.
//
//   cuda::DeviceLoader<Shape<3, 32, 32>> loader(train_set, data::LoaderOptions::training(seed, 512));
//   loader.next(x, labels.data());   // batch after batch, epoch after epoch, in stream order
//
// - The dataset's uint8 images and labels are uploaded once (CIFAR-10's training set: 150 MB).
// - Per epoch, a plan of (dataset index, Augmentation) per position is drawn on the host with the
//   CPU loader's rules: the order from (seed, epoch) (data::epoch_order) and the crop, flip and
//   Cutout of each position from (seed, epoch, position) (data::CropFlip::draw). It is written to one
//   of two pinned host buffers and uploaded on a copy stream into one of two device buffers; events
//   order the copy after the batches that read that device buffer two epochs before and the epoch's
//   first batch after the copy, so the upload overlaps the previous epoch's batches still queued.
// - next() launches one kernel that writes the batch into a float NCHW tensor (one thread per value,
//   data::augmented_value: the CPU loader's values exactly, tests/data/augmentation.cpp) and its
//   labels into device memory. The batch position reaches the kernel through cuda::StepScalars, so
//   a CUDA graph that captured next() continues with the following batches at each replay; the host
//   half (at the call, or at each replay) advances the position and starts the next epoch when one
//   ends.
// Training batches only: drop_last is required (every batch full). Sharded (options.rank of
// options.ranks processes, data-parallel training) each process gets the CPU loader's share of
// every global batch: the contiguous slice [rank * batch / ranks, (rank + 1) * batch / ranks) of
// its positions (local_batch() samples), with the global order and augmentation. The dataset
// must outlive nothing: it is copied to the device.

#include "../core/config.hpp"
#if !CTNN_HAS_CUDA || !defined(__CUDACC__)
#error "ctnn/data/device_loader.hpp needs nvcc (CTNN_HAS_CUDA == 1): it prepares batches on the GPU"
#endif

#include "../backend/cuda/buffer.hpp"
#include "../backend/cuda/check.hpp"
#include "../backend/cuda/context.hpp"
#include "../backend/cuda/device.hpp"
#include "../backend/cuda/half.hpp"
#include "../backend/cuda/launch.hpp"
#include "../backend/cuda/step_scalars.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"
#include "../core/precision.hpp"
#include "../core/shape.hpp"
#include "../core/step_values.hpp"
#include "../core/tensor.hpp"
#include "augmentation.hpp"
#include "dataset.hpp"
#include "loader.hpp"
#include "sampling.hpp"

namespace ctnn::cuda {

namespace detail {

struct PlanEntry {
  std::uint64_t index;
  data::Augmentation augmentation;
};

namespace loader_slot {
inline constexpr std::size_t batch = 0, plan = 1;  // uint32 bits: batch of the epoch, plan buffer (0 or 1)
}

// out[s, c, y, x] (NCHW float) or out[s, y, x, c] (NHWC, 16 bits: Precision::bf16/fp16) for
// s < local: one thread per value. Sample s is position b * batch + first + s of the epoch (b:
// the batch of the epoch; first: this process's slice of it).
template <std::size_t C, std::size_t H, std::size_t W, class T, bool Nhwc>
__global__ void augment_batch(const std::uint8_t* images, const std::int32_t* dataset_labels, const PlanEntry* plan0,
                              const PlanEntry* plan1, const float* scalars, std::size_t batch, std::size_t first,
                              std::size_t local, std::size_t pad, std::size_t cutout, const float* lut, T* out,
                              std::int32_t* labels) {
  const std::size_t b = float_as_bits(scalars[loader_slot::batch]);
  const PlanEntry* plan = (float_as_bits(scalars[loader_slot::plan]) ? plan1 : plan0) + b * batch + first;
  constexpr std::size_t sample = C * H * W;
  const std::size_t n = local * sample;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::size_t s = i / sample, r = i - s * sample;
    const std::size_t c = Nhwc ? r % C : r / (H * W);
    const std::size_t p = Nhwc ? r / C : r % (H * W);
    const std::size_t y = p / W, x = p % W;
    const PlanEntry e = plan[s];
    out[i] = store<T>(
        data::augmented_value(images + e.index * sample, H, W, c, y, x, e.augmentation, pad, lut + c * 256, cutout));
    if (r == 0) labels[s] = dataset_labels[e.index];
  }
}

}  // namespace detail

template <ShapeType S>
class DeviceLoader {
  static_assert(S::rank == 3, "ctnn::cuda::DeviceLoader<Shape<C, H, W>>: images are channels x height x width");
  static constexpr std::size_t C = S::template dim<0>, H = S::template dim<1>, W = S::template dim<2>;

public:
  DeviceLoader(const data::Dataset<S>& dataset, data::LoaderOptions options)
      : opt_(std::move(options)), n_(dataset.size()), crop_{opt_.pad, opt_.flip_probability, opt_.cutout, opt_.cutout_probability},
        scalars_("the device loader's batch position") {
    constexpr const char* who = "ctnn::cuda::DeviceLoader";
    dataset.validate(who);
    // The CPU loader's checks of the options (pad, probabilities, cutout, mean/stddev): a loader is
    // built for them and dropped.
    const data::Loader<S> cpu_check(dataset, [&] {
      auto o = opt_;
      o.background = false;
      return o;
    }());
    if (!opt_.drop_last) ctnn::detail::fail(who, ": needs drop_last (every batch full): it prepares training batches");
    local_ = opt_.batch / opt_.ranks;  // the CPU loader checked that the ranks divide the batch
    first_ = opt_.rank * local_;
    batches_ = n_ / opt_.batch;
    if (batches_ == 0)
      ctnn::detail::fail(who, ": the batch (", opt_.batch, ") is larger than the dataset (", n_, " images)");
    const data::Normalizer<C> norm(opt_.mean, opt_.stddev, who);
    std::vector<float> lut(C * 256);
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t v = 0; v < 256; ++v) lut[c * 256 + v] = norm(c, static_cast<std::uint8_t>(v));
    images_ = DeviceBuffer<std::uint8_t>(dataset.images.size(), "the device loader's images");
    labels_ = DeviceBuffer<std::int32_t>(n_, "the device loader's labels");
    lut_ = DeviceBuffer<float>(lut.size(), "the device loader's normalisation table");
    Cuda::upload(images_.data(), dataset.images.data(), dataset.images.size());
    Cuda::upload(labels_.data(), dataset.labels.data(), n_ * sizeof(std::int32_t));
    Cuda::upload(lut_.data(), lut.data(), lut.size() * sizeof(float));
    for (std::size_t k = 0; k < 2; ++k) {
      pinned_[k] = PinnedBuffer<detail::PlanEntry>(n_);
      plans_[k] = DeviceBuffer<detail::PlanEntry>(n_, "the device loader's epoch plan");
      CTNN_CUDA_CHECK(cudaEventCreateWithFlags(&copied_[k], cudaEventDisableTiming));
      CTNN_CUDA_CHECK(cudaEventCreateWithFlags(&consumed_[k], cudaEventDisableTiming));
      CTNN_CUDA_CHECK(cudaEventRecord(consumed_[k], context().stream()));
      CTNN_CUDA_CHECK(cudaEventRecord(copied_[k], copy_stream()));
    }
    order_.resize(n_);
  }
  DeviceLoader(const DeviceLoader&) = delete;
  DeviceLoader& operator=(const DeviceLoader&) = delete;
  ~DeviceLoader() {
    for (std::size_t k = 0; k < 2; ++k) {
      if (copied_[k]) (void)cudaEventDestroy(copied_[k]);
      if (consumed_[k]) (void)cudaEventDestroy(consumed_[k]);
    }
  }

  // The next next() returns batch `first_batch` of epoch `epoch`.
  void start_epoch(std::size_t epoch, std::size_t first_batch = 0) {
    if (first_batch >= batches_)
      ctnn::detail::fail("ctnn::cuda::DeviceLoader::start_epoch: an epoch has ", batches_, " batches; batch ", first_batch,
                         " does not exist");
    // Batches already enqueued may read either plan buffer: the next uploads wait for all of them.
    for (std::size_t k = 0; k < 2; ++k) CTNN_CUDA_CHECK(cudaEventRecord(consumed_[k], context().stream()));
    epoch_ = epoch;
    batch_ = first_batch;
    started_ = false;  // the plan is uploaded by the next next()'s host half
  }

  // Writes this process's share of the next batch into x (its batch becomes local_batch()) and
  // its labels into `labels` (local_batch() int32 in device memory), in stream order. x is a float
  // NCHW tensor, or a 16-bit NHWC one of a Precision::bf16/fp16 network (D = CudaMixed<P>).
  template <class D, class T>
  void next(Tensor<S, D, T>& x, std::int32_t* labels) {
    static_assert(std::is_base_of_v<Cuda, D>, "ctnn::cuda::DeviceLoader::next: the tensor must be on the GPU");
    constexpr bool nhwc = layout_v<D> == Layout::nhwc;
    x.set_batch(local_);
    scalars_.publish([this] { return advance(); });
    using ctnn::cuda::detail::block_size;
    const std::size_t n = local_ * S::size;
    detail::augment_batch<C, H, W, T, nhwc><<<ctnn::cuda::detail::grid_for(n), block_size, 0, context().stream()>>>(
        images_.data(), labels_.data(), plans_[0].data(), plans_[1].data(), scalars_.device(), opt_.batch, first_, local_,
        opt_.pad, opt_.augment ? opt_.cutout : 0, lut_.data(), x.data(), labels);
    CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::augment_batch");
  }

  std::size_t batch() const noexcept { return opt_.batch; }  // the global batch
  // The samples of a batch this process gets (batch / ranks; the batch when not sharded).
  std::size_t local_batch() const noexcept { return local_; }
  std::size_t batches_per_epoch() const noexcept { return batches_; }
  std::size_t size() const noexcept { return n_; }
  // The epoch and batch of the most recent next() (its host half).
  std::size_t epoch() const noexcept { return current_epoch_; }
  std::size_t batch_index() const noexcept { return current_batch_; }
  const data::LoaderOptions& options() const noexcept { return opt_; }

private:
  static cudaStream_t copy_stream() {
    static cudaStream_t s = [] {
      cudaStream_t created = nullptr;
      CTNN_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
      return created;  // lives as long as the process, like the context
    }();
    return s;
  }

  // The host half of next(): the batch this call prepares, starting (and uploading) epochs.
  StepValues advance() {
    if (!started_ || batch_ == batches_) {
      if (started_) {
        ++epoch_;
        batch_ = 0;
      }
      upload_plan(epoch_);
      started_ = true;
    }
    StepValues v;
    v[detail::loader_slot::batch] = bits_as_float(static_cast<std::uint32_t>(batch_));
    v[detail::loader_slot::plan] = bits_as_float(static_cast<std::uint32_t>(epoch_ % 2));
    current_epoch_ = epoch_;
    current_batch_ = batch_;
    ++batch_;
    return v;
  }

  // Draws epoch e's plan into pinned buffer e % 2 and uploads it on the copy stream into device
  // buffer e % 2, ordered after the batches that read that buffer (epoch e - 2) and before the
  // next batch. The batches of epoch e - 1 may still be running: they read the other buffer.
  void upload_plan(std::size_t e) {
    const std::size_t k = e % 2;
    const cudaStream_t compute = context().stream();
    // Every read of buffer 1 - k (epoch e - 1) is enqueued by now: the copy of epoch e + 1 waits
    // for this event.
    CTNN_CUDA_CHECK(cudaEventRecord(consumed_[1 - k], compute));
    // The previous copy out of pinned_[k] (two epochs ago) has long finished; wait only if not.
    if (cudaEventQuery(copied_[k]) == cudaErrorNotReady)
      ctnn::cuda::detail::wait_for(copied_[k], "ctnn::cuda::DeviceLoader: the pinned plan buffer");
    (void)cudaGetLastError();
    data::epoch_order(opt_.seed, e, opt_.shuffle, order_);
    for (std::size_t p = 0; p < n_; ++p)
      pinned_[k][p] = {order_[p], opt_.augment ? crop_.draw(opt_.seed, e, p, H, W) : crop_.identity()};
    CTNN_CUDA_CHECK(cudaStreamWaitEvent(copy_stream(), consumed_[k], 0));
    CTNN_CUDA_CHECK(cudaMemcpyAsync(plans_[k].data(), pinned_[k].data(), n_ * sizeof(detail::PlanEntry),
                                    cudaMemcpyHostToDevice, copy_stream()));
    CTNN_CUDA_CHECK(cudaEventRecord(copied_[k], copy_stream()));
    CTNN_CUDA_CHECK(cudaStreamWaitEvent(compute, copied_[k], 0));
  }

  data::LoaderOptions opt_;
  std::size_t n_ = 0, batches_ = 0;
  std::size_t local_ = 0, first_ = 0;  // this process's share of a batch and where it starts
  data::CropFlip crop_;
  StepScalars scalars_;
  DeviceBuffer<std::uint8_t> images_;
  DeviceBuffer<std::int32_t> labels_;
  DeviceBuffer<float> lut_;
  std::array<PinnedBuffer<detail::PlanEntry>, 2> pinned_;
  std::array<DeviceBuffer<detail::PlanEntry>, 2> plans_;
  std::array<cudaEvent_t, 2> copied_{}, consumed_{};
  std::vector<std::size_t> order_;
  std::size_t epoch_ = 0, batch_ = 0;
  bool started_ = false;
  std::size_t current_epoch_ = 0, current_batch_ = 0;
};

}  // namespace ctnn::cuda
