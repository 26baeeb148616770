import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ownFile, refusal } from '../../src-main/engine/own-file.js';

let tmp: string;
let dir: string;
let elsewhere: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-own-'));
  dir = path.join(tmp, 'folder');
  elsewhere = path.join(tmp, 'elsewhere');
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
  await fs.mkdir(elsewhere);
  await fs.writeFile(path.join(elsewhere, 'secret.bin'), 'not yours');
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe("ownFile: what a folder's own regular file is, before anything reads it", () => {
  it('a regular file of the folder, at its root or nested, is ok with its stats and resolved path', async () => {
    await fs.writeFile(path.join(dir, 'model.json'), '{}');
    await fs.writeFile(path.join(dir, 'sub', 'shard.bin'), Buffer.alloc(12));
    const top = await ownFile(dir, 'model.json');
    expect(top).toMatchObject({ kind: 'ok', path: path.join(dir, 'model.json') });
    expect(top.kind === 'ok' && top.stats.size).toBe(2);
    const nested = await ownFile(dir, 'sub/shard.bin');
    expect(nested).toMatchObject({ kind: 'ok', path: path.join(dir, 'sub', 'shard.bin') });
    expect(nested.kind === 'ok' && nested.stats.size).toBe(12);
  });

  it('a missing file, or one under a file where a folder should be, is absent', async () => {
    expect(await ownFile(dir, 'weights.bin')).toEqual({
      kind: 'absent',
      path: path.join(dir, 'weights.bin'),
    });
    await fs.writeFile(path.join(dir, 'plain'), '');
    expect((await ownFile(dir, 'plain/x.bin')).kind).toBe('absent');
  });

  it('a link leading out of the folder is a link, whatever it points at', async () => {
    await fs.symlink(path.join(elsewhere, 'secret.bin'), path.join(dir, 'weights.bin'));
    expect(await ownFile(dir, 'weights.bin')).toEqual({ kind: 'link', path: path.join(dir, 'weights.bin') });
    // Even a link to a file of the folder itself: the folder holds its own files.
    await fs.writeFile(path.join(dir, 'real.bin'), '');
    await fs.symlink('real.bin', path.join(dir, 'alias.bin'));
    expect((await ownFile(dir, 'alias.bin')).kind).toBe('link');
  });

  it('a folder or a named pipe is not a regular file', async () => {
    expect((await ownFile(dir, 'sub')).kind).toBe('not-regular');
    execFileSync('mkfifo', [path.join(dir, 'pipe.bin')]);
    const pipe = await ownFile(dir, 'pipe.bin');
    expect(pipe.kind).toBe('not-regular');
    expect(pipe.kind === 'not-regular' && pipe.stats.isFIFO()).toBe(true);
  });

  it('a path through a linked folder is outside by its real path', async () => {
    await fs.symlink(elsewhere, path.join(dir, 'linked'));
    expect(await ownFile(dir, 'linked/secret.bin')).toEqual({
      kind: 'outside',
      path: path.join(dir, 'linked', 'secret.bin'),
      by: 'real-path',
    });
  });

  it('a path that climbs out by its name is outside without being looked at', async () => {
    expect(await ownFile(dir, '../elsewhere/secret.bin')).toMatchObject({ kind: 'outside', by: 'name' });
    expect(await ownFile(dir, path.join(elsewhere, 'secret.bin'))).toMatchObject({
      kind: 'outside',
      by: 'name',
    });
    expect(await ownFile(dir, '.')).toMatchObject({ kind: 'outside', by: 'name' });
  });

  it('the folder given through a link of its own is still itself (its files are ok)', async () => {
    await fs.writeFile(path.join(dir, 'sub', 'shard.bin'), '');
    const alias = path.join(tmp, 'alias');
    await fs.symlink(dir, alias);
    expect((await ownFile(alias, 'sub/shard.bin')).kind).toBe('ok');
  });

  it('a path that cannot be looked at (a link loop on the way) is unreadable, with its code', async () => {
    await fs.symlink('loop', path.join(dir, 'loop'));
    expect(await ownFile(dir, 'loop/x.bin')).toMatchObject({ kind: 'unreadable', code: 'ELOOP' });
  });

  it('refusal says in one line, starting with the name, why a file is not read', () => {
    const p = '/m/x';
    expect(refusal('weights.bin', { kind: 'link', path: p })).toBe(
      'weights.bin is a link; a model folder holds its own files (not read)',
    );
    expect(refusal('a/b.bin', { kind: 'outside', path: p, by: 'real-path' })).toMatch(
      /^a\/b\.bin lies in a linked folder/,
    );
    expect(refusal('../b.bin', { kind: 'outside', path: p, by: 'name' })).toBe(
      '"../b.bin" leaves the model folder (not read)',
    );
    expect(refusal('model.json', { kind: 'unreadable', path: p, code: 'EACCES' })).toBe(
      'model.json cannot be read (EACCES)',
    );
  });
});
