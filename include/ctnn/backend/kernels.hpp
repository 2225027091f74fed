#pragma once
// backend::kernels<D> names the kernel classes a device provides. Layers are written once against
// these names; backend/cpu and backend/cuda specialise the trait.
//
//   kernels<D>::conv2d     convolution forward, backward data, backward filter
//   kernels<D>::batchnorm  batch normalisation (training, inference, backward)
//   kernels<D>::pool2d     max and average pooling
//   kernels<D>::linear     fully connected layer

#include <cstddef>

namespace ctnn::backend {

template <class D>
struct kernels;

// Static geometry of a 2-D convolution or pooling window over one NCHW sample.
struct Geometry2d {
  std::size_t in_c, in_h, in_w;
  std::size_t out_c, out_h, out_w;
  std::size_t kernel, stride, pad;

  constexpr std::size_t in_size() const { return in_c * in_h * in_w; }
  constexpr std::size_t out_size() const { return out_c * out_h * out_w; }
  constexpr std::size_t out_plane() const { return out_h * out_w; }
  constexpr std::size_t in_plane() const { return in_h * in_w; }
  constexpr std::size_t patch() const { return in_c * kernel * kernel; }
};

enum class PoolKind { max, average };

}  // namespace ctnn::backend
