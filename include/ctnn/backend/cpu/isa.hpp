#pragma once
// Runtime CPU dispatch: which instruction set the CPU kernels that ctnn compiles itself run with.
//
// Kernels that are worth specialising (the Winograd transforms, see winograd_transforms.inl, and
// ctnn's own GEMM kernel) are compiled once per instruction set into namespaces baseline, avx2 and
// avx512 (for_each_isa.hpp), and a layer picks one set when it is constructed, from active_isa();
// the evaluator's element-wise loops (evaluator_loops.inl) are compiled for baseline and avx2
// without FMA, and follow active_isa() at each pass. So a binary built without -march=native
// (CMake: -DCTNN_NATIVE=OFF) runs on any x86-64 CPU and still uses AVX2+FMA or AVX-512 where the
// CPU has them. GEMMs go to OpenBLAS, which dispatches on its own.
//
// active_isa() is the best set this CPU supports, or what the environment variable CTNN_ISA
// (baseline, avx2 or avx512; read once) asks for: lower sets are for comparing and testing,
// higher ones than the CPU supports are an error. set_isa() changes it for layers constructed
// afterwards and for the evaluator's next passes. Off x86-64, or with compilers other than GCC
// and Clang, only `baseline` exists.

#include <atomic>
#include <cstdlib>
#include <string_view>

#include "../../core/error.hpp"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define CTNN_ISA_DISPATCH 1
#else
#define CTNN_ISA_DISPATCH 0
#endif

namespace ctnn::backend::cpu {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

constexpr std::string_view name(Isa isa) {
  switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::baseline: break;
  }
  return "baseline";
}

// The best instruction set this CPU (and its operating system, which must save the wider
// registers) supports among those ctnn compiles kernels for.
inline Isa detected_isa() {
#if CTNN_ISA_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::baseline;
}

namespace detail {

inline Isa checked_isa(Isa want, std::string_view origin) {
  const Isa have = detected_isa();
  if (static_cast<int>(want) > static_cast<int>(have))
    ctnn::detail::fail(origin, ": instruction set '", name(want), "' is not supported by this CPU (best: '", name(have),
                       "'", CTNN_ISA_DISPATCH ? "" : "; this build has no runtime dispatch", ")");
  return want;
}

// CTNN_ISA from the environment, or the detected set.
inline Isa initial_isa() {
  const char* env = std::getenv("CTNN_ISA");
  if (!env || !*env) return detected_isa();
  const std::string_view v(env);
  for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (v == name(isa)) return checked_isa(isa, "CTNN_ISA");
  ctnn::detail::fail("CTNN_ISA='", v, "': expected one of baseline, avx2, avx512");
}

inline std::atomic<Isa>& isa_setting() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace detail

// The instruction set CPU layers constructed now will use, and the element-wise passes of the CPU
// evaluator (evaluator.hpp) use from now on.
inline Isa active_isa() { return detail::isa_setting().load(std::memory_order_relaxed); }

// Selects the instruction set for CPU layers constructed from now on and for the element-wise
// passes that follow; throws ctnn::Error when the CPU does not support it. Change it between
// training steps, not inside one: a batch norm's backward recomputes what its forward wrote, bit
// for bit only on the same set.
inline void set_isa(Isa isa) { detail::isa_setting().store(detail::checked_isa(isa, "ctnn::backend::cpu::set_isa"), std::memory_order_relaxed); }

}  // namespace ctnn::backend::cpu
