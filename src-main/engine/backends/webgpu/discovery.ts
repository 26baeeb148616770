/**
 * Finding a WebGPU adapter through Dawn (the `webgpu` package), and nothing else: which adapters
 * exist, whether one is a software rasteriser, and whether Vulkan is there at all.
 *
 * Dawn and Mesa print to the process's native stderr while adapters are enumerated (`XDG_RUNTIME_DIR
 * is invalid`, `Vulkan shaderUniform*ArrayDynamicIndexing required`, …). JavaScript cannot capture a
 * native library's writes to fd 2, so under Node the enumeration runs first in a short-lived child
 * process whose stderr is piped: its messages are kept (`dawnMessages()`) and printed only when
 * RANK1_VERBOSE=1 (`rank1 --verbose`). Dawn is loaded into this process only when the child found
 * an adapter worth using, so a machine without a GPU never sees those lines. Inside Electron the
 * child cannot be started (the RunAsNode fuse is off), and enumeration stays in-process, where
 * stderr is not shown to the user anyway.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

/** The part of the `webgpu` package (Dawn for Node) that the loader uses; injectable for tests. */
export interface WebGpuProvider {
  create(options: string[]): { requestAdapter(options?: object): Promise<any> };
  globals: object;
}

/** Opt-in for software WebGPU adapters (tests, numerics checks): only honoured for a forced 'webgpu'. */
export const ALLOW_SOFTWARE_ENV = 'RANK1_WEBGPU_ALLOW_SOFTWARE';

import { VERBOSE_ENV } from '../../../common/index.js';
export { VERBOSE_ENV };

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

/** True on Linux when no libvulkan.so.1 is found where the dynamic loader would look. */
export function vulkanMissing(): boolean {
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

/** Thrown by the real provider when Dawn would only fail (and print a native warning). */
export class NoVulkanError extends Error {}

/** The real Dawn provider (the `webgpu` package), loaded into this process. */
export async function dawnProvider(): Promise<WebGpuProvider> {
  // Dawn prints a native warning to stderr when it cannot load Vulkan: skip it where the
  // loader library is plainly absent (override with RANK1_FORCE_WEBGPU=1, or opt into software).
  if (vulkanMissing() && !process.env.RANK1_FORCE_WEBGPU && process.env[ALLOW_SOFTWARE_ENV] !== '1')
    throw new NoVulkanError();
  return createRequire(import.meta.url)('webgpu') as WebGpuProvider;
}

/** Dawn instance options for each way of reaching an adapter. */
export const DAWN_BACKENDS = {
  /** Vulkan / Metal / D3D12: the platform's native API, discrete adapter preferred. */
  native: { instance: [] as string[], request: { powerPreference: 'high-performance' } },
  /**
   * Mesa's llvmpipe through OpenGL ES (EGL surfaceless, WebGPU compatibility mode): reachable with
   * Debian 12's Mesa, whose lavapipe Dawn refuses, and it compiles shaders far faster than lavapipe.
   */
  opengles: { instance: ['backend=opengles'], request: { featureLevel: 'compatibility' } },
} as const;

export type DawnBackend = keyof typeof DAWN_BACKENDS;

/** What the probe child reports of one adapter (GPUAdapterInfo's fields are getters: copied by name). */
export interface AdapterSummary {
  isFallbackAdapter?: boolean;
  info: {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    backendType?: string;
    adapterType?: string;
    isFallbackAdapter?: boolean;
  };
}

export interface ProbeResult {
  /** The adapter of each backend asked for; null when that backend offers none. */
  adapters: Partial<Record<DawnBackend, AdapterSummary | null>>;
  /** Everything Dawn and the drivers printed to stderr meanwhile. */
  messages: string;
}

/**
 * The child's program (CommonJS, run with `node -e`): one line of JSON on stdout. It is a string,
 * not a file, so it runs the same from source (vitest) and from dist; argv: webgpu's path, backends.
 */
const PROBE_PROGRAM = `
const dawn = require(process.argv[1]);
const backends = JSON.parse(process.argv[2]);
const pick = (a) => a == null ? null : { isFallbackAdapter: a.isFallbackAdapter, info: Object.fromEntries(
  ['vendor', 'architecture', 'device', 'description', 'backendType', 'adapterType', 'isFallbackAdapter']
    .map((k) => [k, a.info == null ? undefined : a.info[k]])) };
(async () => {
  const adapters = {};
  for (const [name, b] of Object.entries(backends))
    adapters[name] = pick(await dawn.create(b.instance).requestAdapter(b.request));
  process.stdout.write(JSON.stringify(adapters) + '\\n', () => process.exit(0));
})().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;

/** The child gets this long; Dawn's enumeration takes well under a second on the machines we know. */
const PROBE_TIMEOUT_MS = 20_000;

let kept = '';

/** Dawn's and the drivers' stderr from every probe so far (shown by `--verbose`, kept otherwise). */
export function dawnMessages(): string {
  return kept;
}

function keep(messages: string): void {
  if (!messages.trim()) return;
  kept += messages;
  if (process.env[VERBOSE_ENV] === '1')
    process.stderr.write(
      messages
        .trimEnd()
        .split('\n')
        .map((l) => `[dawn] ${l}\n`)
        .join(''),
    );
}

/** True where a child Node process can be started to probe (not inside Electron). */
export function canProbeInChild(): boolean {
  return process.versions.electron === undefined;
}

/**
 * Enumerates Dawn's adapters for `backends` in a child process; its stderr is captured, never
 * inherited. Rejects with the reason when the child fails (webgpu not installed, crash, timeout).
 */
export async function probeAdapters(
  backends: readonly DawnBackend[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProbeResult> {
  let webgpuPath: string;
  try {
    webgpuPath = createRequire(import.meta.url).resolve('webgpu');
  } catch (e) {
    throw new Error(`webgpu package not loadable: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  const wanted = Object.fromEntries(backends.map((b) => [b, DAWN_BACKENDS[b]]));
  const childEnv = backends.includes('opengles') ? { EGL_PLATFORM: 'surfaceless', ...env } : env;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', PROBE_PROGRAM, webgpuPath, JSON.stringify(wanted)],
      { env: childEnv, timeout: PROBE_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        keep(stderr);
        if (err) {
          const last = stderr.trim().split('\n').at(-1) ?? '';
          reject(new Error(`adapter probe failed: ${last || err.message.split('\n')[0]}`));
          return;
        }
        try {
          resolve({ adapters: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'), messages: stderr });
        } catch {
          reject(new Error('adapter probe failed: no answer from the child'));
        }
      },
    );
  });
}

/** One probe per process and setting: the adapters do not change while the app runs. */
const discovered = new Map<boolean, Promise<DawnBackend>>();

/**
 * Which Dawn backend to load in this process, decided by a child probe: 'native' for a hardware
 * adapter, 'opengles' for llvmpipe when software is allowed, or an Error naming why none is usable.
 * Remembered, so `system.info` listing the backends does not start a child each time.
 */
export function discoverDawnBackend(allowSoftware: boolean): Promise<DawnBackend> {
  let found = discovered.get(allowSoftware);
  if (!found) discovered.set(allowSoftware, (found = discover(allowSoftware)));
  return found;
}

async function discover(allowSoftware: boolean): Promise<DawnBackend> {
  if (vulkanMissing() && !process.env.RANK1_FORCE_WEBGPU && !allowSoftware)
    throw new Error('no adapter: no Vulkan driver (libvulkan.so.1 not found)');
  const first = await probeAdapters(['native']);
  const native = first.adapters.native ?? null;
  if (native && !isSoftwareAdapter(native)) return 'native';
  if (allowSoftware) {
    const gles = (await probeAdapters(['opengles'])).adapters.opengles ?? null;
    if (gles) return 'opengles';
    if (native) return 'native';
  }
  if (native) {
    const name = native.info.device || native.info.description || 'cpu';
    throw new Error(`no adapter: only a software adapter (${name})`);
  }
  throw new Error(
    vulkanMissing()
      ? 'no adapter: no Vulkan driver (libvulkan.so.1 not found)'
      : 'no adapter: Dawn found no GPU',
  );
}
