/** Issue 13 items 1 and 4: the user's files survive every output choice; crash leftovers settle. */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  OutputFolderError,
  checkOutputFolder,
  readModelFolder,
  readModelMeta,
  recoverLeftovers,
  writeModelFolder,
} from '../../src-main/store/index.js';
import { fakeMeta, fakeWeights } from '../store/fake-model.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-out-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A small dataset folder with one image per class (content irrelevant: nothing may touch it). */
async function dataset(root: string): Promise<string> {
  for (const c of ['cat', 'dog']) {
    await fs.mkdir(path.join(root, c), { recursive: true });
    await fs.writeFile(path.join(root, c, 'a.png'), 'image bytes');
  }
  return root;
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true }))
    out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out.sort();
}

describe('writeModelFolder never deletes what the app did not write', () => {
  it('keeps a thesis.txt in the chosen folder and refuses to write there', async () => {
    const docs = path.join(tmp, 'Documents');
    await fs.mkdir(docs);
    await fs.writeFile(path.join(docs, 'thesis.txt'), 'four years of work');
    const err = await writeModelFolder(docs, fakeMeta(), fakeWeights()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputFolderError);
    expect((err as Error).message).toMatch(
      /Documents: already holds thesis\.txt; choose a new or empty folder/,
    );
    expect((err as Error).message.split('\n')).toHaveLength(1);
    expect(await fs.readFile(path.join(docs, 'thesis.txt'), 'utf8')).toBe('four years of work');
    // Nothing of ours is left beside it either.
    expect(await fs.readdir(tmp)).toEqual(['Documents']);
  });

  it('refuses a model folder of ours that also holds a file of the user', async () => {
    const dir = path.join(tmp, 'model');
    await writeModelFolder(dir, fakeMeta(), fakeWeights());
    await fs.writeFile(path.join(dir, 'notes.txt'), 'mine');
    await expect(writeModelFolder(dir, fakeMeta(), fakeWeights(2))).rejects.toThrow(/already holds/);
    expect(await fs.readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a folder with a foreign model.json (not ours)', async () => {
    const dir = path.join(tmp, 'tfjs-model');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'model.json'), '{"modelTopology": {}}');
    await expect(writeModelFolder(dir, fakeMeta(), fakeWeights())).rejects.toBeInstanceOf(OutputFolderError);
    expect(await fs.readFile(path.join(dir, 'model.json'), 'utf8')).toBe('{"modelTopology": {}}');
  });

  it('writes into an absent or empty folder and replaces a model folder of ours', async () => {
    const empty = path.join(tmp, 'empty');
    await fs.mkdir(empty);
    await writeModelFolder(empty, fakeMeta({ name: 'first' }), fakeWeights());
    await writeModelFolder(empty, fakeMeta({ name: 'second' }), fakeWeights(2));
    expect((await readModelMeta(empty)).name).toBe('second');
    expect(await tree(tmp)).toEqual(['empty', 'empty/model.json', 'empty/weights.bin']);
  });

  it('refuses a symlinked output folder and leaves its target alone', async () => {
    const target = path.join(tmp, 'target');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'thesis.txt'), 'kept');
    const link = path.join(tmp, 'link');
    await fs.symlink(target, link);
    await expect(writeModelFolder(link, fakeMeta(), fakeWeights())).rejects.toThrow(/link: is a link/);
    await expect(checkOutputFolder(link)).rejects.toThrow(/is a link/);
    // Even a link to an empty folder: renaming the link away would leave the model elsewhere.
    await fs.rm(path.join(target, 'thesis.txt'));
    await expect(checkOutputFolder(link)).rejects.toThrow(/is a link/);
    expect(await fs.readlink(link)).toBe(target);
  });

  it('refuses a file as the output', async () => {
    const file = path.join(tmp, 'model.zip');
    await fs.writeFile(file, 'zip');
    await expect(checkOutputFolder(file)).rejects.toThrow(/is a file/);
  });
});

describe('checkOutputFolder keeps the dataset out of reach', () => {
  it('refuses the dataset itself, its parent, an ancestor and a folder inside it', async () => {
    const data = await dataset(path.join(tmp, 'home', 'photos'));
    const before = await tree(data);
    await expect(checkOutputFolder(data, { dataset: data })).rejects.toThrow(/photos: is the dataset folder/);
    await expect(checkOutputFolder(path.dirname(data), { dataset: data })).rejects.toThrow(
      /home: holds the dataset folder/,
    );
    await expect(checkOutputFolder(tmp, { dataset: data })).rejects.toThrow(/holds the dataset folder/);
    await expect(checkOutputFolder(path.join(data, 'model'), { dataset: data })).rejects.toThrow(
      /inside the dataset folder/,
    );
    // Written anyway (a caller that skipped the check): the dataset's folders are not ours.
    await expect(writeModelFolder(data, fakeMeta(), fakeWeights())).rejects.toThrow(/already holds/);
    await expect(writeModelFolder(path.dirname(data), fakeMeta(), fakeWeights())).rejects.toThrow(
      /already holds/,
    );
    expect(await tree(data)).toEqual(before);
  });

  it('sees through a link to the dataset and relative spellings', async () => {
    const data = await dataset(path.join(tmp, 'photos'));
    const alias = path.join(tmp, 'alias');
    await fs.symlink(data, alias);
    await expect(checkOutputFolder(path.join(alias, '..', 'photos'), { dataset: alias })).rejects.toThrow(
      /is the dataset folder/,
    );
    await expect(checkOutputFolder(path.join(tmp, 'new-model'), { dataset: alias })).resolves.toBeUndefined();
  });

  it('accepts a new folder beside the dataset', async () => {
    const data = await dataset(path.join(tmp, 'photos'));
    await expect(
      checkOutputFolder(path.join(tmp, 'out', 'model'), { dataset: data }),
    ).resolves.toBeUndefined();
  });
});

describe('leftovers of an interrupted write', () => {
  it('the state between the two renames is recovered: the complete new model is moved in', async () => {
    const dir = path.join(tmp, 'out');
    await writeModelFolder(dir, fakeMeta({ name: 'old' }), fakeWeights(1));
    const staged = path.join(tmp, 'staged');
    await writeModelFolder(staged, fakeMeta({ name: 'new' }), fakeWeights(2));
    // kill -9 after "old aside", before "new in":
    await fs.rename(dir, path.join(tmp, '.out.tmp-0123abcd-old'));
    await fs.rename(staged, path.join(tmp, '.out.tmp-0123abcd'));
    expect((await readModelFolder(dir)).meta.name).toBe('new');
    expect((await fs.readdir(tmp)).sort()).toEqual(['out']);
  });

  it('a half-written temporary is removed at the next write; the model stays', async () => {
    const dir = path.join(tmp, 'out');
    await writeModelFolder(dir, fakeMeta({ name: 'v1' }), fakeWeights(1));
    const half = path.join(tmp, '.out.tmp-deadbeef');
    await fs.mkdir(half);
    await fs.writeFile(path.join(half, 'weights.bin'), Buffer.alloc(7));
    await writeModelFolder(dir, fakeMeta({ name: 'v2' }), fakeWeights(2));
    expect((await fs.readdir(tmp)).sort()).toEqual(['out']);
    expect((await readModelMeta(dir)).name).toBe('v2');
  });

  it('recoverLeftovers at start cleans temporaries of ours and keeps anything else', async () => {
    const dir = path.join(tmp, 'm');
    await writeModelFolder(dir, fakeMeta(), fakeWeights());
    const ours = path.join(tmp, '.m.tmp-00000000-old');
    await fs.mkdir(ours);
    await fs.writeFile(path.join(ours, 'model.json'), '{}');
    const foreign = path.join(tmp, '.m.tmp-11111111');
    await fs.mkdir(foreign);
    await fs.writeFile(path.join(foreign, 'thesis.txt'), 'kept');
    await recoverLeftovers(tmp);
    expect((await fs.readdir(tmp)).sort()).toEqual(['.m.tmp-11111111', 'm']);
    expect(await fs.readFile(path.join(foreign, 'thesis.txt'), 'utf8')).toBe('kept');
  });
});
