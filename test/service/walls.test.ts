/**
 * What the service reads and writes stays inside what it was given, and it replaces only what it
 * wrote ("never deletes, overwrites or reads anything it was not given"; granted folders are a
 * wall, links included; nothing is lost silently): a backup zip over someone else's zip, sorted
 * copies through a label folder that is a link, a training output that is a link, a predicted
 * folder holding links that lead out.
 */
import { execFileSync } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ServiceClient, type PredictionRow } from '../../src-main/contract.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { SHARED } from '../shared-data.js';
import { errorOf } from './error-of.js';

const RESOURCES = path.resolve(__dirname, '../../resources');
const MNIST = `${SHARED}/data/mnist`;
let tmp: string;
let granted: string;
let outside: string;
let service: Service;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-output-walls-')));
  granted = path.join(tmp, 'granted');
  outside = path.join(tmp, 'outside');
  await fs.mkdir(granted);
  await fs.mkdir(outside);
  service = createService({ home: path.join(tmp, 'home'), resourcesDir: RESOURCES });
  service.grant(granted);
});

afterAll(async () => {
  service.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

async function mnistImage(digit: string): Promise<string> {
  return path.join(MNIST, digit, (await fs.readdir(path.join(MNIST, digit))).sort()[0]!);
}

/** A dataset `name` in the granted folder: one MNIST 3 and one 7, enough for train.start to check its output. */
async function twoDigits(name: string): Promise<string> {
  const data = path.join(granted, name);
  for (const c of ['3', '7']) {
    await fs.mkdir(path.join(data, c), { recursive: true });
    await fs.copyFile(await mnistImage(c), path.join(data, c, 'a.png'));
  }
  return data;
}

describe('output walls of the service', () => {
  it('a backup zip never replaces a zip that is not a backup of this app, even one holding a model.json', async () => {
    // A TF.js model kept as a zip also has a model.json: it is the user's file, not ours.
    const theirs = path.join(granted, 'my-tfjs-model.zip');
    const bytes = zipSync({
      'model.json': strToU8('{"modelTopology": {}, "weightsManifest": []}'),
      'group1-shard1of1.bin': new Uint8Array(16),
    });
    await fs.writeFile(theirs, bytes);
    const err = await errorOf(
      service.call('models.export', { id: 'demo-digits', format: 'zip', dest: theirs }),
    );
    expect(err.code).toBe('conflict');
    expect(err.field).toBe('dest');
    expect(err.message).toContain(theirs);
    expect(Buffer.compare(await fs.readFile(theirs), Buffer.from(bytes))).toBe(0);
    // Our own backup there may be replaced.
    const ours = path.join(granted, 'digits.rank1.zip');
    await service.call('models.export', { id: 'demo-digits', format: 'zip', dest: ours });
    await service.call('models.export', { id: 'demo-digits', format: 'zip', dest: ours });
  });

  it('predictions.copy refuses a label folder that is a link leading out of the destination, copying nothing', async () => {
    const dest = path.join(granted, 'sorted');
    await fs.mkdir(dest);
    await fs.symlink(outside, path.join(dest, '3'));
    const three = path.join(granted, 'three.png');
    const seven = path.join(granted, 'seven.png');
    await fs.copyFile(await mnistImage('3'), three);
    await fs.copyFile(await mnistImage('7'), seven);
    const rows = [
      { file: seven, name: 'seven.png', label: '7' },
      { file: three, name: 'three.png', label: '3' },
    ];
    const err = await errorOf(service.call('predictions.copy', { rows, dest }));
    expect(err.code).toBe('conflict');
    expect(err.message).toContain(path.join(dest, '3'));
    expect(await fs.readdir(outside)).toEqual([]);
    expect((await fs.readdir(dest)).sort()).toEqual(['3']);
  });

  it('predictions.copy counts a label named __proto__ like any other', async () => {
    const dest = path.join(granted, 'sorted-odd');
    const file = path.join(granted, 'odd.png');
    await fs.copyFile(await mnistImage('3'), file);
    const r = await new ServiceClient(service).call('predictions.copy', {
      rows: [{ file, name: 'odd.png', label: '__proto__' }],
      dest,
    });
    expect(r.copied).toBe(1);
    expect(Object.entries(r.folders)).toEqual([['__proto__', 1]]);
    expect(await fs.readdir(path.join(dest, '__proto__'))).toEqual(['odd.png']);
  });

  it('predictions.copy skips a row whose file is a named pipe, saying so, instead of blocking on it', async () => {
    const pipe = path.join(granted, 'pipe.png');
    execFileSync('mkfifo', [pipe]);
    const dest = path.join(granted, 'sorted-pipe');
    try {
      const r = await new ServiceClient(service).call('predictions.copy', {
        rows: [{ file: pipe, name: 'pipe.png', label: '3' }],
        dest,
      });
      expect(r.copied).toBe(0);
      expect(r.skipped).toEqual([{ file: pipe, reason: expect.stringMatching(/not a regular file/) }]);
    } finally {
      // A red run leaves a reader blocked on the pipe: a writer that opens and closes it lets it go.
      const h = await fs.open(pipe, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
      await h?.close();
    }
  }, 10_000);

  it('predictions.copy never leaves a half-copied image under the final name when a copy dies midway', async () => {
    const dest = path.join(granted, 'sorted-torn');
    const file = path.join(granted, 'torn.png');
    await fs.copyFile(await mnistImage('3'), file);
    // A copy that stops halfway (the process killed, the disk full): half the bytes land wherever
    // the copy was writing, then it fails.
    const bytes = await fs.readFile(file);
    const realCopy = fs.copyFile.bind(fs);
    const spy = vi.spyOn(fs, 'copyFile').mockImplementation(async (src, to, mode) => {
      if (src !== file) return realCopy(src, to, mode);
      await fs.writeFile(to as string, bytes.subarray(0, bytes.length >> 1));
      throw Object.assign(new Error('EIO: i/o error, copyfile'), { code: 'EIO' });
    });
    try {
      const r = await new ServiceClient(service).call('predictions.copy', {
        rows: [{ file, name: 'torn.png', label: '3' }],
        dest,
      });
      expect(r.copied).toBe(0);
      expect(r.skipped).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
    expect(await fs.readdir(path.join(dest, '3'))).toEqual([]);
    // A copy that completes lands under its own name, and a second one beside it, not over it.
    const c = new ServiceClient(service);
    await c.call('predictions.copy', { rows: [{ file, name: 'torn.png', label: '3' }], dest });
    await c.call('predictions.copy', { rows: [{ file, name: 'torn.png', label: '3' }], dest });
    expect((await fs.readdir(path.join(dest, '3'))).sort()).toEqual(['torn (1).png', 'torn.png']);
    expect(Buffer.compare(await fs.readFile(path.join(dest, '3', 'torn.png')), bytes)).toBe(0);
  });

  it('train.start refuses an output folder that is a link, as the output guard does, and writes nothing there', async () => {
    const data = await twoDigits('digits');
    const target = path.join(granted, 'empty-elsewhere');
    await fs.mkdir(target);
    const link = path.join(granted, 'model-link');
    await fs.symlink(target, link);
    const err = await errorOf(
      service.call('train.start', { dataset: data, out: link, epochs: 1, backbone: 'none' }),
    );
    expect(err.field).toBe('out');
    expect(err.message).toMatch(/is a link/);
    expect(await fs.readdir(target)).toEqual([]);
  });
  it('train.start refuses, before any training, an output folder under a link that leads nowhere', async () => {
    const data = await twoDigits('digits-dangling');
    const link = path.join(granted, 'gone');
    await fs.symlink(path.join(outside, 'not-there'), link);
    const err = await errorOf(
      service.call('train.start', {
        dataset: data,
        out: path.join(link, 'model'),
        epochs: 1,
        backbone: 'none',
      }),
    );
    expect(err.field).toBe('out');
    expect(err.message).toContain(link);
    expect(await fs.readdir(outside)).not.toContain('not-there');
  });
});

describe('read walls of the service', () => {
  it('predict on a folder gives one row for each link leading out of the grants, reading none of them', async () => {
    const folder = path.join(granted, 'to-predict');
    await fs.mkdir(folder);
    await fs.copyFile(await mnistImage('3'), path.join(folder, 'three.png'));
    const away = path.join(outside, 'away');
    await fs.mkdir(away);
    await fs.copyFile(await mnistImage('7'), path.join(away, 'seven.png'));
    await fs.symlink(path.join(away, 'seven.png'), path.join(folder, 'seven-link.png'));
    await fs.symlink(away, path.join(folder, 'folder-link'));
    const rows: PredictionRow[] = [];
    await new ServiceClient(service).run('predict', { model: 'demo-digits', paths: [folder] }, (e) => {
      if (e.type === 'job.item') rows.push(e.item);
    });
    const byName = new Map(rows.map((r) => [path.basename(String(r.file)), r]));
    expect([...byName.keys()].sort()).toEqual(['folder-link', 'seven-link.png', 'three.png']);
    expect(byName.get('three.png')!.label).toBe('3');
    for (const name of ['folder-link', 'seven-link.png']) {
      expect(byName.get(name)!.label).toBeUndefined();
      expect(byName.get(name)!.error).toMatch(/link leads outside the folders this app may read; not read/);
    }
  }, 120_000);

  it('models.import of a named pipe is refused at once, naming the field, instead of waiting for a writer', async () => {
    const pipe = path.join(granted, 'model.rank1.zip');
    execFileSync('mkfifo', [pipe]);
    try {
      const err = await errorOf(service.call('models.import', { path: pipe }));
      expect(err.field).toBe('path');
      expect(err.message).toMatch(/not a file/);
    } finally {
      // A red run leaves a reader blocked on the pipe: a writer that opens and closes it lets it go.
      const h = await fs.open(pipe, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
      await h?.close();
    }
  }, 10_000);
});
