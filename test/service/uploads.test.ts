/**
 * Browser upload through the service (issue 15): chunks land in a new folder under the data home
 * and nowhere else; names are made safe; chunks only append; limits hold; the folder imports.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { MAX_UPLOAD_FILE_BYTES, safeRelative } from '../../src-main/service/uploads.js';
import { SHARED } from '../shared-data.js';

const MNIST = `${SHARED}/data/mnist`;
let tmp: string;
let home: string;
let service: Service;
let client: ServiceClient;
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-uploads-')));
  home = path.join(tmp, 'home');
  process.env.RANK1_HOME = home;
  service = createService({ home });
  client = new ServiceClient(service);
});
afterAll(async () => {
  service?.dispose();
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Every file under a folder, relative. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  return out.sort();
}

describe('uploads', () => {
  it('keeps every path inside the upload folder', () => {
    expect(safeRelative('../../etc/passwd')).toEqual(['etc', 'passwd']);
    expect(safeRelative('cats\\..\\..\\x.jpg')).toEqual(['cats', 'x.jpg']);
    expect(safeRelative('/abs/.hidden/a:b.png')).toEqual(['abs', '_hidden', 'a_b.png']);
    expect(safeRelative('a/b/c/d/e/f.png')).toEqual(['c', 'd', 'e', 'f.png']);
    expect(() => safeRelative('../..')).toThrow(/names no file/);
  });

  it(
    'writes chunks into a new folder under the data home, then imports it',
    { timeout: 120_000 },
    async () => {
      const files = await Promise.all(
        ['3', '7'].map(async (c) =>
          (await fs.readdir(path.join(MNIST, c)))
            .sort()
            .slice(0, 6)
            .map((n) => path.join(MNIST, c, n)),
        ),
      );
      let total = 0;
      for (const f of files.flat()) total += (await fs.stat(f)).size;
      const { uploadId, folder } = await client.call('uploads.begin', { name: '../digits', bytes: total });
      expect(path.dirname(folder)).toBe(path.join(home, 'uploads'));
      expect(path.basename(folder)).toBe('__digits');
      let sent = 0;
      for (const c of ['3', '7']) {
        const names = (await fs.readdir(path.join(MNIST, c))).sort().slice(0, 6);
        for (const n of names) {
          const bytes = await fs.readFile(path.join(MNIST, c, n));
          // Two chunks a file: the second appends at the first's end.
          const half = Math.floor(bytes.length / 2);
          await client.call('uploads.chunk', {
            uploadId,
            path: `${c}/${n}`,
            offset: 0,
            base64: bytes.subarray(0, half).toString('base64'),
          });
          const r = await client.call('uploads.chunk', {
            uploadId,
            path: `${c}/${n}`,
            offset: half,
            base64: bytes.subarray(half).toString('base64'),
          });
          expect(r.bytes).toBe(bytes.length);
          sent += bytes.length;
        }
      }
      // A chunk not at the file's end, and the same file begun twice, are refused.
      const first = (await fs.readdir(path.join(MNIST, '3'))).sort()[0]!;
      await expect(
        client.call('uploads.chunk', { uploadId, path: `3/${first}`, offset: 5, base64: 'AAAA' }),
      ).rejects.toMatchObject({ code: 'conflict', field: 'offset' });
      await expect(
        client.call('uploads.chunk', { uploadId, path: `../3/${first}`, offset: 0, base64: 'AAAA' }),
      ).rejects.toMatchObject({ code: 'conflict' });
      const done = await client.call('uploads.finish', { uploadId });
      expect(done).toEqual({ folder, files: 12, bytes: sent });
      expect((await tree(folder)).length).toBe(12);
      await expect(
        client.call('uploads.chunk', { uploadId, path: 'x.png', offset: 0, base64: '' }),
      ).rejects.toMatchObject({
        code: 'not-found',
      });
      const ds = await client.run<'import'>('datasets.import', { path: folder });
      expect(ds.classes).toEqual(['3', '7']);
      expect(ds.images).toBe(12);
      // A second upload of the same name gets its own folder.
      const again = await client.call('uploads.begin', { name: '../digits', bytes: total });
      expect(again.folder).not.toBe(folder);
    },
  );

  it('refuses a file over the size limit', async () => {
    const { uploadId } = await client.call('uploads.begin', {
      name: 'big',
      bytes: MAX_UPLOAD_FILE_BYTES + 6 * 2 ** 20,
    });
    const chunk = Buffer.alloc(6 * 2 ** 20).toString('base64');
    let offset = 0;
    const send = async () => {
      await client.call('uploads.chunk', { uploadId, path: 'a/big.png', offset, base64: chunk });
      offset += 6 * 2 ** 20;
    };
    while (offset + 6 * 2 ** 20 <= MAX_UPLOAD_FILE_BYTES) await send();
    await expect(send()).rejects.toMatchObject({ code: 'too-large' });
  });
});
