#pragma once
// CPU fully connected layer: y = x * w^T + b with w of shape [out, in]. Rows of the batch (and,
// in backward, rows of the weight gradient) are split over threads.

#include <algorithm>
#include <cstddef>

#include "../../core/config.hpp"
#include "../../core/threading.hpp"
#include "gemm.hpp"

namespace ctnn::backend::cpu {

class Linear {
public:
  Linear(std::size_t in, std::size_t out, std::size_t max_batch);

  void forward(const float* x, const float* w, const float* b, float* y, std::size_t batch);

  void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                std::size_t batch);

private:
  std::size_t in_, out_;
};

}  // namespace ctnn::backend::cpu

#if CTNN_HEADER_DEFINITIONS
#include "impl/linear.ipp"
#endif
