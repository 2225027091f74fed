#pragma once
// ctnn::summary<Spec, InShape>(): a per-layer table in the spirit of torchinfo.
//
//   std::cout << ctnn::summary<ctnn::ResNet18<10>, ctnn::Shape<3, 32, 32>>();
//
// One row per layer; composite layers (Seq, Residual, BasicBlock, Bottleneck, ResNet stages) are
// rows with their own totals and their children indented below them. Columns: output shape,
// parameters, multiply-adds per sample and activation bytes per sample (output size x 4 bytes: the
// float32 buffer the layer writes). Every number is a compile-time constant (output_shape_t,
// parameter_count_v, macs_v, activation_bytes_v); only the formatting happens at run time.

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <ostream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/shape.hpp"
#include "core/wiring.hpp"
#include "layers/identity.hpp"
#include "layers/layer.hpp"
#include "layers/residual.hpp"
#include "layers/sequential.hpp"

namespace ctnn {

namespace detail {

template <class Spec>
concept HasCombine = requires { Spec::combine_name(); };

template <class Spec, class In>
constexpr std::size_t activation_bytes_of();

template <class Spec, class Children>
struct children_activation_bytes;
template <class Spec, class... C>
struct children_activation_bytes<Spec, std::tuple<C...>> {
  static constexpr std::size_t value = (std::size_t{0} + ... + activation_bytes_of<typename C::spec, typename C::input>());
};

// Bytes per sample of the buffers a spec writes: output size x sizeof(float) for a leaf (nothing
// for Identity, which passes its input through), the sum over the children for a composite, plus
// its own output when it has work of its own (Residual's add).
template <class Spec, class In>
constexpr std::size_t activation_bytes_of() {
  if constexpr (std::is_same_v<In, wiring::unreached> || std::is_same_v<Spec, Identity>) {
    return 0;
  } else if constexpr (CompositeSpec<Spec, In>) {
    std::size_t own = 0;
    if constexpr (HasCombine<Spec>) own = ctnn::detail::output_t<Spec, In>::size * sizeof(float);
    return children_activation_bytes<Spec, typename Spec::template children<In>>::value + own;
  } else {
    return ctnn::detail::output_t<Spec, In>::size * sizeof(float);
  }
}

}  // namespace detail

// Bytes of activations one sample produces in a forward pass through Spec (see summary()).
template <class Spec, class In>
inline constexpr std::size_t activation_bytes_v = detail::activation_bytes_of<Spec, In>();

namespace detail::summary_impl {

struct Row {
  std::size_t depth = 0;
  std::string name;
  std::string shape;
  std::size_t params = 0;
  std::size_t macs = 0;
  std::size_t bytes = 0;
};

template <class T>
struct is_seq : std::false_type {};
template <class... Ls>
struct is_seq<Seq<Ls...>> : std::true_type {};
template <class T>
struct is_residual : std::false_type {};
template <class M, class S, class A>
struct is_residual<Residual<M, S, A>> : std::true_type {};

// A plain Seq or Residual is named by its kind (its children follow); a named composite such as
// BasicBlock<64,128,2> or ResNet18<10>, and every leaf, by layer_name().
template <class Spec>
std::string display_name() {
  if constexpr (is_seq<Spec>::value)
    return "Seq";
  else if constexpr (is_residual<Spec>::value)
    return "Residual";
  else
    return layer_name<Spec>();
}

template <class Spec>
std::string role_of(std::size_t i) {
  if constexpr (requires { Spec::child_roles; }) {
    if (i < Spec::child_roles.size()) return std::string(Spec::child_roles[i]) + ": ";
  }
  return {};
}

template <class Spec, class In>
void collect(std::vector<Row>& rows, std::size_t depth, const std::string& label) {
  using Out = ctnn::detail::output_t<Spec, In>;
  rows.push_back(Row{depth, label + display_name<Spec>(), Out::str(), ctnn::detail::parameter_count_of<Spec, In>(), ctnn::detail::macs_of<Spec, In>(),
                     activation_bytes_v<Spec, In>});
  if constexpr (CompositeSpec<Spec, In>) {
    using Children = typename Spec::template children<In>;
    std::size_t child_params = 0, child_macs = 0;
    [&]<class... C>(std::type_identity<std::tuple<C...>>) {
      std::size_t i = 0;
      ((collect<typename C::spec, typename C::input>(rows, depth + 1, role_of<Spec>(i++)),
        child_params += ctnn::detail::parameter_count_of<typename C::spec, typename C::input>(),
        child_macs += ctnn::detail::macs_of<typename C::spec, typename C::input>()),
       ...);
    }(std::type_identity<Children>{});
    if constexpr (HasCombine<Spec>) {
      constexpr std::size_t own_bytes = Out::size * sizeof(float);
      rows.push_back(Row{depth + 1, Spec::combine_name(), Out::str(), ctnn::detail::parameter_count_of<Spec, In>() - child_params,
                         ctnn::detail::macs_of<Spec, In>() - child_macs, own_bytes});
    }
  }
}

// 1234567 -> "1,234,567"
inline std::string thousands(std::size_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// 44695848 -> "44.70 MB" (decimal units, as torchinfo)
inline std::string human_bytes(std::size_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  const char* units[] = {"kB", "MB", "GB", "TB"};
  std::size_t scale = 1000;
  std::size_t u = 0;
  while (u + 1 < std::size(units) && bytes >= scale * 1000) {
    scale *= 1000;
    ++u;
  }
  const std::size_t hundredths = (bytes * 100 + scale / 2) / scale;
  const char frac[] = {'.', static_cast<char>('0' + hundredths % 100 / 10), static_cast<char>('0' + hundredths % 10), ' ',
                       '\0'};
  return thousands(hundredths / 100) + frac + units[u];
}

inline std::string pad_right(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}
inline std::string pad_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

inline std::string render(const std::string& title, const std::vector<Row>& rows, std::size_t in_size,
                          std::size_t params, std::size_t macs, std::size_t bytes) {
  const std::array<std::string, 5> header{"Layer", "Output shape", "Parameters", "Multiply-adds",
                                          "Activation bytes"};
  std::vector<std::array<std::string, 5>> cells;
  cells.reserve(rows.size());
  for (const auto& r : rows)
    cells.push_back({std::string(2 * r.depth, ' ') + r.name, r.shape, thousands(r.params), thousands(r.macs),
                     thousands(r.bytes)});

  std::array<std::size_t, 5> width{};
  for (std::size_t c = 0; c < 5; ++c) {
    width[c] = header[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  constexpr const char* gap = "   ";
  std::size_t total_width = 0;
  for (auto w : width) total_width += w;
  total_width += 3 * (width.size() - 1);

  auto line = [&](const std::array<std::string, 5>& row) {
    std::string s = pad_right(row[0], width[0]) + gap + pad_right(row[1], width[1]);
    for (std::size_t c = 2; c < 5; ++c) s += gap + pad_left(row[c], width[c]);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + '\n';
  };

  std::string out = title + '\n';
  out += std::string(total_width, '=') + '\n';
  out += line(header);
  out += std::string(total_width, '-') + '\n';
  for (const auto& row : cells) out += line(row);
  out += std::string(total_width, '=') + '\n';

  const std::array<std::pair<std::string, std::string>, 6> totals{{
      {"Total parameters:", thousands(params)},
      {"Total multiply-adds per sample:", thousands(macs)},
      {"Total activation bytes per sample:", thousands(bytes)},
      {"Input bytes per sample:", thousands(in_size * sizeof(float))},
      {"Parameter size (float32):", human_bytes(params * sizeof(float))},
      {"Activation size per sample:", human_bytes(bytes)},
  }};
  std::size_t label_width = 0, value_width = 0;
  for (const auto& [label, value] : totals) {
    label_width = std::max(label_width, label.size());
    value_width = std::max(value_width, value.size());
  }
  for (const auto& [label, value] : totals) out += pad_right(label, label_width) + "  " + pad_left(value, value_width) + '\n';
  out += std::string(total_width, '=') + '\n';
  return out;
}

}  // namespace detail::summary_impl

// The per-layer table of Spec on a per-sample input of shape InShape.
template <class Spec, ShapeType InShape>
std::string summary() {
  static_assert(sizeof(detail::checked<Spec, InShape>) > 0);  // reports a wiring error, once, with its path
  std::vector<detail::summary_impl::Row> rows;
  detail::summary_impl::collect<Spec, InShape>(rows, 0, "");
  return detail::summary_impl::render(
      "ctnn::summary: " + layer_name<Spec>() + " on input " + InShape::str() + " (per sample)", rows, InShape::size,
      parameter_count_v<Spec, InShape>, macs_v<Spec, InShape>, activation_bytes_v<Spec, InShape>);
}

// Writes summary<Spec, InShape>() to os.
template <class Spec, ShapeType InShape>
std::ostream& summary(std::ostream& os) {
  return os << summary<Spec, InShape>();
}

// The table of a built network, followed by the bytes it holds by role (Network::memory(): the
// memory plan at its max_batch).
template <class Net>
  requires requires(const Net& n) {
    typename Net::spec;
    typename Net::input_shape;
    n.memory();
    n.max_batch();
  }
std::string summary(const Net& net) {
  std::string s = summary<typename Net::spec, typename Net::input_shape>();
  s += "Memory at max_batch ";
  s += std::to_string(net.max_batch());
  s += ":\n";
  s += net.memory().table();
  return s;
}

}  // namespace ctnn
