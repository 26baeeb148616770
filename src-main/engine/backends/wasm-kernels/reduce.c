/*
 * Sum over the middle of a float32 tensor viewed as [P, Q, R]: out[p][r] = scale * sum_q x[p][q][r]
 * (Sum: scale 1; Mean: scale 1/Q). Covers the reductions of a training step: over N, H, W of an
 * NHWC tensor (R = C), over H, W (P = N, R = C), over the last axes (R = 1). One pass, SIMD over r
 * (or over q when R = 1), partial sums per block of 64 rows added to the total (accuracy: the
 * rounding error grows with Q / 64 + 64, not Q). Same rules as winograd.c: imported memory, no
 * static data, no stack; `scratch` holds R floats (used when R > 1 and R % 16 != 0).
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))
typedef v128_t vf;

#define BLOCK 64

static inline float hsum(vf v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

EXPORT(reduce_middle)
void reduce_middle(const float *x, float *out, float *scratch, int P, int Q, int R, float scale) {
  const vf z = wasm_f32x4_splat(0.f);
  for (int p = 0; p < P; p++) {
    const float *xp = x + (long)p * Q * R;
    float *op = out + p * R;
    if (R == 1) {
      float total = 0.f;
      for (int q0 = 0; q0 < Q; q0 += BLOCK * 4) {
        const int q1 = Q - q0 < BLOCK * 4 ? Q : q0 + BLOCK * 4;
        vf a0 = z, a1 = z;
        int q = q0;
        for (; q + 8 <= q1; q += 8) {
          a0 = wasm_f32x4_add(a0, wasm_v128_load(xp + q));
          a1 = wasm_f32x4_add(a1, wasm_v128_load(xp + q + 4));
        }
        float part = hsum(wasm_f32x4_add(a0, a1));
        for (; q < q1; q++) part += xp[q];
        total += part;
      }
      op[0] = total * scale;
    } else if ((R & 15) == 0) {
      /* 16 columns at a time in registers (R / 16 passes over this p's rows). */
      const vf sc = wasm_f32x4_splat(scale);
      for (int r0 = 0; r0 < R; r0 += 16) {
        vf t0 = z, t1 = z, t2 = z, t3 = z;
        for (int q0 = 0; q0 < Q; q0 += BLOCK) {
          const int q1 = Q - q0 < BLOCK ? Q : q0 + BLOCK;
          vf a0 = z, a1 = z, a2 = z, a3 = z;
          for (int q = q0; q < q1; q++) {
            const float *r = xp + q * R + r0;
            a0 = wasm_f32x4_add(a0, wasm_v128_load(r));
            a1 = wasm_f32x4_add(a1, wasm_v128_load(r + 4));
            a2 = wasm_f32x4_add(a2, wasm_v128_load(r + 8));
            a3 = wasm_f32x4_add(a3, wasm_v128_load(r + 12));
          }
          t0 = wasm_f32x4_add(t0, a0);
          t1 = wasm_f32x4_add(t1, a1);
          t2 = wasm_f32x4_add(t2, a2);
          t3 = wasm_f32x4_add(t3, a3);
        }
        wasm_v128_store(op + r0, wasm_f32x4_mul(t0, sc));
        wasm_v128_store(op + r0 + 4, wasm_f32x4_mul(t1, sc));
        wasm_v128_store(op + r0 + 8, wasm_f32x4_mul(t2, sc));
        wasm_v128_store(op + r0 + 12, wasm_f32x4_mul(t3, sc));
      }
    } else {
      /* Totals in out, block partials in scratch. */
      const int rv = R & ~3;
      for (int r = 0; r < R; r++) op[r] = 0.f;
      for (int q0 = 0; q0 < Q; q0 += BLOCK) {
        const int q1 = Q - q0 < BLOCK ? Q : q0 + BLOCK;
        for (int r = 0; r < R; r++) scratch[r] = 0.f;
        for (int q = q0; q < q1; q++) {
          const float *xr = xp + q * R;
          int r = 0;
          for (; r < rv; r += 4)
            wasm_v128_store(scratch + r,
                            wasm_f32x4_add(wasm_v128_load(scratch + r), wasm_v128_load(xr + r)));
          for (; r < R; r++) scratch[r] += xr[r];
        }
        for (int r = 0; r < R; r++) op[r] += scratch[r];
      }
      for (int r = 0; r < R; r++) op[r] *= scale;
    }
  }
}
