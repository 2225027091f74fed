#pragma once
// CUDA convolution through cuDNN (NCHW, float32, no bias, any group count), the ConvKernel of
// backend/contract.hpp:
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
// Filters: workspace <= settings().conv_workspace_limit; with allow_tf32 off only FMA kernels
// (CUDNN_FMA_MATH, so float32 results agree with the CPU to ~1e-5); with deterministic on only
// deterministic algorithms. The workspace is the context's shared one, grown here once.
// A call with another batch size builds (once, by heuristics) a plan for that size; the shared
// workspace grows then if that plan needs more.

#include "check.hpp"
#include "context.hpp"
#include "descriptors.hpp"
#include "buffer.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
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

namespace detail {

inline std::string describe(const Geometry2d& g) {
  return ctnn::detail::cat("conv ", g.in_c, "x", g.in_h, "x", g.in_w, " -> ", g.out_c, "x", g.out_h, "x", g.out_w,
                           " (kernel ", g.kernel, ", stride ", g.stride, ", pad ", g.pad, ", groups ", g.groups, ")");
}

inline bool tensor_core_math(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The first result (results come sorted, fastest or most recommended first) that succeeded and
// passes the filters; `workspace_of(algo)` asks cuDNN for the exact workspace with the result's
// math type set on `conv`, and returns false when the combination is not supported.
template <class Perf, class WorkspaceOf>
bool choose(const Perf* results, int count, const ctnn::cuda::Settings& s, ctnn::cuda::detail::ConvolutionDescriptor& conv,
            WorkspaceOf&& workspace_of, Perf& chosen, std::size_t& bytes) {
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    if (!s.allow_tf32 && tensor_core_math(r.mathType)) continue;
    if (s.deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    // CUDNN_DEFAULT_MATH permits TF32 on Ampere and later: pin such a result to FMA math.
    const cudnnMathType_t math = !s.allow_tf32 && r.mathType == CUDNN_DEFAULT_MATH ? CUDNN_FMA_MATH : r.mathType;
    if (cudnnSetConvolutionMathType(conv, math) != CUDNN_STATUS_SUCCESS) continue;
    std::size_t ws = 0;
    if (!workspace_of(r.algo, ws)) continue;
    ws = std::max(ws, r.memory);
    if (ws > s.conv_workspace_limit) continue;
    chosen = r;
    chosen.mathType = math;
    bytes = ws;
    return true;
  }
  return false;
}

[[noreturn]] inline void no_algorithm(const char* pass, const Geometry2d& g, const ctnn::cuda::Settings& s) {
  ctnn::detail::fail("ctnn::Cuda Conv2d: cuDNN offers no ", pass, " algorithm for ", describe(g), " within a workspace of ",
                     s.conv_workspace_limit, " bytes", s.allow_tf32 ? "" : " using FMA math (allow_tf32 off)",
                     s.deterministic ? " that is deterministic" : "");
}

}  // namespace detail

class Conv2d {
public:
  Conv2d(const Geometry2d& g, std::size_t max_batch) : Conv2d(g, max_batch, ctnn::cuda::settings()) {}

  Conv2d(const Geometry2d& g, std::size_t max_batch, const ctnn::cuda::Settings& s)
      : g_(g), settings_(s), w_(g.out_c, g.group_in_c(), g.kernel, g.kernel) {
    plans_.push_back(make_plan(std::max<std::size_t>(max_batch, 1), s.conv_search == ctnn::cuda::ConvSearch::find));
  }

  void forward(const float* x, const float* w, float* y, std::size_t batch) {
    if (batch == 0) return;
    Plan& p = plan(batch);
    auto& ctx = ctnn::cuda::context();
    ctnn::cuda::detail::note_use(ctx.workspace_resource());
    const float one = 1.f, zero = 0.f;
    CTNN_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, p.x, x, w_, w, p.fwd, p.algos.forward, ctx.workspace(),
                                             ctx.workspace_size(), &zero, p.y, y));
  }

  void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, std::size_t batch) {
    if (batch == 0) return;
    Plan& p = plan(batch);
    auto& ctx = ctnn::cuda::context();
    ctnn::cuda::detail::note_use(ctx.workspace_resource());
    const float one = 1.f, zero = 0.f;
    // beta = 1: the filter gradient accumulates, as on the CPU.
    CTNN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, p.x, x, p.y, dy, p.bwd_filter,
                                                    p.algos.backward_filter, ctx.workspace(), ctx.workspace_size(), &one,
                                                    w_, dw));
    if (dx)
      CTNN_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, w_, w, p.y, dy, p.bwd_data, p.algos.backward_data,
                                                    ctx.workspace(), ctx.workspace_size(), &zero, p.x, dx));
  }

  const Geometry2d& geometry() const { return g_; }
  // The algorithms chosen for max_batch.
  const ConvAlgorithms& algorithms() const { return plans_.front().algos; }

private:
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
    const cudnnMathType_t base = s.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;

    Plan p;
    p.batch = batch;
    p.x.set(batch, g_.in_c, g_.in_h, g_.in_w);
    p.y.set(batch, g_.out_c, g_.out_h, g_.out_w);
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
      ctnn::cuda::DeviceBuffer<float> xs(x_size, "the convolution algorithm search"), ys(y_size, "the convolution algorithm search"),
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

    std::size_t b_fwd = 0, b_data = 0, b_filter = 0;
    cudnnConvolutionFwdAlgoPerf_t c_fwd{};
    cudnnConvolutionBwdDataAlgoPerf_t c_data{};
    cudnnConvolutionBwdFilterAlgoPerf_t c_filter{};
    if (!detail::choose(fwd, n_fwd, s, p.fwd,
                        [&](cudnnConvolutionFwdAlgo_t a, std::size_t& b) {
                          return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, w_, p.fwd, p.y, a, &b) == CUDNN_STATUS_SUCCESS;
                        },
                        c_fwd, b_fwd))
      detail::no_algorithm("forward", g_, s);
    if (!detail::choose(bwd_data, n_bwd_data, s, p.bwd_data,
                        [&](cudnnConvolutionBwdDataAlgo_t a, std::size_t& b) {
                          return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_, p.y, p.bwd_data, p.x, a, &b) ==
                                 CUDNN_STATUS_SUCCESS;
                        },
                        c_data, b_data))
      detail::no_algorithm("backward-data", g_, s);
    if (!detail::choose(bwd_filter, n_bwd_filter, s, p.bwd_filter,
                        [&](cudnnConvolutionBwdFilterAlgo_t a, std::size_t& b) {
                          return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.bwd_filter, w_, a, &b) ==
                                 CUDNN_STATUS_SUCCESS;
                        },
                        c_filter, b_filter))
      detail::no_algorithm("backward-filter", g_, s);

    p.algos.forward = c_fwd.algo;
    p.algos.forward_math = c_fwd.mathType;
    p.algos.backward_data = c_data.algo;
    p.algos.backward_data_math = c_data.mathType;
    p.algos.backward_filter = c_filter.algo;
    p.algos.backward_filter_math = c_filter.mathType;
    p.algos.workspace = std::max({b_fwd, b_data, b_filter});
    ctx.workspace(p.algos.workspace);
    return p;
  }

  Geometry2d g_;
  ctnn::cuda::Settings settings_;
  ctnn::cuda::detail::FilterDescriptor w_;
  std::vector<Plan> plans_;
  std::size_t last_ = 0;
};

}  // namespace ctnn::backend::cuda
