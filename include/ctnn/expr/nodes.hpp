#pragma once
// Expression nodes: small trivially copyable structs that describe element-wise work lazily.
// A node is evaluated at flat element index i of a tensor whose element i lies in channel c:
//   node(i, c)
// Leaves read a tensor (element i), a per-channel vector (element c) or a scalar. Nodes hold raw
// pointers only, so the same expression runs in a CPU loop or inside a CUDA kernel.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../core/config.hpp"
#include "../core/tensor.hpp"

namespace ctnn::expr {

struct node_tag {};

template <class T>
concept Node = std::is_base_of_v<node_tag, std::remove_cvref_t<T>>;

// ---- leaves ---------------------------------------------------------------------------------

// The type arithmetic on stored T values runs in: T itself, except 16-bit floating-point types,
// which a device header maps to float (backend/cuda/mixed.hpp), so that bf16 activations combine
// with float parameters and scalars and every expression computes in float.
template <class T>
struct compute_type {
  using type = T;
};
template <class T>
using compute_t = typename compute_type<T>::type;

template <class T>
struct TensorLeaf : node_tag {
  const T* p;
  CTNN_HD compute_t<T> operator()(std::size_t i, std::size_t) const { return static_cast<compute_t<T>>(p[i]); }
};

template <class T>
struct ChannelLeaf : node_tag {
  const T* p;
  CTNN_HD compute_t<T> operator()(std::size_t, std::size_t c) const { return static_cast<compute_t<T>>(p[c]); }
};

template <class T>
struct ScalarLeaf : node_tag {
  T v;
  CTNN_HD T operator()(std::size_t, std::size_t) const { return v; }
};

// A per-channel vector: channel(ptr) reads ptr[c] for an element in channel c.
template <class T>
ChannelLeaf<T> channel(const T* p) { return {{}, p}; }
template <ShapeType S, class D, class T>
ChannelLeaf<T> channel(const Tensor<S, D, T>& t) { return {{}, t.data()}; }

template <class T>
ScalarLeaf<T> scalar(T v) { return {{}, v}; }

// Uniform random numbers in [0, 1) (24 random bits), a pure function of (seed, i): the same seed
// gives the same value at element i in every pass and on every device, so a dropout mask is
// recomputed in backward instead of stored. splitmix64 of the element's counter.
struct RandomLeaf : node_tag {
  std::uint64_t seed;
  CTNN_HD float operator()(std::size_t i, std::size_t) const {
    std::uint64_t z = seed + (static_cast<std::uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * 0x1.0p-24f;
  }
};
inline RandomLeaf uniform_random(std::uint64_t seed) { return {{}, seed}; }

// ---- operations -----------------------------------------------------------------------------

namespace op {
struct add { template <class T> CTNN_HD static T apply(T a, T b) { return a + b; } };
struct sub { template <class T> CTNN_HD static T apply(T a, T b) { return a - b; } };
struct mul { template <class T> CTNN_HD static T apply(T a, T b) { return a * b; } };
struct div { template <class T> CTNN_HD static T apply(T a, T b) { return a / b; } };
struct max { template <class T> CTNN_HD static T apply(T a, T b) { return a > b ? a : b; } };
struct min { template <class T> CTNN_HD static T apply(T a, T b) { return a < b ? a : b; } };
// 1 where a > b, else 0 (masks such as the ReLU derivative).
struct greater { template <class T> CTNN_HD static T apply(T a, T b) { return a > b ? T(1) : T(0); } };
struct greater_equal { template <class T> CTNN_HD static T apply(T a, T b) { return a >= b ? T(1) : T(0); } };

struct neg { template <class T> CTNN_HD static T apply(T a) { return -a; } };
struct relu { template <class T> CTNN_HD static T apply(T a) { return a > T(0) ? a : T(0); } };
struct square { template <class T> CTNN_HD static T apply(T a) { return a * a; } };
struct sqrt { template <class T> CTNN_HD static T apply(T a) { return std::sqrt(a); } };
struct exp { template <class T> CTNN_HD static T apply(T a) { return std::exp(a); } };
struct log { template <class T> CTNN_HD static T apply(T a) { return std::log(a); } };
struct abs { template <class T> CTNN_HD static T apply(T a) { return a < T(0) ? -a : a; } };
template <class To>
struct convert { template <class T> CTNN_HD static To apply(T a) { return static_cast<To>(a); } };
struct tanh { template <class T> CTNN_HD static T apply(T a) { return std::tanh(a); } };
struct erf { template <class T> CTNN_HD static T apply(T a) { return std::erf(a); } };
// 1 / (1 + exp(-a)): exp overflows to infinity for a very negative a, and the quotient is then 0.
struct sigmoid { template <class T> CTNN_HD static T apply(T a) { return T(1) / (T(1) + std::exp(-a)); } };
}  // namespace op

template <class Op, class A>
struct Unary : node_tag {
  A a;
  CTNN_HD auto operator()(std::size_t i, std::size_t c) const { return Op::apply(a(i, c)); }
};

template <class Op, class A, class B>
struct Binary : node_tag {
  A a;
  B b;
  CTNN_HD auto operator()(std::size_t i, std::size_t c) const { return Op::apply(a(i, c), b(i, c)); }
};

// cond != 0 ? a : b
template <class C, class A, class B>
struct Select : node_tag {
  C cond;
  A a;
  B b;
  CTNN_HD auto operator()(std::size_t i, std::size_t c) const {
    return cond(i, c) != 0 ? a(i, c) : b(i, c);
  }
};

// ---- lifting operands into nodes ------------------------------------------------------------

template <class T>
concept Operand = Node<T> || is_tensor_v<T> || std::is_arithmetic_v<std::remove_cvref_t<T>>;

// At least one side must be a node or a tensor, so plain arithmetic is never hijacked.
template <class A, class B>
concept OperandPair = Operand<A> && Operand<B> &&
                      (Node<A> || Node<B> || is_tensor_v<A> || is_tensor_v<B>);

template <class X>
auto lift(const X& x) {
  if constexpr (Node<X>) {
    return x;
  } else if constexpr (is_tensor_v<X>) {
    return TensorLeaf<typename X::value_type>{{}, x.data()};
  } else {
    return ScalarLeaf<float>{{}, static_cast<float>(x)};
  }
}

template <class X>
using lifted_t = decltype(lift(std::declval<const X&>()));

template <class Op, class A, class B>
auto make_binary(const A& a, const B& b) {
  return Binary<Op, lifted_t<A>, lifted_t<B>>{{}, lift(a), lift(b)};
}
template <class Op, class A>
auto make_unary(const A& a) {
  return Unary<Op, lifted_t<A>>{{}, lift(a)};
}

template <Operand A> auto relu(const A& a) { return make_unary<op::relu>(a); }
template <Operand A> auto square(const A& a) { return make_unary<op::square>(a); }
template <Operand A> auto sqrt(const A& a) { return make_unary<op::sqrt>(a); }
template <Operand A> auto exp(const A& a) { return make_unary<op::exp>(a); }
template <Operand A> auto log(const A& a) { return make_unary<op::log>(a); }
template <Operand A> auto abs(const A& a) { return make_unary<op::abs>(a); }
// a's value converted to To (mixing float and double operands needs it: as<float>(sums)).
template <class To, Operand A> auto as(const A& a) { return make_unary<op::convert<To>>(a); }
template <Operand A> auto tanh(const A& a) { return make_unary<op::tanh>(a); }
template <Operand A> auto erf(const A& a) { return make_unary<op::erf>(a); }
template <Operand A> auto sigmoid(const A& a) { return make_unary<op::sigmoid>(a); }
template <Operand A, Operand B> auto max(const A& a, const B& b) { return make_binary<op::max>(a, b); }
template <Operand A, Operand B> auto min(const A& a, const B& b) { return make_binary<op::min>(a, b); }
template <Operand A, Operand B> auto greater(const A& a, const B& b) { return make_binary<op::greater>(a, b); }
template <Operand A, Operand B> auto greater_equal(const A& a, const B& b) { return make_binary<op::greater_equal>(a, b); }
template <Operand C, Operand A, Operand B>
auto select(const C& c, const A& a, const B& b) {
  return Select<lifted_t<C>, lifted_t<A>, lifted_t<B>>{{}, lift(c), lift(a), lift(b)};
}

}  // namespace ctnn::expr

// Arithmetic operators live in ctnn so that argument-dependent lookup finds them for both
// tensors and nodes.
namespace ctnn {
template <class A, class B> requires expr::OperandPair<A, B>
auto operator+(const A& a, const B& b) { return expr::make_binary<expr::op::add>(a, b); }
template <class A, class B> requires expr::OperandPair<A, B>
auto operator-(const A& a, const B& b) { return expr::make_binary<expr::op::sub>(a, b); }
template <class A, class B> requires expr::OperandPair<A, B>
auto operator*(const A& a, const B& b) { return expr::make_binary<expr::op::mul>(a, b); }
template <class A, class B> requires expr::OperandPair<A, B>
auto operator/(const A& a, const B& b) { return expr::make_binary<expr::op::div>(a, b); }
template <class A> requires(expr::Node<A> || is_tensor_v<A>)
auto operator-(const A& a) { return expr::make_unary<expr::op::neg>(a); }
}  // namespace ctnn

namespace ctnn::expr {
// Nodes live in ctnn::expr; bring the operators into that namespace's lookup too.
using ctnn::operator+;
using ctnn::operator-;
using ctnn::operator*;
using ctnn::operator/;
}  // namespace ctnn::expr
