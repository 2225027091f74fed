#pragma once
// ctnn::io: checkpoints (network weights, optimizer and training state) in an architecture-checked,
// checksummed, atomically replaced file format; see io/checkpoint.hpp for the format.

#include "io/checksum.hpp"
#include "io/file.hpp"
#include "io/checkpoint.hpp"
