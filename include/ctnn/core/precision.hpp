#pragma once
// Precision: the arithmetic a network runs in, part of its type:
//
//   ctnn::Network<ResNet18<10>, Shape<3, 32, 32>, ctnn::Cuda, ctnn::Precision::bf16> net(512);
//
//   fp32   everything in float32 (every device; the default)
//   bf16   activations, their gradients and the convolutions in bfloat16 on tensor cores, NHWC;
//          parameters (the master weights), their gradients, the optimizer, batch-norm statistics
//          and the loss in float32
//   fp16   the same in IEEE half precision, with dynamic loss scaling
//
// One mechanism carries it: a device registers the device tag that runs each precision it has,
// precision_device<D, P>::type (CUDA: ctnn::CudaMixed<P>, backend/cuda/mixed.hpp). That tag has
// the 16-bit `element_type` and `layout` NHWC, and every tensor's default element type is its
// device's (Tensor<S, D>: element_t<D>), so the layers are written once: activations follow the
// device, parameters are declared float. A device without a precision gets a compile error
// naming it (the CPU runs fp32 only).

#include <type_traits>

namespace ctnn {

enum class Precision { fp32, bf16, fp16 };

inline constexpr const char* precision_name(Precision p) {
  return p == Precision::fp32 ? "fp32" : p == Precision::bf16 ? "bf16" : "fp16";
}

// Memory order of a rank-3 sample's values: C x H x W planes, or H x W positions of C values.
enum class Layout { nchw, nhwc };

template <class D>
inline constexpr Layout layout_v = [] {
  if constexpr (requires { D::layout; })
    return Layout(D::layout);
  else
    return Layout::nchw;
}();

namespace detail {
template <class D>
struct element_of {
  using type = float;
};
template <class D>
  requires requires { typename D::element_type; }
struct element_of<D> {
  using type = typename D::element_type;
};
template <class D, auto>
inline constexpr bool no_precision_v = false;
}  // namespace detail

// The element type of D's activations: float unless D says otherwise.
template <class D>
using element_t = typename detail::element_of<D>::type;

// The device tag that runs precision P on device D. fp32 is D itself; a device with 16-bit
// arithmetic specialises this for bf16 and fp16.
template <class D, Precision P>
struct precision_device {
  static_assert(detail::no_precision_v<D, P>,
                "ctnn::Network<Spec, In, Device, Precision>: this device runs Precision::fp32 only; Precision::bf16 and "
                "Precision::fp16 run on ctnn::Cuda (compile the file with nvcc); on the CPU use Precision::fp32");
  using type = D;  // after the error, go on as fp32: one error, not a cascade
};
template <class D>
struct precision_device<D, Precision::fp32> {
  using type = D;
};

template <class D, Precision P>
using precision_device_t = typename precision_device<D, P>::type;

}  // namespace ctnn
