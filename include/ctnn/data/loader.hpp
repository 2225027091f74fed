#pragma once
// ctnn::data::Loader<Shape<C, H, W>>: turns a Dataset of uint8 images into batches of normalised
// float tensors, with the standard CIFAR training augmentation, prepared by a background thread.
// It composes the epoch order (sampling.hpp), the per-sample augmentation and normalisation
// (augmentation.hpp) and the double-buffered prefetch (prefetch.hpp).
//
//   CifarDataset train = Cifar10::load("data", Split::train);
//   Loader loader(train, LoaderOptions{.batch = 128, .seed = 1});        // training defaults
//   Loader eval(test, LoaderOptions::evaluation(256));                    // no shuffle/augment/drop
//   for (std::size_t e = 0; e < epochs; ++e) {
//     loader.start_epoch(e);                      // or start_epoch(e, k) to resume at batch k
//     while (const Batch* b = loader.next()) {    // nullptr at the end of the epoch
//       const Tensor<Shape<C, H, W>>& x = b->images;     // b->size() samples, NCHW float
//       std::span<const std::int32_t> y = b->labels;      // b->size() labels
//       ...                                                // the next batch is prepared meanwhile
//     }
//   }
//
// Per sample (in this order): pixels / 255; random crop (zero-pad by `pad`, an H x W window) and
// horizontal flip with probability `flip_probability`; per-channel normalisation (v - mean[c]) /
// stddev[c] in float, mean and stddev having one value per channel (the defaults are CIFAR-10's;
// other data sets set their own); Cutout when `cutout` > 0 (augmentation.hpp). Each stage is optional.
//
// Determinism: the order of epoch e is a permutation drawn from (seed, e) alone, and the
// augmentation of the sample at position p of epoch e from (seed, e, p) alone (augmentation(e, p)
// returns it) - never from a running generator. A loader therefore produces the same batches for a
// seed whether it prefetches in the background or not, and start_epoch(e, k) reproduces batches
// k, k+1, ... of epoch e exactly, which is what resuming from a checkpoint needs.
//
// Batch b of an epoch holds positions [b * batch, min((b + 1) * batch, size())); with drop_last the
// final partial batch is skipped. batches_per_epoch() says how many there are. Sharded (ranks > 1),
// this process gets slice [rank * n / ranks, (rank + 1) * n / ranks) of the batch's n positions.
//
// Threading and memory: with background = true (the default) one worker thread fills the next batch
// while the caller works on the current one (two preallocated batch buffers; a mutex and a condition
// variable hand them over). Nothing is allocated after construction. The pointer next() returns
// stays valid until the next call to next() or start_epoch(), or the loader's destruction. An
// exception thrown while preparing a batch is rethrown by the next() that asks for that batch (and
// the worker waits until the following next() or start_epoch() before it tries that batch again). The
// destructor stops and joins the worker. A Loader is used from one thread; it is neither copyable nor
// movable, and it keeps a reference to the dataset, which must outlive it and stay unchanged.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/shape.hpp"
#include "../core/tensor.hpp"
#include "augmentation.hpp"
#include "dataset.hpp"
#include "prefetch.hpp"
#include "sampling.hpp"

namespace ctnn::data {

// The loader's options (outside the class template, so that one type serves every image shape).
// The defaults are the standard CIFAR training recipe; evaluation() gives the plain test-set pass.
struct LoaderOptions {
  std::size_t batch = 128;
  bool shuffle = true;             // a fresh permutation each epoch, drawn from (seed, epoch)
  std::uint64_t seed = 0;
  bool augment = true;             // random crop and flip; false: every image as stored
  std::size_t pad = 4;             // crop: zero-pad by pad, random H x W window; 0: no crop (max H and W)
  float flip_probability = 0.5f;   // horizontal flip; 0: never
  std::size_t cutout = 0;          // Cutout: zero a random cutout x cutout square after normalising; 0: off
  float cutout_probability = 1.f;  // ... in this share of the samples
  std::vector<float> mean{0.4914f, 0.4822f, 0.4465f};     // of pixel / 255, per channel (CIFAR-10's R, G, B)
  std::vector<float> stddev{0.2470f, 0.2435f, 0.2616f};
  // Skip the final partial batch. On for training, so that every step sees a full batch (batch norm
  // statistics of a tiny last batch are noisy) and an epoch is a fixed number of steps; off for
  // evaluation, which must see every image.
  bool drop_last = true;
  bool background = true;          // prepare the next batch on a worker thread
  // Data-parallel training: this process takes share `rank` of `ranks` of every batch (a contiguous
  // slice); `batch` stays the global batch. Order, positions and augmentation are the global ones,
  // so the processes together see exactly the batches one process would. Training batches
  // (drop_last) must divide evenly; a final evaluation batch is split as evenly as it goes.
  std::size_t rank = 0, ranks = 1;

  // The training defaults with this seed and batch.
  static LoaderOptions training(std::uint64_t seed, std::size_t batch = 128) {
    LoaderOptions o;
    o.seed = seed;
    o.batch = batch;
    return o;
  }
  // Every image once, in dataset order, unaugmented, last partial batch included.
  static LoaderOptions evaluation(std::size_t batch = 128) {
    LoaderOptions o;
    o.batch = batch;
    o.shuffle = false;
    o.augment = false;
    o.drop_last = false;
    return o;
  }
};

// One batch: views of a loader-owned buffer, valid until the loader's next next() or start_epoch().
template <ShapeType S>
struct Batch {
  Tensor<S, Cpu> images;                    // batch() == size() normalised samples, NCHW
  std::span<const std::int32_t> labels;     // class of each sample
  std::span<const std::size_t> indices;     // dataset index of each sample
  std::size_t epoch = 0;
  std::size_t index = 0;                    // batch number within the epoch
  std::size_t first_position = 0;           // epoch position of sample 0 (index * options.batch, plus
                                            // the slices of the lower ranks when sharded)
  std::size_t size() const noexcept { return labels.size(); }
};

template <ShapeType S>
class Loader {
public:
  using Options = LoaderOptions;
  using dataset_type = Dataset<S>;
  using batch_type = Batch<S>;

  Loader(const dataset_type& dataset, Options options = {})
      : data_(dataset), opt_(checked(dataset, std::move(options))), norm_(opt_.mean, opt_.stddev, "ctnn::data::Loader"),
        crop_{opt_.pad, opt_.flip_probability, opt_.cutout, opt_.cutout_probability} {
    n_ = dataset.size();
    classes_ = dataset.num_classes();
    nbatches_ = opt_.drop_last ? n_ / opt_.batch : (n_ + opt_.batch - 1) / opt_.batch;
    order_.resize(n_);
    for (auto& s : slots_) {
      s.batch.images = Tensor<S, Cpu>(local_batch(), 0);
      s.labels.resize(local_batch());
      s.indices.resize(local_batch());
    }
    prefetch_.emplace(*this, slots_, opt_.background);
  }
  Loader(dataset_type&&, Options = {}) = delete;  // the loader keeps a reference: pass a living dataset
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  ~Loader() { prefetch_.reset(); }  // stops the worker before the slots go

  // Starts epoch `epoch` at batch `first_batch` (0..batches_per_epoch()); the following next() calls
  // return batches first_batch, first_batch + 1, ... of that epoch. Invalidates the current batch.
  void start_epoch(std::size_t epoch, std::size_t first_batch = 0) {
    if (first_batch > nbatches_)
      fail("start_epoch(", epoch, ", ", first_batch, "): an epoch has ", nbatches_,
           " batches; expected a first batch of 0..", nbatches_);
    prefetch_->restart(epoch, first_batch, nbatches_, [&] { epoch_order(opt_.seed, epoch, opt_.shuffle, order_); });
  }

  // The next batch of the current epoch, or nullptr after its last batch (until start_epoch). The
  // first call without a start_epoch() starts epoch 0. Rethrows an error met preparing the batch.
  const batch_type* next() {
    if (!prefetch_->started()) start_epoch(0);
    Slot* s = prefetch_->next();
    return s ? &s->batch : nullptr;
  }

  std::size_t size() const noexcept { return n_; }                          // images in the dataset
  std::size_t batches_per_epoch() const noexcept { return nbatches_; }
  std::size_t samples_per_epoch() const noexcept { return opt_.drop_last ? nbatches_ * opt_.batch : n_; }
  // The most samples of a batch this process gets: batch / ranks, rounded up.
  std::size_t local_batch() const noexcept { return (opt_.batch + opt_.ranks - 1) / opt_.ranks; }
  std::size_t epoch() const noexcept { return prefetch_->epoch(); }       // the current epoch
  const Options& options() const noexcept { return opt_; }
  const dataset_type& dataset() const noexcept { return data_; }

  // The augmentation applied to the sample at `position` of epoch `epoch` (crop pad, pad and no flip
  // when augmentation is off).
  Augmentation augmentation(std::size_t epoch, std::size_t position) const noexcept {
    return opt_.augment ? crop_.draw(opt_.seed, epoch, position, height, width) : crop_.identity();
  }

  // The dataset index of every position of epoch `epoch` (allocates; for tests and inspection).
  std::vector<std::size_t> order(std::size_t epoch) const {
    std::vector<std::size_t> o(n_);
    epoch_order(opt_.seed, epoch, opt_.shuffle, o);
    return o;
  }

  // The normalised value of byte v in channel c: (float(v) / 255 - mean[c]) / stddev[c].
  float normalized(std::size_t c, std::uint8_t v) const noexcept { return norm_(c, v); }

private:
  friend class detail::Prefetcher<Loader>;

  struct Slot {
    batch_type batch;
    std::vector<std::int32_t> labels;
    std::vector<std::size_t> indices;
  };
  using slot_type = Slot;

  // Writes batch b of epoch `epoch` into `slot` (reads order_, which only start_epoch changes, while
  // no fill runs).
  void fill(Slot& slot, std::size_t epoch, std::size_t b) const {
    const std::size_t global = std::min(opt_.batch, n_ - b * opt_.batch);
    const std::size_t begin = b * opt_.batch + opt_.rank * global / opt_.ranks;
    const std::size_t count = b * opt_.batch + (opt_.rank + 1) * global / opt_.ranks - begin;
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t pos = begin + k;
      const std::size_t idx = order_[pos];
      const std::int32_t label = data_.labels[idx];
      if (label < 0 || static_cast<std::size_t>(label) >= classes_)
        fail("label ", label, " of image ", idx, " is not a class index; expected 0..", classes_ - 1,
             " (was the dataset changed while the loader uses it?)");
      slot.labels[k] = label;
      slot.indices[k] = idx;
      const Augmentation a = augmentation(epoch, pos);
      float* out = slot.batch.images.data() + k * S::size;
      write_sample<channels, height, width>(data_.images.data() + idx * S::size, a, opt_.pad, norm_, out);
      apply_cutout<channels, height, width>(a, opt_.cutout, out);
    }
    slot.batch.images.set_batch(count);
    slot.batch.labels = std::span<const std::int32_t>(slot.labels.data(), count);
    slot.batch.indices = std::span<const std::size_t>(slot.indices.data(), count);
    slot.batch.epoch = epoch;
    slot.batch.index = b;
    slot.batch.first_position = begin;
  }

  static constexpr std::size_t channels = dataset_type::channels;
  static constexpr std::size_t height = dataset_type::height;
  static constexpr std::size_t width = dataset_type::width;

  template <class... Args>
  [[noreturn]] static void fail(Args&&... args) {
    ctnn::detail::fail("ctnn::data::Loader: ", std::forward<Args>(args)...);
  }

  static Options checked(const dataset_type& dataset, Options o) {
    dataset.validate("ctnn::data::Loader");
    if (o.batch == 0) fail("the batch size is 0; expected at least 1");
    if (o.ranks == 0 || o.rank >= o.ranks) fail("rank ", o.rank, " of ", o.ranks, " processes; expected a rank of 0..ranks-1");
    if (o.ranks > 1 && o.drop_last && o.batch % o.ranks != 0)
      fail("the global batch ", o.batch, " does not divide evenly among ", o.ranks, " processes; use a multiple of ", o.ranks);
    if (o.pad > std::min(height, width))
      fail("pad ", o.pad, " is larger than the image (", std::min(height, width), "); expected 0..", std::min(height, width));
    if (!(o.flip_probability >= 0.f && o.flip_probability <= 1.f))
      fail("flip_probability ", o.flip_probability, " is not a probability; expected 0..1");
    if (!(o.cutout_probability >= 0.f && o.cutout_probability <= 1.f))
      fail("cutout_probability ", o.cutout_probability, " is not a probability; expected 0..1");
    if (o.cutout > std::max(height, width))
      fail("cutout ", o.cutout, " is larger than the image (", height, "x", width, ")");
    return o;
  }

  const dataset_type& data_;
  Options opt_;
  Normalizer<channels> norm_;
  CropFlip crop_;
  std::size_t n_ = 0, classes_ = 0, nbatches_ = 0;
  std::vector<std::size_t> order_;
  std::array<Slot, 2> slots_;
  std::optional<detail::Prefetcher<Loader>> prefetch_;
};

template <ShapeType S>
Loader(const Dataset<S>&, LoaderOptions = {}) -> Loader<S>;

}  // namespace ctnn::data
