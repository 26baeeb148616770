/**
 * Seeded randomness. Every random draw of a run (init, shuffling, augmentation, factor samples)
 * comes from one seeded stream, so the same seed on the same backend gives the same run.
 */

/** mulberry32: small, fast, good enough for shuffling and seeding TF.js ops. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** A fresh 31-bit seed for a TF.js random op. */
  seed(): number {
    return Math.floor(this.next() * 2147483647);
  }
  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
  /** Independent child stream, e.g. one per epoch, so a resumed run continues identically. */
  fork(salt: number): Rng {
    return new Rng((this.seed() ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0);
  }
}

/** A stream derived from (seed, salt) alone: stable across resumes. */
export function rngFor(seed: number, salt: number): Rng {
  return new Rng((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(salt + 1, 0x165667b1)) >>> 0);
}
