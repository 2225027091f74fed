#pragma once
// Choosing a cuDNN convolution algorithm that runs with the math the network asked for, as plain
// C++ (no CUDA header; tests/cuda_host/conv_choice.cpp). backend/cuda/conv.hpp converts cuDNN's
// perf results into ConvCandidate and back.
//
// The math a convolution may use (MathPolicy):
//   fp32   FMA kernels only (CUDNN_FMA_MATH): float32 results; the default. A result that cuDNN
//          reports with CUDNN_DEFAULT_MATH was measured with TF32 allowed (Ampere and later), so its
//          time says nothing about the same algorithm under FMA: such results are never taken.
//   tf32   TF32 tensor cores allowed (settings().allow_tf32, an explicit opt-in): any math type.
//   half   bf16/fp16 data (Precision::bf16/fp16): tensor-core math, or FMA where that is all an
//          algorithm has.
// The search runs with the descriptor's math set to search_math(policy), and the chosen result's
// own math type is what the convolution then runs with: never one result timed with one math type
// and run with another.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "../../../core/error.hpp"

namespace ctnn::cuda::detail {

enum class ConvMath { default_math, tensor_op, tensor_op_allow_conversion, fma };
enum class MathPolicy { fp32, tf32, half };

inline const char* name(ConvMath m) {
  switch (m) {
    case ConvMath::default_math: return "DEFAULT_MATH";
    case ConvMath::tensor_op: return "TENSOR_OP_MATH";
    case ConvMath::tensor_op_allow_conversion: return "TENSOR_OP_MATH_ALLOW_CONVERSION";
    case ConvMath::fma: return "FMA_MATH";
  }
  return "?";
}
inline const char* name(MathPolicy p) {
  switch (p) {
    case MathPolicy::fp32: return "fp32 (FMA only)";
    case MathPolicy::tf32: return "TF32 allowed";
    case MathPolicy::half: return "bf16/fp16 tensor cores";
  }
  return "?";
}

// The math type the descriptor carries while cuDNN searches or suggests algorithms.
inline ConvMath search_math(MathPolicy p) {
  switch (p) {
    case MathPolicy::fp32: return ConvMath::fma;
    case MathPolicy::tf32: return ConvMath::default_math;
    case MathPolicy::half: return ConvMath::tensor_op;
  }
  return ConvMath::fma;
}

// Whether a result measured (or suggested) with math type m may be run under policy p, as is.
// (A result is always run with the math type it was measured with, so under tf32 and half every
// math type is fine; only fp32 excludes the ones that may use TF32.)
inline bool acceptable(ConvMath m, MathPolicy p) { return p != MathPolicy::fp32 || m == ConvMath::fma; }

enum class ConvPass { forward, backward_data, backward_filter };

inline const char* name(ConvPass p) {
  switch (p) {
    case ConvPass::forward: return "forward";
    case ConvPass::backward_data: return "backward-data";
    case ConvPass::backward_filter: return "backward-filter";
  }
  return "?";
}

// cuDNN's algorithm enumerators by value (cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t).
inline const char* algorithm_name(ConvPass p, int algo) {
  static const char* const fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                    "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const filter[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  auto pick = [algo](const char* const* names, int n) { return algo >= 0 && algo < n ? names[algo] : "UNKNOWN"; };
  switch (p) {
    case ConvPass::forward: return pick(fwd, 8);
    case ConvPass::backward_data: return pick(data, 6);
    case ConvPass::backward_filter: return pick(filter, 7);
  }
  return "UNKNOWN";
}

struct ConvCandidate {
  int algo = 0;
  bool succeeded = true;       // cuDNN's status for it
  float milliseconds = -1.f;   // measured by Find; < 0 when suggested by the heuristics
  std::size_t memory = 0;      // the workspace cuDNN reported with the result
  ConvMath math = ConvMath::fma;
  bool deterministic = true;
};

struct ConvFilter {
  MathPolicy policy = MathPolicy::fp32;
  bool deterministic = false;
  std::size_t workspace_limit = 0;
};

struct ConvChoice {
  std::size_t index;       // into the candidates
  std::size_t workspace;   // bytes, the larger of cuDNN's two figures
};

// The first candidate (cuDNN sorts them, fastest or most recommended first) that succeeded, may run
// under the policy with its own math type, is deterministic when asked, and whose exact workspace
// (workspace_of(candidate): std::optional<std::size_t>, empty when cuDNN refuses the combination)
// fits the limit. `rejected`, when given, receives one line per candidate passed over.
template <class WorkspaceOf>
std::optional<ConvChoice> choose_convolution(const std::vector<ConvCandidate>& candidates, const ConvFilter& f,
                                             WorkspaceOf&& workspace_of, std::vector<std::string>* rejected = nullptr) {
  auto reject = [&](std::size_t i, const char* why) {
    if (rejected) rejected->push_back(ctnn::detail::cat("algorithm ", candidates[i].algo, " (", name(candidates[i].math), "): ", why));
  };
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const ConvCandidate& c = candidates[i];
    if (!c.succeeded) {
      reject(i, "failed");
      continue;
    }
    if (!acceptable(c.math, f.policy)) {
      reject(i, "math type not allowed");
      continue;
    }
    if (f.deterministic && !c.deterministic) {
      reject(i, "not deterministic");
      continue;
    }
    const std::optional<std::size_t> exact = workspace_of(c);
    if (!exact) {
      reject(i, "not supported with its math type");
      continue;
    }
    const std::size_t ws = *exact > c.memory ? *exact : c.memory;
    if (ws > f.workspace_limit) {
      reject(i, "workspace above the limit");
      continue;
    }
    return ConvChoice{i, ws};
  }
  return std::nullopt;
}

}  // namespace ctnn::cuda::detail
