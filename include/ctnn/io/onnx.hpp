#pragma once
// ONNX export of a network built from the built-in layers, and ONNX import of weights into a
// network of the same type.
//
//   ctnn::io::export_onnx("resnet18.onnx", net);     // opset 17, batch dimension dynamic ("batch")
//   ctnn::io::import_onnx("resnet18.onnx", net);     // checks the graph against the type, loads weights
//
// The file is written by ctnn itself in the protocol-buffers wire format (protobuf.hpp) with the
// field numbers of onnx.proto: no protobuf or onnx library is needed to build or to use ctnn, and the
// writer is a few hundred lines that the tests check against the onnx package's checker and ONNX
// Runtime. The graph is the inference form:
//   Conv (with its bias, group), BatchNormalization (the running statistics, epsilon 1e-5),
//   Relu, LeakyRelu, Sigmoid, Tanh, GELU as x * 0.5 * (1 + Erf(x / sqrt 2)) (opset 17 has no
//   Gelu), Add (+ Relu) for Residual, MaxPool, AveragePool (count_include_pad = 1),
//   GlobalAveragePool, Flatten (axis 1), Gemm (transB = 1) for Linear; Dropout and Identity add no
//   node. Initializers are named by ctnn's parameter paths ("0.weight"); the input is "input"
//   [batch, C, H, W], the output "output".
// import_onnx builds the graph the network's type would export and walks the file's graph beside
// it: every node's operator, attributes and wiring (which node's output or which initializer each
// input is) and every weight's dimensions must match, whatever the names; the first node that
// differs is named in the error, and nothing is loaded unless everything matches. Weights are
// FLOAT tensors (raw_data or float_data).

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/parameter.hpp"
#include "../layers.hpp"
#include "checkpoint.hpp"
#include "file.hpp"
#include "protobuf.hpp"

namespace ctnn::io {

namespace onnx {

struct Attribute {
  enum class Type { f = 1, i = 2, ints = 7 };
  std::string name;
  Type type = Type::i;
  float f = 0;
  std::int64_t i = 0;
  std::vector<std::int64_t> ints;
  bool operator==(const Attribute&) const = default;
};

struct Node {
  std::string op, name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

struct Initializer {
  std::string name;
  std::vector<std::int64_t> dims;
  std::vector<float> values;  // constants; weights are read from `source` on the device
  const float* source = nullptr;
  std::size_t size = 0;
};

struct Graph {
  std::vector<Node> nodes;
  std::vector<Initializer> initializers;
  std::string input = "input", output = "output";
  std::vector<std::int64_t> input_dims, output_dims;  // per sample (the batch is dynamic)
};

inline Attribute ints(const char* name, std::vector<std::int64_t> v) { return {name, Attribute::Type::ints, 0, 0, std::move(v)}; }
inline Attribute integer(const char* name, std::int64_t v) { return {name, Attribute::Type::i, 0, v, {}}; }
inline Attribute real(const char* name, float v) { return {name, Attribute::Type::f, v, 0, {}}; }

// Builds the graph of a network: nodes from the spec, initializers from the network's tensors.
class Builder {
public:
  template <class Net>
  explicit Builder(const Net& net) {
    for (const auto& p : net.parameters()) tensors_[p.name] = {p.value, p.size, shape_of(p)};
    for (const auto& b : net.buffers()) tensors_[b.name] = {b.value, b.size, shape_of(b)};
  }

  std::string weight(const std::string& name) {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) ctnn::detail::fail("ctnn::io::export_onnx: the network has no tensor '", name, "'");
    Initializer init;
    init.name = name;
    for (const auto d : it->second.shape) init.dims.push_back(static_cast<std::int64_t>(d));
    init.source = it->second.value;
    init.size = it->second.size;
    graph.initializers.push_back(std::move(init));
    return name;
  }
  std::string constant(const std::string& name, float v) {
    for (const auto& i : graph.initializers)
      if (i.name == name) return name;
    graph.initializers.push_back({name, {}, {v}, nullptr, 1});
    return name;
  }
  std::string node(const char* op, std::vector<std::string> inputs, std::vector<Attribute> attributes = {}) {
    Node n;
    n.op = op;
    n.name = std::string(op) + "_" + std::to_string(graph.nodes.size());
    n.inputs = std::move(inputs);
    n.outputs = {n.name + "_out"};
    n.attributes = std::move(attributes);
    graph.nodes.push_back(std::move(n));
    return graph.nodes.back().outputs[0];
  }

  Graph graph;

private:
  struct Tensor {
    const float* value;
    std::size_t size;
    std::vector<std::size_t> shape;
  };
  std::map<std::string, Tensor> tensors_;
};

template <class T>
inline constexpr bool no_onnx_form_v = false;

// Emitters: one overload per built-in spec (derived specs such as ResNet18 and BasicBlock match
// their Seq and Residual bases); a spec without one fails to compile with the message below.
template <class In>
std::string emit(Builder&, const void*, const std::string&, std::string) {
  static_assert(no_onnx_form_v<In>,
                "ctnn::io::export_onnx: a layer of this network has no ONNX form (the spec and its input shape "
                "are in the instantiation context above); the built-in layers are supported");
  return {};
}

template <class In, class... Ls>
std::string emit(Builder& b, const Seq<Ls...>*, const std::string& path, std::string x);
template <class In, class M, class S, class A>
std::string emit(Builder& b, const Residual<M, S, A>*, const std::string& path, std::string x);

template <class In>
std::string emit(Builder&, const Identity*, const std::string&, std::string x) { return x; }
template <class In, Number P>
std::string emit(Builder&, const Dropout<P>*, const std::string&, std::string x) { return x; }

template <class In, std::size_t I, std::size_t O, std::size_t K, std::size_t S, std::size_t P, class... Opts>
std::string emit(Builder& b, const Conv<I, O, K, S, P, Opts...>*, const std::string& path, std::string x) {
  using Spec = Conv<I, O, K, S, P, Opts...>;
  std::vector<std::string> inputs{std::move(x), b.weight(path + "weight")};
  if constexpr (Spec::has_bias) inputs.push_back(b.weight(path + "bias"));
  const auto k = std::int64_t(K), s = std::int64_t(S), p = std::int64_t(P);
  return b.node("Conv", std::move(inputs),
                {ints("dilations", {1, 1}), integer("group", std::int64_t(Spec::group_count)), ints("kernel_shape", {k, k}),
                 ints("pads", {p, p, p, p}), ints("strides", {s, s})});
}

template <class In, std::size_t C>
std::string emit(Builder& b, const BatchNorm<C>*, const std::string& path, std::string x) {
  return b.node("BatchNormalization",
                {std::move(x), b.weight(path + "weight"), b.weight(path + "bias"), b.weight(path + "running_mean"),
                 b.weight(path + "running_var")},
                {real("epsilon", BatchNorm<C>::eps), real("momentum", 1.f - BatchNorm<C>::momentum)});
}

template <class In>
std::string emit(Builder& b, const ReLU*, const std::string&, std::string x) { return b.node("Relu", {std::move(x)}); }
template <class In>
std::string emit(Builder& b, const Sigmoid*, const std::string&, std::string x) { return b.node("Sigmoid", {std::move(x)}); }
template <class In>
std::string emit(Builder& b, const Tanh*, const std::string&, std::string x) { return b.node("Tanh", {std::move(x)}); }
template <class In, Number Slope>
std::string emit(Builder& b, const LeakyReLU<Slope>*, const std::string&, std::string x) {
  return b.node("LeakyRelu", {std::move(x)}, {real("alpha", static_cast<float>(Slope))});
}
template <class In>
std::string emit(Builder& b, const GELU*, const std::string&, std::string x) {
  const std::string scaled = b.node("Mul", {x, b.constant("gelu.inv_sqrt2", 0.70710678118654752f)});
  const std::string erf = b.node("Erf", {scaled});
  const std::string plus = b.node("Add", {erf, b.constant("gelu.one", 1.f)});
  const std::string times = b.node("Mul", {std::move(x), plus});
  return b.node("Mul", {times, b.constant("gelu.half", 0.5f)});
}

template <class In, std::size_t K, std::size_t S, std::size_t P>
std::string emit(Builder& b, const MaxPool<K, S, P>*, const std::string&, std::string x) {
  const auto k = std::int64_t(K), s = std::int64_t(S), p = std::int64_t(P);
  return b.node("MaxPool", {std::move(x)}, {ints("kernel_shape", {k, k}), ints("pads", {p, p, p, p}), ints("strides", {s, s})});
}
template <class In, std::size_t K, std::size_t S, std::size_t P>
std::string emit(Builder& b, const AvgPool<K, S, P>*, const std::string&, std::string x) {
  const auto k = std::int64_t(K), s = std::int64_t(S), p = std::int64_t(P);
  return b.node("AveragePool", {std::move(x)},
                {integer("count_include_pad", 1), ints("kernel_shape", {k, k}), ints("pads", {p, p, p, p}), ints("strides", {s, s})});
}
template <class In>
std::string emit(Builder& b, const GlobalAvgPool*, const std::string&, std::string x) {
  return b.node("GlobalAveragePool", {std::move(x)});
}
template <class In>
std::string emit(Builder& b, const Flatten*, const std::string&, std::string x) {
  return b.node("Flatten", {std::move(x)}, {integer("axis", 1)});
}
template <class In, std::size_t I, std::size_t O>
std::string emit(Builder& b, const Linear<I, O>*, const std::string& path, std::string x) {
  return b.node("Gemm", {std::move(x), b.weight(path + "weight"), b.weight(path + "bias")},
                {real("alpha", 1.f), real("beta", 1.f), integer("transB", 1)});
}

template <class Spec, class In>
std::string emit_spec(Builder& b, const std::string& path, std::string x) {
  return emit<In>(b, static_cast<const Spec*>(nullptr), path, std::move(x));
}

template <class In, class... Ls>
std::string emit(Builder& b, const Seq<Ls...>*, const std::string& path, std::string x) {
  using Inputs = typename Seq<Ls...>::template inputs<In>;
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((x = emit_spec<Ls, std::tuple_element_t<I, Inputs>>(b, path + std::to_string(I) + ".", std::move(x))), ...);
    return x;
  }(std::index_sequence_for<Ls...>{});
}

template <class In, class M, class S, class A>
std::string emit(Builder& b, const Residual<M, S, A>*, const std::string& path, std::string x) {
  const std::string main = emit_spec<M, In>(b, path + "main.", x);
  const std::string shortcut = emit_spec<S, In>(b, path + "shortcut.", x);
  const std::string sum = b.node("Add", {main, shortcut});
  if constexpr (std::is_same_v<A, ReLU>) return b.node("Relu", {sum});
  return sum;
}

// The graph `Net` exports, over `net`'s tensors.
template <class Net>
Graph graph_of(const Net& net) {
  Builder b(net);
  const std::string out = emit_spec<typename Net::spec, typename Net::input_shape>(b, "", "input");
  if (b.graph.nodes.empty() || b.graph.nodes.back().outputs[0] != out)
    ctnn::detail::fail("ctnn::io::export_onnx: the network computes no operation (its output is its input)");
  b.graph.nodes.back().outputs[0] = "output";
  for (const auto d : Net::input_shape::dims) b.graph.input_dims.push_back(std::int64_t(d));
  for (const auto d : Net::output_shape::dims) b.graph.output_dims.push_back(std::int64_t(d));
  return b.graph;
}

// ---- writing ----------------------------------------------------------------------------------------

inline pb::Writer value_info(const std::string& name, const std::vector<std::int64_t>& dims) {
  pb::Writer shape;
  pb::Writer batch;
  batch.bytes(2, "batch");  // dim_param
  shape.message(1, batch);
  for (const auto d : dims) {
    pb::Writer dim;
    dim.integer(1, d);  // dim_value
    shape.message(1, dim);
  }
  pb::Writer tensor;
  tensor.integer(1, 1);  // elem_type FLOAT
  tensor.message(2, shape);
  pb::Writer type;
  type.message(1, tensor);
  pb::Writer vi;
  vi.bytes(1, name);
  vi.message(2, type);
  return vi;
}

template <class D>
std::string serialize(const Graph& g) {
  pb::Writer graph;
  for (const auto& n : g.nodes) {
    pb::Writer node;
    for (const auto& i : n.inputs) node.bytes(1, i);
    for (const auto& o : n.outputs) node.bytes(2, o);
    node.bytes(3, n.name);
    node.bytes(4, n.op);
    for (const auto& a : n.attributes) {
      pb::Writer attr;
      attr.bytes(1, a.name);
      if (a.type == Attribute::Type::f) attr.f32(2, a.f);
      else if (a.type == Attribute::Type::i) attr.integer(3, a.i);
      else attr.packed(8, a.ints);
      attr.integer(20, static_cast<std::int64_t>(a.type));
      node.message(5, attr);
    }
    graph.message(1, node);
  }
  graph.bytes(2, "ctnn");
  std::vector<float> host;
  std::string raw;
  for (const auto& init : g.initializers) {
    pb::Writer t;
    if (!init.dims.empty()) t.packed(1, init.dims);
    t.integer(2, 1);  // FLOAT
    t.bytes(8, init.name);
    if (init.source) {
      host.resize(init.size);
      D::download(host.data(), init.source, init.size * sizeof(float));
    } else {
      host = init.values;
    }
    raw.resize(host.size() * 4);
    for (std::size_t i = 0; i < host.size(); ++i) {
      const std::uint32_t v = std::bit_cast<std::uint32_t>(host[i]);
      for (int k = 0; k < 4; ++k) raw[i * 4 + std::size_t(k)] = static_cast<char>(v >> (8 * k));
    }
    t.bytes(9, raw);  // raw_data, little-endian
    graph.message(5, t);
  }
  graph.message(11, value_info(g.input, g.input_dims));
  graph.message(12, value_info(g.output, g.output_dims));
  pb::Writer opset;
  opset.bytes(1, "");
  opset.integer(2, 17);
  pb::Writer model;
  model.integer(1, 8);  // IR version 8 (ONNX 1.13+, opset 17)
  model.bytes(2, "ctnn");
  model.bytes(3, "0.1");
  model.message(7, graph);
  model.message(8, opset);
  return model.str();
}

// ---- reading ----------------------------------------------------------------------------------------

struct FileGraph {
  std::vector<Node> nodes;
  std::map<std::string, Initializer> initializers;
  std::vector<std::size_t> node_offsets;
  std::int64_t opset = 0;
};

inline std::string text(std::string_view v) { return std::string(v); }

inline FileGraph read(const std::vector<unsigned char>& bytes, const std::string& path) {
  const std::string who = "ctnn::io: ONNX '" + path + "'";
  pb::Reader model(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), who, 0);
  FileGraph g;
  pb::Field f;
  bool graph_seen = false;
  while (model.next(f)) {
    if (f.number == 8 && f.wire == 2) {  // opset_import
      pb::Reader r = model.sub(f);
      pb::Field o;
      std::string domain;
      std::int64_t version = 0;
      while (r.next(o)) {
        if (o.number == 1 && o.wire == 2) domain = text(o.bytes);
        if (o.number == 2 && o.wire == 0) version = static_cast<std::int64_t>(o.value);
      }
      if (domain.empty() || domain == "ai.onnx") g.opset = version;
    }
    if (f.number != 7 || f.wire != 2) continue;
    graph_seen = true;
    pb::Reader graph = model.sub(f);
    pb::Field gf;
    while (graph.next(gf)) {
      if (gf.wire != 2) continue;
      if (gf.number == 1) {  // node
        Node n;
        pb::Reader r = graph.sub(gf);
        pb::Field nf;
        while (r.next(nf)) {
          if (nf.number == 1 && nf.wire == 2) n.inputs.push_back(text(nf.bytes));
          else if (nf.number == 2 && nf.wire == 2) n.outputs.push_back(text(nf.bytes));
          else if (nf.number == 3 && nf.wire == 2) n.name = text(nf.bytes);
          else if (nf.number == 4 && nf.wire == 2) n.op = text(nf.bytes);
          else if (nf.number == 5 && nf.wire == 2) {
            Attribute a;
            pb::Reader ar = r.sub(nf);
            pb::Field af;
            while (ar.next(af)) {
              if (af.number == 1 && af.wire == 2) a.name = text(af.bytes);
              else if (af.number == 2 && af.wire == 5) a.f = pb::Reader::as_f32(af);
              else if (af.number == 3 && af.wire == 0) a.i = static_cast<std::int64_t>(af.value);
              else if (af.number == 8) pb::Reader::append_ints(af, a.ints, ar);
              else if (af.number == 20 && af.wire == 0) a.type = static_cast<Attribute::Type>(af.value);
            }
            n.attributes.push_back(std::move(a));
          }
        }
        g.node_offsets.push_back(gf.offset);
        g.nodes.push_back(std::move(n));
      } else if (gf.number == 5) {  // initializer
        Initializer init;
        pb::Reader r = graph.sub(gf);
        pb::Field tf;
        std::int64_t type = 0;
        std::string_view raw;
        std::vector<float> floats;
        while (r.next(tf)) {
          if (tf.number == 1) pb::Reader::append_ints(tf, init.dims, r);
          else if (tf.number == 2 && tf.wire == 0) type = static_cast<std::int64_t>(tf.value);
          else if (tf.number == 8 && tf.wire == 2) init.name = text(tf.bytes);
          else if (tf.number == 9 && tf.wire == 2) raw = tf.bytes;
          else if (tf.number == 4 && tf.wire == 5) floats.push_back(pb::Reader::as_f32(tf));
          else if (tf.number == 4 && tf.wire == 2) {
            for (std::size_t i = 0; i + 4 <= tf.bytes.size(); i += 4) {
              pb::Field one;
              one.bytes = tf.bytes.substr(i, 4);
              floats.push_back(pb::Reader::as_f32(one));
            }
          }
        }
        if (type != 1)
          ctnn::detail::fail(who, ": initializer '", detail::printable(init.name), "' at byte offset ", gf.offset,
                             " has data type ", type, "; ctnn reads FLOAT (1) weights");
        std::size_t n = 1;
        for (const auto d : init.dims) {
          if (d < 0) ctnn::detail::fail(who, ": initializer '", detail::printable(init.name), "' has a negative dimension");
          n *= static_cast<std::size_t>(d);
        }
        if (!raw.empty()) {
          if (raw.size() != n * 4)
            ctnn::detail::fail(who, ": initializer '", detail::printable(init.name), "' at byte offset ", gf.offset, " holds ",
                               raw.size(), " bytes of raw data but its dimensions need ", n * 4);
          init.values.resize(n);
          for (std::size_t i = 0; i < n; ++i) {
            pb::Field one;
            one.bytes = raw.substr(i * 4, 4);
            init.values[i] = pb::Reader::as_f32(one);
          }
        } else {
          if (floats.size() != n)
            ctnn::detail::fail(who, ": initializer '", detail::printable(init.name), "' holds ", floats.size(),
                               " values but its dimensions need ", n);
          init.values = std::move(floats);
        }
        const std::string name = init.name;
        g.initializers[name] = std::move(init);
      }
    }
  }
  if (!graph_seen) ctnn::detail::fail(who, " holds no graph (ModelProto field 7): not an ONNX model");
  return g;
}

}  // namespace onnx

template <CheckpointNetwork Net>
void export_onnx(const std::string& path, const Net& net) {
  const onnx::Graph g = onnx::graph_of(net);
  const std::string bytes = onnx::serialize<typename Net::device>(g);
  AtomicFileWriter file(path, "ONNX model");
  file.write(bytes.data(), bytes.size());
  file.commit();
}

// Loads the weights of an ONNX model whose graph is the one `net`'s type exports (see the top).
template <CheckpointNetwork Net>
void import_onnx(const std::string& path, Net& net) {
  using D = typename Net::device;
  const std::string who = "ctnn::io: ONNX '" + path + "'";
  const onnx::FileGraph file = onnx::read(read_file(path, "ONNX model"), path);
  const onnx::Graph want = onnx::graph_of(std::as_const(net));
  if (file.opset && file.opset < 13)
    ctnn::detail::fail(who, " uses opset ", file.opset, "; ctnn reads opset 13 or later");
  // Where every value comes from: the graph input, the output of node k, or an initializer.
  auto producers = [](const std::vector<onnx::Node>& nodes, const std::string& input) {
    std::map<std::string, std::ptrdiff_t> p{{input, -1}};
    for (std::size_t k = 0; k < nodes.size(); ++k)
      for (const auto& o : nodes[k].outputs) p[o] = std::ptrdiff_t(k);
    return p;
  };
  const auto want_from = producers(want.nodes, want.input);
  std::string file_input;
  for (const auto& n : file.nodes)
    for (const auto& i : n.inputs)
      if (!file_input.size() && !file.initializers.count(i)) {
        bool produced = false;
        for (const auto& m : file.nodes)
          for (const auto& o : m.outputs) produced |= o == i;
        if (!produced) file_input = i;
      }
  const auto file_from = producers(file.nodes, file_input);
  std::vector<std::pair<const onnx::Initializer*, const onnx::Initializer*>> loads;  // (network, file)
  const std::size_t count = std::max(want.nodes.size(), file.nodes.size());
  for (std::size_t k = 0; k < count; ++k) {
    const std::string where = k < file.nodes.size()
        ? ctnn::detail::cat("node ", k, " ('", detail::printable(file.nodes[k].name), "', byte offset ", file.node_offsets[k], ")")
        : ctnn::detail::cat("node ", k);
    if (k >= file.nodes.size())
      ctnn::detail::fail(who, ": the file ends after ", file.nodes.size(), " nodes; the network expects ", want.nodes.size(),
                         " (the next is ", want.nodes[k].op, ")");
    if (k >= want.nodes.size())
      ctnn::detail::fail(who, ": ", where, " is ", detail::printable(file.nodes[k].op), " but the network ends after ",
                         want.nodes.size(), " nodes");
    const onnx::Node& a = want.nodes[k];
    const onnx::Node& b = file.nodes[k];
    if (a.op != b.op)
      ctnn::detail::fail(who, ": ", where, " is ", detail::printable(b.op), " in the file but the network expects ", a.op);
    if (a.inputs.size() != b.inputs.size())
      ctnn::detail::fail(who, ": ", where, " (", a.op, ") has ", b.inputs.size(), " inputs in the file but ", a.inputs.size(),
                         " in the network");
    for (const auto& attr : a.attributes) {
      const onnx::Attribute* got = nullptr;
      for (const auto& x : b.attributes)
        if (x.name == attr.name) got = &x;
      const bool same = got && got->type == attr.type &&
                        (attr.type == onnx::Attribute::Type::f ? std::abs(got->f - attr.f) <= 1e-6f * std::abs(attr.f)
                                                               : (got->i == attr.i && got->ints == attr.ints));
      if (!same)
        ctnn::detail::fail(who, ": ", where, " (", a.op, ") has another attribute '", attr.name, "' than the network's");
    }
    for (std::size_t j = 0; j < a.inputs.size(); ++j) {
      const auto wi = want_from.find(a.inputs[j]);
      const bool want_init = wi == want_from.end();
      const auto fi = file_from.find(b.inputs[j]);
      const auto finit = file.initializers.find(b.inputs[j]);
      if (want_init) {
        if (finit == file.initializers.end())
          ctnn::detail::fail(who, ": ", where, " (", a.op, "): input ", j, " is not an initializer in the file; the network "
                             "expects the weight '", a.inputs[j], "'");
        const onnx::Initializer* w = nullptr;
        for (const auto& init : want.initializers)
          if (init.name == a.inputs[j]) w = &init;
        if (w->dims != finit->second.dims && !(w->dims.empty() && finit->second.values.size() == 1))
          ctnn::detail::fail(who, ": ", where, " (", a.op, "): the initializer '", detail::printable(finit->first),
                             "' has other dimensions than the network's '", w->name, "'");
        if (!w->source && finit->second.values != w->values)
          ctnn::detail::fail(who, ": ", where, " (", a.op, "): the constant '", detail::printable(finit->first),
                             "' differs from the network's");
        if (w->source) loads.emplace_back(w, &finit->second);
      } else if (fi == file_from.end() || fi->second != wi->second) {
        auto from = [](std::ptrdiff_t k) { return k < 0 ? std::string("the graph input") : "node " + std::to_string(k); };
        ctnn::detail::fail(who, ": ", where, " (", a.op, "): input ", j, " comes from ",
                           fi == file_from.end() ? std::string("an initializer") : from(fi->second), " in the file but from ",
                           from(wi->second), " in the network");
      }
    }
  }
  for (const auto& [w, f] : loads) D::upload(const_cast<float*>(w->source), f->values.data(), w->size * sizeof(float));
}

}  // namespace ctnn::io
