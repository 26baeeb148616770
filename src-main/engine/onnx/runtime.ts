/**
 * ONNX Runtime sessions (onnxruntime-node) with execution-provider fallback (issue 18): GPU
 * providers first where this installation has them (CUDA on Linux/Windows, DirectML on Windows,
 * CoreML on macOS), then the CPU; every provider that fails is reported with its reason, and the
 * device string says which one runs, like every backend's.
 *
 * `RANK1_ORT_PROVIDERS=cpu` (or `cuda,cpu`, …) replaces the default order. onnxruntime-node is
 * imported lazily, so a missing or broken native binary is a reason to fall back, not a crash.
 */
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;

/** GPU providers, in order of preference, for each platform. */
const GPU_PROVIDERS: Record<string, readonly string[]> = {
  linux: ['cuda'],
  win32: ['cuda', 'dml'],
  darwin: ['coreml'],
};

export interface OrtSessionInfo {
  session: OrtSession;
  ort: OrtModule;
  /** The provider the session runs on ('cpu', 'cuda', 'dml', 'coreml'). */
  provider: string;
  /** e.g. "ONNX Runtime 1.30.0, cpu, 2 threads". */
  device: string;
  /** Providers tried before this one, each with why it was not used. */
  skipped: { provider: string; reason: string }[];
}

export interface OrtOptions {
  /** Provider order; default: env RANK1_ORT_PROVIDERS, else this platform's GPU providers then cpu. */
  providers?: readonly string[];
  /** Intra-op threads for the CPU provider (default: the number of CPUs). */
  threads?: number;
  /** For tests: how onnxruntime-node is loaded (e.g. one that throws, as a broken install would). */
  loadRuntime?: () => Promise<OrtModule>;
}

let cached: Promise<OrtModule> | undefined;

/** onnxruntime-node, imported once. */
export function loadOnnxRuntime(): Promise<OrtModule> {
  cached ??= import('onnxruntime-node').then(
    (m) => ((m as unknown as { default?: OrtModule }).default ?? m) as OrtModule,
  );
  cached.catch(() => (cached = undefined));
  return cached;
}

function defaultProviders(ort: OrtModule): string[] {
  const env = process.env.RANK1_ORT_PROVIDERS?.trim();
  if (env)
    return env
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
  const known = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  // Unbundled providers (CUDA on Linux: its libraries are a separate download, skipped by our
  // .npmrc) are tried only when asked for by name: probing them prints native errors.
  const gpu = (GPU_PROVIDERS[process.platform] ?? []).filter((p) => known.get(p) === true);
  return [...gpu, 'cpu'];
}

/** A session for `model` on the first provider that accepts it. Throws only when none does. */
export async function createSession(model: Uint8Array, opts: OrtOptions = {}): Promise<OrtSessionInfo> {
  const ort = await (opts.loadRuntime ?? loadOnnxRuntime)();
  const providers = opts.providers ? [...opts.providers] : defaultProviders(ort);
  if (!providers.includes('cpu')) providers.push('cpu');
  const threads = opts.threads ?? os.availableParallelism();
  const skipped: OrtSessionInfo['skipped'] = [];
  for (const provider of providers) {
    try {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [provider],
        intraOpNumThreads: threads,
        graphOptimizationLevel: 'all',
        // Probing a provider that is not installed is expected: keep native logs to fatal errors.
        logSeverityLevel: provider === 'cpu' ? 2 : 4,
      });
      const version = ort.env.versions?.node ?? ort.env.versions?.common ?? '';
      const device = `ONNX Runtime ${version}, ${provider}${provider === 'cpu' ? `, ${threads} threads` : ''}`;
      return { session, ort, provider, device, skipped };
    } catch (e) {
      skipped.push({ provider, reason: (e as Error).message.split('\n')[0]!.slice(0, 300) });
    }
  }
  throw new Error(
    `ONNX Runtime could not start: ${skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ')}`,
  );
}
