/*
 * Broadcasting binary ops for float32, WebAssembly SIMD128: out = full OP small where, viewed as
 * [P, Q, R], full is [P, Q, R] and small is [P, 1, R] (broadcast over the middle dims): per-row
 * factors [N, 1, 1, C] and per-channel vectors [C] of NHWC tensors, and scalars (P = R = 1).
 * Each element is one IEEE operation, as in the stock kernel: results are bit-identical.
 * Same rules as winograd.c: imported memory, no static data, no stack.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
typedef v128_t vf;

enum { OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_RSUB = 4, OP_RDIV = 5 };

#define LOOP(VOP, SOP)                                                                             \
  for (int p = 0; p < P; p++) {                                                                    \
    const float *sp = s + p * R;                                                                   \
    if (R == 1) {                                                                                  \
      const vf bv = wasm_f32x4_splat(sp[0]);                                                       \
      const float b = sp[0];                                                                       \
      int q = 0;                                                                                   \
      for (; q + 4 <= Q; q += 4) wasm_v128_store(o + q, VOP(wasm_v128_load(f + q), bv));           \
      for (; q < Q; q++) o[q] = SOP(f[q], b);                                                      \
      f += Q;                                                                                      \
      o += Q;                                                                                      \
    } else if ((R & 3) == 0) {                                                                     \
      for (int q = 0; q < Q; q++) {                                                                \
        for (int r = 0; r < R; r += 4)                                                             \
          wasm_v128_store(o + r, VOP(wasm_v128_load(f + r), wasm_v128_load(sp + r)));              \
        f += R;                                                                                    \
        o += R;                                                                                    \
      }                                                                                            \
    } else {                                                                                       \
      for (int q = 0; q < Q; q++) {                                                                \
        for (int r = 0; r < R; r++) o[r] = SOP(f[r], sp[r]);                                       \
        f += R;                                                                                    \
        o += R;                                                                                    \
      }                                                                                            \
    }                                                                                              \
  }

#define V_ADD(x, y) wasm_f32x4_add(x, y)
#define V_SUB(x, y) wasm_f32x4_sub(x, y)
#define V_MUL(x, y) wasm_f32x4_mul(x, y)
#define V_DIV(x, y) wasm_f32x4_div(x, y)
#define V_RSUB(x, y) wasm_f32x4_sub(y, x)
#define V_RDIV(x, y) wasm_f32x4_div(y, x)
#define S_ADD(x, y) ((x) + (y))
#define S_SUB(x, y) ((x) - (y))
#define S_MUL(x, y) ((x) * (y))
#define S_DIV(x, y) ((x) / (y))
#define S_RSUB(x, y) ((y) - (x))
#define S_RDIV(x, y) ((y) / (x))

/*
 * out[p][q][r] = full[p][q][r] OP small[p][r]; OP_RSUB / OP_RDIV: small OP full (the small operand
 * came first). out may alias full.
 */
EXPORT(bcast_binary)
void bcast_binary(int op, const float *full, const float *small, float *out, int P, int Q, int R) {
  const float *f = full, *s = small;
  float *o = out;
  switch (op) {
  case OP_ADD: LOOP(V_ADD, S_ADD) break;
  case OP_SUB: LOOP(V_SUB, S_SUB) break;
  case OP_MUL: LOOP(V_MUL, S_MUL) break;
  case OP_DIV: LOOP(V_DIV, S_DIV) break;
  case OP_RSUB: LOOP(V_RSUB, S_RSUB) break;
  case OP_RDIV: LOOP(V_RDIV, S_RDIV) break;
  default: break;
  }
}
