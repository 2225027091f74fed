#pragma once
// ctnn::expr: lazy element-wise expressions over tensors of one shape, per-channel vectors and
// scalars, evaluated in one pass by assign(dst, expression) on whatever device dst lives on.
//
//   expr::assign(y, expr::relu(x * expr::channel(scale) + expr::channel(shift)));
//
// The nodes (nodes.hpp) know nothing about devices; evaluator.hpp dispatches each pass to the
// backend of the destination's device.

#include "expr/evaluator.hpp"
#include "expr/nodes.hpp"
