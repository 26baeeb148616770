/**
 * Backend selection. Real loaders on this machine (no tfjs-node, no Vulkan) and simulated ones for
 * the GPU paths and each failure path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import {
  availableBackends,
  currentBackend,
  describeDevice,
  initBackend,
  isSoftwareAdapter,
  webgpuLoader,
  type BackendLoader,
  type WebGpuProvider,
} from '../../../src-main/engine/backends/index.js';

const fail =
  (reason: string): BackendLoader =>
  async () => {
    throw new Error(reason);
  };

/** A fake 'tensorflow' backend: the cpu backend registered under that name. */
const fakeTensorflow: BackendLoader = async () => {
  if (tf.findBackendFactory('tensorflow') == null) {
    const cpuFactory = tf.findBackendFactory('cpu')!;
    tf.registerBackend('tensorflow', cpuFactory);
  }
  return { device: 'NVIDIA H100 (tensorflow, CUDA)' };
};

function fakeDawn(adapter: unknown): () => Promise<WebGpuProvider> {
  return async () => ({ create: () => ({ requestAdapter: async () => adapter }), globals: {} });
}

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  await tf.setBackend('cpu');
});

describe('initBackend (real loaders, this machine)', () => {
  it('auto picks wasm and says why tensorflow and webgpu were skipped', async () => {
    const info = await initBackend('auto');
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.device).toBe('CPU (wasm, SIMD, 1 thread)');
    expect(info.tried.map((t) => [t.name, t.ok])).toEqual([
      ['tensorflow', false],
      ['webgpu', false],
      ['wasm', true],
    ]);
    expect(info.tried[0].reason).toMatch(/tfjs-node-gpu.*(not installed|libtensorflow|\.so)/);
    expect(info.tried[0].reason).toMatch(/tfjs-node\b/);
    expect(info.tried[1].reason).toMatch(/no adapter/);
    expect(currentBackend()).toBe(info);
    // wasm gets the gradient kernels it lacks.
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('forced cpu works', async () => {
    const info = await initBackend('cpu');
    expect(info).toMatchObject({ name: 'cpu', tried: [{ name: 'cpu', ok: true }] });
    expect(info.device.length).toBeGreaterThan(0);
    expect(describeDevice()).toBe(info.device);
  });

  it('forced tensorflow throws an error naming why', async () => {
    await expect(initBackend('tensorflow')).rejects.toThrow(
      /Backend 'tensorflow' unavailable: tensorflow: .*tfjs-node/,
    );
  });

  it('forced webgpu throws with the adapter reason', async () => {
    await expect(initBackend('webgpu')).rejects.toThrow(/Backend 'webgpu' unavailable: webgpu: no adapter/);
  });

  it('currentBackend() is undefined once something else switched tf away', async () => {
    await initBackend('cpu');
    await tf.setBackend('wasm');
    expect(currentBackend()).toBeUndefined();
  });

  it('availableBackends lists all four with reasons', async () => {
    const av = await availableBackends();
    expect(av.map((a) => [a.name, a.available])).toEqual([
      ['tensorflow', false],
      ['webgpu', false],
      ['wasm', true],
      ['cpu', true],
    ]);
    expect(av[1].reason).toMatch(/no adapter/);
  });
});

describe('initBackend (simulated loaders)', () => {
  it('a working tensorflow loader is picked first', async () => {
    const info = await initBackend('auto', { loaders: { tensorflow: fakeTensorflow } });
    expect(info).toEqual({
      name: 'tensorflow',
      device: 'NVIDIA H100 (tensorflow, CUDA)',
      tried: [{ name: 'tensorflow', ok: true }],
    });
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('a tensorflow loader failing on libtensorflow falls through with that reason', async () => {
    const info = await initBackend('auto', {
      loaders: {
        tensorflow: fail('libtensorflow.so.2: cannot open shared object file'),
        webgpu: fail('no adapter'),
      },
    });
    expect(info.name).toBe('wasm');
    expect(info.tried[0]).toEqual({
      name: 'tensorflow',
      ok: false,
      reason: 'libtensorflow.so.2: cannot open shared object file',
    });
  });

  it('webgpu with no adapter falls back with reason "no adapter"', async () => {
    const info = await initBackend('auto', {
      loaders: { tensorflow: fail('not installed'), webgpu: webgpuLoader(fakeDawn(null)) },
    });
    expect(info.name).toBe('wasm');
    expect(info.tried[1].name).toBe('webgpu');
    expect(info.tried[1].ok).toBe(false);
    expect(info.tried[1].reason).toMatch(/^no adapter/);
  });

  it('webgpu with only a software adapter is refused', async () => {
    const swiftshader = { info: { vendor: 'Google', device: 'SwiftShader', isFallbackAdapter: true } };
    await expect(
      initBackend('webgpu', { loaders: { webgpu: webgpuLoader(fakeDawn(swiftshader)) } }),
    ).rejects.toThrow(/only a software adapter \(SwiftShader\)/);
  });

  it('webgpu whose requestDevice fails reports it as blocked', async () => {
    const adapter = {
      info: { vendor: 'nvidia', device: 'NVIDIA H100' },
      limits: { maxBufferSize: 2 ** 40 },
      features: new Set<string>(),
      requestDevice: async () => {
        throw new Error('Required limit maxBufferSize is above the adapter limit');
      },
    };
    await expect(
      initBackend('webgpu', { loaders: { webgpu: webgpuLoader(fakeDawn(adapter)) } }),
    ).rejects.toThrow(/blocked: requestDevice failed: Required limit/);
  });

  it('webgpu requests the adapter with high-performance and the max limits', async () => {
    let asked: unknown;
    let deviceDesc: any;
    const adapter = {
      info: { vendor: 'nvidia', device: 'NVIDIA H100' },
      limits: {
        maxStorageBufferBindingSize: 2 ** 31,
        maxBufferSize: 2 ** 34,
        maxComputeWorkgroupStorageSize: 49152,
      },
      features: new Set(['timestamp-query']),
      requestDevice: async (d: unknown) => {
        deviceDesc = d;
        throw new Error('stop here');
      },
    };
    const provider = async (): Promise<WebGpuProvider> => ({
      create: () => ({
        requestAdapter: async (o?: object) => {
          asked = o;
          return adapter;
        },
      }),
      globals: {},
    });
    await expect(initBackend('webgpu', { loaders: { webgpu: webgpuLoader(provider) } })).rejects.toThrow(
      /stop here/,
    );
    expect(asked).toEqual({ powerPreference: 'high-performance' });
    expect(deviceDesc).toEqual({
      requiredLimits: {
        maxStorageBufferBindingSize: 2 ** 31,
        maxBufferSize: 2 ** 34,
        maxComputeWorkgroupStorageSize: 49152,
      },
      requiredFeatures: ['timestamp-query'],
    });
  });

  it('auto ends on cpu when everything else fails, and throws when even cpu fails', async () => {
    const info = await initBackend('auto', {
      loaders: { tensorflow: fail('a'), webgpu: fail('b'), wasm: fail('c') },
    });
    expect(info.name).toBe('cpu');
    expect(info.tried.map((t) => t.reason)).toEqual(['a', 'b', 'c', undefined]);
    await expect(
      initBackend('auto', {
        loaders: { tensorflow: fail('a'), webgpu: fail('b'), wasm: fail('c'), cpu: fail('d') },
      }),
    ).rejects.toThrow(
      /No TensorFlow.js backend could be initialised \(tensorflow: a; webgpu: b; wasm: c; cpu: d\)/,
    );
  });

  describe('software WebGPU adapters (lavapipe, llvmpipe, SwiftShader)', () => {
    const software = {
      'lavapipe (Vulkan)': {
        info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', isFallbackAdapter: true },
      },
      'llvmpipe (OpenGL ES, no flags)': {
        info: {
          vendor: '',
          device: 'llvmpipe-llvm-15-0-6-256-bits-',
          description: 'OpenGL version OpenGL ES 3.2 Mesa',
        },
      },
      SwiftShader: { info: { vendor: 'Google', device: 'SwiftShader Device (Subzero)' } },
      'typed cpu': { info: { vendor: 'x', device: 'y', adapterType: 'cpu' } },
    };
    const stopAtDevice = (a: { info: object }) => ({
      ...a,
      limits: {},
      features: new Set<string>(),
      requestDevice: async () => {
        throw new Error('stop here');
      },
    });
    const env = process.env.RANK1_WEBGPU_ALLOW_SOFTWARE;
    afterEach(() => {
      if (env === undefined) delete process.env.RANK1_WEBGPU_ALLOW_SOFTWARE;
      else process.env.RANK1_WEBGPU_ALLOW_SOFTWARE = env;
    });

    it('are recognised, a discrete GPU is not', () => {
      for (const a of Object.values(software)) expect(isSoftwareAdapter(a)).toBe(true);
      expect(isSoftwareAdapter({ info: { vendor: 'nvidia', device: 'NVIDIA H100 80GB HBM3' } })).toBe(false);
      expect(
        isSoftwareAdapter({ info: { vendor: 'amd', architecture: 'rdna-3', device: 'AMD Radeon' } }),
      ).toBe(false);
    });

    it('auto never picks one, even with RANK1_WEBGPU_ALLOW_SOFTWARE=1', async () => {
      process.env.RANK1_WEBGPU_ALLOW_SOFTWARE = '1';
      for (const [name, a] of Object.entries(software)) {
        const info = await initBackend('auto', {
          loaders: { tensorflow: fail('not installed'), webgpu: webgpuLoader(fakeDawn(stopAtDevice(a))) },
        });
        expect(info.name, name).toBe('wasm');
        expect(info.tried[1].reason, name).toMatch(/^no adapter: only a software adapter/);
        // Even a loader built to allow software refuses under 'auto'.
        const info2 = await initBackend('auto', {
          loaders: {
            tensorflow: fail('not installed'),
            webgpu: webgpuLoader(fakeDawn(stopAtDevice(a)), { allowSoftware: true }),
          },
        });
        expect(info2.name, name).toBe('wasm');
      }
    });

    it('forced webgpu takes one only when opted in (env or option)', async () => {
      const a = stopAtDevice(software['llvmpipe (OpenGL ES, no flags)']);
      await expect(initBackend('webgpu', { loaders: { webgpu: webgpuLoader(fakeDawn(a)) } })).rejects.toThrow(
        /only a software adapter/,
      );
      process.env.RANK1_WEBGPU_ALLOW_SOFTWARE = '1';
      await expect(initBackend('webgpu', { loaders: { webgpu: webgpuLoader(fakeDawn(a)) } })).rejects.toThrow(
        /blocked: requestDevice failed: stop here/,
      );
      delete process.env.RANK1_WEBGPU_ALLOW_SOFTWARE;
      await expect(
        initBackend('webgpu', { loaders: { webgpu: webgpuLoader(fakeDawn(a), { allowSoftware: true }) } }),
      ).rejects.toThrow(/blocked: requestDevice failed: stop here/);
    });

    it("with the opt-in, Dawn's OpenGL ES backend is tried when Vulkan has no adapter", async () => {
      const asked: unknown[] = [];
      const provider = async (): Promise<WebGpuProvider> => ({
        create: (opts: string[]) => ({
          requestAdapter: async (o?: object) => {
            asked.push([opts, o]);
            return opts.includes('backend=opengles')
              ? stopAtDevice(software['llvmpipe (OpenGL ES, no flags)'])
              : null;
          },
        }),
        globals: {},
      });
      await expect(
        initBackend('webgpu', { loaders: { webgpu: webgpuLoader(provider, { allowSoftware: true }) } }),
      ).rejects.toThrow(/stop here/);
      expect(asked).toEqual([
        [[], { powerPreference: 'high-performance' }],
        [['backend=opengles'], { featureLevel: 'compatibility' }],
      ]);
      asked.length = 0;
      await expect(initBackend('webgpu', { loaders: { webgpu: webgpuLoader(provider) } })).rejects.toThrow(
        /no adapter/,
      );
      expect(asked).toHaveLength(1);
    });

    it('a software backend registered under the opt-in is not handed to auto', async () => {
      const g = globalThis as Record<string, any>;
      const navigator = g.navigator;
      const a = { ...stopAtDevice(software['lavapipe (Vulkan)']), requestDevice: async () => ({}) };
      const loader = webgpuLoader(fakeDawn(a), { allowSoftware: true });
      try {
        await expect(loader({ forced: true })).resolves.toMatchObject({
          device: expect.stringMatching(/software/),
        });
        await expect(loader({ forced: false })).rejects.toThrow(/only a software adapter/);
        await expect(loader()).rejects.toThrow(/only a software adapter/);
      } finally {
        if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
        if (navigator === undefined) delete g.navigator;
        else g.navigator = navigator;
      }
    });
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend('webgl' as never)).rejects.toThrow(/Unknown backend 'webgl'/);
  });
});
