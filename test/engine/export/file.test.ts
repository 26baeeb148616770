/** Writing an export never replaces what is not ours and never leaves half a file (engine/export/file.ts). */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { ExportTargetError, writeExportFile } from '../../../src-main/engine/export/index.js';
import { NetworkWriter, writeForward } from '../../../src-main/engine/export/network.js';
import { buildModel } from '../../../src-main/engine/models/index.js';
import { BATCH, OnnxGraph, serializeModel } from '../../../src-main/engine/onnx/graph.js';
import { UnsupportedLayerError } from '../../../src-main/engine/onnx/tfjs-layers.js';
import { Rng } from '../../../src-main/engine/random.js';
import { resolveModelConfig } from '../../../src-main/engine/defaults.js';

let tmp: string;
beforeAll(async () => {
  await initBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-export-file-'));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

function tinyOnnx(producerName?: string): Uint8Array {
  const g = new OnnxGraph('t');
  const x = g.input('x', [BATCH, 1]);
  g.output(g.op('Identity', [x]), [BATCH, 1]);
  return serializeModel(g, producerName ? { producerName } : {});
}

describe('writeExportFile', () => {
  it('writes a new file and replaces an earlier export of this app', async () => {
    const file = path.join(tmp, 'a.onnx');
    await writeExportFile(file, tinyOnnx());
    const second = tinyOnnx();
    await writeExportFile(file, second);
    expect(new Uint8Array(await fs.readFile(file))).toEqual(new Uint8Array(second));
    expect(await fs.readdir(tmp)).toEqual(['a.onnx']);
  });

  it.each([
    ['a text file', () => Buffer.from('mine')],
    ['an ONNX file written by another tool', () => tinyOnnx('pytorch')],
  ])('refuses to replace %s and leaves it untouched', async (_what, content) => {
    const file = path.join(tmp, 'theirs.onnx');
    const before = content();
    await fs.writeFile(file, before);
    await expect(writeExportFile(file, tinyOnnx())).rejects.toBeInstanceOf(ExportTargetError);
    expect(new Uint8Array(await fs.readFile(file))).toEqual(new Uint8Array(before));
    await fs.rm(file);
  });

  it('leaves no temporary file when the folder does not exist', async () => {
    await expect(writeExportFile(path.join(tmp, 'missing', 'x.onnx'), tinyOnnx())).rejects.toThrow();
    expect(await fs.readdir(tmp)).not.toContain('missing');
  });

  it('names the missing folder, not a temporary file of its own, when the folder does not exist', async () => {
    const folder = path.join(tmp, 'missing');
    const err = await writeExportFile(path.join(folder, 'x.onnx'), tinyOnnx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportTargetError);
    expect((err as Error).message).toContain(folder);
    expect((err as Error).message).not.toMatch(/\.tmp\b/);
  });
});

describe('a model the exporter cannot express', () => {
  it('gets one clear error naming what it cannot write', () => {
    const config = resolveModelConfig(
      { size: 28, channels: 1, count: 100, numClasses: 10 },
      { arch: 'mlp', method: 'rank1', members: 2 },
    );
    const model = buildModel(config, new Rng(1));
    try {
      // The same model under an architecture the exporter has no forward pass for.
      const other = Object.create(model) as typeof model;
      Object.defineProperty(other, 'config', { value: { ...config, arch: 'vit' } });
      const f = { mode: 'samples' as const, members: 2, samples: 1, effectiveMembers: 2, layers: [] };
      const w = new NetworkWriter(new OnnxGraph('g'), other, f);
      const g = w.g;
      const x = { name: g.input('x', [BATCH, 784]), shape: [784] };
      expect(() => writeForward(w, x)).toThrow(UnsupportedLayerError);
      expect(() => writeForward(w, x)).toThrow('model: architecture "vit" has no ONNX export');
      // A layer name the model does not have is named too.
      expect(() => new NetworkWriter(new OnnxGraph('g'), model, f).dense('dense9', x)).toThrow(
        'layer dense9: not in the model',
      );
    } finally {
      model.dispose();
    }
  });
});
