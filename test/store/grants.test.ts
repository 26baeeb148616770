import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathGrants, StoreError } from '../../src-main/store/index.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-grants-')));
  await fs.mkdir(path.join(tmp, 'granted', 'sub'), { recursive: true });
  await fs.mkdir(path.join(tmp, 'secret'));
  await fs.writeFile(path.join(tmp, 'secret', 'key.txt'), 'x');
  await fs.writeFile(path.join(tmp, 'granted', 'a.png'), 'x');
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

function forbidden(fn: () => unknown, field: string) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).toBe('forbidden');
    expect((e as StoreError).field).toBe(field);
    return;
  }
  throw new Error('expected forbidden');
}

describe('PathGrants', () => {
  it('allows paths inside a granted root and returns the real path', () => {
    const g = new PathGrants([path.join(tmp, 'granted')]);
    expect(g.check(path.join(tmp, 'granted', 'a.png'), 'file')).toBe(path.join(tmp, 'granted', 'a.png'));
    expect(g.check(path.join(tmp, 'granted'), 'path')).toBe(path.join(tmp, 'granted'));
    expect(g.check(path.join(tmp, 'granted', 'sub', '..', 'a.png'), 'file')).toBe(
      path.join(tmp, 'granted', 'a.png'),
    );
  });

  it('refuses paths outside, .. traversal and prefix look-alikes', () => {
    const g = new PathGrants([path.join(tmp, 'granted')]);
    forbidden(() => g.check(path.join(tmp, 'secret', 'key.txt'), 'file'), 'file');
    forbidden(() => g.check(path.join(tmp, 'granted', '..', 'secret', 'key.txt'), 'paths.0'), 'paths.0');
    forbidden(() => g.check(`${path.join(tmp, 'granted')}-evil/x`, 'dest'), 'dest');
    forbidden(() => g.check('/etc/passwd', 'file'), 'file');
  });

  it('refuses a symlink that leads out of a granted root', async () => {
    await fs.symlink(path.join(tmp, 'secret'), path.join(tmp, 'granted', 'link'));
    const g = new PathGrants([path.join(tmp, 'granted')]);
    forbidden(() => g.check(path.join(tmp, 'granted', 'link', 'key.txt'), 'file'), 'file');
    // A not-yet-existing destination under the symlink is refused too.
    forbidden(() => g.check(path.join(tmp, 'granted', 'link', 'new', 'out.zip'), 'dest'), 'dest');
  });

  it('allows a not-yet-existing destination inside a root', () => {
    const g = new PathGrants([path.join(tmp, 'granted')]);
    expect(g.check(path.join(tmp, 'granted', 'new', 'deeper', 'x.zip'), 'dest')).toBe(
      path.join(tmp, 'granted', 'new', 'deeper', 'x.zip'),
    );
  });

  it('a granted file grants only that file', () => {
    const g = new PathGrants();
    g.grant(path.join(tmp, 'granted', 'a.png'));
    expect(g.check(path.join(tmp, 'granted', 'a.png'), 'file')).toBe(path.join(tmp, 'granted', 'a.png'));
    forbidden(() => g.check(path.join(tmp, 'granted', 'sub'), 'path'), 'path');
  });

  it('rejects empty and NUL paths as bad requests', () => {
    const g = new PathGrants([tmp]);
    expect(() => g.check('', 'path')).toThrow(
      expect.objectContaining({ code: 'bad-request', field: 'path' }),
    );
    expect(() => g.check(`${tmp}/a\0b`, 'path')).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => g.grant('')).toThrow(StoreError);
  });
});
