#pragma once
// The backend contract: what a device provides, stated once, as C++ concepts.
//
// A device D registers in one header of its own (backend/cpu.hpp, backend/cuda.hpp):
//   - the tag D itself holds the memory and transfer families (ctnn::Device, core/device.hpp);
//   - expr::evaluator<D> evaluates expressions and per-channel reductions (expr/evaluator.hpp);
//   - backend::kernels<D> names the kernel class of every other family:
//       conv2d           convolution forward, backward data, backward filter      ConvKernel
//       batchnorm        batch normalisation (training, inference, backward)       BatchNormKernel
//       pool2d           max and average pooling                                    PoolKernel
//       global_avg_pool  mean over each plane                                       GlobalPoolKernel
//       linear           fully connected layer                                      LinearKernel
//       loss             fused softmax cross-entropy                                LossKernel
// and says `static_assert(backend::Backend<D>)` next to the registration, so that a missing or
// misspelled kernel is a compile error there, naming the concept it fails. Code outside backend/
// reaches a device only through these three: layers take their kernels from kernels<D>, the
// optimizers and element-wise layers call expr::assign, and nothing asks which device it runs on.
//
// Every pointer a kernel takes is D's memory; `batch` is at most the max_batch it was built for.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "../core/device.hpp"
#include "../core/precision.hpp"
#include "../expr/evaluator.hpp"
#include "../expr/nodes.hpp"

namespace ctnn::backend {

// Static geometry of a 2-D convolution or pooling window over one NCHW sample. A grouped
// convolution splits the channels into `groups` independent convolutions of in_c / groups input
// and out_c / groups output channels each.
struct Geometry2d {
  std::size_t in_c, in_h, in_w;
  std::size_t out_c, out_h, out_w;
  std::size_t kernel, stride, pad;
  std::size_t groups = 1;

  constexpr std::size_t in_size() const { return in_c * in_h * in_w; }
  constexpr std::size_t out_size() const { return out_c * out_h * out_w; }
  constexpr std::size_t out_plane() const { return out_h * out_w; }
  constexpr std::size_t in_plane() const { return in_h * in_w; }
  // Input channels one output channel sees, and the rows of its im2col patch.
  constexpr std::size_t group_in_c() const { return in_c / groups; }
  constexpr std::size_t group_out_c() const { return out_c / groups; }
  constexpr std::size_t patch() const { return group_in_c() * kernel * kernel; }
  // Values of the weight tensor [out_c, in_c / groups, kernel, kernel].
  constexpr std::size_t weight_size() const { return out_c * patch(); }
};

// What a convolution may apply to its outputs as it writes them (Mode::inference folds the batch
// norm after a convolution into it, and the ReLU or the residual add after that): y = y *
// scale[c] + shift[c] per output channel c, plus residual[i] (a tensor of the output's layout, the
// same index i) when it is set, then max(y, 0) when `relu`. A kernel that can offers forward(x, w,
// y, batch, const ChannelAffine&); the layers ask for it with `requires`, so a backend without it
// runs unfused.
struct ChannelAffine {
  const float* scale = nullptr;
  const float* shift = nullptr;
  bool relu = false;
  const float* residual = nullptr;
};

enum class PoolKind { max, average };

template <class D>
inline constexpr bool no_backend_v = false;

// The registry: each backend specialises it for its device tag.
template <class D>
struct kernels {
  static_assert(no_backend_v<D>,
                "ctnn: no backend is registered for this device: include its registration header "
                "(<ctnn/backend/cpu.hpp>, <ctnn/backend/cuda.hpp>) or the umbrella <ctnn/ctnn.hpp>");
};

// ---- the kernel families ------------------------------------------------------------------------

// y = conv(x, w) with w [out_c, in_c / groups, k, k]; backward accumulates dw (dw += ...) and writes
// dx unless it is null; either of dx and dw may be null.
// T is the device's element type (element_t<D>: float, or 16 bits under Precision::bf16/fp16):
// activations and their gradients are T, parameters and their gradients float.
template <class K, class T = float>
concept ConvKernel = std::constructible_from<K, const Geometry2d&, std::size_t> &&
                     requires(K& k, const T* c, T* m, const float* w, float* dw, std::size_t batch) {
                       k.forward(c, w, m, batch);             // x, w, y
                       k.backward(c, w, c, m, dw, batch);     // x, w, dy, dx, dw
                     };

// PyTorch's batch norm over (channels, spatial values per channel): forward_train normalises by the
// batch statistics and updates the running ones with `momentum`; forward_eval uses the running
// ones; backward accumulates dgamma, dbeta and writes dx unless null (`eval`: the statistics of
// the forward pass were the running ones).
template <class K, class T = float>
concept BatchNormKernel = std::constructible_from<K, std::size_t, std::size_t, std::size_t> &&
                          requires(K& k, const T* c, T* m, const float* p, float* q, std::size_t batch, float f, bool eval) {
                            k.forward_train(c, m, p, p, q, q, batch, f, f);   // x, y, gamma, beta, mean, var, batch, momentum, eps
                            k.forward_eval(c, m, p, p, p, p, batch, f);       // x, y, gamma, beta, mean, var, batch, eps
                            k.backward(c, c, m, p, q, q, p, p, batch, f, eval);  // x, dy, dx, gamma, dgamma, dbeta, mean, var, batch, eps, eval
                          };

// Max pooling (padding never wins) or average pooling (padding counted, PyTorch's default).
template <class K, class T = float>
concept PoolKernel = std::constructible_from<K, const Geometry2d&, PoolKind, std::size_t> &&
                     requires(K& k, const T* c, T* m, std::size_t batch) {
                       k.forward(c, m, batch);    // x, y
                       k.backward(c, m, batch);   // dy, dx
                     };

// [N, C, plane] -> [N, C], the mean of each plane, and its adjoint.
template <class K, class T = float>
concept GlobalPoolKernel = std::constructible_from<K, std::size_t, std::size_t, std::size_t> &&
                           requires(K& k, const T* c, T* m, std::size_t batch) {
                             k.forward(c, m, batch);
                             k.backward(c, m, batch);
                           };

// y = x w^T + b (w [out, in]); backward accumulates dw and db and writes dx unless null.
template <class K, class T = float>
concept LinearKernel = std::constructible_from<K, std::size_t, std::size_t, std::size_t> &&
                       requires(K& k, const T* c, T* m, const float* w, float* dw, std::size_t batch) {
                         k.forward(c, w, w, m, batch);          // x, w, b, y
                         k.backward(c, w, c, m, dw, dw, batch); // x, w, dy, dx, dw, db
                       };

// The SUM over the batch of softmax cross-entropy (PyTorch's CrossEntropyLoss with label
// smoothing); writes (softmax - target) / N into grad. The labels live on the host and are valid.
template <class K, class T = float>
concept LossKernel = requires(const T* logits, std::span<const std::int32_t> labels, std::size_t classes,
                              float smoothing, T* grad) {
  { K::softmax_cross_entropy_sum(logits, labels, classes, smoothing, grad) } -> std::convertible_to<double>;
};

// expr::evaluator<D>: one element-wise pass, and per-channel sums (expr/evaluator.hpp).
template <class E, class T = float>
concept Evaluator = requires(float* dst, T* act, double* out, std::size_t n, expr::TensorLeaf<T> e) {
  E::assign(dst, n, n, n, e);
  E::assign(act, n, n, n, e);
  E::sum(out, n, n, n, e);
};

// ---- optional: one kernel for every parameter's update ----------------------------------------------
// A device may register multi_tensor<D> with a nested `type` (backend/cuda/multi_tensor.hpp); the
// optimizers then update all parameters with one launch, their per-step scalars read from device
// memory (graph-safe). Its members, for an optimizer's parameter list:
//   bind(params, state0, state1)   the tensors and up to two state arrays per parameter (nullptr:
//                                  none), rebuilt only when a pointer changes
//   sgd(values), adamw(values)     one update of all of them; `values()` returns the step's
//                                  StepValues (backend/update_rule.hpp), called now or at each replay
//   reset()                        forgets the binding
// Without it, every tensor is updated by expressions through expr::evaluator<D>.
template <class D>
struct multi_tensor {};

template <class D>
inline constexpr bool has_multi_tensor_v = requires { typename multi_tensor<D>::type; };

namespace detail {
struct no_multi_tensor {};
template <class D, bool = has_multi_tensor_v<D>>
struct multi_tensor_or_none {
  using type = no_multi_tensor;
};
template <class D>
struct multi_tensor_or_none<D, true> {
  using type = typename multi_tensor<D>::type;
};
}  // namespace detail

// The device's multi-tensor updater, or an empty placeholder.
template <class D>
using multi_tensor_t = typename detail::multi_tensor_or_none<D>::type;

// ---- a whole device -------------------------------------------------------------------------------

// Checks one family at a time, so the first one a device lacks is the one the compiler names.
template <class D>
concept Backend = Device<D> && Evaluator<expr::evaluator<D>, element_t<D>> &&
                  requires {
                    typename kernels<D>::conv2d;
                    typename kernels<D>::batchnorm;
                    typename kernels<D>::pool2d;
                    typename kernels<D>::global_avg_pool;
                    typename kernels<D>::linear;
                    typename kernels<D>::loss;
                  } &&
                  ConvKernel<typename kernels<D>::conv2d, element_t<D>> &&
                  BatchNormKernel<typename kernels<D>::batchnorm, element_t<D>> &&
                  PoolKernel<typename kernels<D>::pool2d, element_t<D>> &&
                  GlobalPoolKernel<typename kernels<D>::global_avg_pool, element_t<D>> &&
                  LinearKernel<typename kernels<D>::linear, element_t<D>> && LossKernel<typename kernels<D>::loss, element_t<D>>;

}  // namespace ctnn::backend
