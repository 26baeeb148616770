/**
 * Backend selection for TensorFlow.js in Node: the only public entry of engine/backends.
 *
 * Auto order: tensorflow (tfjs-node-gpu, then tfjs-node; native libtensorflow) → webgpu (Dawn via the
 * `webgpu` package, discrete adapter) → wasm (XNNPACK, SIMD, 1 thread, plus the gradient kernels of
 * ./wasm-gradients.ts) → cpu (plain JS). Every attempt and its reason for failing is recorded in `tried`.
 * Loaders are injectable so tests can simulate each path without the hardware.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../types.js';
import { registerWasmGradients } from './wasm-gradients.js';
import { registerWebgpuKernels } from './webgpu/index.js';

export type { BackendName };
export { registerWasmGradients } from './wasm-gradients.js';
export { registerWebgpuKernels } from './webgpu/index.js';

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

function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0].trim();
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}

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

// -------------------------------------------------------------------------------------------------- webgpu

/** The part of the `webgpu` package (Dawn for Node) that the loader uses; injectable for tests. */
export interface WebGpuProvider {
  create(options: string[]): { requestAdapter(options?: object): Promise<any> };
  globals: object;
}

/** True on Linux when no libvulkan.so.1 is found where the dynamic loader would look. */
function vulkanMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/lib64',
    '/usr/local/lib',
  ];
  return !dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

let webgpuDevice: string | undefined;

/** Opt-in for software WebGPU adapters (tests, numerics checks): only honoured for a forced 'webgpu'. */
export const ALLOW_SOFTWARE_ENV = 'RANK1_WEBGPU_ALLOW_SOFTWARE';

const WEBGPU_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

function installNavigatorGpu(gpu: unknown, globals: object): void {
  const g = globalThis as Record<string, any>;
  for (const [k, v] of Object.entries(globals)) if (g[k] === undefined) g[k] = v;
  if (g.navigator === undefined) {
    g.navigator = { gpu };
  } else if (g.navigator.gpu !== gpu) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
}

/** Names of CPU rasterisers that Dawn can reach: Mesa llvmpipe/lavapipe/softpipe, SwiftShader, WARP. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b|\bsoftware\b/i;

/**
 * True for a software (CPU) adapter: flagged as fallback, typed 'cpu', architecture 'software', or
 * named like a CPU rasteriser. Dawn's OpenGL ES path on llvmpipe flags none of these, hence the names.
 */
export function isSoftwareAdapter(adapter: any): boolean {
  const info = adapter?.info ?? {};
  if (adapter?.isFallbackAdapter || info.isFallbackAdapter || info.adapterType === 'cpu') return true;
  return [info.vendor, info.architecture, info.device, info.description]
    .filter((v) => typeof v === 'string')
    .some((v) => SOFTWARE_NAMES.test(v));
}

export interface WebgpuLoaderOptions {
  /**
   * Accept a software adapter when 'webgpu' is forced by name (never under 'auto'). Default: env
   * RANK1_WEBGPU_ALLOW_SOFTWARE=1. Then Dawn's OpenGL ES backend (EGL surfaceless, compatibility
   * mode) is tried too when Vulkan offers no adapter, which is how Mesa's llvmpipe is reached.
   */
  allowSoftware?: boolean;
}

/**
 * A webgpu loader over a given Dawn provider: discrete ('high-performance') adapter, device with the
 * adapter's max limits, globals + navigator.gpu installed, 'webgpu' registered with that device.
 */
export function webgpuLoader(
  provider: () => Promise<WebGpuProvider>,
  opts: WebgpuLoaderOptions = {},
): BackendLoader {
  // One successful outcome per loader: a second registration would replace a live backend and its
  // device. A software one is handed out only where software is allowed; failures are not kept.
  let success: Promise<WebgpuOutcome> | undefined;
  return async (ctx) => {
    const allowSoftware =
      ctx?.forced === true && (opts.allowSoftware ?? process.env[ALLOW_SOFTWARE_ENV] === '1');
    if (success === undefined) {
      const attempt = loadWebgpuWith(provider, allowSoftware);
      success = attempt;
      attempt.catch(() => {
        if (success === attempt) success = undefined;
      });
    }
    const outcome = await success;
    if (outcome.software && !allowSoftware)
      throw new Error(`no adapter: only a software adapter (${outcome.adapterName})`);
    return { device: outcome.device };
  };
}

interface WebgpuOutcome {
  device: string;
  software: boolean;
  adapterName: string;
}

async function loadWebgpuWith(
  provider: () => Promise<WebGpuProvider>,
  allowSoftware: boolean,
): Promise<WebgpuOutcome> {
  let p: WebGpuProvider;
  try {
    p = await provider();
  } catch (e) {
    if (e instanceof NoVulkanError)
      throw new Error('no adapter: no Vulkan driver (libvulkan.so.1 not found)', { cause: e });
    throw new Error(`webgpu package not loadable: ${reasonOf(e)}`, { cause: e });
  }
  // Profiling: Dawn hides some features (timestamp-query on some drivers) behind allow_unsafe_apis.
  const toggles =
    process.env.RANK1_WEBGPU_UNSAFE_APIS === '1' ? ['enable-dawn-features=allow_unsafe_apis'] : [];
  let gpu = p.create(toggles);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (allowSoftware && (adapter == null || isSoftwareAdapter(adapter))) {
    // Mesa's llvmpipe through OpenGL ES (no display needed), WebGPU compatibility mode: reachable
    // with Debian 12's Mesa, whose lavapipe Dawn refuses, and it compiles shaders far faster than
    // lavapipe does.
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const gles = p.create(['backend=opengles', ...toggles]);
    const alt = await gles.requestAdapter({ featureLevel: 'compatibility' });
    if (alt != null) {
      gpu = gles;
      adapter = alt;
    }
  }
  if (adapter == null) {
    throw new Error(
      vulkanMissing()
        ? 'no adapter: no Vulkan driver (libvulkan.so.1 not found)'
        : 'no adapter: Dawn found no GPU',
    );
  }
  const info = adapter.info ?? {};
  const software = isSoftwareAdapter(adapter);
  const adapterName = info.device || info.description || 'cpu';
  if (software && !allowSoftware) throw new Error(`no adapter: only a software adapter (${adapterName})`);
  const requiredLimits: Record<string, number> = {};
  for (const k of WEBGPU_LIMITS)
    if (typeof adapter.limits?.[k] === 'number') requiredLimits[k] = adapter.limits[k];
  const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features?.has(f));
  let device: unknown;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new Error(`blocked: requestDevice failed: ${reasonOf(e)}`, { cause: e });
  }
  installNavigatorGpu(gpu, p.globals);
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as any;
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new mod.WebGPUBackend(device, adapter.info), 3);
  const name = [info.vendor, info.device || info.description || info.architecture].filter(Boolean).join(' ');
  const api = info.backendType
    ? ` (${info.backendType})`
    : info.description?.startsWith('OpenGL')
      ? ' (OpenGL ES)'
      : process.platform === 'linux'
        ? ' (Vulkan)'
        : '';
  webgpuDevice = `${name || 'GPU'}${api}${software ? ' [software]' : ''}`;
  return { device: webgpuDevice, software, adapterName };
}

/** Error thrown by the real provider when Dawn would only fail (and print a native warning). */
class NoVulkanError extends Error {}

/** The real Dawn provider (the `webgpu` package); exported for tests that opt into software adapters. */
export async function dawnProvider(): Promise<WebGpuProvider> {
  // Dawn prints a native warning to stderr when it cannot load Vulkan: skip it where the
  // loader library is plainly absent (override with RANK1_FORCE_WEBGPU=1, or opt into software).
  if (vulkanMissing() && !process.env.RANK1_FORCE_WEBGPU && process.env[ALLOW_SOFTWARE_ENV] !== '1')
    throw new NoVulkanError();
  return (await importOptional('webgpu')) as WebGpuProvider;
}

const loadWebgpu = webgpuLoader(dawnProvider);

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
      return webgpuDevice ?? 'GPU (webgpu)';
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
