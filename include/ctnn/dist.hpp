#pragma once
// ctnn's data-parallel training: the Communicator interface, DataParallel and the helpers the
// training loop uses. The engines have their own headers, included where they are linked:
// <ctnn/dist/mpi.hpp> (MPI) and <ctnn/dist/nccl.hpp> (NCCL, in CUDA translation units).
#include "dist/communicator.hpp"
#include "dist/data_parallel.hpp"
