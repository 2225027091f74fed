#pragma once
// Build configuration shared by every ctnn header.

#define CTNN_VERSION_MAJOR 0
#define CTNN_VERSION_MINOR 1
#define CTNN_VERSION_PATCH 0

// Functions usable from both host code and CUDA kernels (expression nodes, small helpers).
#if defined(__CUDACC__)
#define CTNN_HD __host__ __device__
#else
#define CTNN_HD
#endif

// CTNN_HAS_CUDA is 1 in translation units compiled by nvcc, where ctnn::Cuda is usable.
// CPU-only translation units never see a CUDA header.
#ifndef CTNN_HAS_CUDA
#if defined(__CUDACC__)
#define CTNN_HAS_CUDA 1
#else
#define CTNN_HAS_CUDA 0
#endif
#endif

#if defined(_OPENMP)
#define CTNN_HAS_OPENMP 1
#else
#define CTNN_HAS_OPENMP 0
#endif

// Separate compilation. By default every ctnn function is defined in its header, and each
// translation unit that uses one compiles it. A program whose every unit is compiled with
// CTNN_SEPARATE_COMPILATION=1 compiles the code that does not depend on the program's types (the
// CPU backend's kernels, file and checkpoint reading, data sets, the training loop's files; see
// <ctnn/compiled.hpp>) once instead, in the one unit that includes <ctnn/compiled.hpp> (CMake:
// link ctnn::compiled); the headers then only declare it. Its definitions live in impl/*.ipp files
// beside the headers; CTNN_INLINE marks them: inline in header-only builds, ordinary definitions
// in the compiled unit.
#ifndef CTNN_SEPARATE_COMPILATION
#define CTNN_SEPARATE_COMPILATION 0
#endif
// CTNN_HEADER_DEFINITIONS: whether a header includes its .ipp (header-only builds; the compiled
// unit sets it again, and CTNN_INLINE to nothing).
#define CTNN_INLINE inline
#if CTNN_SEPARATE_COMPILATION
#define CTNN_HEADER_DEFINITIONS 0
#else
#define CTNN_HEADER_DEFINITIONS 1
#endif
