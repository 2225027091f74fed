#pragma once
// CPU convolution: per image, im2col into a per-thread buffer and one GEMM; 1x1 stride-1
// unpadded convolutions read the input directly. Images of a batch run on different threads;
// filter gradients go to per-thread accumulators that are summed at the end.
//
// Grouped convolutions (groups > 1, depthwise when every group has one channel) run the same way,
// one GEMM per group over that group's channels and filters.
//
// forward() may finish each output as it writes it (a ChannelAffine: Mode::inference's batch
// norm, residual add and ReLU): in the copy out of the GEMM's buffer, right after a one-image GEMM
// (still in cache), or in the Winograd output transform's copy to the planes.
//
// Ungrouped 3x3 stride-1 convolutions with at least 16 input and output channels (every 3x3 stride-1 layer
// of ResNet but the stem) use Winograd (winograd.hpp) instead: forward, backward data and backward
// filter, F(4x4,3x3) (4x fewer multiplies) or F(2x2,3x3) (2.25x fewer). ConvAlgorithm picks one per
// layer; the environment variable CTNN_WINOGRAD (read once, at the first construction) overrides
// ConvAlgorithm::automatic, the default, so that one binary can compare them: 0 turns Winograd off,
// 2 and 4 choose the tile everywhere.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "../../core/config.hpp"
#include "../../core/memory.hpp"
#include "../../core/threading.hpp"
#include "../contract.hpp"
#include "blocking.hpp"
#include "gemm.hpp"
#include "winograd.hpp"

namespace ctnn::backend::cpu {

namespace detail {
// The 3x3 stride-2 layers of ResNets (padding 1, even input sizes: H = 2 Ho, W = 2 Wo) have an
// im2col and col2im of their own, one pass per input row whatever the output width, and no phase
// planes: the general path copies row by row and tap by tap, which costs more than the copying on
// rows of 4 to 16 values (one thread, 64 images of ResNet-18's 256->512 layer at 8x8: 3.9 ms, 2.4
// GB/s written, against 1.2 ms; the small network's 32->64 layer at 14x14 0.82 against 0.34 ms).
inline bool even_3x3_stride2(const Geometry2d& g) {
  return g.kernel == 3 && g.stride == 2 && g.pad == 1 && g.in_h == 2 * g.out_h && g.in_w == 2 * g.out_w && g.out_w > 0;
}
}  // namespace detail

// Strided convolutions read their input through phase planes: for stride S, phase plane (a, b) of
// a channel holds x[a + S i][b + S j], and kernel tap (kh, kw) reads one phase plane at unit
// stride, shifted. Where taps share planes (kernel > stride: a 3x3 stride-2 layer reads every input
// value 2.25 times) and output rows are long enough for vector copies (8 values or more), a channel
// is first split into its planes, one strided pass over its input, and the taps then copy
// contiguous rows; otherwise (1x1 stride 2, small planes) the taps read the planes in place, every
// S-th value. Stride 1 has one phase plane, the channel itself; detail::even_3x3_stride2 layers
// take neither way. (One thread, 32 images, ResNet-18's 64->128 3x3/2 layer at 32x32, before it
// took its own path: im2col about 1.9x and col2im 1.6x as fast split as in place; with output rows
// of 4 values (8x8 outputs) split was slower, 0.78x and 0.87x.)
struct PhasePlanes {
  std::size_t stride, rows, cols;  // rows and cols of every split plane: ceil(H / S), ceil(W / S)
  bool split;                      // whether channels are split (see above)

  explicit PhasePlanes(const Geometry2d& g)
      : stride(g.stride),
        rows((g.in_h + g.stride - 1) / g.stride),
        cols((g.in_w + g.stride - 1) / g.stride),
        split(g.stride > 1 && g.kernel > g.stride && g.out_w >= 8 && !detail::even_3x3_stride2(g)) {}

  std::size_t plane_size() const { return rows * cols; }
  // Floats of scratch that one channel's planes take (0 where channels are read in place).
  std::size_t scratch() const { return split ? stride * stride * plane_size() : 0; }
};

// col[(c*K + kh)*K + kw][oh*Wo + ow] = x[c][oh*s - p + kh][ow*s - p + kw] (0 outside the image);
// rows of col are ld floats apart (ld >= Ho*Wo lets several images share one column matrix).
// `scratch` holds PhasePlanes(g).scratch() floats.
void im2col(const Geometry2d& g, const float* x, float* col, std::size_t ld, float* scratch);

// The adjoint of im2col: x[c][ih][iw] = the sum of col[...] over every column that read it (x is
// overwritten). `scratch` as for im2col.
void col2im(const Geometry2d& g, const float* col, std::size_t ld, float* x, float* scratch);

enum class ConvAlgorithm {
  automatic,     // Winograd where it applies and pays, with the tile that pays (Conv2d::winograd_tile),
                 // unless CTNN_WINOGRAD says otherwise
  im2col,        // im2col + GEMM always
  winograd,      // Winograd wherever it applies (3x3, stride 1, padding <= 2), im2col elsewhere
  winograd_2x2,  // ... with F(2x2,3x3) tiles
  winograd_4x4,  // ... with F(4x4,3x3) tiles
};

// What the environment's CTNN_WINOGRAD asks of ConvAlgorithm::automatic (read once): 0 no
// Winograd, 2 or 4 that tile wherever Winograd pays, anything else (or unset) the automatic choice,
// returned as 1.
inline int winograd_setting() {
  static const int v = [] {
    const char* e = std::getenv("CTNN_WINOGRAD");
    if (!e) return 1;
    const std::string s = e;
    return s == "0" ? 0 : s == "2" ? 2 : s == "4" ? 4 : 1;
  }();
  return v;
}
// False when the environment sets CTNN_WINOGRAD=0.
inline bool winograd_enabled() { return winograd_setting() != 0; }

// Images are processed in groups that share one column matrix [patch, images * Ho*Wo]
// (blocking.hpp), so the GEMMs of layers with few output pixels (8x8, 4x4) are still wide enough
// to run near peak. Each group of images runs on one thread; groups are spread over threads.
class Conv2d {
public:
  Conv2d(const Geometry2d& g, std::size_t max_batch, ConvAlgorithm algorithm = ConvAlgorithm::automatic);

  // Every buffer is scratch for one call: the network's plan shares it with the other layers.
  template <class Plan>
  void plan(Plan& p) {
    if (winograd_)
      winograd_->plan(p);
    else
      p.workspace(ws_);
  }

  // Whether a Conv2d of geometry g built with `algorithm` runs Winograd. Automatic leaves layers
  // with few input or output channels (the 3-channel stem) on im2col, where the transforms cost
  // more than the multiplies they save (single-threaded CPU time, batch 64, 32x32: 3->64 and
  // 8->64 are 2x and 1.2x slower with Winograd, 16->64 and 16->16 1.2-1.5x faster).
  static bool use_winograd(const Geometry2d& g, ConvAlgorithm algorithm) { return winograd_tile(g, algorithm) != 0; }

  // The Winograd tile (2 or 4 outputs a side) a Conv2d of geometry g built with `algorithm` runs,
  // 0 for im2col. The automatic choice: automatic_tile.
  static std::size_t winograd_tile(const Geometry2d& g, ConvAlgorithm algorithm) {
    if (g.groups != 1 || !Winograd3x3::supports(g)) return 0;
    switch (algorithm) {
      case ConvAlgorithm::im2col: return 0;
      case ConvAlgorithm::winograd_2x2: return 2;
      case ConvAlgorithm::winograd_4x4: return 4;
      case ConvAlgorithm::winograd: return automatic_tile(g);
      case ConvAlgorithm::automatic: break;
    }
    const int setting = winograd_setting();
    if (setting == 0 || g.in_c < winograd_min_channels || g.out_c < winograd_min_channels) return 0;
    return setting == 1 ? automatic_tile(g) : static_cast<std::size_t>(setting);
  }

  // Whether this convolution runs Winograd, and with which tile (0: im2col).
  bool winograd() const { return winograd_.has_value(); }
  std::size_t winograd_tile() const { return winograd_ ? winograd_->tile() : 0; }

  // y[n] = w * im2col(x[n]) per group; w is [out_c, in_c / groups * k * k]. With `affine`, every
  // output is finished by it as it is written (ChannelAffine, contract.hpp).
  void forward(const float* x, const float* w, float* y, std::size_t batch) { run_forward(x, w, y, batch, nullptr); }
  void forward(const float* x, const float* w, float* y, std::size_t batch, const ChannelAffine& affine) {
    run_forward(x, w, y, batch, &affine);
  }

  // dw += sum_n dy[n] * im2col(x[n])^T (when dw != nullptr) and dx[n] = col2im(w^T * dy[n]) (when
  // dx != nullptr), per group. x is read only for dw, and never after dx's values for the same
  // images and channels are written (Winograd: the whole filter gradient first; im2col: per group
  // of images, dw's product before dx's), so dx may be x (the memory plan writes it over x).
  static constexpr bool dx_may_overwrite_x = true;
  void backward(const float* x, const float* w, const float* dy, float* dx, float* dw, std::size_t batch);

  const Geometry2d& geometry() const { return g_; }
  std::size_t group() const { return group_; }

private:
  // Automatic Winograd needs at least this many input and output channels.
  static constexpr std::size_t winograd_min_channels = 16;

  void run_forward(const float* x, const float* w, float* y, std::size_t batch, const ChannelAffine* affine);

  // dst[i] = src[i] * scale + shift of `channel` (+ the residual at dst's place in the output y),
  // then max(., 0) when relu; src may be dst.
  static void finish(const float* src, const float* y, float* dst, std::size_t n, const ChannelAffine& a,
                     std::size_t channel);

  // The tile that pays for a layer Winograd runs: the one with fewer products for its output
  // plane, (M + 2)^2 per tile of M x M outputs, partial tiles included (F(4x4,3x3) at 4x4 and
  // above but 5x5 and 6x6), F(2x2,3x3) on a tie (its transforms are cheaper and its error several
  // times smaller). Measured with bench_conv, batch 64, 2 threads (bench/RESULTS.md): 512->512 at 4x4
  // 16.0 / 33.6 ms forward / backward with F(4x4) against 19.6 / 38.7 with F(2x2); 256->256 at 8x8
  // 13.3 / 26.8 against 18.7 / 39.4.
  static std::size_t automatic_tile(const Geometry2d& g) {
    auto products = [&](std::size_t M) { return (g.out_h + M - 1) / M * ((g.out_w + M - 1) / M) * (M + 2) * (M + 2); };
    return products(4) < products(2) ? 4 : 2;
  }

  // Images per group for this batch (no larger than the workspaces were sized for).
  std::size_t group_size(std::size_t batch) const {
    const auto threads = static_cast<std::size_t>(ctnn::detail::active_workers(workers_));
    return std::min(group_, images_per_group(g_.out_plane(), batch, threads));
  }

  template <class F>
  void for_each_group(std::size_t batch, std::size_t G, F&& f) {
    const std::size_t groups = (batch + G - 1) / G;
    ctnn::detail::parallel_for(groups, workers_, [&](std::size_t i, int t) {
      const std::size_t n0 = i * G;
      f(n0, std::min(G, batch - n0), t);
    });
  }

  // The column matrix [patch, count * P] of convolution group q of images n0 .. n0+count-1.
  const float* columns(const float* x, std::size_t n0, std::size_t count, int t, std::size_t q);

  // Thread t's phase planes of one channel (strided im2col and col2im).
  float* phase_scratch(int t) { return ws_[phases_] + static_cast<std::size_t>(t) * PhasePlanes(sub_).scratch(); }

  Geometry2d g_;
  Geometry2d sub_;  // one group: in_c / groups input and out_c / groups output channels
  bool direct_;
  int workers_;
  std::size_t group_;
  ctnn::detail::Workspace ws_;
  ctnn::detail::Workspace::Part<float> col_, dcol_, out_, dw_, phases_;
  std::optional<Winograd3x3> winograd_;
};

}  // namespace ctnn::backend::cpu

#if CTNN_HEADER_DEFINITIONS
#include "impl/conv.ipp"
#endif
