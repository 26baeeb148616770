/**
 * Backend selection for TensorFlow.js in Node: the only public entry of engine/backends.
 *
 * Auto order: tensorflow (tfjs-node-gpu, then tfjs-node; native libtensorflow) → webgpu (Dawn via the
 * `webgpu` package, discrete adapter) → wasm (XNNPACK, SIMD, 1 thread, plus the gradient kernels of
 * ./wasm-gradients.ts) → cpu (plain JS). Every attempt and its reason for failing is recorded in `tried`.
 * Loaders are injectable so tests can simulate each path without the hardware.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../types.js';
import { reasonOf } from './reason.js';
import { registerWasmGradients } from './wasm-gradients.js';
import { registerWebgpuKernels } from './webgpu/index.js';
import { loadWebgpu, webgpuDevice } from './webgpu/loader.js';

export type { BackendName };
export { registerWasmGradients } from './wasm-gradients.js';
export { registerWebgpuKernels } from './webgpu/index.js';
export {
  ALLOW_SOFTWARE_ENV,
  dawnMessages,
  dawnProvider,
  isSoftwareAdapter,
  VERBOSE_ENV,
  type WebGpuProvider,
} from './webgpu/discovery.js';
export { webgpuLoader, type WebgpuLoaderOptions } from './webgpu/loader.js';

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason?: string;
}

export interface BackendInfo {
  name: BackendName;
  /** Human-readable device, e.g. 'NVIDIA H100 (Vulkan)', 'CPU (wasm, SIMD, 1 thread)', 'CPU (tensorflow)'. */
  device: string;
  tried: BackendAttempt[];
}

/** What a loader reports once its backend is registered with tf (not yet active). */
export interface LoadedBackend {
  /** Device description; when absent `describeDevice()` is used after activation. */
  device?: string;
}

/** How a loader is called: `forced` when the backend was asked for by name (not by 'auto'). */
export interface LoaderContext {
  forced?: boolean;
}

/**
 * Makes the backend of that name available to `tf.setBackend` (registers it) or throws an Error whose
 * message is the reason it cannot be used.
 */
export type BackendLoader = (ctx?: LoaderContext) => Promise<LoadedBackend>;

export interface InitOptions {
  loaders?: Partial<Record<BackendName, BackendLoader>>;
}

export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

// ---------------------------------------------------------------------------------------------- tensorflow

/** Imports an optional package by a non-literal name, so tsc and bundlers do not require it. */
async function importOptional(name: string): Promise<unknown> {
  return import(name as string);
}

async function loadTensorflow(): Promise<LoadedBackend> {
  const failures: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importOptional(pkg);
    } catch (e) {
      const code = (e as { code?: string }).code;
      failures.push(
        (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && reasonOf(e).includes(`'${pkg}'`)
          ? `${pkg} not installed`
          : `${pkg}: ${reasonOf(e)}`,
      );
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      failures.push(
        `${pkg} loaded but registered no 'tensorflow' backend (different @tensorflow/tfjs-core copy?)`,
      );
      continue;
    }
    return {};
  }
  throw new Error(failures.join('; '));
}

// ---------------------------------------------------------------------------------------------------- wasm

async function loadWasm(): Promise<LoadedBackend> {
  // In Node the package's .node.js build finds its .wasm files beside itself in node_modules.
  await import('@tensorflow/tfjs-backend-wasm');
  // Node's wasm backend runs single-threaded; forcing threads on fails to initialise it.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (tf.findBackendFactory('wasm') == null)
    throw new Error("@tensorflow/tfjs-backend-wasm registered no 'wasm'");
  return {};
}

async function loadCpu(): Promise<LoadedBackend> {
  return {};
}

const DEFAULT_LOADERS: Record<BackendName, BackendLoader> = {
  tensorflow: loadTensorflow,
  webgpu: loadWebgpu,
  wasm: loadWasm,
  cpu: loadCpu,
};

// -------------------------------------------------------------------------------------------------- public

let current: BackendInfo | undefined;

/** Describes the device of tf's active backend (best effort, never empty). */
export function describeDevice(): string {
  const name = tf.getBackend();
  switch (name) {
    case 'tensorflow': {
      const b = tf.backend() as { isUsingGpuDevice?: boolean };
      return b.isUsingGpuDevice ? 'GPU (tensorflow, CUDA)' : 'CPU (tensorflow)';
    }
    case 'webgpu':
      return webgpuDevice() ?? 'GPU (webgpu)';
    case 'wasm': {
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
      const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'multi-thread' : '1 thread';
      return `CPU (wasm, ${simd}, ${threads})`;
    }
    case 'cpu':
      return 'CPU (tfjs cpu, plain JS)';
    default:
      return name ? `unknown (${name})` : 'none';
  }
}

/** Loads and activates one backend; throws with the reason when it cannot. */
async function activate(name: BackendName, loader: BackendLoader, forced: boolean): Promise<string> {
  const loaded = await loader({ forced });
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new Error(`tf.setBackend('${name}') failed: ${reasonOf(e)}`, { cause: e });
  }
  if (!ok) throw new Error(`tf.setBackend('${name}') failed to initialise the backend`);
  await tf.ready();
  if (name === 'wasm') registerWasmGradients();
  if (name === 'webgpu') registerWebgpuKernels();
  return loaded.device ?? describeDevice();
}

/**
 * Picks and activates a backend. 'auto' tries tensorflow → webgpu → wasm → cpu; a named backend is
 * forced and an Error naming why it failed is thrown when it cannot be used.
 */
export async function initBackend(
  requested: 'auto' | BackendName = 'auto',
  opts: InitOptions = {},
): Promise<BackendInfo> {
  const loaders = { ...DEFAULT_LOADERS, ...opts.loaders };
  const candidates = requested === 'auto' ? BACKEND_ORDER : [requested];
  if (requested !== 'auto' && !BACKEND_ORDER.includes(requested)) {
    throw new Error(`Unknown backend '${String(requested)}' (expected auto, ${BACKEND_ORDER.join(', ')})`);
  }
  const tried: BackendAttempt[] = [];
  for (const name of candidates) {
    try {
      const device = await activate(name, loaders[name], requested !== 'auto');
      tried.push({ name, ok: true });
      current = { name, device, tried };
      return current;
    } catch (e) {
      tried.push({ name, ok: false, reason: reasonOf(e) });
    }
  }
  const why = tried.map((t) => `${t.name}: ${t.reason}`).join('; ');
  throw new Error(
    requested === 'auto'
      ? `No TensorFlow.js backend could be initialised (${why})`
      : `Backend '${requested}' unavailable: ${why}`,
  );
}

/** The backend chosen by the last successful `initBackend`, while it is still tf's active backend. */
export function currentBackend(): BackendInfo | undefined {
  return current && tf.getBackend() === current.name ? current : undefined;
}

/** Which backends could be used here (each loader is run; nothing is activated). */
export async function availableBackends(
  opts: InitOptions = {},
): Promise<{ name: BackendName; available: boolean; reason?: string }[]> {
  const loaders = { ...DEFAULT_LOADERS, ...opts.loaders };
  const out: { name: BackendName; available: boolean; reason?: string }[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      await loaders[name]();
      out.push({ name, available: true });
    } catch (e) {
      out.push({ name, available: false, reason: reasonOf(e) });
    }
  }
  return out;
}
