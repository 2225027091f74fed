#pragma once
// Every built-in layer spec, and the layer concept.

#include "layers/activation.hpp"
#include "layers/batchnorm.hpp"
#include "layers/conv.hpp"
#include "layers/dropout.hpp"
#include "layers/flatten.hpp"
#include "layers/identity.hpp"
#include "layers/layer.hpp"
#include "layers/linear.hpp"
#include "layers/pool.hpp"
#include "layers/residual.hpp"
#include "layers/sequential.hpp"
