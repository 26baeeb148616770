/**
 * Optimizers with a per-step learning rate (the schedule changes it every step): SGD with
 * Nesterov momentum 0.9 (spec §4) and Adam. Slots are named so a checkpoint can resume them.
 */
import * as tf from '@tensorflow/tfjs';
import type { Param } from './layers/rank1.js';

export interface Optimizer {
  /** Apply one update; `grads` maps variable name → gradient; `lrScale` per variable (default 1). */
  apply(
    vars: tf.Variable[],
    grads: Record<string, tf.Tensor>,
    lr: number,
    lrScale?: (v: tf.Variable) => number,
  ): void;
  /** Slot values by name, for checkpoints. */
  saveState(): Promise<{ name: string; shape: number[]; data: Float32Array }[]>;
  load(slots: Map<string, Float32Array>): void;
  dispose(): void;
}

abstract class SlotOptimizer implements Optimizer {
  protected readonly slotVars = new Map<string, tf.Variable>();
  protected slot(kind: string, v: tf.Variable, key = `${kind}:${v.name.replace(/__\d+$/, '')}`): tf.Variable {
    let s = this.slotVars.get(key);
    if (!s) {
      s = tf.variable(tf.zerosLike(v), false);
      this.slotVars.set(key, s);
    }
    return s;
  }
  async saveState(): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
    const out = [];
    for (const [name, v] of this.slotVars)
      out.push({ name, shape: v.shape, data: (await v.data()) as Float32Array });
    return out;
  }
  load(values: Map<string, Float32Array>): void {
    this.pending = values;
  }
  /** Values restored lazily the first time a slot is created. */
  protected pending?: Map<string, Float32Array>;
  protected restore(key: string, s: tf.Variable): void {
    const v = this.pending?.get(key);
    if (v) s.assign(tf.tensor(v, s.shape));
  }
  abstract apply(
    vars: tf.Variable[],
    grads: Record<string, tf.Tensor>,
    lr: number,
    lrScale?: (v: tf.Variable) => number,
  ): void;
  dispose(): void {
    this.slotVars.forEach((s) => s.dispose());
    this.slotVars.clear();
  }
  protected ensure(kind: string, v: tf.Variable): tf.Variable {
    const key = `${kind}:${v.name.replace(/__\d+$/, '')}`;
    const existed = this.slotVars.has(key);
    const s = this.slot(kind, v, key);
    if (!existed) this.restore(key, s);
    return s;
  }
}

/** v ← μv + g; w ← w − lr(g + μv) (Nesterov, as tf.keras SGD(nesterov=True) / torch). */
export class NesterovSgd extends SlotOptimizer {
  constructor(private readonly momentum = 0.9) {
    super();
  }
  apply(
    vars: tf.Variable[],
    grads: Record<string, tf.Tensor>,
    lr: number,
    lrScale?: (v: tf.Variable) => number,
  ): void {
    tf.tidy(() => {
      for (const v of vars) {
        const g = grads[v.name];
        if (!g) continue;
        const m = this.ensure('momentum', v);
        const next = tf.add(tf.mul(m, this.momentum), g);
        m.assign(next);
        v.assign(tf.sub(v, tf.mul(tf.add(g, tf.mul(next, this.momentum)), lr * (lrScale?.(v) ?? 1))));
      }
    });
  }
}

export class Adam extends SlotOptimizer {
  private t = 0;
  constructor(
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-7,
  ) {
    super();
  }
  override async saveState(): Promise<{ name: string; shape: number[]; data: Float32Array }[]> {
    return [...(await super.saveState()), { name: 'adam:t', shape: [1], data: Float32Array.of(this.t) }];
  }
  override load(values: Map<string, Float32Array>): void {
    super.load(values);
    this.t = values.get('adam:t')?.[0] ?? 0;
  }
  apply(
    vars: tf.Variable[],
    grads: Record<string, tf.Tensor>,
    lr: number,
    lrScale?: (v: tf.Variable) => number,
  ): void {
    this.t++;
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    tf.tidy(() => {
      for (const v of vars) {
        const g = grads[v.name];
        if (!g) continue;
        const m = this.ensure('m', v);
        const s = this.ensure('v', v);
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        s.assign(tf.add(tf.mul(s, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        v.assign(
          tf.sub(
            v,
            tf.mul(
              tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(s, c2)), this.epsilon)),
              lr * (lrScale?.(v) ?? 1),
            ),
          ),
        );
      }
    });
  }
}

export function createOptimizer(kind: 'sgd' | 'adam'): Optimizer {
  return kind === 'adam' ? new Adam() : new NesterovSgd(0.9);
}

/**
 * Per-variable learning-rate multipliers, or undefined when all are 1: the rank-1 factors' (the
 * parameters without L2; spec §3 fast_weight_lr_multiplier) times each parameter's own `lrScale`
 * (pretrained backbone blocks, models/tail.ts).
 */
export function learningRateScales(
  params: readonly Param[],
  factorLrMultiplier = 1,
): ((v: tf.Variable) => number) | undefined {
  const scales = new Map<string, number>();
  for (const p of params) {
    const s = (p.decay ? 1 : factorLrMultiplier) * (p.lrScale ?? 1);
    if (s !== 1) scales.set(p.variable.name, s);
  }
  return scales.size ? (v) => scales.get(v.name) ?? 1 : undefined;
}
