#pragma once
// ctnn: compile-time typed neural networks. The umbrella header: everything for the CPU, and in a
// translation unit compiled by nvcc, ctnn::Cuda as well.

#include "core/config.hpp"
#include "core/device.hpp"
#include "core/error.hpp"
#include "core/init.hpp"
#include "core/parameter.hpp"
#include "core/random.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "core/threading.hpp"
#include "core/wiring.hpp"

#include "expr.hpp"

#include "backend/cpu.hpp"
#if CTNN_HAS_CUDA
#include "backend/cuda.hpp"  // ctnn::Cuda; before the layers (see backend/cuda.hpp)
#endif

#include "layers.hpp"
#include "models/resnet.hpp"
#include "network.hpp"
#include "io.hpp"
#include "loss.hpp"
#include "optim.hpp"
#include "data.hpp"
#include "summary.hpp"
