#pragma once
// ctnn::train: training as a library. train/step.hpp is one training step (forward, loss,
// backward, optimizer update), used by the example, the tests and the benchmarks alike.

#include "train/step.hpp"
