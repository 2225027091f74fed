#pragma once
// Evaluation of a network over a loader, in evaluation mode: the mean loss (softmax cross-entropy,
// no label smoothing) and the top-1 accuracy in percent. With flip test-time augmentation the logits
// of each image and of its left-right mirror image are averaged first.

#include <algorithm>
#include <cstddef>

#include "../core/device.hpp"
#include "../core/tensor.hpp"
#include "../core/transfer.hpp"
#include "../data/loader.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"
#include "../loss/cross_entropy.hpp"
#include "../loss/metrics.hpp"

namespace ctnn::train {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;  // percent
  std::size_t samples = 0;
  std::size_t correct = 0;
};

// The mirror image of every sample of a host batch of C x H x W images (each row reversed).
template <class S>
void flip_horizontally(const Tensor<S, Cpu>& in, Tensor<S, Cpu>& out) {
  constexpr std::size_t W = S::template dim<2>;
  out.set_batch(in.batch());
  const std::size_t rows = in.size() / W;
  for (std::size_t r = 0; r < rows; ++r) std::reverse_copy(in.data() + r * W, in.data() + (r + 1) * W, out.data() + r * W);
}

template <class Net>
class Evaluator {
public:
  using device = typename Net::device;
  using In = typename Net::input_shape;
  using Out = typename Net::output_shape;

  explicit Evaluator(std::size_t max_batch) : x_(max_batch), flipped_(max_batch), avg_(max_batch), grad_(max_batch) {}

  EvalResult run(Net& net, data::Loader<In>& loader, bool flip_tta = false) {
    loader.start_epoch(0);
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0;
    while (const auto* batch = loader.next()) {
      if (batch->size() == 0) continue;  // a sharded loader's share of a short final batch
      const Tensor<Out, device>* logits = &net.forward(on_device(batch->images, x_), Mode::inference);
      if (flip_tta) {
        avg_.copy_from(*logits);
        flip_horizontally(batch->images, flipped_);
        const auto& mirrored = net.forward(on_device(flipped_, x_), Mode::inference);
        expr::assign(avg_, 0.5f * (avg_ + mirrored));
        logits = &avg_;
      }
      loss_sum += double(softmax_cross_entropy(*logits, batch->labels, grad_, 0.f)) * double(batch->size());
      correct += count_correct(*logits, batch->labels);
      seen += batch->size();
    }
    EvalResult r;
    r.samples = seen;
    r.correct = correct;
    if (seen) {
      r.loss = loss_sum / double(seen);
      r.accuracy = 100.0 * double(correct) / double(seen);
    }
    return r;
  }

private:
  Tensor<In, device> x_;
  Tensor<In, Cpu> flipped_;
  Tensor<Out, device> avg_, grad_;
};

}  // namespace ctnn::train
