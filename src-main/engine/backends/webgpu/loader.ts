/**
 * The 'webgpu' backend loader: takes the adapter that discovery.ts chose, opens a device with the
 * adapter's limits, installs navigator.gpu and registers tfjs-backend-webgpu with that device.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendLoader } from '../index.js';
import { reasonOf } from '../reason.js';
import {
  ALLOW_SOFTWARE_ENV,
  canProbeInChild,
  DAWN_BACKENDS,
  dawnProvider,
  discoverDawnBackend,
  isSoftwareAdapter,
  NoVulkanError,
  vulkanMissing,
  type DawnBackend,
  type WebGpuProvider,
} from './discovery.js';

let device: string | undefined;

/** The device description of the last webgpu backend registered, e.g. 'NVIDIA H100 (Vulkan)'. */
export function webgpuDevice(): string | undefined {
  return device;
}

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

export interface WebgpuLoaderOptions {
  /**
   * Accept a software adapter when 'webgpu' is forced by name (never under 'auto'). Default: env
   * RANK1_WEBGPU_ALLOW_SOFTWARE=1. Then Dawn's OpenGL ES backend (EGL surfaceless, compatibility
   * mode) is tried too when Vulkan offers no adapter, which is how Mesa's llvmpipe is reached.
   */
  allowSoftware?: boolean;
  /**
   * Decides, before Dawn is loaded here, which of its backends to open (or throws why none).
   * Default for the real `dawnProvider` under Node: a probe in a child process (discovery.ts), so
   * Dawn's native stderr never reaches the user unasked. Fake providers (tests) have none.
   */
  discover?: (allowSoftware: boolean) => Promise<DawnBackend>;
}

/**
 * A webgpu loader over a given Dawn provider: discrete ('high-performance') adapter, device with the
 * adapter's max limits, globals + navigator.gpu installed, 'webgpu' registered with that device.
 */
export function webgpuLoader(
  provider: () => Promise<WebGpuProvider>,
  opts: WebgpuLoaderOptions = {},
): BackendLoader {
  const discover =
    opts.discover ?? (provider === dawnProvider && canProbeInChild() ? discoverDawnBackend : undefined);
  // One successful outcome per loader: a second registration would replace a live backend and its
  // device. A software one is handed out only where software is allowed; failures are not kept.
  let success: Promise<WebgpuOutcome> | undefined;
  return async (ctx) => {
    const allowSoftware =
      ctx?.forced === true && (opts.allowSoftware ?? process.env[ALLOW_SOFTWARE_ENV] === '1');
    if (success === undefined) {
      const attempt = loadWebgpuWith(provider, allowSoftware, discover);
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
  discover: WebgpuLoaderOptions['discover'],
): Promise<WebgpuOutcome> {
  const chosen = discover ? await discover(allowSoftware) : undefined;
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
  const open = (b: DawnBackend) => {
    if (b === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = p.create([...DAWN_BACKENDS[b].instance, ...toggles]);
    return { gpu, adapter: gpu.requestAdapter(DAWN_BACKENDS[b].request) };
  };
  const first = open(chosen ?? 'native');
  let gpu = first.gpu;
  let adapter = await first.adapter;
  if (chosen === undefined && allowSoftware && (adapter == null || isSoftwareAdapter(adapter))) {
    const gles = open('opengles');
    const alt = await gles.adapter;
    if (alt != null) {
      gpu = gles.gpu;
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
  let gpuDevice: unknown;
  try {
    gpuDevice = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new Error(`blocked: requestDevice failed: ${reasonOf(e)}`, { cause: e });
  }
  installNavigatorGpu(gpu, p.globals);
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as any;
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new mod.WebGPUBackend(gpuDevice, adapter.info), 3);
  const name = [info.vendor, info.device || info.description || info.architecture].filter(Boolean).join(' ');
  const api = info.backendType
    ? ` (${info.backendType})`
    : info.description?.startsWith('OpenGL')
      ? ' (OpenGL ES)'
      : process.platform === 'linux'
        ? ' (Vulkan)'
        : '';
  device = `${name || 'GPU'}${api}${software ? ' [software]' : ''}`;
  return { device, software, adapterName };
}

/** The loader `initBackend` uses: the real Dawn, probed first in a child process under Node. */
export const loadWebgpu = webgpuLoader(dawnProvider);
