/**
 * `rank1 export` (issue 17): the demo model as one ONNX file through the service; `rank1 predict
 * --json` on the model's folder and the file in onnxruntime-node agree on the same images; the
 * out file is never one that is not ours; usage errors exit 2. Needs `npm run build`.
 */
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareImage } from '../../src-main/data/index.js';
import { readMetadata } from '../../src-main/engine/onnx/graph.js';
import { createSession } from '../../src-main/engine/onnx/runtime.js';
import { SHARED } from '../shared-data.js';
import { REPO, runCli } from './run-cli.js';

const DEMO = nodePath.join(REPO, 'resources/demo/digits');
let tmp: string;

const rank1 = (...args: string[]) => rank1In(REPO, ...args);
const rank1In = (cwd: string, ...args: string[]) =>
  runCli(args, { cwd, home: nodePath.join(tmp, 'home'), timeout: 120_000 });

beforeAll(async () => {
  tmp = await fs.mkdtemp(nodePath.join(os.tmpdir(), 'rank1-cli-export-'));
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

/** 20 digits and 20 notMNIST letters. */
function images(): string[] {
  const pick = (dir: string, n: number) =>
    readdirSync(dir)
      .sort()
      .flatMap((c) =>
        readdirSync(nodePath.join(dir, c))
          .sort()
          .slice(0, n)
          .map((f) => nodePath.join(dir, c, f)),
      );
  return [...pick(`${SHARED}/data/mnist`, 2), ...pick(`${SHARED}/data/notmnist`, 2)];
}

describe('rank1 export', () => {
  it('writes the demo model as ONNX, whose outputs match rank1 predict --json', async () => {
    const out = nodePath.join(tmp, 'digits.onnx');
    const r = rank1('export', DEMO, '--format', 'onnx', '--out', out, '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!)).toMatchObject({ path: out, format: 'onnx' });
    const bytes = new Uint8Array(await fs.readFile(out));
    expect(readMetadata(bytes).flag_score).toBe('mahalanobis');

    const files = images();
    const p = rank1('predict', DEMO, ...files, '--json');
    expect(p.status, p.stderr).toBe(0);
    const rows = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.map((row) => row.file)).toEqual(files);

    const prep = {
      size: 28,
      channels: 1 as const,
      fit: 'cover' as const,
      background: { r: 255, g: 255, b: 255 },
    };
    const px = new Uint8Array(files.length * 28 * 28);
    for (const [i, f] of files.entries()) px.set((await prepareImage(f, prep)).pixels, i * 28 * 28);
    const s = await createSession(bytes, { providers: ['cpu'], threads: 2 });
    const o = await s.session.run({ image: new s.ort.Tensor('uint8', px, [files.length, 28, 28, 1]) });
    await s.session.release();
    rows.forEach((row, i) => {
      const probs = Object.values(row.probabilities as Record<string, number>);
      probs.forEach((v, c) =>
        expect(Math.abs((o.probs!.data as Float32Array)[i * 10 + c]! - v)).toBeLessThan(1e-4),
      );
      expect(Math.abs((o.entropy!.data as Float32Array)[i]! - (row.entropy as number))).toBeLessThan(1e-4);
      expect(
        Math.abs((o.aleatoric!.data as Float32Array)[i]! - (row.expected_entropy as number)),
      ).toBeLessThan(1e-4);
      expect(
        Math.abs((o.epistemic!.data as Float32Array)[i]! - (row.mutual_information as number)),
      ).toBeLessThan(1e-4);
      const v = row.ood_value as number;
      expect(Math.abs((o.ood_score!.data as Float32Array)[i]! - v)).toBeLessThan(
        1e-4 * Math.max(1, Math.abs(v)),
      );
      expect(Boolean((o.ood!.data as Uint8Array)[i])).toBe(row.ood);
    });
  }, 120_000);

  it('never replaces a file that is not an export of this app', async () => {
    const mine = nodePath.join(tmp, 'mine.onnx');
    await fs.writeFile(mine, 'my notes');
    const r = rank1('export', DEMO, '--out', mine);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/mine\.onnx already exists and is not an ONNX export/);
    expect(await fs.readFile(mine, 'utf8')).toBe('my notes');
  }, 120_000);

  it('takes a model folder named as `rank1 train --out NAME` made it, relative and without a slash', async () => {
    // the README's flow: `rank1 train DIR --out mnist-model`, then `rank1 export mnist-model …`
    await fs.cp(DEMO, nodePath.join(tmp, 'my model'), { recursive: true });
    const onnx = rank1In(tmp, 'export', 'my model', '--out', 'my model.onnx');
    expect(onnx.status, onnx.stderr).toBe(0);
    expect((await fs.stat(nodePath.join(tmp, 'my model.onnx'))).size).toBeGreaterThan(1000);
  }, 120_000);

  it('writes a model folder as a backup zip (model.json and weights.bin inside)', async () => {
    const zip = nodePath.join(tmp, 'backup.zip');
    const r = rank1('export', DEMO, '--format', 'zip', '--out', zip);
    expect(r.status, r.stderr).toBe(0);
    const bytes = await fs.readFile(zip);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(bytes.includes(Buffer.from('model.json'))).toBe(true);
    expect(bytes.includes(Buffer.from('weights.bin'))).toBe(true);
  }, 120_000);

  it('a model without an OOD threshold: says the flag is none, not "> Infinity"', async () => {
    const dir = nodePath.join(tmp, 'no-threshold');
    await fs.cp(DEMO, dir, { recursive: true });
    const meta = JSON.parse(await fs.readFile(nodePath.join(dir, 'model.json'), 'utf8'));
    delete meta.ood;
    await fs.writeFile(nodePath.join(dir, 'model.json'), JSON.stringify(meta));
    const r = rank1('export', dir, '--out', nodePath.join(tmp, 'no-threshold.onnx'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/Infinity/);
    expect(r.stdout).toMatch(/OOD flag: none/);
  }, 120_000);

  it('refuses an unknown format with exit code 2', () => {
    const r = rank1('export', DEMO, '--out', nodePath.join(tmp, 'x.tflite'), '--format', 'tflite');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--format/);
  });
});
