// The example's weight files: --weights (a ctnn checkpoint, safetensors or ONNX) and --export-*.
#include <ctnn/ctnn.hpp>

#include <cstdio>
#include <utility>

#include "model.hpp"

template <class D>
void load_weights(Net<D>& net, const Options& o) {
  ctnn::io::load_weights_file(o.weights, net, {.name_map = o.name_map});
  std::printf("initialised from %s\n", o.weights.c_str());
}

template <class D>
void export_weights(const Net<D>& net, const Options& o) {
  namespace io = ctnn::io;
  for (const auto& [path, format] : {std::pair{o.export_onnx, io::WeightFormat::onnx}, {o.export_safetensors, io::WeightFormat::safetensors}})
    if (!path.empty())
      io::save_weights_file(path, net, {.name_map = format == io::WeightFormat::onnx ? "ctnn" : o.name_map, .format = format}),
          std::printf("wrote %s (%s)\n", path.c_str(), io::format_name(format));
}

template void load_weights(Net<ctnn::Cpu>&, const Options&);
template void export_weights(const Net<ctnn::Cpu>&, const Options&);
#if CTNN_HAS_CUDA
template void load_weights(Net<ctnn::Cuda>&, const Options&);
template void export_weights(const Net<ctnn::Cuda>&, const Options&);
#endif
