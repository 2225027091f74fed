#pragma once
// The compiled part of ctnn, for programs built with CTNN_SEPARATE_COMPILATION=1 (core/config.hpp):
// include this header in exactly one .cpp file of the program. It defines, once for the whole
// program, what the headers then only declare: the library's code that does not depend on your
// types (the CPU backend's convolution, Winograd, GEMM, batch norm, pooling and linear kernels;
// reading and writing checkpoints and files; CIFAR-10 and synthetic data; the training loop's
// history, progress and settings checks; schedules by name; error messages). With CMake, link
// ctnn::compiled instead of ctnn::ctnn: it is that file, compiled, and it sets the macro for every
// target that links it.

#include "core/config.hpp"

#if !CTNN_SEPARATE_COMPILATION
#error "<ctnn/compiled.hpp> is for builds with CTNN_SEPARATE_COMPILATION=1 in every translation unit"
#endif

// The definitions below are ordinary (non-inline) ones, emitted here once, whatever ctnn headers
// this file included before. Each .ipp includes its header.
#undef CTNN_INLINE
#undef CTNN_HEADER_DEFINITIONS
#define CTNN_INLINE
#define CTNN_HEADER_DEFINITIONS 1

#include "core/impl/error.ipp"
#include "core/impl/init.ipp"
#include "core/impl/parameter.ipp"
#include "backend/cpu/impl/batchnorm.ipp"
#include "backend/cpu/impl/conv.ipp"
#include "backend/cpu/impl/gemm.ipp"
#include "backend/cpu/impl/linear.ipp"
#include "backend/cpu/impl/pool.ipp"
#include "backend/cpu/impl/winograd.ipp"
#include "data/impl/cifar10.ipp"
#include "data/impl/synthetic.ipp"
#include "io/impl/byte_reader.ipp"
#include "io/impl/file.ipp"
#include "io/impl/printable.ipp"
#include "optim/impl/schedule.ipp"
#include "train/impl/fit.ipp"
#include "train/impl/history.ipp"
#include "train/impl/progress.ipp"
