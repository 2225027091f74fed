#pragma once
// ctnn::expr: lazy element-wise expressions over tensors of one shape, per-channel vectors and
// scalars, evaluated in one pass by assign(dst, expression).
//
//   expr::assign(y, expr::relu(x * expr::channel(scale) + expr::channel(shift)));

#include "expr/cpu_eval.hpp"
#include "expr/nodes.hpp"
