/**
 * `models.export` with format 'onnx' (issue 17 item 5): the demo model as one ONNX file that loads
 * in onnxruntime-node, inside the grants only, never over a file that is not ours, never
 * half-written; the zip backup stays the default.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMetadata } from '../../src-main/engine/onnx/graph.js';
import { createSession } from '../../src-main/engine/onnx/runtime.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { errorOf } from './error-of.js';

const RESOURCES = path.resolve(__dirname, '../../resources');
let tmp: string;
let service: Service;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-export-service-'));
  service = createService({ home: path.join(tmp, 'home'), resourcesDir: RESOURCES });
});

afterAll(async () => {
  service.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

type ExportResult = { path?: string; fileName: string; base64?: string };

describe('models.export format onnx', () => {
  it('writes the demo model as one ONNX file into a granted folder, replacing only its own file', async () => {
    const out = path.join(tmp, 'out');
    await fs.mkdir(out);
    const call = () => service.call('models.export', { id: 'demo-digits', format: 'onnx', dest: out });
    expect((await errorOf(call())).code).toBe('forbidden');
    service.grant(out);
    const r = (await call()) as ExportResult;
    expect(r.fileName).toMatch(/\.onnx$/);
    expect(path.dirname(r.path!)).toBe(await fs.realpath(out));
    const bytes = new Uint8Array(await fs.readFile(r.path!));
    expect(JSON.parse(readMetadata(bytes).classes!)).toHaveLength(10);
    const s = await createSession(bytes, { providers: ['cpu'], threads: 1 });
    expect(s.session.inputNames).toEqual(['image']);
    expect([...s.session.outputNames].sort()).toEqual(
      ['aleatoric', 'entropy', 'epistemic', 'ood', 'ood_score', 'probs'].sort(),
    );
    await s.session.release();
    // Our own earlier export may be replaced; nothing else is left in the folder.
    await call();
    expect(await fs.readdir(out)).toEqual([r.fileName]);
  });

  it('refuses to replace a file that is not an ONNX export of this app, and leaves it as it was', async () => {
    const mine = path.join(tmp, 'notes.onnx');
    await fs.writeFile(mine, 'my own notes');
    service.grant(mine);
    const e = await errorOf(service.call('models.export', { id: 'demo-digits', format: 'onnx', dest: mine }));
    expect(e.code).toBe('conflict');
    expect(e.message).toContain('notes.onnx');
    expect(await fs.readFile(mine, 'utf8')).toBe('my own notes');
    expect((await fs.readdir(tmp)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('returns the file inline without a destination; the zip backup stays the default', async () => {
    const onnx = (await service.call('models.export', { id: 'demo-digits', format: 'onnx' })) as ExportResult;
    expect(readMetadata(Buffer.from(onnx.base64!, 'base64')).flag_score).toBe('mahalanobis');
    const zip = (await service.call('models.export', { id: 'demo-digits' })) as ExportResult;
    expect(zip.fileName).toMatch(/\.rank1\.zip$/);
  });
});

describe('models.export format zip (the backup)', () => {
  it('replaces an earlier backup but not a file that is not one', async () => {
    const dir = path.join(tmp, 'backups');
    await fs.mkdir(dir);
    service.grant(dir);
    const first = (await service.call('models.export', { id: 'demo-digits', dest: dir })) as ExportResult;
    await service.call('models.export', { id: 'demo-digits', dest: first.path! });
    const other = path.join(dir, 'photos.zip');
    await fs.writeFile(other, 'PK\x03\x04 not a model');
    const e = await errorOf(service.call('models.export', { id: 'demo-digits', dest: other }));
    expect(e.code).toBe('conflict');
    expect(await fs.readFile(other, 'latin1')).toBe('PK\x03\x04 not a model');
  });
});
