#pragma once
// ctnn: compile-time typed neural networks. The umbrella header: everything for the CPU, and in a
// translation unit compiled by nvcc, ctnn::Cuda as well. Headers may be included in any order.

#include "core/config.hpp"
#include "core/device.hpp"
#include "core/error.hpp"
#include "core/init.hpp"
#include "core/parameter.hpp"
#include "core/random.hpp"
#include "core/shape.hpp"
#include "core/tensor.hpp"
#include "core/threading.hpp"
#include "core/transfer.hpp"
#include "core/wiring.hpp"

#include "expr.hpp"

#include "backend/contract.hpp"
#include "backend/cpu.hpp"
#include "backend/host_loss.hpp"
#if CTNN_HAS_CUDA
#include "backend/cuda.hpp"
#endif

#include "layers.hpp"
#include "models/resnet.hpp"
#include "network.hpp"
#include "loss.hpp"
#include "optim.hpp"
#include "io.hpp"
#include "data.hpp"
#include "dist.hpp"
#include "train.hpp"
#include "predict.hpp"
#include "profile.hpp"
#include "summary.hpp"
