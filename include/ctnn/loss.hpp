#pragma once
// ctnn loss functions and metrics: softmax_cross_entropy (PyTorch CrossEntropyLoss semantics,
// label smoothing included), count_correct, accuracy, argmax.

#include "loss/cross_entropy.hpp"
#include "loss/metrics.hpp"
