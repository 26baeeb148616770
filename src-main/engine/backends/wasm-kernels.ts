/**
 * Our own wasm SIMD kernels for the tfjs wasm backend (./wasm-kernels/*.c, built by
 * scripts/build-wasm.sh into kernels.wasm / kernels-relaxed.wasm and embedded as base64 in
 * ./wasm-kernels/kernels-wasm.ts, so nothing is looked up on disk).
 *
 * The module imports the tfjs wasm heap's WebAssembly.Memory: kernels read their inputs where tfjs
 * keeps them and write into tensors made with `backend.makeOutput` (no copies); scratch buffers come
 * from the heap's malloc. It has no static data and no stack (checked by the build script).
 *
 * Two builds: kernels-relaxed.wasm uses relaxed SIMD's f32x4.relaxed_madd (a fused multiply-add where
 * the CPU has FMA; same machine, same results), kernels.wasm plain SIMD128 mul + add. Node 20's V8
 * (11.3) has relaxed SIMD behind --experimental-wasm-relaxed-simd: the flag is set at run time when
 * the relaxed build does not validate (it only changes what later-compiled modules may use); Node ≥ 22
 * and Electron have it on. RANK1_WASM_RELAXED=0 keeps the plain build.
 */
import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { overrideKernel } from './kernel-registry.js';
import { KERNELS_RELAXED_WASM, KERNELS_WASM } from './wasm-kernels/kernels-wasm.js';

/** What our kernels use of @tensorflow/tfjs-backend-wasm's BackendWasm (not a public type there). */
export interface WasmBackendLike {
  wasm: {
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    asm?: Record<string, unknown>;
    wasmMemory?: unknown;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
}

/** NHWC input n×h×w×cin, output oh×ow×cout, top/left padding, tiles per block (winograd.c). */
type WinogradGeometry = [
  n: number,
  h: number,
  w: number,
  cin: number,
  cout: number,
  oh: number,
  ow: number,
  padT: number,
  padL: number,
  tb: number,
];

/** The exports of kernels.wasm (pointers are byte offsets in the tfjs heap). */
export interface KernelExports {
  wino_f23_filter(g: number, u: number, cin: number, cout: number): void;
  wino_f23_scratch(tb: number, cin: number, cout: number): number;
  wino_f23_conv(x: number, u: number, y: number, scratch: number, ...g: WinogradGeometry): void;
  wino_f23_filter_grad_scratch(tb: number, cin: number, cout: number): number;
  wino_f23_filter_grad(x: number, dy: number, dw: number, scratch: number, ...g: WinogradGeometry): void;
  reduce_middle(
    x: number,
    out: number,
    scratch: number,
    p: number,
    q: number,
    r: number,
    scale: number,
  ): void;
  bcast_binary(op: number, full: number, small: number, out: number, p: number, q: number, r: number): void;
}

export type KernelsVariant = 'relaxed-simd' | 'simd128';

let compiled: WebAssembly.Module | null | undefined;
let variant: KernelsVariant | null = null;
let unavailable: string | undefined;
const instances = new WeakMap<object, KernelExports | null>();

function decode(b64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(Buffer.from(b64, 'base64'));
}

/** Compiles the relaxed-SIMD build where it validates (after enabling it on Node 20), else SIMD128. */
export function compileKernels(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  if (process.env.RANK1_WASM_RELAXED !== '0') {
    const relaxed = decode(KERNELS_RELAXED_WASM);
    if (!WebAssembly.validate(relaxed)) {
      try {
        setFlagsFromString('--experimental-wasm-relaxed-simd');
      } catch {
        // not Node's V8: stay with SIMD128
      }
    }
    if (WebAssembly.validate(relaxed)) {
      compiled = new WebAssembly.Module(relaxed);
      variant = 'relaxed-simd';
      return compiled;
    }
  }
  const plain = decode(KERNELS_WASM);
  if (WebAssembly.validate(plain)) {
    compiled = new WebAssembly.Module(plain);
    variant = 'simd128';
  } else {
    unavailable = 'this WebAssembly engine has no SIMD128';
  }
  return compiled;
}

/** The heap's WebAssembly.Memory (Emscripten keeps it as the `memory` export of `asm`). */
function heapMemory(b: WasmBackendLike): WebAssembly.Memory | null {
  for (const m of [b.wasm.asm?.memory, b.wasm.wasmMemory]) if (m instanceof WebAssembly.Memory) return m;
  return null;
}

/** One instance per backend, sharing its heap; null when that is impossible (callers fall back). */
export function kernelsFor(backend: unknown): KernelExports | null {
  const b = backend as WasmBackendLike;
  let inst = instances.get(b);
  if (inst !== undefined) return inst;
  inst = null;
  const module = compileKernels();
  const memory = b.wasm ? heapMemory(b) : null;
  if (module && memory && !(memory.buffer instanceof SharedArrayBuffer)) {
    inst = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  } else if (module) {
    // A threaded (shared-memory) heap would need a shared import and thread-safe scratch: not done.
    unavailable = memory
      ? 'the wasm heap is shared (threaded build)'
      : 'the wasm heap memory is not reachable';
  }
  instances.set(b, inst);
  return inst;
}

/** The build in use (null before the first compile or when none validates) and why not, if so. */
export function wasmKernelsInfo(): { variant: KernelsVariant | null; unavailable?: string } {
  return unavailable ? { variant, unavailable } : { variant };
}

/** The heap offset of a tensor's data. */
export function heapOffset(backend: unknown, t: TensorInfo): number {
  return (backend as WasmBackendLike).dataIdMap.get(t.dataId)!.memoryOffset;
}

/**
 * Registers `kernelFunc` as the wasm backend's `name`, keeping the kernel it replaces in `originals`
 * (our kernels fall back to it for the cases they do not cover). No-op without one.
 */
export function overrideWasmKernel(
  name: string,
  kernelFunc: KernelFunc,
  originals: Map<string, KernelConfig>,
): void {
  if (!tf.getKernel(name, 'wasm')) return;
  originals.set(
    name,
    overrideKernel('wasm', name, () => kernelFunc)!,
  );
}
