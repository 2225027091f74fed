// Compiles one file of kernels once per instruction set (no include guard: included once per
// kernel file). Define CTNN_ISA_KERNELS to the file's name, then include this header inside the
// namespace the kernels belong to:
//
//   #define CTNN_ISA_KERNELS "winograd_transforms.inl"
//   #include "for_each_isa.hpp"
//
// The kernel file puts its code into `namespace CTNN_ISA_NAMESPACE { ... }`, which is baseline,
// avx2 or avx512 in turn (CTNN_ISA_FLOATS is the floats in one vector register of that set: 4, 8
// or 16); everything it defines, lambdas included, is compiled for that set (the
// target pragmas apply to every function defined between them). The baseline copy gets the
// translation unit's own flags, so -march=native makes it as fast as the CPU allows.
//
// Define CTNN_ISA_WITHOUT_FMA as well for kernels whose results must not depend on where the
// compiler contracts a * b + c into one rounding (the evaluator's loops: a batch norm's backward
// recomputes its forward's output and must get the same bits): their copies are baseline and avx2
// without FMA, with no avx512 namespace (GCC's AVX-512 always brings FMA); use avx2's there. (A
// translation unit compiled with FMA, -march=native for one, keeps it in every copy: a target
// without it could not inline that unit's functions.)
//
// The kernel file must not include headers itself (a header first included inside a target
// region would be compiled for that target only): include what it needs before this header.

#ifndef CTNN_ISA_DISPATCH
#error "include isa.hpp (outside any namespace) before for_each_isa.hpp"
#endif
#ifndef CTNN_ISA_KERNELS
#error "define CTNN_ISA_KERNELS to the kernel file before including for_each_isa.hpp"
#endif

#define CTNN_ISA_NAMESPACE baseline
#define CTNN_ISA_FLOATS 4
#include CTNN_ISA_KERNELS
#undef CTNN_ISA_FLOATS
#undef CTNN_ISA_NAMESPACE

#if CTNN_ISA_DISPATCH
#if defined(CTNN_ISA_WITHOUT_FMA) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#elif defined(CTNN_ISA_WITHOUT_FMA)
#pragma GCC push_options
#pragma GCC target("avx2")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define CTNN_ISA_NAMESPACE avx2
#define CTNN_ISA_FLOATS 8
#include CTNN_ISA_KERNELS
#undef CTNN_ISA_FLOATS
#undef CTNN_ISA_NAMESPACE
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#ifndef CTNN_ISA_WITHOUT_FMA
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
// GCC's generic tuning would otherwise stay with 256-bit vectors.
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")
#endif
#define CTNN_ISA_NAMESPACE avx512
#define CTNN_ISA_FLOATS 16
#include CTNN_ISA_KERNELS
#undef CTNN_ISA_FLOATS
#undef CTNN_ISA_NAMESPACE
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif  // CTNN_ISA_WITHOUT_FMA
#endif  // CTNN_ISA_DISPATCH

#undef CTNN_ISA_KERNELS
#undef CTNN_ISA_WITHOUT_FMA
