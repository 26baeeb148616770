/*
 * Winograd F(2x2, 3x3) convolution for float32 NHWC tensors, WebAssembly SIMD128.
 *
 * y[n, oy, ox, co] = sum_{i, j, ci} x[n, oy + i - padT, ox + j - padL, ci] * g[i, j, ci, co]
 * (3x3 filters, stride 1, dilation 1; rows and columns outside x read as zero).
 *
 * Each 2x2 block of outputs ("tile") is computed from a 4x4 block of inputs:
 *   V = B^T d B (input transform), U = G g G^T (filter transform, once per call),
 *   M[p] = V[p] . U[p] for the 16 positions p (16 GEMMs [tiles x cin] . [cin x cout]),
 *   y = A^T M A (output transform)
 * which takes 16 instead of 36 multiply-adds per tile, input channel and output channel (2.25x fewer).
 * Tiles are processed in blocks of `tb` (a multiple of 8) so that V and M stay in cache:
 * V block [16][tb][cin], M block [16][tb][cout] (position-major: each GEMM reads and writes
 * contiguous rows; the position stride is padded by one cache line off multiples of 4 KB, which
 * would alias the 16 streams of the transforms in L1).
 *
 * The filter gradient of the same conv uses the same tiles (Lavin & Gray 2016, by transposition):
 *   dW = G^T [ sum over tiles of (A dy A^T) (.) (B^T d B) ] G,
 * i.e. the forward's input transform, a 2x2 -> 4x4 transform of each dy tile, 16 GEMMs
 * [cin x tiles] . [tiles x cout] accumulated over all tiles, and one 4x4 -> 3x3 transform at the end.
 *
 * The module imports its memory (the caller's heap), uses no static data and no stack (checked by
 * scripts/build-wasm.sh): all buffers are passed in. Requirements: cin % 4 == 0, cout % 4 == 0.
 * Built twice: plain SIMD128 (mul + add) and with -DUSE_FMA (relaxed-simd f32x4.relaxed_madd).
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
#define INLINE static inline __attribute__((always_inline))
typedef v128_t vf;

#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul
#define LD(p) wasm_v128_load(p)
#define ST(p, x) wasm_v128_store(p, x)
#define SPLAT(p) wasm_v128_load32_splat(p)

#ifdef USE_FMA
/* a * b + c, fused or not (relaxed): the result may differ from mul + add in the last bit. */
#define MADD(a, b, c) __builtin_wasm_relaxed_madd_f32x4(a, b, c)
#else
#define MADD(a, b, c) ADD(c, MUL(a, b))
#endif

/* Floats between two positions' blocks beyond tb * c (16 floats = 64 bytes: one cache line). */
#define PAD 16

/* g: [3][3][cin][cout] (HWIO) -> u: [16][cin][cout], u = G g G^T. */
EXPORT(wino_f23_filter)
void wino_f23_filter(const float *g, float *u, int cin, int cout) {
  const int cc = cin * cout;
  for (int i = 0; i < cc; i++) {
    float k[3][3], t[4][3];
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) k[a][b] = g[(a * 3 + b) * cc + i];
    for (int b = 0; b < 3; b++) {
      t[0][b] = k[0][b];
      t[1][b] = 0.5f * (k[0][b] + k[1][b] + k[2][b]);
      t[2][b] = 0.5f * (k[0][b] - k[1][b] + k[2][b]);
      t[3][b] = k[2][b];
    }
    for (int a = 0; a < 4; a++) {
      u[(a * 4 + 0) * cc + i] = t[a][0];
      u[(a * 4 + 1) * cc + i] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
      u[(a * 4 + 2) * cc + i] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
      u[(a * 4 + 3) * cc + i] = t[a][2];
    }
  }
}

/* V = B^T d B for one 4x4 tile of 4 channels (dij = row i, column j); v[p * ps], p = 4 * row + col. */
INLINE void in_tf(vf d00, vf d01, vf d02, vf d03, vf d10, vf d11, vf d12, vf d13, vf d20, vf d21,
                  vf d22, vf d23, vf d30, vf d31, vf d32, vf d33, float *v, int ps) {
  vf r00 = SUB(d00, d20), r01 = SUB(d01, d21), r02 = SUB(d02, d22), r03 = SUB(d03, d23);
  vf r10 = ADD(d10, d20), r11 = ADD(d11, d21), r12 = ADD(d12, d22), r13 = ADD(d13, d23);
  vf r20 = SUB(d20, d10), r21 = SUB(d21, d11), r22 = SUB(d22, d12), r23 = SUB(d23, d13);
  vf r30 = SUB(d10, d30), r31 = SUB(d11, d31), r32 = SUB(d12, d32), r33 = SUB(d13, d33);
#define COLS(a, x0, x1, x2, x3)                                                                    \
  ST(v + (a * 4 + 0) * ps, SUB(x0, x2));                                                           \
  ST(v + (a * 4 + 1) * ps, ADD(x1, x2));                                                           \
  ST(v + (a * 4 + 2) * ps, SUB(x2, x1));                                                           \
  ST(v + (a * 4 + 3) * ps, SUB(x1, x3));
  COLS(0, r00, r01, r02, r03)
  COLS(1, r10, r11, r12, r13)
  COLS(2, r20, r21, r22, r23)
  COLS(3, r30, r31, r32, r33)
#undef COLS
}

/* Tile t = (n, ty, tx) in row-major order. */
INLINE void tile_pos(int t, int tilesH, int tilesW, int *n, int *ty, int *tx) {
  *tx = t % tilesW;
  int rest = t / tilesW;
  *ty = rest % tilesH;
  *n = rest / tilesH;
}

/*
 * Input transform of tiles [t0, t0 + nt) into v: element (tile t, position p, channel c) at
 * v[t * ts + p * ps + c]; tiles nt..rows-1 are zeroed.
 */
static void input_block(const float *x, float *v, int ps, int ts, int t0, int nt, int rows, int h,
                        int w, int cin,
                        int tilesH, int tilesW, int padT, int padL) {
  const vf z = wasm_f32x4_splat(0.f);
  for (int t = 0; t < nt; t++) {
    int n, ty, tx;
    tile_pos(t0 + t, tilesH, tilesW, &n, &ty, &tx);
    const int iy = 2 * ty - padT, ix = 2 * tx - padL;
    const float *xn = x + (int64_t)n * h * w * cin;
    float *vt = v + t * ts;
    if (iy >= 0 && iy + 4 <= h && ix >= 0 && ix + 4 <= w) {
      const float *p0 = xn + ((int64_t)iy * w + ix) * cin;
      const float *p1 = p0 + w * cin, *p2 = p1 + w * cin, *p3 = p2 + w * cin;
      for (int c = 0; c < cin; c += 4) {
        in_tf(LD(p0 + c), LD(p0 + cin + c), LD(p0 + 2 * cin + c), LD(p0 + 3 * cin + c),
              LD(p1 + c), LD(p1 + cin + c), LD(p1 + 2 * cin + c), LD(p1 + 3 * cin + c),
              LD(p2 + c), LD(p2 + cin + c), LD(p2 + 2 * cin + c), LD(p2 + 3 * cin + c),
              LD(p3 + c), LD(p3 + cin + c), LD(p3 + 2 * cin + c), LD(p3 + 3 * cin + c), vt + c, ps);
      }
    } else {
      /* Edge tile: offsets of the rows and columns inside x, -1 for the zero padding. */
      int ro[4], co[4];
      for (int i = 0; i < 4; i++) {
        const int yy = iy + i, xx = ix + i;
        ro[i] = (yy >= 0 && yy < h) ? yy * w * cin : -1;
        co[i] = (xx >= 0 && xx < w) ? xx * cin : -1;
      }
#define L(i, j) ((ro[i] >= 0 && co[j] >= 0) ? LD(xn + ro[i] + co[j] + c) : z)
      for (int c = 0; c < cin; c += 4) {
        in_tf(L(0, 0), L(0, 1), L(0, 2), L(0, 3), L(1, 0), L(1, 1), L(1, 2), L(1, 3), L(2, 0),
              L(2, 1), L(2, 2), L(2, 3), L(3, 0), L(3, 1), L(3, 2), L(3, 3), vt + c, ps);
      }
#undef L
    }
  }
  for (int t = nt; t < rows; t++)
    for (int p = 0; p < 16; p++)
      for (int c = 0; c < cin; c += 4) ST(v + t * ts + p * ps + c, z);
}

/*
 * Output transform y = A^T M A of tiles [t0, t0 + nt) from m (element (t, p, c) at
 * m[t * ts + p * ps + c]); outputs beyond oh x ow are not written.
 */
static void output_block(const float *m, int ps, int ts, float *y, int t0, int nt, int oh, int ow,
                         int cout, int tilesH, int tilesW) {
  for (int t = 0; t < nt; t++) {
    int n, ty, tx;
    tile_pos(t0 + t, tilesH, tilesW, &n, &ty, &tx);
    const int oy = 2 * ty, ox = 2 * tx;
    float *y00 = y + (((int64_t)n * oh + oy) * ow + ox) * cout;
    const int h2 = oy + 1 < oh, w2 = ox + 1 < ow;
    const float *mt = m + t * ts;
    for (int c = 0; c < cout; c += 4) {
      const float *q = mt + c;
#define M(p) LD(q + (p) * ps)
      vf s0 = ADD(ADD(M(0), M(4)), M(8)), s1 = ADD(ADD(M(1), M(5)), M(9));
      vf s2 = ADD(ADD(M(2), M(6)), M(10)), s3 = ADD(ADD(M(3), M(7)), M(11));
      vf e0 = SUB(SUB(M(4), M(8)), M(12)), e1 = SUB(SUB(M(5), M(9)), M(13));
      vf e2 = SUB(SUB(M(6), M(10)), M(14)), e3 = SUB(SUB(M(7), M(11)), M(15));
#undef M
      ST(y00 + c, ADD(ADD(s0, s1), s2));
      if (w2) ST(y00 + cout + c, SUB(SUB(s1, s2), s3));
      if (h2) {
        ST(y00 + ow * cout + c, ADD(ADD(e0, e1), e2));
        if (w2) ST(y00 + (ow + 1) * cout + c, SUB(SUB(e1, e2), e3));
      }
    }
  }
}

/*
 * Micro-kernel: c[MR][NR] = a[MR][k] . b[k][NR] (row strides lda, ldb, ldc), MR * NR / 4
 * accumulators (8: more spill in V8's 16 xmm registers).
 */
#define MICRO(MR, NR)                                                                              \
  INLINE void micro_##MR##x##NR(const float *a, int lda, const float *b, int ldb, float *c,     \
                                int ldc, int k) {                                                \
    vf acc[MR][NR / 4];                                                                          \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                              \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++) acc[r][j] =          \
            wasm_f32x4_splat(0.f);                                                               \
    for (int i = 0; i < k; i++) {                                                                \
      vf bv[NR / 4];                                                                             \
      _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++) bv[j] = LD(b + 4 * j); \
      b += ldb;                                                                                  \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) {                          \
        vf av = SPLAT(a + r * lda + i);                                                          \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++) acc[r][j] =          \
            MADD(av, bv[j], acc[r][j]);                                                          \
      }                                                                                          \
    }                                                                                            \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                              \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++)                      \
            ST(c + r * ldc + 4 * j, acc[r][j]);                                                  \
  }
MICRO(2, 16)
MICRO(4, 8)
MICRO(8, 4)

/* M[p] = V[p] . U[p] for one position: v [rows][cin], m [rows][cout] row-major (rows % 8 == 0). */
INLINE void gemm(const float *v, const float *u, float *m, int rows, int cin, int cout) {
  const int lda = cin, ldc = cout;
  int j = 0;
  for (; j + 16 <= cout; j += 16)
    for (int r = 0; r < rows; r += 2) micro_2x16(v + r * lda, lda, u + j, cout, m + r * ldc + j, ldc, cin);
  for (; j + 8 <= cout; j += 8)
    for (int r = 0; r < rows; r += 4) micro_4x8(v + r * lda, lda, u + j, cout, m + r * ldc + j, ldc, cin);
  for (; j < cout; j += 4)
    for (int r = 0; r < rows; r += 8) micro_8x4(v + r * lda, lda, u + j, cout, m + r * ldc + j, ldc, cin);
}

/* Copies with a compile-time channel count (constant strides and trip counts: ~5% faster). */
#define GEMM_FIXED(CI)                                                                             \
  static void gemm_##CI(const float *v, const float *u, float *m, int rows, int cout) {          \
    gemm(v, u, m, rows, CI, cout);                                                               \
  }
GEMM_FIXED(16)
GEMM_FIXED(32)
GEMM_FIXED(64)
static void gemm_any(const float *v, const float *u, float *m, int rows, int cin, int cout) {
  gemm(v, u, m, rows, cin, cout);
}

/* ---------------------------------------------------------------------------- filter gradient */

/* dy tiles [t0, t0 + nt) -> A dy A^T (4x4 per tile) into yt, laid out like input_block's v. */
static void dy_block(const float *dy, float *yt, int ps, int ts, int t0, int nt, int rows, int oh,
                     int ow, int cout, int tilesH, int tilesW) {
  const vf z = wasm_f32x4_splat(0.f);
  for (int t = 0; t < nt; t++) {
    int n, ty, tx;
    tile_pos(t0 + t, tilesH, tilesW, &n, &ty, &tx);
    const int oy = 2 * ty, ox = 2 * tx;
    const float *d00 = dy + (((int64_t)n * oh + oy) * ow + ox) * cout;
    const int h2 = oy + 1 < oh, w2 = ox + 1 < ow;
    float *o = yt + t * ts;
    for (int c = 0; c < cout; c += 4) {
      const vf a = LD(d00 + c);
      const vf b = w2 ? LD(d00 + cout + c) : z;
      const vf cc = h2 ? LD(d00 + ow * cout + c) : z;
      const vf d = h2 && w2 ? LD(d00 + (ow + 1) * cout + c) : z;
      /* rows of A dy: [a b], [a+c b+d], [a-c b-d], [-c -d]; then columns [u, u+v, u-v, -v]. */
      const vf u1 = ADD(a, cc), v1 = ADD(b, d), u2 = SUB(a, cc), v2 = SUB(b, d);
#define ROW(r, u, v)                                                                               \
  ST(o + (r * 4 + 0) * ps + c, u);                                                                 \
  ST(o + (r * 4 + 1) * ps + c, ADD(u, v));                                                         \
  ST(o + (r * 4 + 2) * ps + c, SUB(u, v));                                                         \
  ST(o + (r * 4 + 3) * ps + c, wasm_f32x4_neg(v));
      ROW(0, a, b)
      ROW(1, u1, v1)
      ROW(2, u2, v2)
      ROW(3, wasm_f32x4_neg(cc), wasm_f32x4_neg(d))
#undef ROW
    }
  }
  for (int t = nt; t < rows; t++)
    for (int p = 0; p < 16; p++)
      for (int c = 0; c < cout; c += 4) ST(yt + t * ts + p * ps + c, z);
}

/*
 * c[MR][NR] += sum_i a[i * aks + r] * b[i * bks + j] for i < k: S[p] += V[:, p]^T . Yt[:, p]
 * (a: V at tile 0, row stride 1 = consecutive input channels; b: Yt; c row stride ldc).
 */
#define MICRO_T(MR, NR)                                                                            \
  INLINE void microt_##MR##x##NR(const float *a, int aks, const float *b, int bks, float *c,      \
                                 int ldc, int k) {                                               \
    vf acc[MR][NR / 4];                                                                          \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                              \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++) acc[r][j] =          \
            wasm_f32x4_splat(0.f);                                                               \
    for (int i = 0; i < k; i++) {                                                                \
      vf bv[NR / 4];                                                                             \
      _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++) bv[j] = LD(b + 4 * j); \
      b += bks;                                                                                  \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) {                          \
        vf av = SPLAT(a + r);                                                                    \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++) acc[r][j] =          \
            MADD(av, bv[j], acc[r][j]);                                                          \
      }                                                                                          \
      a += aks;                                                                                  \
    }                                                                                            \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++)                              \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < NR / 4; j++)                      \
            ST(c + r * ldc + 4 * j, ADD(LD(c + r * ldc + 4 * j), acc[r][j]));                    \
  }
MICRO_T(2, 16)
MICRO_T(4, 8)
MICRO_T(4, 4)

/*
 * s [cin][cout] += v_p^T . yt_p over `rows` tiles: v_p [rows][cin], yt_p [rows][cout] (row-major,
 * position-major blocks: consecutive tiles are adjacent, no 4 KB strides between the k steps).
 */
static void gemm_t(const float *v, const float *yt, float *s, int rows, int cin, int cout) {
  const int aks = cin, bks = cout;
  int j = 0;
  for (; j + 16 <= cout; j += 16)
    for (int r = 0; r < cin; r += 2) microt_2x16(v + r, aks, yt + j, bks, s + r * cout + j, cout, rows);
  for (; j + 8 <= cout; j += 8)
    for (int r = 0; r < cin; r += 4) microt_4x8(v + r, aks, yt + j, bks, s + r * cout + j, cout, rows);
  for (; j < cout; j += 4)
    for (int r = 0; r < cin; r += 4) microt_4x4(v + r, aks, yt + j, bks, s + r * cout + j, cout, rows);
}

/* Floats of scratch that wino_f23_filter_grad needs for blocks of tb tiles. */
EXPORT(wino_f23_filter_grad_scratch)
int wino_f23_filter_grad_scratch(int tb, int cin, int cout) {
  return 16 * cin * cout + 16 * (tb * cin + PAD) + 16 * (tb * cout + PAD);
}

/*
 * dw [3][3][cin][cout] = dL/dg of y = conv2d(x, g) (as wino_f23_conv: 3x3, stride 1, padding
 * (padT, padL), y [n][oh][ow][cout]) given x and dy. scratch: wino_f23_filter_grad_scratch floats.
 */
EXPORT(wino_f23_filter_grad)
void wino_f23_filter_grad(const float *x, const float *dy, float *dw, float *scratch, int n, int h,
                          int w, int cin, int cout, int oh, int ow, int padT, int padL, int tb) {
  const int tilesH = (oh + 1) / 2, tilesW = (ow + 1) / 2;
  const int tiles = n * tilesH * tilesW;
  const int cc = cin * cout;
  float *s = scratch;
  float *v = s + 16 * cc;
  /* Position-major blocks [16][tb][c]; the position stride is padded off multiples of 4 KB. */
  const int vps = tb * cin + PAD, yps = tb * cout + PAD;
  float *yt = v + 16 * vps;
  const vf z = wasm_f32x4_splat(0.f);
  for (int i = 0; i < 16 * cc; i += 4) ST(s + i, z);
  for (int t0 = 0; t0 < tiles; t0 += tb) {
    const int nt = tiles - t0 < tb ? tiles - t0 : tb;
    const int rows = (nt + 7) & ~7;
    input_block(x, v, vps, cin, t0, nt, rows, h, w, cin, tilesH, tilesW, padT, padL);
    dy_block(dy, yt, yps, cout, t0, nt, rows, oh, ow, cout, tilesH, tilesW);
    for (int p = 0; p < 16; p++) gemm_t(v + p * vps, yt + p * yps, s + p * cc, rows, cin, cout);
  }
  /* dw = G^T S G, G^T rows: [1 .5 .5 0], [0 .5 -.5 0], [0 .5 .5 1]. */
  for (int i = 0; i < cc; i++) {
    float t[3][4];
    for (int q = 0; q < 4; q++) {
      const float s0 = s[(0 + q) * cc + i], s1 = s[(4 + q) * cc + i];
      const float s2 = s[(8 + q) * cc + i], s3 = s[(12 + q) * cc + i];
      t[0][q] = s0 + 0.5f * (s1 + s2);
      t[1][q] = 0.5f * (s1 - s2);
      t[2][q] = 0.5f * (s1 + s2) + s3;
    }
    for (int a = 0; a < 3; a++) {
      dw[(a * 3 + 0) * cc + i] = t[a][0] + 0.5f * (t[a][1] + t[a][2]);
      dw[(a * 3 + 1) * cc + i] = 0.5f * (t[a][1] - t[a][2]);
      dw[(a * 3 + 2) * cc + i] = 0.5f * (t[a][1] + t[a][2]) + t[a][3];
    }
  }
}

/* ---------------------------------------------------------------------------------- forward */

/* Floats of scratch that wino_f23_conv needs for blocks of tb tiles. */
EXPORT(wino_f23_scratch)
int wino_f23_scratch(int tb, int cin, int cout) { return 16 * (tb * cin + PAD) + 16 * (tb * cout + PAD); }

/*
 * y [n][oh][ow][cout] = conv2d(x [n][h][w][cin], g) given u = wino_f23_filter(g); see the top.
 * scratch: wino_f23_scratch(tb, cin, cout) floats; tb % 8 == 0; cin % 4 == 0; cout % 4 == 0.
 */
EXPORT(wino_f23_conv)
void wino_f23_conv(const float *x, const float *u, float *y, float *scratch, int n, int h, int w,
                   int cin, int cout, int oh, int ow, int padT, int padL, int tb) {
  const int tilesH = (oh + 1) / 2, tilesW = (ow + 1) / 2;
  const int tiles = n * tilesH * tilesW;
  const int vps = tb * cin + PAD, mps = tb * cout + PAD;
  float *v = scratch;
  float *m = scratch + 16 * vps;
  for (int t0 = 0; t0 < tiles; t0 += tb) {
    const int nt = tiles - t0 < tb ? tiles - t0 : tb;
    const int rows = (nt + 7) & ~7;
    input_block(x, v, vps, cin, t0, nt, rows, h, w, cin, tilesH, tilesW, padT, padL);
    for (int p = 0; p < 16; p++) {
      const float *vp = v + p * vps, *up = u + p * cin * cout;
      float *mp = m + p * mps;
      if (cin == 16) gemm_16(vp, up, mp, rows, cout);
      else if (cin == 32) gemm_32(vp, up, mp, rows, cout);
      else if (cin == 64) gemm_64(vp, up, mp, rows, cout);
      else gemm_any(vp, up, mp, rows, cin, cout);
    }
    output_block(m, mps, cout, y, t0, nt, oh, ow, cout, tilesH, tilesW);
  }
}
