// custom_network: writing your own layers and composing them with ctnn's built-in ones.
//
// Two user-written layer specs follow the layer concept (include/ctnn/layers/layer.hpp):
//   Scale<C>  a learnable per-channel affine map y = gamma[c] * x + beta[c] (parameters, gradients,
//             a wiring check, parameter and MAC counts for ctnn::summary)
//   Swish     the activation y = x * sigmoid(x), forward and backward written with ctnn::expr
// They sit in a small network for 1 x 28 x 20 images, which is trained for a few steps of plain
// SGD (w -= lr * g, by hand) on a synthetic three-class stripes task; the loss falls.

#include <ctnn/ctnn.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace my {

// ---- a learnable layer -------------------------------------------------------------------------
template <std::size_t C>
struct Scale {
  static std::string name() { return "Scale<" + std::to_string(C) + ">"; }

  // Wiring check: the same mechanism as the built-in layers, so Seq<Conv<1, 8>, Scale<16>> fails
  // to compile with "channel mismatch", where<seq_position<1>> and channel_count<my::Scale<16>,
  // expects<16>, input_has<8>>.
  template <class X>
  using checks = ctnn::wiring::checks<
      ctnn::wiring::channel_count<Scale, ctnn::wiring::expects<C>, ctnn::wiring::input_has<X::template dim<0>>>>;
  template <class X>
  using output = X;

  template <class X>
  static constexpr std::size_t parameter_count = 2 * C;
  template <class X>
  static constexpr std::size_t macs = X::size;

  template <class X, class D>
  class layer {
  public:
    using input_type = ctnn::Tensor<X, D>;
    using output_type = ctnn::Tensor<X, D>;
    using vector_type = ctnn::Tensor<ctnn::Shape<C>, D>;

    layer(std::size_t max_batch, ctnn::Rng&)
        : gamma_(1), beta_(1), dgamma_(1), dbeta_(1), y_(max_batch), dx_(max_batch) {
      ctnn::init::constant(gamma_, 1.f);
      ctnn::init::constant(beta_, 0.f);
      dgamma_.zero();
      dbeta_.zero();
    }

    const output_type& forward(const input_type& x, ctnn::Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      ctnn::expr::assign(y_, x * ctnn::expr::channel(gamma_) + ctnn::expr::channel(beta_));
      return y_;
    }

    // Accumulates dgamma[c] += sum(dy * x) and dbeta[c] += sum(dy) over the batch and the spatial
    // positions of channel c; dx = dy * gamma[c].
    const input_type& backward(const output_type& dy, bool need_dx = true) {
      double sums[C];
      ctnn::expr::sum_per_channel<X>(sums, dy.batch(), dy * *x_);
      for (std::size_t c = 0; c < C; ++c) dgamma_.data()[c] += static_cast<float>(sums[c]);
      ctnn::expr::sum_per_channel<X>(sums, dy.batch(), dy);
      for (std::size_t c = 0; c < C; ++c) dbeta_.data()[c] += static_cast<float>(sums[c]);
      dx_.set_batch(dy.batch());
      if (need_dx) ctnn::expr::assign(dx_, dy * ctnn::expr::channel(gamma_));
      return dx_;
    }

    // Parameters are named by their path through the network: "1.weight", "1.bias", ...
    void collect(ctnn::Collector& c) {
      c.parameter("weight", gamma_.data(), dgamma_.data(), C, ctnn::ParamKind::norm_weight);
      c.parameter("bias", beta_.data(), dbeta_.data(), C, ctnn::ParamKind::norm_bias);
    }

  private:
    vector_type gamma_, beta_, dgamma_, dbeta_;
    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
  };
};

// ---- an activation written with expression templates ---------------------------------------------
struct Swish {
  static std::string name() { return "Swish"; }

  template <class X>
  using output = X;  // any shape; nothing to check

  template <class X, class D>
  class layer {
  public:
    using input_type = ctnn::Tensor<X, D>;
    using output_type = ctnn::Tensor<X, D>;

    layer(std::size_t max_batch, ctnn::Rng&) : y_(max_batch), dx_(max_batch) {}

    // y = x * s with s = sigmoid(x) = 1 / (1 + exp(-x)): one fused pass.
    const output_type& forward(const input_type& x, ctnn::Mode) {
      x_ = &x;
      y_.set_batch(x.batch());
      ctnn::expr::assign(y_, x * sigmoid(x));
      return y_;
    }

    // dy/dx = s + x * s * (1 - s) = s + y * (1 - s): one fused pass from the saved input and output.
    const input_type& backward(const output_type& dy, bool need_dx = true) {
      dx_.set_batch(dy.batch());
      if (need_dx) {
        const auto s = sigmoid(*x_);
        ctnn::expr::assign(dx_, dy * (s + y_ * (1.f - s)));
      }
      return dx_;
    }

  private:
    static auto sigmoid(const input_type& x) { return 1.f / (1.f + ctnn::expr::exp(-x)); }

    output_type y_;
    input_type dx_;
    const input_type* x_ = nullptr;
  };
};

}  // namespace my

namespace {

using namespace ctnn;

constexpr std::size_t classes = 3;
using In = Shape<1, 28, 20>;  // one channel, 28 rows, 20 columns
using Net = Seq<Conv<1, 8>, my::Scale<8>, my::Swish, MaxPool<2>,                // 8 x 14 x 10
                Conv<8, 16, 3, 2>, BatchNorm<16>, my::Swish,                      // 16 x 7 x 5
                GlobalAvgPool, Flatten, Linear<16, classes>>;
static_assert(std::is_same_v<output_shape_t<Net, In>, Shape<classes>>);
// The user layers meet the layer concept like the built-in ones.
static_assert(ctnn::LayerSpec<my::Scale<8>, Shape<8, 28, 20>> && ctnn::LayerSpec<my::Swish, Shape<8, 28, 20>>);

// Synthetic images: horizontal stripes (class 0), vertical stripes (1) or a blob (2), with a
// random phase or position and noise.
void make_dataset(std::size_t n, Rng& rng, std::vector<float>& images, std::vector<int>& labels) {
  constexpr std::size_t H = In::dim<1>, W = In::dim<2>;
  images.assign(n * In::size, 0.f);
  labels.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(i % classes);
    labels[i] = label;
    const float phase = rng.uniform(0.f, 6.2831853f);
    const float period = rng.uniform(4.f, 7.f);
    const float cy = rng.uniform(6.f, 22.f), cx = rng.uniform(5.f, 15.f);
    float* img = images.data() + i * In::size;
    for (std::size_t r = 0; r < H; ++r)
      for (std::size_t c = 0; c < W; ++c) {
        float v;
        if (label == 0)
          v = std::sin(6.2831853f * static_cast<float>(r) / period + phase);
        else if (label == 1)
          v = std::sin(6.2831853f * static_cast<float>(c) / period + phase);
        else
          v = 2.f * std::exp(-((static_cast<float>(r) - cy) * (static_cast<float>(r) - cy) +
                               (static_cast<float>(c) - cx) * (static_cast<float>(c) - cx)) / 18.f) - 0.5f;
        img[r * W + c] = v + 0.3f * static_cast<float>(rng.normal());
      }
  }
}

// Mean softmax cross-entropy over the batch; writes dL/dlogits into grad.
float cross_entropy(const Tensor<Shape<classes>>& logits, const int* labels, Tensor<Shape<classes>>& grad) {
  const std::size_t n = logits.batch();
  grad.set_batch(n);
  double loss = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* z = logits.sample(i);
    float* g = grad.sample(i);
    float m = z[0];
    for (std::size_t k = 1; k < classes; ++k) m = std::max(m, z[k]);
    double total = 0.0;
    for (std::size_t k = 0; k < classes; ++k) total += std::exp(double(z[k] - m));
    for (std::size_t k = 0; k < classes; ++k) {
      const double p = std::exp(double(z[k] - m)) / total;
      g[k] = static_cast<float>((p - (static_cast<int>(k) == labels[i] ? 1.0 : 0.0)) / double(n));
    }
    loss -= double(z[labels[i]] - m) - std::log(total);
  }
  return static_cast<float>(loss / double(n));
}

float accuracy(const Tensor<Shape<classes>>& logits, const int* labels) {
  std::size_t right = 0;
  for (std::size_t i = 0; i < logits.batch(); ++i) {
    const float* z = logits.sample(i);
    std::size_t best = 0;
    for (std::size_t k = 1; k < classes; ++k)
      if (z[k] > z[best]) best = k;
    right += static_cast<int>(best) == labels[i];
  }
  return static_cast<float>(right) / static_cast<float>(logits.batch());
}

// Checks the custom layers' backward against central finite differences of
// L = sum_i w_i * y_i (fixed random w) for every parameter and input element; returns the largest
// relative error. Worth doing for every layer you write.
double gradient_check() {
  using Small = Seq<my::Scale<2>, my::Swish>;
  using S = Shape<2, 3, 3>;
  constexpr std::size_t n = 2;
  Network<Small, S> net(n, 3);
  Rng rng(11);
  Tensor<S> x(n), w(n);
  for (auto& v : x.span()) v = static_cast<float>(rng.normal());
  for (auto& v : w.span()) v = static_cast<float>(rng.normal());
  for (auto& p : net.parameters())  // move gamma and beta away from 1 and 0
    for (std::size_t i = 0; i < p.size; ++i) p.value[i] += 0.5f * static_cast<float>(rng.normal());

  auto loss = [&] {
    const auto& y = net.forward(x, Mode::train);
    double l = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) l += double(w.data()[i]) * y.data()[i];
    return l;
  };
  loss();
  net.zero_grad();
  const auto& dx = net.backward(w, /*need_input_grad=*/true);
  std::vector<float> analytic(dx.span().begin(), dx.span().end());
  std::vector<float*> values;
  for (auto& p : net.parameters())
    for (std::size_t i = 0; i < p.size; ++i) {
      analytic.push_back(p.grad[i]);
      values.push_back(p.value + i);
    }
  for (auto& v : x.span()) values.insert(values.begin() + (&v - x.data()), &v);

  double worst = 0.0;
  constexpr float eps = 1e-2f;
  for (std::size_t k = 0; k < values.size(); ++k) {
    const float saved = *values[k];
    *values[k] = saved + eps;
    const double up = loss();
    *values[k] = saved - eps;
    const double down = loss();
    *values[k] = saved;
    const double numeric = (up - down) / (2.0 * eps);
    worst = std::max(worst, std::abs(numeric - analytic[k]) / std::max(1.0, std::abs(numeric)));
  }
  return worst;
}

}  // namespace

int main() {
  std::printf("%s\n", summary<Net, In>().c_str());

  const double grad_error = gradient_check();
  std::printf("gradient check of Scale and Swish: largest relative error %.2e\n", grad_error);
  if (!(grad_error < 1e-2)) return 1;

  constexpr std::size_t batch = 48, dataset = 480, steps = 60;
  constexpr float lr = 0.2f;

  Rng rng(7);
  std::vector<float> images;
  std::vector<int> labels;
  make_dataset(dataset, rng, images, labels);

  Network<Net, In> net(batch, /*seed=*/1);
  Tensor<In> x(batch);
  Tensor<Shape<classes>> dlogits(batch);
  std::printf("%zu parameter tensors, %zu parameters\n", net.parameters().size(), net.parameter_count());

  float first_loss = 0.f, last_loss = 0.f;
  for (std::size_t step = 0; step < steps; ++step) {
    const std::size_t start = (step * batch) % dataset;
    x.copy_from(std::span<const float>(images.data() + start * In::size, batch * In::size));
    const int* y = labels.data() + start;

    const auto& logits = net.forward(x, Mode::train);
    const float loss = cross_entropy(logits, y, dlogits);
    const float acc = accuracy(logits, y);
    net.zero_grad();
    net.backward(dlogits);

    // Plain SGD by hand: w -= lr * g for every parameter tensor the network collected.
    for (auto& p : net.parameters())
      for (std::size_t i = 0; i < p.size; ++i) p.value[i] -= lr * p.grad[i];

    if (step == 0) first_loss = loss;
    last_loss = loss;
    if (step % 10 == 0 || step + 1 == steps)
      std::printf("step %3zu  loss %.4f  batch accuracy %5.1f%%\n", step, loss, 100.f * acc);
  }

  const bool fell = std::isfinite(last_loss) && last_loss < 0.5f * first_loss;
  std::printf("loss %.4f -> %.4f: %s\n", first_loss, last_loss, fell ? "fell" : "did NOT fall");
  return fell ? 0 : 1;
}
