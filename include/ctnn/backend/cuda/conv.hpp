#pragma once
// CUDA convolution through cuDNN (NCHW float32, or NHWC bf16/fp16 on tensor cores; no bias, any group
// count), the ConvKernel of backend/contract.hpp:
//   Conv2d(geometry, max_batch)
//   forward(x, w, y, batch)                 y = conv(x, w)
//   backward(x, w, dy, dx, dw, batch)       dw += dconv/dw; dx = dconv/dx unless dx == nullptr
// All pointers are device pointers.
//
// Algorithms are chosen once, when the layer is constructed, for max_batch:
//   ConvSearch::find       cudnnFind*AlgorithmEx times every candidate on scratch buffers of the
//                          layer's real sizes (allocated for the search, then freed), and the
//                          fastest one that passes the filters below is kept;
//   ConvSearch::heuristic  cuDNN's heuristics (cudnnGet*Algorithm_v7), first candidate that
//                          passes the filters; nothing is run.
// The math: with allow_tf32 off (the default) the search runs with CUDNN_FMA_MATH and only results
// cuDNN reports with FMA math are taken (a CUDNN_DEFAULT_MATH result was timed with TF32 allowed;
// float32 results then agree with the CPU to ~1e-5); TF32 is an explicit opt-in
// (settings().allow_tf32). Whatever is chosen runs with the math type it was measured with
// (portable/conv_choice.hpp, tested on the CPU). When no searched result qualifies, cuDNN's
// heuristic suggestions for the same math are taken. Also filtered: workspace <=
// settings().conv_workspace_limit, and with deterministic on only deterministic algorithms. The
// workspace is the context's shared one, grown here once.
// With CTNN_CUDA_VERBOSE=1 (settings().verbose) every plan prints each pass's algorithm, math type,
// time and workspace to stderr.
// A call with another batch size builds (once, by heuristics) a plan for that size; the shared
// workspace grows then if that plan needs more.

#include "check.hpp"
#include "context.hpp"
#include "descriptors.hpp"
#include "buffer.hpp"
#include "half.hpp"
#include "portable/conv_choice.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "../../core/error.hpp"
#include "../contract.hpp"

namespace ctnn::backend::cuda {

struct ConvAlgorithms {
  cudnnConvolutionFwdAlgo_t forward = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnMathType_t forward_math = CUDNN_FMA_MATH;
  cudnnConvolutionBwdDataAlgo_t backward_data = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  cudnnMathType_t backward_data_math = CUDNN_FMA_MATH;
  cudnnConvolutionBwdFilterAlgo_t backward_filter = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  cudnnMathType_t backward_filter_math = CUDNN_FMA_MATH;
  std::size_t workspace = 0;  // bytes: the largest of the three
};

using ctnn::cuda::detail::ConvCandidate;
using ctnn::cuda::detail::ConvMath;
using ctnn::cuda::detail::ConvPass;
using ctnn::cuda::detail::MathPolicy;

namespace detail {

inline std::string describe(const Geometry2d& g) {
  return ctnn::detail::cat("conv ", g.in_c, "x", g.in_h, "x", g.in_w, " -> ", g.out_c, "x", g.out_h, "x", g.out_w,
                           " (kernel ", g.kernel, ", stride ", g.stride, ", pad ", g.pad, ", groups ", g.groups, ")");
}

inline cudnnMathType_t to_cudnn(ConvMath m) {
  switch (m) {
    case ConvMath::default_math: return CUDNN_DEFAULT_MATH;
    case ConvMath::tensor_op: return CUDNN_TENSOR_OP_MATH;
    case ConvMath::tensor_op_allow_conversion: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    case ConvMath::fma: return CUDNN_FMA_MATH;
  }
  return CUDNN_FMA_MATH;
}
inline ConvMath from_cudnn(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH: return ConvMath::default_math;
    case CUDNN_TENSOR_OP_MATH: return ConvMath::tensor_op;
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return ConvMath::tensor_op_allow_conversion;
    case CUDNN_FMA_MATH: return ConvMath::fma;
  }
  return ConvMath::default_math;
}

template <class Perf>
std::vector<ConvCandidate> candidates(const Perf* results, int count, bool timed) {
  std::vector<ConvCandidate> out;
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    out.push_back({static_cast<int>(r.algo), r.status == CUDNN_STATUS_SUCCESS, timed ? r.time : -1.f, r.memory,
                   from_cudnn(r.mathType), r.determinism == CUDNN_DETERMINISTIC});
  }
  return out;
}

[[noreturn]] inline void no_algorithm(ConvPass pass, const Geometry2d& g, const ctnn::cuda::Settings& s, MathPolicy policy,
                                      const std::vector<std::string>& rejected) {
  std::string why;
  for (const auto& r : rejected) why += "\n  " + r;
  ctnn::detail::fail("ctnn::Cuda Conv2d: cuDNN offers no ", ctnn::cuda::detail::name(pass), " algorithm for ", describe(g),
                     " within a workspace of ", s.conv_workspace_limit, " bytes with ", ctnn::cuda::detail::name(policy),
                     " math", s.deterministic ? " that is deterministic" : "", why.empty() ? "" : "; candidates:", why);
}

}  // namespace detail

// T: float (NCHW, float32 math) or a 16-bit type (NHWC, tensor-core math, Precision::bf16/fp16).
// With 16 bits the float32 filter is converted to a T copy in cuDNN's KRSC layout at each forward,
// and the filter gradient is computed in T and added to the float32 one.
template <class T>
class Convolution {
  static constexpr bool half = ctnn::cuda::is_half_v<T>;

public:
  Convolution(const Geometry2d& g, std::size_t max_batch) : Convolution(g, max_batch, ctnn::cuda::settings()) {}

  Convolution(const Geometry2d& g, std::size_t max_batch, const ctnn::cuda::Settings& s)
      : g_(g), settings_(s),
        w_(g.out_c, g.group_in_c(), g.kernel, g.kernel, ctnn::cuda::cudnn_type<T>(), ctnn::cuda::cudnn_format<T>()) {
    if constexpr (half) {
      w16_ = ctnn::cuda::DeviceBuffer<T>(g.weight_size(), "a 16-bit copy of a convolution filter");
      dw16_ = ctnn::cuda::DeviceBuffer<T>(g.weight_size(), "a 16-bit convolution filter gradient");
    }
    plans_.push_back(make_plan(std::max<std::size_t>(max_batch, 1), s.conv_search == ctnn::cuda::ConvSearch::find));
  }

  void forward(const T* x, const float* w, T* y, std::size_t batch) {
    if (batch == 0) return;
    Plan& p = plan(batch);
    auto& ctx = ctnn::cuda::context();
    ctnn::cuda::detail::note_use(ctx.workspace_resource());
    const float one = 1.f, zero = 0.f;
    CTNN_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, p.x, x, w_, filter(w), p.fwd, p.algos.forward,
                                             ctx.workspace(), ctx.workspace_size(), &zero, p.y, y));
  }

  void backward(const T* x, const float* w, const T* dy, T* dx, float* dw, std::size_t batch) {
    if (batch == 0) return;
    Plan& p = plan(batch);
    auto& ctx = ctnn::cuda::context();
    ctnn::cuda::detail::note_use(ctx.workspace_resource());
    const float one = 1.f, zero = 0.f;
    if constexpr (half) {
      // The 16-bit gradient of this batch, then added to the float32 one.
      CTNN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, p.x, x, p.y, dy, p.bwd_filter,
                                                      p.algos.backward_filter, ctx.workspace(), ctx.workspace_size(),
                                                      &zero, w_, dw16_.data()));
      ctnn::cuda::detail::accumulate_krsc(dw, dw16_.data(), g_.out_c, g_.group_in_c(), g_.kernel * g_.kernel);
    } else {
      // beta = 1: the filter gradient accumulates, as on the CPU.
      CTNN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, p.x, x, p.y, dy, p.bwd_filter,
                                                      p.algos.backward_filter, ctx.workspace(), ctx.workspace_size(),
                                                      &one, w_, dw));
    }
    // The filter forward used: backward follows forward with the same weights (the layer concept).
    if (dx)
      CTNN_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, w_, half ? static_cast<const void*>(w16_.data()) : w,
                                                    p.y, dy, p.bwd_data, p.algos.backward_data, ctx.workspace(),
                                                    ctx.workspace_size(), &zero, p.x, dx));
  }

  const Geometry2d& geometry() const { return g_; }
  // The algorithms chosen for max_batch.
  const ConvAlgorithms& algorithms() const { return plans_.front().algos; }

private:
  // The filter cuDNN reads: w itself, or its 16-bit KRSC copy, converted now.
  const void* filter(const float* w) {
    if constexpr (half) {
      ctnn::cuda::detail::filter_to_krsc(w, w16_.data(), g_.out_c, g_.group_in_c(), g_.kernel * g_.kernel);
      return w16_.data();
    } else {
      return w;
    }
  }

  struct Plan {
    std::size_t batch = 0;
    ctnn::cuda::detail::TensorDescriptor x, y;
    ctnn::cuda::detail::ConvolutionDescriptor fwd, bwd_data, bwd_filter;
    ConvAlgorithms algos;
  };

  Plan& plan(std::size_t batch) {
    if (plans_[last_].batch == batch) return plans_[last_];
    for (std::size_t i = 0; i < plans_.size(); ++i)
      if (plans_[i].batch == batch) return plans_[last_ = i];
    plans_.push_back(make_plan(batch, false));
    last_ = plans_.size() - 1;
    return plans_.back();
  }

  Plan make_plan(std::size_t batch, bool find) {
    using ctnn::cuda::detail::ConvolutionDescriptor;
    auto& ctx = ctnn::cuda::context();
    const auto& s = settings_;
    const cudnnHandle_t h = ctx.cudnn();
    const cudnnMathType_t base = detail::to_cudnn(ctnn::cuda::detail::search_math(math_policy()));

    Plan p;
    p.batch = batch;
    constexpr cudnnDataType_t type = ctnn::cuda::cudnn_type<T>();
    constexpr cudnnTensorFormat_t format = ctnn::cuda::cudnn_format<T>();
    p.x.set(batch, g_.in_c, g_.in_h, g_.in_w, type, format);
    p.y.set(batch, g_.out_c, g_.out_h, g_.out_w, type, format);
    p.fwd = ConvolutionDescriptor(g_.pad, g_.stride, base, g_.groups);
    p.bwd_data = ConvolutionDescriptor(g_.pad, g_.stride, base, g_.groups);
    p.bwd_filter = ConvolutionDescriptor(g_.pad, g_.stride, base, g_.groups);

    int n = 0, c = 0, oh = 0, ow = 0;
    CTNN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.fwd, p.x, w_, &n, &c, &oh, &ow));
    if (std::size_t(n) != batch || std::size_t(c) != g_.out_c || std::size_t(oh) != g_.out_h || std::size_t(ow) != g_.out_w)
      ctnn::detail::fail("ctnn::Cuda Conv2d: cuDNN computes an output of ", c, "x", oh, "x", ow, " for ", detail::describe(g_));

    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    cudnnConvolutionBwdDataAlgoPerf_t bwd_data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int n_fwd = 0, n_bwd_data = 0, n_bwd_filter = 0;

    if (find) {
      // Scratch operands of the real sizes; the search writes y, dx (into the x scratch) and dw.
      const std::size_t x_size = batch * g_.in_size(), y_size = batch * g_.out_size();
      const std::size_t w_size = g_.weight_size();
      ctnn::cuda::DeviceBuffer<T> xs(x_size, "the convolution algorithm search"), ys(y_size, "the convolution algorithm search"),
          ws(w_size, "the convolution algorithm search"), dws(w_size, "the convolution algorithm search");
      xs.zero();
      ys.zero();
      ws.zero();
      std::size_t free_bytes = 0, total_bytes = 0;
      CTNN_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
      const std::size_t search_ws = std::min(s.conv_workspace_limit, free_bytes / 2);
      ctnn::cuda::DeviceBuffer<unsigned char> scratch(search_ws, "the convolution algorithm search workspace");
      CTNN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, p.x, xs.data(), w_, ws.data(), p.fwd, p.y, ys.data(),
                                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n_fwd, fwd,
                                                              scratch.data(), search_ws));
      CTNN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, w_, ws.data(), p.y, ys.data(), p.bwd_data, p.x,
                                                                   xs.data(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                   &n_bwd_data, bwd_data, scratch.data(), search_ws));
      CTNN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, xs.data(), p.y, ys.data(), p.bwd_filter, w_,
                                                                     dws.data(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                     &n_bwd_filter, bwd_filter, scratch.data(), search_ws));
      ctx.synchronize("the convolution algorithm search");  // the scratch buffers are freed next
    } else {
      CTNN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, w_, p.fwd, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                              &n_fwd, fwd));
      CTNN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w_, p.y, p.bwd_data, p.x,
                                                                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n_bwd_data,
                                                                   bwd_data));
      CTNN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.bwd_filter, w_,
                                                                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                     &n_bwd_filter, bwd_filter));
    }

    const MathPolicy policy = math_policy();
    const ctnn::cuda::detail::ConvFilter filter{policy, s.deterministic, s.conv_workspace_limit};
    // Each pass: the search's results, or cuDNN's suggestions when no searched result may run with
    // this math policy; the chosen result runs with its own math type.
    auto pick = [&](ConvPass pass, ConvolutionDescriptor& desc, const auto* found, int n_found, auto suggest,
                    auto workspace_size, auto& algo, cudnnMathType_t& math, Choice& log) {
      auto workspace_of = [&](const ConvCandidate& c) -> std::optional<std::size_t> {
        if (cudnnSetConvolutionMathType(desc, detail::to_cudnn(c.math)) != CUDNN_STATUS_SUCCESS) return std::nullopt;
        std::size_t bytes = 0;
        if (workspace_size(c.algo, bytes) != CUDNN_STATUS_SUCCESS) return std::nullopt;
        return bytes;
      };
      std::vector<std::string> rejected;
      std::vector<ConvCandidate> list = detail::candidates(found, n_found, find);
      auto chosen = ctnn::cuda::detail::choose_convolution(list, filter, workspace_of, &rejected);
      if (!chosen && find) {  // e.g. every FMA kernel failed the search: take cuDNN's suggestions
        desc.set_math(detail::to_cudnn(ctnn::cuda::detail::search_math(policy)));
        list = suggest();
        chosen = ctnn::cuda::detail::choose_convolution(list, filter, workspace_of, &rejected);
        log.fallback = true;
      }
      if (!chosen) detail::no_algorithm(pass, g_, s, policy, rejected);
      const ConvCandidate& c = list[chosen->index];
      desc.set_math(detail::to_cudnn(c.math));
      using Algo = std::remove_reference_t<decltype(algo)>;
      algo = static_cast<Algo>(c.algo);
      math = detail::to_cudnn(c.math);
      log.candidate = c;
      log.workspace = chosen->workspace;
      return chosen->workspace;
    };
    Choice logs[3];
    const std::size_t b_fwd = pick(
        ConvPass::forward, p.fwd, fwd, n_fwd,
        [&] {
          int n = 0;
          CTNN_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, w_, p.fwd, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, fwd));
          return detail::candidates(fwd, n, false);
        },
        [&](int a, std::size_t& b) {
          return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, w_, p.fwd, p.y, static_cast<cudnnConvolutionFwdAlgo_t>(a), &b);
        },
        p.algos.forward, p.algos.forward_math, logs[0]);
    const std::size_t b_data = pick(
        ConvPass::backward_data, p.bwd_data, bwd_data, n_bwd_data,
        [&] {
          int n = 0;
          CTNN_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w_, p.y, p.bwd_data, p.x,
                                                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, bwd_data));
          return detail::candidates(bwd_data, n, false);
        },
        [&](int a, std::size_t& b) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_, p.y, p.bwd_data, p.x,
                                                              static_cast<cudnnConvolutionBwdDataAlgo_t>(a), &b);
        },
        p.algos.backward_data, p.algos.backward_data_math, logs[1]);
    const std::size_t b_filter = pick(
        ConvPass::backward_filter, p.bwd_filter, bwd_filter, n_bwd_filter,
        [&] {
          int n = 0;
          CTNN_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.bwd_filter, w_,
                                                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, bwd_filter));
          return detail::candidates(bwd_filter, n, false);
        },
        [&](int a, std::size_t& b) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.bwd_filter, w_,
                                                                static_cast<cudnnConvolutionBwdFilterAlgo_t>(a), &b);
        },
        p.algos.backward_filter, p.algos.backward_filter_math, logs[2]);

    p.algos.workspace = std::max({b_fwd, b_data, b_filter});
    ctx.workspace(p.algos.workspace);
    if (s.verbose) log_plan(batch, find, policy, logs);
    return p;
  }

  struct Choice {
    ConvCandidate candidate{};
    std::size_t workspace = 0;
    bool fallback = false;
  };

  // One line per pass: what CTNN_CUDA_VERBOSE=1 (settings().verbose) shows for every plan.
  void log_plan(std::size_t batch, bool find, MathPolicy policy, const Choice (&logs)[3]) const {
    std::string line = ctnn::detail::cat("ctnn cuda: ", detail::describe(g_), " batch ", batch, ", ",
                                         ctnn::cuda::detail::name(policy), ", ", find ? "found" : "heuristic", ":");
    const ConvPass passes[3] = {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter};
    for (int i = 0; i < 3; ++i) {
      const ConvCandidate& c = logs[i].candidate;
      line += ctnn::detail::cat("\n  ", ctnn::cuda::detail::name(passes[i]), " ",
                                ctnn::cuda::detail::algorithm_name(passes[i], c.algo), " ", ctnn::cuda::detail::name(c.math));
      if (c.milliseconds >= 0) line += ctnn::detail::cat(" ", c.milliseconds, " ms");
      line += ctnn::detail::cat(", workspace ", logs[i].workspace, " B");
      if (logs[i].fallback) line += " (no searched result may run with this math: cuDNN's suggestion)";
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  MathPolicy math_policy() const {
    if constexpr (half)
      return MathPolicy::half;
    else
      return settings_.allow_tf32 ? MathPolicy::tf32 : MathPolicy::fp32;
  }

  Geometry2d g_;
  ctnn::cuda::Settings settings_;
  ctnn::cuda::detail::FilterDescriptor w_;
  ctnn::cuda::DeviceBuffer<T> w16_, dw16_;  // 16 bits only: the filter and its gradient, KRSC
  std::vector<Plan> plans_;
  std::size_t last_ = 0;
};

using Conv2d = Convolution<float>;

}  // namespace ctnn::backend::cuda
