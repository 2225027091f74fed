#pragma once
// The small network of the benchmarks: what a user starts with on 28x28 grey images (MNIST and
// its kin). A 16-channel stem, two residual stages to 64 channels, 10 classes. The same network in
// PyTorch is small_net() in bench/compare_pytorch.py.
#include <ctnn/ctnn.hpp>

namespace bench {

using SmallNet = ctnn::Seq<ctnn::Conv<1, 16>, ctnn::BatchNorm<16>, ctnn::ReLU,                             //
                           ctnn::BasicBlock<16, 32, ctnn::stride2>, ctnn::BasicBlock<32, 32>,             // 14x14
                           ctnn::BasicBlock<32, 64, ctnn::stride2>, ctnn::BasicBlock<64, 64>,             // 7x7
                           ctnn::GlobalAvgPool, ctnn::Flatten, ctnn::Linear<64, 10>>;
using SmallInput = ctnn::Shape<1, 28, 28>;

}  // namespace bench
