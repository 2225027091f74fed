#pragma once
// ctnn optimizers and learning-rate schedules: SGD and AdamW (PyTorch semantics, one fused
// expression per tensor, state allocated once), schedule::MultiStep / Cosine / OneCycle.

#include "optim/adamw.hpp"
#include "optim/schedule.hpp"
#include "optim/sgd.hpp"
