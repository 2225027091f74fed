#pragma once
// 16-bit element types on the GPU (Precision::bf16: __nv_bfloat16, Precision::fp16: __half):
//   - expr::compute_type maps them to float, so every expression computes in float;
//   - load(v) / store<T>(f): float <-> T through the rounding bodies of
//     portable/half_precision.hpp (nearest, ties to even), the ones tested on the CPU;
//   - cudnn_type<T>(), cublas_type<T>(): the libraries' names for T;
//   - kernels that convert a float32 KCRS filter to a T KRSC copy (cuDNN's NHWC filter layout),
//     accumulate a T KRSC filter gradient into the float32 one, and move samples between float NCHW
//     and T NHWC (uploads, downloads, comparisons).

#include "check.hpp"
#include "context.hpp"
#include "launch.hpp"
#include "portable/half_precision.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../core/config.hpp"
#include "../../expr/nodes.hpp"

template <>
struct ctnn::expr::compute_type<__nv_bfloat16> {
  using type = float;
};
template <>
struct ctnn::expr::compute_type<__half> {
  using type = float;
};

namespace ctnn::cuda {

template <class T>
inline constexpr bool is_half_v = std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>;

// A 16-bit T's bit pattern <-> float (nearest, ties to even), for code that moves the bits itself
// (vector loads and stores).
template <class T>
CTNN_HD inline float from_bits(std::uint16_t b) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return detail::bf16_bits_to_float(b);
  else
    return detail::half_bits_to_float(b);
}

template <class T>
CTNN_HD inline std::uint16_t to_bits(float f) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return detail::float_to_bf16_bits(f);
  else
    return detail::float_to_half_bits(f);
}

template <class T>
CTNN_HD inline float load(T v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const __nv_bfloat16_raw r = v;
    return from_bits<T>(r.x);
  } else if constexpr (std::is_same_v<T, __half>) {
    const __half_raw r = v;
    return from_bits<T>(r.x);
  } else {
    return static_cast<float>(v);
  }
}

template <class T>
CTNN_HD inline T store(float f) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat16_raw r;
    r.x = to_bits<T>(f);
    return __nv_bfloat16(r);
  } else if constexpr (std::is_same_v<T, __half>) {
    __half_raw r;
    r.x = to_bits<T>(f);
    return __half(r);
  } else {
    return static_cast<T>(f);
  }
}

template <class T>
constexpr cudnnDataType_t cudnn_type() {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return CUDNN_DATA_BFLOAT16;
  else if constexpr (std::is_same_v<T, __half>)
    return CUDNN_DATA_HALF;
  else
    return CUDNN_DATA_FLOAT;
}

template <class T>
constexpr cudnnTensorFormat_t cudnn_format() {
  return is_half_v<T> ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

template <class T>
constexpr cudaDataType_t cublas_type() {
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return CUDA_R_16BF;
  else if constexpr (std::is_same_v<T, __half>)
    return CUDA_R_16F;
  else
    return CUDA_R_32F;
}

namespace detail {

// out[(k * RS + rs) * C + c] = w[(k * C + c) * RS + rs]: a float32 [K, C, R, S] filter as a T
// [K, R, S, C] one.
template <class T>
__global__ void filter_to_krsc_kernel(const float* w, T* out, std::size_t K, std::size_t C, std::size_t RS) {
  const std::size_t n = K * C * RS, stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::size_t k = i / (C * RS), c = i / RS % C, rs = i % RS;
    out[(k * RS + rs) * C + c] = store<T>(w[i]);
  }
}

// dw[(k * C + c) * RS + rs] += g[(k * RS + rs) * C + c]: a T [K, R, S, C] filter gradient added to
// the float32 [K, C, R, S] one.
template <class T>
__global__ void accumulate_krsc_kernel(float* dw, const T* g, std::size_t K, std::size_t C, std::size_t RS) {
  const std::size_t n = K * C * RS, stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::size_t k = i / (C * RS), c = i / RS % C, rs = i % RS;
    dw[i] += load(g[(k * RS + rs) * C + c]);
  }
}

// Between float NCHW (`nchw`) and T NHWC (`nhwc`) samples of C channels and HW positions.
template <class T, bool ToNhwc>
__global__ void convert_layout(const void* src, void* dst, std::size_t batch, std::size_t C, std::size_t HW) {
  const std::size_t n = batch * C * HW, stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::size_t s = i / (C * HW), c = i / HW % C, p = i % HW;  // i indexes NCHW
    const std::size_t j = (s * HW + p) * C + c;                        // the same value in NHWC
    if constexpr (ToNhwc)
      static_cast<T*>(dst)[j] = store<T>(static_cast<const float*>(src)[i]);
    else
      static_cast<float*>(dst)[i] = load(static_cast<const T*>(src)[j]);
  }
}

template <class T>
void filter_to_krsc(const float* w, T* out, std::size_t K, std::size_t C, std::size_t RS) {
  const std::size_t n = K * C * RS;
  filter_to_krsc_kernel<T><<<grid_for(n), block_size, 0, context().stream()>>>(w, out, K, C, RS);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::filter_to_krsc");
}

template <class T>
void accumulate_krsc(float* dw, const T* g, std::size_t K, std::size_t C, std::size_t RS) {
  const std::size_t n = K * C * RS;
  accumulate_krsc_kernel<T><<<grid_for(n), block_size, 0, context().stream()>>>(dw, g, K, C, RS);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::accumulate_krsc");
}

// float NCHW -> T NHWC (to_nhwc) or back.
template <class T>
void convert_samples(const void* src, void* dst, std::size_t batch, std::size_t C, std::size_t HW, bool to_nhwc) {
  const std::size_t n = batch * C * HW;
  if (n == 0) return;
  if (to_nhwc)
    convert_layout<T, true><<<grid_for(n), block_size, 0, context().stream()>>>(src, dst, batch, C, HW);
  else
    convert_layout<T, false><<<grid_for(n), block_size, 0, context().stream()>>>(src, dst, batch, C, HW);
  CTNN_CUDA_CHECK_LAUNCH("ctnn::cuda::convert_layout");
}

}  // namespace detail

}  // namespace ctnn::cuda
