import { execFileSync } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MODEL_FORMAT_VERSION,
  ModelFormatError,
  listModels,
  readModelFolder,
  readModelMeta,
  writeModelFolder,
} from '../../src-main/store/index.js';
import { fakeMeta, fakeWeights } from '../store/fake-model.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-mf-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('model folder', () => {
  it('round-trips metadata, weights and optimizer state', async () => {
    const dir = path.join(tmp, 'models', 'a');
    const opt = [{ name: 'adam/m', shape: [2], data: Float32Array.from([0.5, -0.5]) }];
    const written = await writeModelFolder(dir, fakeMeta({ id: 'a' }), fakeWeights(), opt);
    expect(written.formatVersion).toBe(MODEL_FORMAT_VERSION);
    const back = await readModelFolder(dir, { optimizer: true });
    expect(back.meta.id).toBe('a');
    expect(back.meta.weights.sha256).toBe(written.weights.sha256);
    expect(back.weights.map((w) => w.name)).toEqual(['dense/kernel', 'dense/bias']);
    expect(Array.from(back.weights[1]!.data)).toEqual([1, 0, -1]);
    expect(Array.from(back.optimizer[0]!.data)).toEqual([0.5, -0.5]);
    // No temporaries left beside it.
    expect(await fs.readdir(path.join(tmp, 'models'))).toEqual(['a']);
  });

  it('refuses truncated weights', async () => {
    const dir = path.join(tmp, 'm');
    await writeModelFolder(dir, fakeMeta(), fakeWeights());
    const file = path.join(dir, 'weights.bin');
    const buf = await fs.readFile(file);
    await fs.writeFile(file, buf.subarray(0, buf.length - 4));
    await expect(readModelFolder(dir)).rejects.toThrow(/truncated/);
    await expect(readModelFolder(dir)).rejects.toBeInstanceOf(ModelFormatError);
  });

  it('refuses tampered weights (same length, different bytes)', async () => {
    const dir = path.join(tmp, 'm');
    await writeModelFolder(dir, fakeMeta(), fakeWeights());
    const file = path.join(dir, 'weights.bin');
    const buf = await fs.readFile(file);
    buf[3] = buf[3]! ^ 0xff;
    await fs.writeFile(file, buf);
    await expect(readModelFolder(dir)).rejects.toThrow(/SHA-256/);
  });

  it('refuses a newer format with advice to update', async () => {
    const dir = path.join(tmp, 'm');
    await writeModelFolder(dir, fakeMeta(), fakeWeights());
    const meta = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
    meta.formatVersion = MODEL_FORMAT_VERSION + 1;
    await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(meta));
    await expect(readModelMeta(dir)).rejects.toThrow(/newer than this app.*update/);
  });

  it('refuses a missing folder and truncated model.json', async () => {
    await expect(readModelMeta(path.join(tmp, 'nope'))).rejects.toThrow(/no model\.json/);
    const dir = path.join(tmp, 'm');
    await writeModelFolder(dir, fakeMeta(), fakeWeights());
    const text = await fs.readFile(path.join(dir, 'model.json'), 'utf8');
    await fs.writeFile(path.join(dir, 'model.json'), text.slice(0, text.length / 2));
    await expect(readModelMeta(dir)).rejects.toThrow(/not valid JSON/);
  });

  it('a failed write before the swap leaves the old model intact', async () => {
    const dir = path.join(tmp, 'models', 'm');
    const first = await writeModelFolder(dir, fakeMeta({ name: 'old' }), fakeWeights(1));
    // Moving the old folder aside fails (e.g. a virus scanner holds it open).
    vi.spyOn(fs, 'rename').mockRejectedValueOnce(Object.assign(new Error('EBUSY'), { code: 'EBUSY' }));
    await expect(writeModelFolder(dir, fakeMeta({ name: 'new' }), fakeWeights(2))).rejects.toThrow(/EBUSY/);
    const back = await readModelFolder(dir);
    expect(back.meta.name).toBe('old');
    expect(back.meta.weights.sha256).toBe(first.weights.sha256);
    expect(await fs.readdir(path.join(tmp, 'models'))).toEqual(['m']);
  });

  it('a failed swap puts the old model back', async () => {
    const dir = path.join(tmp, 'models', 'm');
    await writeModelFolder(dir, fakeMeta({ name: 'old' }), fakeWeights(1));
    const real = fs.rename.bind(fs);
    let calls = 0;
    vi.spyOn(fs, 'rename').mockImplementation(async (a, b) => {
      // 1st: old aside (ok); 2nd: new into place (fails); later: restoring (ok).
      if (++calls === 2) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      return real(a, b);
    });
    await expect(writeModelFolder(dir, fakeMeta({ name: 'new' }), fakeWeights(2))).rejects.toThrow(/EIO/);
    vi.restoreAllMocks();
    expect((await readModelFolder(dir)).meta.name).toBe('old');
  });

  it('a crash between the two renames is recovered by the next listing', async () => {
    const home = tmp;
    const dir = path.join(home, 'models', 'm');
    await writeModelFolder(dir, fakeMeta({ id: 'm', name: 'old' }), fakeWeights(1));
    // What a crash right after "old aside" leaves on disk: the old model under a temporary name.
    await fs.rename(dir, path.join(home, 'models', '.m.tmp-0123abcd-old'));
    const { models, broken } = await listModels(home);
    expect(broken).toEqual([]);
    expect(models.map((m) => m.name)).toEqual(['old']);
    expect((await readModelFolder(dir)).meta.name).toBe('old');
  });
});

/** A named pipe at `file` (POSIX `mkfifo`): reading one blocks until a writer comes, perhaps forever. */
function makeFifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

/** Let a reader blocked on the pipe go (a writer opens and closes it), so a red run cannot hang the worker. */
async function releaseFifo(file: string): Promise<void> {
  const h = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
  await h?.close();
}

describe("model folder files are the folder's own (untrusted folders, granted folders are a wall)", () => {
  it('a model.json or weights.bin that is a link leading out of the folder is refused unread, naming it', async () => {
    const elsewhere = path.join(tmp, 'elsewhere');
    await writeModelFolder(elsewhere, fakeMeta(), fakeWeights());
    for (const name of ['model.json', 'weights.bin']) {
      const dir = path.join(tmp, `link-${name}`);
      await writeModelFolder(dir, fakeMeta(), fakeWeights());
      await fs.rm(path.join(dir, name));
      await fs.symlink(path.join(elsewhere, name), path.join(dir, name));
      const err = await readModelFolder(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelFormatError);
      expect((err as ModelFormatError).detail).toMatch(new RegExp(`^${name.replace('.', '\\.')} is a link`));
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
  });

  it('a model.json or weights.bin that is a named pipe is refused at once instead of blocking', async () => {
    for (const name of ['model.json', 'weights.bin']) {
      const dir = path.join(tmp, `fifo-${name}`);
      await writeModelFolder(dir, fakeMeta(), fakeWeights());
      await fs.rm(path.join(dir, name));
      makeFifo(path.join(dir, name));
      try {
        const err = await readModelFolder(dir).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ModelFormatError);
        expect((err as ModelFormatError).detail).toMatch(
          new RegExp(`^${name.replace('.', '\\.')} is not a regular file`),
        );
      } finally {
        await releaseFifo(path.join(dir, name));
      }
    }
  }, 10_000);
});
