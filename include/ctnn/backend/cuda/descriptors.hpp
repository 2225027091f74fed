#pragma once
// RAII owners for the cuDNN descriptors ctnn uses (float32 NCHW, or 16-bit NHWC). cuDNN 9 marks this "legacy"
// descriptor API deprecated in favour of the graph API, but it is still shipped and supported
// (cudnn_ops / cudnn_cnn libraries); its deprecation warnings are opt-in (CUDNN_WARN_DEPRECATED).

#include "check.hpp"

#include <cstddef>
#include <utility>

namespace ctnn::cuda::detail {

template <class H, cudnnStatus_t (*Create)(H*), cudnnStatus_t (*Destroy)(H)>
class Descriptor {
public:
  Descriptor() { CTNN_CUDNN_CHECK(Create(&h_)); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Descriptor(Descriptor&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Descriptor& operator=(Descriptor&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Descriptor() { reset(); }
  H get() const noexcept { return h_; }
  operator H() const noexcept { return h_; }

private:
  void reset() noexcept {
    if (h_) (void)Destroy(h_);
    h_ = nullptr;
  }
  H h_ = nullptr;
};

inline int to_int(std::size_t v) { return static_cast<int>(v); }

// Float32 NCHW by default; the 16-bit precisions use CUDNN_DATA_BFLOAT16 / CUDNN_DATA_HALF and NHWC.
class TensorDescriptor : public Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> {
public:
  TensorDescriptor() = default;
  TensorDescriptor(std::size_t n, std::size_t c, std::size_t h, std::size_t w, cudnnDataType_t type = CUDNN_DATA_FLOAT,
                   cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW) {
    set(n, c, h, w, type, format);
  }
  void set(std::size_t n, std::size_t c, std::size_t h, std::size_t w, cudnnDataType_t type = CUDNN_DATA_FLOAT,
           cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW) {
    CTNN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(get(), format, type, to_int(n), to_int(c), to_int(h), to_int(w)));
  }
};

class FilterDescriptor : public Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor> {
public:
  FilterDescriptor() = default;
  FilterDescriptor(std::size_t out_c, std::size_t in_c, std::size_t kh, std::size_t kw, cudnnDataType_t type = CUDNN_DATA_FLOAT,
                   cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW) {
    CTNN_CUDNN_CHECK(cudnnSetFilter4dDescriptor(get(), type, format, to_int(out_c), to_int(in_c), to_int(kh), to_int(kw)));
  }
};

class ConvolutionDescriptor
    : public Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor> {
public:
  ConvolutionDescriptor() = default;
  ConvolutionDescriptor(std::size_t pad, std::size_t stride, cudnnMathType_t math, std::size_t groups = 1) {
    CTNN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(get(), to_int(pad), to_int(pad), to_int(stride), to_int(stride), 1, 1,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    if (groups != 1) CTNN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(get(), to_int(groups)));
    set_math(math);
  }
  void set_math(cudnnMathType_t math) { CTNN_CUDNN_CHECK(cudnnSetConvolutionMathType(get(), math)); }
};

class PoolingDescriptor : public Descriptor<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor> {
public:
  PoolingDescriptor() = default;
  PoolingDescriptor(cudnnPoolingMode_t mode, std::size_t kernel, std::size_t stride, std::size_t pad) {
    CTNN_CUDNN_CHECK(cudnnSetPooling2dDescriptor(get(), mode, CUDNN_PROPAGATE_NAN, to_int(kernel), to_int(kernel),
                                                 to_int(pad), to_int(pad), to_int(stride), to_int(stride)));
  }
};

}  // namespace ctnn::cuda::detail
