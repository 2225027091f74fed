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
