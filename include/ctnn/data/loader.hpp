#pragma once
// ctnn::data::Loader: turns a Dataset of uint8 CIFAR images into batches of normalised float
// tensors, with the standard CIFAR training augmentation, prepared by a background thread.
//
//   Dataset train = Cifar10::load("data", Split::train);
//   Loader loader(train, Loader::Options{.batch = 128, .seed = 1});      // training defaults
//   Loader eval(test, Loader::Options::evaluation(256));                  // no shuffle/augment/drop
//   for (std::size_t e = 0; e < epochs; ++e) {
//     loader.start_epoch(e);                      // or start_epoch(e, k) to resume at batch k
//     while (const Batch* b = loader.next()) {    // nullptr at the end of the epoch
//       const Tensor<Shape<3, 32, 32>>& x = b->images;   // b->size() samples, NCHW float
//       std::span<const std::int32_t> y = b->labels;      // b->size() labels
//       ...                                                // the next batch is prepared meanwhile
//     }
//   }
//
// Per sample (in this order): pixels / 255; random crop: zero-pad by `pad` on every side and take the
// 32x32 window at offset (crop_x, crop_y), each uniform in 0..2*pad (a shift of -pad..+pad); random
// horizontal flip with probability `flip_probability`; per-channel normalisation (v - mean[c]) /
// stddev[c]. Padding pixels are 0 before normalisation, so (0 - mean[c]) / stddev[c] after. Output
// pixel (c, y, x) of an augmented sample is padded(c, y + crop_y, x' + crop_x) with x' = 31 - x when
// flipped and x otherwise, where padded(c, Y, X) = image(c, Y - pad, X - pad) inside the image.
// The value is computed as (float(v) / 255.0f - mean[c]) / stddev[c] in float.
//
// Determinism: the order of epoch e is a permutation drawn from (seed, e) alone, and the
// augmentation of the sample at position p of epoch e from (seed, e, p) alone (augmentation(e, p)
// returns it) - never from a running generator. A loader therefore produces the same batches for a
// seed whether it prefetches in the background or not, and start_epoch(e, k) reproduces batches
// k, k+1, ... of epoch e exactly, which is what resuming from a checkpoint needs.
//
// Batch b of an epoch holds positions [b * batch, min((b + 1) * batch, size())); with drop_last the
// final partial batch is skipped. batches_per_epoch() says how many there are.
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
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <numeric>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "../core/device.hpp"
#include "../core/error.hpp"
#include "../core/random.hpp"
#include "../core/tensor.hpp"
#include "dataset.hpp"

namespace ctnn::data {

// Loader::Options (declared outside the class so that it can be a default argument of its members).
// The defaults are the standard CIFAR training recipe; evaluation() gives the plain test-set pass.
struct LoaderOptions {
  std::size_t batch = 128;
  bool shuffle = true;             // a fresh permutation each epoch, drawn from (seed, epoch)
  std::uint64_t seed = 0;
  bool augment = true;             // random crop and flip; false: every image as stored
  std::size_t pad = 4;             // crop: zero-pad by pad, random 32x32 window; 0: no crop (max 32)
  float flip_probability = 0.5f;   // horizontal flip; 0: never
  std::array<float, 3> mean{0.4914f, 0.4822f, 0.4465f};     // of pixel / 255, per channel (R, G, B)
  std::array<float, 3> stddev{0.2470f, 0.2435f, 0.2616f};
  // Skip the final partial batch. On for training, so that every step sees a full batch (batch norm
  // statistics of a tiny last batch are noisy) and an epoch is a fixed number of steps; off for
  // evaluation, which must see every image.
  bool drop_last = true;
  bool background = true;          // prepare the next batch on a worker thread

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

// The augmentation of one sample: the top-left corner of its 32x32 window in the padded image
// (0..2*pad; pad, pad is the unshifted image) and whether it is mirrored left-right.
struct Augmentation {
  std::size_t crop_x = 0;
  std::size_t crop_y = 0;
  bool flip = false;
  friend bool operator==(const Augmentation&, const Augmentation&) = default;
};

// One batch: views of a loader-owned buffer, valid until the loader's next next() or start_epoch().
struct Batch {
  Tensor<ImageShape, Cpu> images;           // batch() == size() normalised samples, NCHW
  std::span<const std::int32_t> labels;     // class of each sample
  std::span<const std::size_t> indices;     // dataset index of each sample
  std::size_t epoch = 0;
  std::size_t index = 0;                    // batch number within the epoch
  std::size_t first_position = 0;           // epoch position of sample 0 (index * options.batch)
  std::size_t size() const noexcept { return labels.size(); }
};

class Loader {
public:
  using Options = LoaderOptions;

  Loader(const Dataset& dataset, Options options = {}) : data_(dataset), opt_(options) {
    dataset.validate("ctnn::data::Loader");
    if (opt_.batch == 0) detail_fail("the batch size is 0; expected at least 1");
    if (opt_.pad > image_height)
      detail_fail("pad ", opt_.pad, " is larger than the image (", image_height, "); expected 0..", image_height);
    if (!(opt_.flip_probability >= 0.f && opt_.flip_probability <= 1.f))
      detail_fail("flip_probability ", opt_.flip_probability, " is not a probability; expected 0..1");
    for (std::size_t c = 0; c < image_channels; ++c)
      if (!(opt_.stddev[c] > 0.f)) detail_fail("stddev[", c, "] = ", opt_.stddev[c], "; expected a positive value");
    for (std::size_t c = 0; c < image_channels; ++c)
      for (std::size_t v = 0; v < 256; ++v)
        lut_[c][v] = (static_cast<float>(v) / 255.0f - opt_.mean[c]) / opt_.stddev[c];

    n_ = dataset.size();
    classes_ = dataset.num_classes();
    nbatches_ = opt_.drop_last ? n_ / opt_.batch : (n_ + opt_.batch - 1) / opt_.batch;
    order_.resize(n_);
    for (auto& s : slots_) {
      s.batch.images = Tensor<ImageShape, Cpu>(opt_.batch, 0);
      s.labels.resize(opt_.batch);
      s.indices.resize(opt_.batch);
    }
    if (opt_.background) worker_ = std::thread([this] { work(); });
  }
  Loader(Dataset&&, Options = {}) = delete;  // the loader keeps a reference: pass a living dataset
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  ~Loader() {
    if (worker_.joinable()) {
      {
        std::lock_guard lk(m_);
        stop_ = true;
      }
      cv_.notify_all();
      worker_.join();
    }
  }

  // Starts epoch `epoch` at batch `first_batch` (0..batches_per_epoch()); the following next() calls
  // return batches first_batch, first_batch + 1, ... of that epoch. Invalidates the current batch.
  void start_epoch(std::size_t epoch, std::size_t first_batch = 0) {
    if (first_batch > nbatches_)
      detail_fail("start_epoch(", epoch, ", ", first_batch, "): an epoch has ", nbatches_,
                  " batches; expected a first batch of 0..", nbatches_);
    std::unique_lock lk(m_);
    ++generation_;
    cv_.wait(lk, [&] { return !busy_; });
    epoch_ = epoch;
    fill_order(epoch, order_);
    for (auto& s : slots_) s.ready = false;
    held_ = none;
    next_to_fill_ = next_to_take_ = first_batch;
    error_ = nullptr;
    started_ = true;
    lk.unlock();
    cv_.notify_all();
  }

  // The next batch of the current epoch, or nullptr after its last batch (until start_epoch). The
  // first call without a start_epoch() starts epoch 0. Rethrows an error met preparing the batch.
  const Batch* next() {
    if (!started_) start_epoch(0);
    std::unique_lock lk(m_);
    if (held_ != none) {
      slots_[held_].ready = false;
      held_ = none;
      cv_.notify_all();
    }
    if (next_to_take_ >= nbatches_) return nullptr;
    const std::size_t b = next_to_take_;
    const std::size_t s = b % slots_.size();
    if (!opt_.background) {
      fill(slots_[s], epoch_, b);  // on an exception nothing has changed; a retry retries
      slots_[s].ready = true;
    } else {
      if (error_) {  // the previous call failed on this batch: let the worker try it again
        error_ = nullptr;
        cv_.notify_all();
      }
      cv_.wait(lk, [&] { return error_ != nullptr || slots_[s].ready; });
      // The worker stays idle until the next call to next() or start_epoch().
      if (!slots_[s].ready) std::rethrow_exception(error_);
    }
    held_ = s;
    ++next_to_take_;
    return &slots_[s].batch;
  }

  std::size_t size() const noexcept { return n_; }                          // images in the dataset
  std::size_t batches_per_epoch() const noexcept { return nbatches_; }
  std::size_t samples_per_epoch() const noexcept { return opt_.drop_last ? nbatches_ * opt_.batch : n_; }
  std::size_t epoch() const noexcept { return epoch_; }                     // the current epoch
  const Options& options() const noexcept { return opt_; }
  const Dataset& dataset() const noexcept { return data_; }

  // The augmentation applied to the sample at `position` of epoch `epoch` (crop pad, pad and no flip
  // when augmentation is off).
  Augmentation augmentation(std::size_t epoch, std::size_t position) const noexcept {
    if (!opt_.augment) return {opt_.pad, opt_.pad, false};
    Rng rng(detail::derive_seed(opt_.seed, augment_stream, epoch, position));
    Augmentation a;
    a.crop_x = static_cast<std::size_t>(rng.below(2 * opt_.pad + 1));
    a.crop_y = static_cast<std::size_t>(rng.below(2 * opt_.pad + 1));
    a.flip = rng.uniform() < opt_.flip_probability;
    return a;
  }

  // The dataset index of every position of epoch `epoch` (allocates; for tests and inspection).
  std::vector<std::size_t> order(std::size_t epoch) const {
    std::vector<std::size_t> o(n_);
    fill_order(epoch, o);
    return o;
  }

  // The normalised value of byte v in channel c: (float(v) / 255 - mean[c]) / stddev[c].
  float normalized(std::size_t c, std::uint8_t v) const noexcept { return lut_[c][v]; }

private:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  static constexpr std::uint64_t shuffle_stream = 0x5348'5546'464C'4521ull;
  static constexpr std::uint64_t augment_stream = 0x4155'474D'454E'5421ull;

  struct Slot {
    Batch batch;
    std::vector<std::int32_t> labels;
    std::vector<std::size_t> indices;
    bool ready = false;
  };

  template <class... Args>
  [[noreturn]] static void detail_fail(Args&&... args) {
    ctnn::detail::fail("ctnn::data::Loader: ", std::forward<Args>(args)...);
  }

  void fill_order(std::size_t epoch, std::vector<std::size_t>& o) const {
    std::iota(o.begin(), o.end(), std::size_t{0});
    if (!opt_.shuffle || o.size() < 2) return;
    Rng rng(detail::derive_seed(opt_.seed, shuffle_stream, epoch));
    for (std::size_t i = o.size() - 1; i > 0; --i) std::swap(o[i], o[static_cast<std::size_t>(rng.below(i + 1))]);
  }

  // Writes batch b of epoch `epoch` into `slot` (reads order_, which only start_epoch changes, while
  // no fill runs).
  void fill(Slot& slot, std::size_t epoch, std::size_t b) const {
    const std::size_t begin = b * opt_.batch;
    const std::size_t count = std::min(opt_.batch, n_ - begin);
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t pos = begin + k;
      const std::size_t idx = order_[pos];
      const std::int32_t label = data_.labels[idx];
      if (label < 0 || static_cast<std::size_t>(label) >= classes_)
        detail_fail("label ", label, " of image ", idx, " is not a class index; expected 0..", classes_ - 1,
                    " (was the dataset changed while the loader uses it?)");
      slot.labels[k] = label;
      slot.indices[k] = idx;
      write_sample(data_.images.data() + idx * image_bytes, augmentation(epoch, pos),
                   slot.batch.images.data() + k * image_bytes);
    }
    slot.batch.images.set_batch(count);
    slot.batch.labels = std::span<const std::int32_t>(slot.labels.data(), count);
    slot.batch.indices = std::span<const std::size_t>(slot.indices.data(), count);
    slot.batch.epoch = epoch;
    slot.batch.index = b;
    slot.batch.first_position = begin;
  }

  void write_sample(const std::uint8_t* src, const Augmentation& a, float* out) const noexcept {
    constexpr std::ptrdiff_t H = static_cast<std::ptrdiff_t>(image_height);
    constexpr std::ptrdiff_t W = static_cast<std::ptrdiff_t>(image_width);
    const std::ptrdiff_t dy = static_cast<std::ptrdiff_t>(a.crop_y) - static_cast<std::ptrdiff_t>(opt_.pad);
    const std::ptrdiff_t dx = static_cast<std::ptrdiff_t>(a.crop_x) - static_cast<std::ptrdiff_t>(opt_.pad);
    for (std::size_t c = 0; c < image_channels; ++c) {
      const float* lut = lut_[c].data();
      const float zero = lut[0];
      const std::uint8_t* plane = src + c * image_plane_bytes;
      float* oplane = out + c * image_plane_bytes;
      if (dx == 0 && dy == 0 && !a.flip) {
        for (std::size_t i = 0; i < image_plane_bytes; ++i) oplane[i] = lut[plane[i]];
        continue;
      }
      for (std::ptrdiff_t y = 0; y < H; ++y) {
        float* orow = oplane + y * W;
        const std::ptrdiff_t sy = y + dy;
        if (sy < 0 || sy >= H) {
          for (std::ptrdiff_t x = 0; x < W; ++x) orow[x] = zero;
          continue;
        }
        const std::uint8_t* irow = plane + sy * W;
        for (std::ptrdiff_t x = 0; x < W; ++x) {
          const std::ptrdiff_t sx = (a.flip ? W - 1 - x : x) + dx;
          orow[x] = (sx >= 0 && sx < W) ? lut[irow[sx]] : zero;
        }
      }
    }
  }

  void work() {
    std::unique_lock lk(m_);
    for (;;) {
      cv_.wait(lk, [&] {
        if (stop_) return true;
        if (!started_ || error_ || next_to_fill_ >= nbatches_) return false;
        const std::size_t s = next_to_fill_ % slots_.size();
        return !slots_[s].ready && held_ != s;
      });
      if (stop_) return;
      const std::size_t b = next_to_fill_;
      const std::size_t s = b % slots_.size();
      const std::size_t epoch = epoch_;
      const std::uint64_t gen = generation_;
      busy_ = true;
      lk.unlock();
      std::exception_ptr err;
      try {
        fill(slots_[s], epoch, b);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      busy_ = false;
      if (gen == generation_) {
        if (err) {
          error_ = err;
        } else {
          slots_[s].ready = true;
          ++next_to_fill_;
        }
      }
      cv_.notify_all();
    }
  }

  const Dataset& data_;
  Options opt_;
  std::array<std::array<float, 256>, image_channels> lut_{};
  std::size_t n_ = 0, classes_ = 0, nbatches_ = 0;
  std::vector<std::size_t> order_;
  std::array<Slot, 2> slots_;

  // Shared with the worker, guarded by m_.
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t epoch_ = 0;
  std::size_t next_to_fill_ = 0, next_to_take_ = 0;
  std::size_t held_ = none;
  std::uint64_t generation_ = 0;
  bool started_ = false, busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace ctnn::data
