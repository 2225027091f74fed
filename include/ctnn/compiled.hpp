#pragma once
// The compiled part of ctnn, for programs built with CTNN_SEPARATE_COMPILATION=1 (core/config.hpp):
// include this header in exactly one .cpp file of the program. It defines, once for the whole
// program, what the headers then only declare: the CPU backend's convolution, Winograd, GEMM,
// batch norm, pooling and linear kernels. With CMake, link ctnn::compiled instead of ctnn::ctnn:
// it is that file, compiled, and it sets the macro for every target that links it.

#include "core/config.hpp"

#if !CTNN_SEPARATE_COMPILATION
#error "<ctnn/compiled.hpp> is for builds with CTNN_SEPARATE_COMPILATION=1 in every translation unit"
#endif

// The definitions below are ordinary (non-inline) ones, emitted here once, whatever ctnn headers
// this file included before.
#undef CTNN_INLINE
#undef CTNN_HEADER_DEFINITIONS
#define CTNN_COMPILING_LIBRARY 1
#define CTNN_INLINE
#define CTNN_HEADER_DEFINITIONS 1

#include "backend/cpu.hpp"
#include "backend/cpu/impl/batchnorm.ipp"
#include "backend/cpu/impl/conv.ipp"
#include "backend/cpu/impl/gemm.ipp"
#include "backend/cpu/impl/linear.ipp"
#include "backend/cpu/impl/pool.ipp"
#include "backend/cpu/impl/winograd.ipp"
