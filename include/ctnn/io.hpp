#pragma once
// ctnn::io: checkpoints (network weights, optimizer and training state) in an architecture-checked,
// checksummed, atomically replaced file format.
//   io/format.hpp        the file format and its records
//   io/byte_writer.hpp   writing it       io/byte_reader.hpp   reading and validating it
//   io/checkpoint.hpp    the API: save_checkpoint, load_checkpoint, save_weights, load_weights
//   io/file.hpp          whole-file reads, atomic file replacement (POSIX)
//   io/checksum.hpp      FNV-1a 64
//   io/safetensors.hpp   safetensors in and out (F32, BF16, F16), strict and non-strict loads
//   io/name_maps.hpp     ctnn names <-> PyTorch's for the ResNets (pytorch-cifar, torchvision)
//   io/json.hpp          the small JSON reader the headers need
//   io/onnx.hpp          ONNX export (opset 17) and typed import of weights; io/protobuf.hpp its wire format
//   io/weights_file.hpp  load_weights_file / save_weights_file: any of the formats, by content or extension
//   io/printable.hpp     text from a file made safe to quote in an error message

#include "io/byte_reader.hpp"
#include "io/byte_writer.hpp"
#include "io/checkpoint.hpp"
#include "io/checksum.hpp"
#include "io/file.hpp"
#include "io/format.hpp"
#include "io/json.hpp"
#include "io/name_maps.hpp"
#include "io/onnx.hpp"
#include "io/printable.hpp"
#include "io/protobuf.hpp"
#include "io/safetensors.hpp"
#include "io/weights_file.hpp"
