// The Winograd F(MxM, 3x3) transforms (see winograd.hpp) for tiles of M = 2 and M = 4 outputs,
// compiled once per instruction set by for_each_isa.hpp into namespace
// ctnn::backend::cpu::winograd::CTNN_ISA_NAMESPACE. No include guard and no includes: winograd.hpp
// includes it, after everything it uses.
//
// The input, output and gradient transforms compute on vectors of `lanes` floats, one lane per image
// of a group: every tile of every plane size fills whole vectors. Each works on the rows of one
// channel of a lane group: it first copies them into a buffer with the lanes innermost (zero
// padding included), then transforms tile by tile (each 2-D transform is the 1-D transform of
// Tile<M> along the rows, then down the columns), then, for the output, copies the results back
// to the images' planes.

namespace CTNN_ISA_NAMESPACE {

// `lanes` floats, one per image of a lane group. The vector extension compiles it to this
// instruction set's registers (one AVX-512 register, two AVX2 or four SSE ones). Aligned to 4
// bytes: the transforms read and write it at any float offset.
typedef float vec __attribute__((vector_size(lanes * sizeof(float)), aligned(4)));
// The same vector at its natural alignment, for the local arrays the Tile templates work on: a
// template argument loses a typedef's alignment attribute, so Tile<M> code assumes full alignment.
typedef float vreg __attribute__((vector_size(lanes * sizeof(float))));

// One register of this instruction set, at any float offset.
typedef float native __attribute__((vector_size(CTNN_ISA_FLOATS * sizeof(float)), aligned(4)));

// (Vectors pass by reference: GCC warns that passing them by value has an ABI that depends on the
// instruction set.)
inline const vec& load(const float* p) { return *reinterpret_cast<const vec*>(p); }
// Stores the first n lanes (all of them when n == lanes).
inline void store_whole(float* p, const vreg& v);
inline void store(float* p, const vreg& v, std::size_t n) {
  if (n == lanes)
    store_whole(p, v);
  else
    for (std::size_t l = 0; l < n; ++l) p[l] = v[l];
}

// Planes in and out of the lanes-innermost layout: buffer vector i holds one plane position of
// every image of a lane group (image l in lane l). Rows says where: element e of a run of plane
// rows W long is vector (e / W) * ld + e % W + first.
struct Rows {
  std::size_t W, ld, first;
};
// The vector indices of consecutive elements, from element 0 on.
class RowWalk {
public:
  explicit RowWalk(const Rows& r) : r_(r), at_(r.first) {}
  std::size_t operator*() const { return at_; }
  void operator++() { at_ += ++col_ == r_.W ? (col_ = 0, r_.ld - r_.W + 1) : 1; }

private:
  Rows r_;
  std::size_t at_, col_ = 0;
};

// 8 images by 8 consecutive elements transpose in registers: three stages of shuffles of two
// 8-float vectors, each a single instruction with AVX2 or AVX-512. (The baseline's 4-float
// registers would take them apart element by element: it copies element by element instead, as
// does host code that nvcc compiles: its front end lacks __builtin_shufflevector.)
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));
typedef float v8u __attribute__((vector_size(8 * sizeof(float)), aligned(4)));
inline constexpr bool register_transpose = CTNN_WINOGRAD_SHUFFLES && CTNN_ISA_FLOATS >= 8;

#if CTNN_WINOGRAD_SHUFFLES
// Exchanges bit d of the row index (a: clear, b: set) with bit d of the element index.
template <std::size_t d, std::size_t... J>
inline void exchange(v8& a, v8& b, std::index_sequence<J...>) {
  const v8 lo = __builtin_shufflevector(a, b, ((J & d) ? 8 + J - d : J)...);
  const v8 hi = __builtin_shufflevector(a, b, ((J & d) ? 8 + J : J + d)...);
  a = lo;
  b = hi;
}
template <std::size_t d, std::size_t... I>
inline void exchange_all(v8* r, std::index_sequence<I...>) {
  (exchange<d>(r[I / d * 2 * d + I % d], r[I / d * 2 * d + I % d + d], std::make_index_sequence<8>{}), ...);
}
// r[i][j] becomes r[j][i].
inline void transpose8(v8* r) {
  exchange_all<4>(r, std::make_index_sequence<4>{});
  exchange_all<2>(r, std::make_index_sequence<4>{});
  exchange_all<1>(r, std::make_index_sequence<4>{});
}

// Register P of v.
template <std::size_t P, std::size_t... J>
inline native piece(const vreg& v, std::index_sequence<J...>) {
  return __builtin_shufflevector(v, v, (P * CTNN_ISA_FLOATS + J)...);
}
// A whole vector goes out register by register: GCC moves a vector wider than the registers
// through the stack when it stores it in one piece.
inline void store_whole(float* p, const vreg& v) {
  [&]<std::size_t... P>(std::index_sequence<P...>) {
    ((*reinterpret_cast<native*>(p + P * CTNN_ISA_FLOATS) = piece<P>(v, std::make_index_sequence<CTNN_ISA_FLOATS>{})), ...);
  }(std::make_index_sequence<lanes / CTNN_ISA_FLOATS>{});
}
#if CTNN_WINOGRAD_STREAMING
// One register to p (aligned to it), past the caches.
template <class R>
inline void stream_one(float* p, const R& r) {
#if defined(__clang__)
  __builtin_nontemporal_store(r, reinterpret_cast<R*>(p));
#elif CTNN_ISA_FLOATS == 16
  __builtin_ia32_movntps512(p, r);
#elif CTNN_ISA_FLOATS == 8
  __builtin_ia32_movntps256(p, r);
#else
  __builtin_ia32_movntps(p, r);
#endif
}
#endif
// A whole vector to p past the caches, where p is aligned to the registers (else as store_whole):
// for results read once, much later, and larger than the caches.
inline void store_streaming(float* p, const vreg& v) {
#if CTNN_WINOGRAD_STREAMING
  if (reinterpret_cast<std::uintptr_t>(p) % (CTNN_ISA_FLOATS * sizeof(float)) == 0) {
    typedef float full __attribute__((vector_size(CTNN_ISA_FLOATS * sizeof(float))));  // aligned
    [&]<std::size_t... P>(std::index_sequence<P...>) {
      (stream_one(p + P * CTNN_ISA_FLOATS, static_cast<full>(piece<P>(v, std::make_index_sequence<CTNN_ISA_FLOATS>{}))), ...);
    }(std::make_index_sequence<lanes / CTNN_ISA_FLOATS>{});
    return;
  }
#endif
  store_whole(p, v);
}
// Orders streaming stores before what follows (another thread reads their results).
inline void streaming_done() {
#if CTNN_WINOGRAD_STREAMING
  __builtin_ia32_sfence();
#endif
}
#else
inline void transpose8(v8* r) {  // (not called: register_transpose is false)
  for (std::size_t i = 0; i < 8; ++i)
    for (std::size_t j = i + 1; j < 8; ++j) {
      const float t = r[i][j];
      r[i][j] = r[j][i];
      r[j][i] = t;
    }
}
inline void store_whole(float* p, const vreg& v) { *reinterpret_cast<vec*>(p) = v; }
inline void store_streaming(float* p, const vreg& v) { store_whole(p, v); }
inline void streaming_done() {}
#endif

// buf[vector(e) * lanes + l] = src[l * stride + e] for elements e < n of `count` images' planes.
// Lanes from count up to the next multiple of 8 may be written with zeros.
inline void to_lanes(const float* src, std::size_t stride, std::size_t count, std::size_t n, const Rows& rows,
                     float* __restrict buf) {
  RowWalk at(rows);
  std::size_t e = 0;
  if constexpr (register_transpose)
    for (; e + 8 <= n; e += 8) {
      std::size_t pos[8];
      for (std::size_t i = 0; i < 8; ++i, ++at) pos[i] = *at;
      for (std::size_t l0 = 0; l0 < count; l0 += 8) {
        v8 r[8];
        for (std::size_t i = 0; i < 8; ++i)
          r[i] = l0 + i < count ? *reinterpret_cast<const v8u*>(src + (l0 + i) * stride + e) : v8{};
        transpose8(r);
        for (std::size_t i = 0; i < 8; ++i) *reinterpret_cast<v8u*>(buf + pos[i] * lanes + l0) = r[i];
      }
    }
  for (; e < n; ++e, ++at)
    for (std::size_t l = 0; l < count; ++l) buf[*at * lanes + l] = src[l * stride + e];
}

// The output transform's last step on a value v written at dst[i] when Finish is on: v * scale
// + shift (+ residual[i]), then max(., 0) when relu (Mode::inference's batch norm, residual add and
// ReLU folded into the convolution). The same arithmetic for floats and for 8-float vectors.
// (Vectors in place, by reference: see load() above.)
inline void finish(float& v, const Finish& f, std::size_t i) {
  v = v * f.scale + f.shift;
  if (f.residual) v = v + f.residual[i];
  if (f.relu && !(v > 0.f)) v = 0.f;
}
#if CTNN_WINOGRAD_SHUFFLES
inline void finish(v8& v, const Finish& f, std::size_t i) {
  v = v * f.scale + f.shift;
  if (f.residual) v = v + *reinterpret_cast<const v8u*>(f.residual + i);
  if (f.relu) v = v > 0.f ? v : v8{};
}
#endif

// dst[i] = buf[vector(e) * lanes + l], i = l * stride + e, for elements e < n of `count` images'
// planes, finished (finish()) when fin.on.
inline void from_lanes(const float* __restrict buf, const Rows& rows, std::size_t count, std::size_t n, float* dst,
                       std::size_t stride, const Finish& fin) {
  RowWalk at(rows);
  std::size_t e = 0;
#if CTNN_WINOGRAD_SHUFFLES
  if constexpr (register_transpose)
    for (; e + 8 <= n; e += 8) {
      std::size_t pos[8];
      for (std::size_t i = 0; i < 8; ++i, ++at) pos[i] = *at;
      for (std::size_t l0 = 0; l0 < count; l0 += 8) {
        v8 r[8];
        for (std::size_t i = 0; i < 8; ++i) r[i] = *reinterpret_cast<const v8u*>(buf + pos[i] * lanes + l0);
        transpose8(r);
        for (std::size_t i = 0; i < 8 && l0 + i < count; ++i) {
          const std::size_t d = (l0 + i) * stride + e;
          if (fin.on) finish(r[i], fin, d);
          *reinterpret_cast<v8u*>(dst + d) = r[i];
        }
      }
    }
#endif
  for (; e < n; ++e, ++at)
    for (std::size_t l = 0; l < count; ++l) {
      float v = buf[*at * lanes + l];
      if (fin.on) finish(v, fin, l * stride + e);
      dst[l * stride + e] = v;
    }
}

// The 1-D transforms of F(M, 3) with N = M + 2 inputs: input B^T d (N -> N), output A^T m
// (N -> M), filter G g (3 -> N), and their adjoints for the gradients: A y (M -> N) and G^T m
// (N -> 3). T is float or vec.
template <std::size_t M>
struct Tile;

// F(2, 3) at the points 0, 1, -1 and infinity: additions and halvings only.
template <>
struct Tile<2> {
  static constexpr std::size_t N = 4;
  template <class T>
  static void input(const T* d, T* v) {
    v[0] = d[0] - d[2];
    v[1] = d[1] + d[2];
    v[2] = d[2] - d[1];
    v[3] = d[1] - d[3];
  }
  template <class T>
  static void output(const T* m, T* y) {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
  }
  template <class T>
  static void filter(const T* g, T* u) {
    u[0] = g[0];
    u[1] = 0.5f * (g[0] + g[1] + g[2]);
    u[2] = 0.5f * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  }
  template <class T>
  static void gradient(const T* y, T* z) {
    z[0] = y[0];
    z[1] = y[0] + y[1];
    z[2] = y[0] - y[1];
    z[3] = -y[1];
  }
  template <class T>
  static void filter_gradient(const T* m, T* w) {
    const T s = 0.5f * (m[1] + m[2]);
    w[0] = m[0] + s;
    w[1] = 0.5f * (m[1] - m[2]);
    w[2] = s + m[3];
  }
};

// F(4, 3) at the points 0, 1, -1, 2, -2 and infinity.
template <>
struct Tile<4> {
  static constexpr std::size_t N = 6;
  template <class T>
  static void input(const T* d, T* v) {
    // rows of B^T: (4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
    //              (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1)
    const T a = d[4] - 4.f * d[2], b = d[3] - 4.f * d[1];
    const T c = d[4] - d[2], e = 2.f * (d[3] - d[1]);
    v[0] = 4.f * d[0] - 5.f * d[2] + d[4];
    v[1] = a + b;
    v[2] = a - b;
    v[3] = c + e;
    v[4] = c - e;
    v[5] = 4.f * d[1] - 5.f * d[3] + d[5];
  }
  template <class T>
  static void output(const T* m, T* y) {
    // rows of A^T: (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1)
    const T a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], e = m[3] - m[4];
    y[0] = m[0] + a + c;
    y[1] = b + 2.f * e;
    y[2] = a + 4.f * c;
    y[3] = b + 8.f * e + m[5];
  }
  template <class T>
  static void filter(const T* g, T* u) {
    // rows of G: (1/4, 0, 0), (-1/6, -1/6, -1/6), (-1/6, 1/6, -1/6), (1/24, 1/12, 1/6),
    //            (1/24, -1/12, 1/6), (0, 0, 1)
    const T s = g[0] + g[2], t = g[0] + 4.f * g[2];
    u[0] = 0.25f * g[0];
    u[1] = (-1.f / 6.f) * (s + g[1]);
    u[2] = (-1.f / 6.f) * (s - g[1]);
    u[3] = (1.f / 24.f) * (t + 2.f * g[1]);
    u[4] = (1.f / 24.f) * (t - 2.f * g[1]);
    u[5] = g[2];
  }
  template <class T>
  static void gradient(const T* y, T* z) {
    // A = (A^T)^T: rows (1, 0, 0, 0), (1, 1, 1, 1), (1, -1, 1, -1), (1, 2, 4, 8), (1, -2, 4, -8), (0, 0, 0, 1)
    const T e1 = y[0] + y[2], o1 = y[1] + y[3];
    const T e2 = y[0] + 4.f * y[2], o2 = 2.f * y[1] + 8.f * y[3];
    z[0] = y[0];
    z[1] = e1 + o1;
    z[2] = e1 - o1;
    z[3] = e2 + o2;
    z[4] = e2 - o2;
    z[5] = y[3];
  }
  template <class T>
  static void filter_gradient(const T* m, T* w) {
    const T a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], e = m[3] - m[4];
    w[0] = 0.25f * m[0] - (1.f / 6.f) * a + (1.f / 24.f) * c;
    w[1] = (-1.f / 6.f) * b + (1.f / 12.f) * e;
    w[2] = (-1.f / 6.f) * a + (1.f / 6.f) * c + m[5];
  }
};

// V[k * ks + tile * L + lane] = (B^T d B)[k] for the tiles of tile rows [r0, r1) (tile = (row - r0)
// * tw + column) of one channel of `count` images: lane l reads the plane x + l * stride (H x W,
// padding ps.pad). L >= count is the lane stride of V; lanes count .. L - 1 are written as zeros
// (the filter gradient's products run over every column of V and Z, a group's unused lanes included).
// scratch: Pass::scratch() floats.
template <std::size_t M>
void input_transform(const Pass& ps, const float* x, std::size_t stride, std::size_t count, std::size_t r0, std::size_t r1,
                     float* __restrict v, std::size_t ks, std::size_t L, float* __restrict scratch) {
  constexpr std::size_t N = Tile<M>::N;
  const std::size_t tw = ps.tw, wp = M * tw + 2, rows = M * (r1 - r0) + 2, p = ps.pad, W = ps.W, H = ps.H;
  // P[(u * wp + w) * lanes + l]: padded row M r0 + u, column w of image l (0 outside the image).
  // (wp >= Wo + 2 = W + 2p: every image column has its place.)
  float* P = scratch;
  std::memset(P, 0, rows * wp * lanes * sizeof(float));
  const std::size_t top = M * r0;                                  // padded row of P's row 0
  const std::size_t s0 = top > p ? top - p : 0, s1 = std::min(H, top + rows - p);  // image rows in P
  if (s1 > s0) to_lanes(x + s0 * W, stride, count, (s1 - s0) * W, Rows{W, wp, (s0 + p - top) * wp + p}, P);
  for (std::size_t ti = 0; ti < r1 - r0; ++ti)
    for (std::size_t tj = 0; tj < tw; ++tj) {
      // d B along the N rows of the tile, then B^T down its N columns.
      vreg t[N][N];
      for (std::size_t a = 0; a < N; ++a) {
        const float* pr = P + ((M * ti + a) * wp + M * tj) * lanes;
        vreg d[N];
        for (std::size_t b = 0; b < N; ++b) d[b] = load(pr + b * lanes);
        Tile<M>::input(d, t[a]);
      }
      float* out = v + (ti * tw + tj) * L;
      for (std::size_t b = 0; b < N; ++b) {
        vreg col[N], o[N];
        for (std::size_t a = 0; a < N; ++a) col[a] = t[a][b];
        Tile<M>::input(col, o);
        for (std::size_t a = 0; a < N; ++a) store(out + (N * a + b) * ks, o[a], L);
      }
    }
}

// y tiles = A^T m A for the tiles of tile rows [r0, r1) of one channel of `count` images,
// m[k * ks + tile * L + lane]: lane l writes the plane y + l * stride (Ho x Wo; outputs of partial
// tiles past it are dropped), each value finished by `fin` (Finish). scratch: Pass::scratch() floats.
template <std::size_t M>
void output_transform(const Pass& ps, const float* m, std::size_t ks, std::size_t L, std::size_t count, std::size_t r0,
                      std::size_t r1, float* __restrict y, std::size_t stride, float* __restrict scratch, const Finish& fin) {
  constexpr std::size_t N = Tile<M>::N;
  const std::size_t tw = ps.tw, wq = M * tw, Wo = ps.Wo;
  // Q[(i * wq + col) * lanes + l]: output row M r0 + i, column col of image l.
  float* Q = scratch;
  for (std::size_t ti = 0; ti < r1 - r0; ++ti)
    for (std::size_t tj = 0; tj < tw; ++tj) {
      const float* q = m + (ti * tw + tj) * L;
      // A^T along the N rows of the tile, then down its M columns.
      vreg s[N][M];
      for (std::size_t a = 0; a < N; ++a) {
        vreg r[N];
        for (std::size_t b = 0; b < N; ++b) r[b] = load(q + (N * a + b) * ks);
        Tile<M>::output(r, s[a]);
      }
      for (std::size_t c = 0; c < M; ++c) {
        vreg col[N], o[M];
        for (std::size_t a = 0; a < N; ++a) col[a] = s[a][c];
        Tile<M>::output(col, o);
        for (std::size_t i = 0; i < M; ++i) store(Q + ((M * ti + i) * wq + M * tj + c) * lanes, o[i], lanes);
      }
    }
  const std::size_t rows = std::min(M * (r1 - r0), ps.Ho - M * r0);
  Finish here = fin;  // the residual from the block's first row on, as y
  if (here.residual) here.residual += M * r0 * Wo;
  from_lanes(Q, Rows{Wo, wq, 0}, count, rows * Wo, y + M * r0 * Wo, stride, here);
}

// z[k * ks + tile * L + lane] = (A dY A^T)[k] for the tiles of tile rows [r0, r1) of one dy channel
// of `count` images, lane l reading the plane dy + l * stride (Ho x Wo; outputs past the plane, in
// partial tiles, count as 0): the gradient with respect to the tile's products m. Lanes count .. L -
// 1 are written as zeros (as by input_transform). scratch: Pass::scratch() floats.
template <std::size_t M>
void gradient_transform(const Pass& ps, const float* dy, std::size_t stride, std::size_t count, std::size_t r0,
                        std::size_t r1, float* __restrict z, std::size_t ks, std::size_t L, float* __restrict scratch) {
  constexpr std::size_t N = Tile<M>::N;
  const std::size_t tw = ps.tw, wq = M * tw, Wo = ps.Wo;
  // D[(i * wq + col) * lanes + l]: gradient row M r0 + i, column col of image l (0 outside the plane).
  float* D = scratch;
  const std::size_t rows = std::min(M * (r1 - r0), ps.Ho - M * r0);
  std::memset(D, 0, M * (r1 - r0) * wq * lanes * sizeof(float));
  to_lanes(dy + M * r0 * Wo, stride, count, rows * Wo, Rows{Wo, wq, 0}, D);
  for (std::size_t ti = 0; ti < r1 - r0; ++ti)
    for (std::size_t tj = 0; tj < tw; ++tj) {
      // A along the M rows of the tile, then down its N columns.
      vreg s[M][N];
      for (std::size_t i = 0; i < M; ++i) {
        const float* dr = D + ((M * ti + i) * wq + M * tj) * lanes;
        vreg d[M];
        for (std::size_t c = 0; c < M; ++c) d[c] = load(dr + c * lanes);
        Tile<M>::gradient(d, s[i]);
      }
      float* out = z + (ti * tw + tj) * L;
      for (std::size_t b = 0; b < N; ++b) {
        vreg col[M], t[N];
        for (std::size_t i = 0; i < M; ++i) col[i] = s[i][b];
        Tile<M>::gradient(col, t);
        for (std::size_t a = 0; a < N; ++a) store(out + (N * a + b) * ks, t[a], L);
      }
    }
}

// v = the first n floats at p, the other lanes zero: a load that stops at the end of a caller's
// range (another thread may be writing past it).
inline void load_first(vreg& v, const float* p, std::size_t n) {
  if (n == lanes) {
    v = load(p);
    return;
  }
  v = vreg{};
  for (std::size_t l = 0; l < n; ++l) v[l] = p[l];
}

// u[k * ks + n] = (G w_n G^T)[k] for the 3x3 filters w_n = w[9n .. 9n+8], n < count, or for the
// filters turned by 180 degrees when `turned` (backward data convolves with them). tmp: 9 *
// filter_block floats. A block of filters is first transposed into tmp (tap-major), then
// transformed `lanes` filters at a time, one per lane.
template <std::size_t M>
void filter_transform(const float* w, std::size_t count, bool turned, float* __restrict u, std::size_t ks,
                      float* __restrict tmp) {
  constexpr std::size_t N = Tile<M>::N, B = filter_block;
  const bool stream = N * N * ks * sizeof(float) > streaming_bytes;
  static_assert(B % lanes == 0, "a block of filters is whole vectors");
  for (std::size_t n0 = 0; n0 < count; n0 += B) {
    const std::size_t nb = std::min(B, count - n0), padded = (nb + lanes - 1) / lanes * lanes;
    const float* wb = w + n0 * 9;
    for (std::size_t q = 0; q < 9; ++q) {
      const std::size_t from = turned ? 8 - q : q;
      for (std::size_t i = 0; i < nb; ++i) tmp[q * B + i] = wb[i * 9 + from];
      for (std::size_t i = nb; i < padded; ++i) tmp[q * B + i] = 0.f;
    }
    float* ub = u + n0;
    for (std::size_t i = 0; i < nb; i += lanes) {
      const std::size_t n = std::min(lanes, nb - i);
      // G g down each of the 3 columns, then G along each of the N rows.
      vreg t[3][N];
      for (std::size_t s = 0; s < 3; ++s) {
        const vreg g[3] = {load(tmp + s * B + i), load(tmp + (3 + s) * B + i), load(tmp + (6 + s) * B + i)};
        Tile<M>::filter(g, t[s]);
      }
      for (std::size_t r = 0; r < N; ++r) {
        const vreg g[3] = {t[0][r], t[1][r], t[2][r]};
        vreg o[N];
        Tile<M>::filter(g, o);
        for (std::size_t c = 0; c < N; ++c) {
          if (stream && n == lanes)
            store_streaming(ub + (N * r + c) * ks + i, o[c]);
          else
            store(ub + (N * r + c) * ks + i, o[c], n);
        }
      }
    }
  }
  if (stream) streaming_done();
}

// dw[9n .. 9n+8] += G^T m_n G for n < count, where m_n[k] = m[k * ks + n]. tmp: 9 * filter_block
// floats. `lanes` filters at a time, one per lane, into tmp (tap-major), then added to dw.
template <std::size_t M>
void filter_gradient_transform(const float* m, std::size_t ks, std::size_t count, float* dw, float* __restrict tmp) {
  constexpr std::size_t N = Tile<M>::N, B = filter_block;
  for (std::size_t n0 = 0; n0 < count; n0 += B) {
    const std::size_t nb = std::min(B, count - n0);
    const float* mb = m + n0;
    for (std::size_t i = 0; i < nb; i += lanes) {
      const std::size_t n = std::min(lanes, nb - i);
      // G^T down each of the N columns, then G^T along each of the 3 rows.
      vreg t[N][3];
      for (std::size_t c = 0; c < N; ++c) {
        vreg col[N];
        for (std::size_t a = 0; a < N; ++a) load_first(col[a], mb + (N * a + c) * ks + i, n);
        Tile<M>::filter_gradient(col, t[c]);
      }
      for (std::size_t r = 0; r < 3; ++r) {
        vreg row[N], o[3];
        for (std::size_t c = 0; c < N; ++c) row[c] = t[c][r];
        Tile<M>::filter_gradient(row, o);
        for (std::size_t c = 0; c < 3; ++c) store_whole(tmp + (3 * r + c) * B + i, o[c]);
      }
    }
    float* db = dw + n0 * 9;
    for (std::size_t i = 0; i < nb; ++i)
      for (std::size_t q = 0; q < 9; ++q) db[i * 9 + q] += tmp[q * B + i];
  }
}

// This instruction set's entries in the dispatch table, per tile size.
template <std::size_t M>
inline constexpr Transforms transforms{&input_transform<M>, &output_transform<M>, &gradient_transform<M>,
                                       &filter_transform<M>, &filter_gradient_transform<M>};

}  // namespace CTNN_ISA_NAMESPACE
