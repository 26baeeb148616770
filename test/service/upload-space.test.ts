/**
 * uploads.begin checks the disk once, for the size the browser declares: an upload that would
 * leave less than the reserve free on the data home's disk is refused in one line naming the
 * upload and both sizes, and no folder is made; chunks may not then outgrow what was declared.
 * The free space is declared where the service is made (ServiceOptions.freeSpace).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { MAX_UPLOAD_BYTES } from '../../src-main/service/uploads.js';
import { SHARED } from '../shared-data.js';
import { errorOf } from './error-of.js';

const MNIST = `${SHARED}/data/mnist`;
let tmp: string;
const services: Service[] = [];

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-upload-space-')));
});
afterAll(async () => {
  for (const s of services) s.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

function clientWith(free: number, home: string): ServiceClient {
  const service = createService({ home: path.join(tmp, home), freeSpace: async () => free });
  services.push(service);
  return new ServiceClient(service);
}

describe('uploads and the free space of the disk', () => {
  it('with 100 MB free, a 200 MB upload is refused when it begins, naming it and both sizes; no folder is made', async () => {
    const client = clientWith(100 * 2 ** 20, 'small-disk');
    const err = await errorOf(client.call('uploads.begin', { name: 'holiday photos', bytes: 200 * 2 ** 20 }));
    expect(err.code).toBe('failed');
    expect(err.message).toBe(
      'holiday photos: the upload needs 200.0 MB and the disk of the data home has 100.0 MB free; 256.0 MB must stay free (nothing was written)',
    );
    expect(await fs.readdir(path.join(tmp, 'small-disk')).catch(() => [])).toEqual([]);
  });

  it('an upload declared larger than the limit is refused when it begins', async () => {
    const client = clientWith(2 ** 50, 'huge-upload');
    const err = await errorOf(
      client.call('uploads.begin', { name: 'everything', bytes: MAX_UPLOAD_BYTES + 1 }),
    );
    expect(err.code).toBe('too-large');
    expect(err.message).toContain('everything');
    expect(await fs.readdir(path.join(tmp, 'huge-upload')).catch(() => [])).toEqual([]);
  });

  it('with room, the declared upload is written; a chunk past the declared size is refused unwritten', async () => {
    const file = path.join(MNIST, '3', (await fs.readdir(path.join(MNIST, '3'))).sort()[0]!);
    const bytes = await fs.readFile(file);
    const client = clientWith(DISK_RESERVE + bytes.length, 'roomy-disk');
    const { uploadId, folder } = await client.call('uploads.begin', { name: 'digits', bytes: bytes.length });
    const r = await client.call('uploads.chunk', {
      uploadId,
      path: '3/a.png',
      offset: 0,
      base64: bytes.toString('base64'),
    });
    expect(r.bytes).toBe(bytes.length);
    const err = await errorOf(
      client.call('uploads.chunk', {
        uploadId,
        path: '3/b.png',
        offset: 0,
        base64: bytes.toString('base64'),
      }),
    );
    expect(err.code).toBe('too-large');
    expect(err.message).toMatch(/^3\/b\.png: the upload "digits" was declared as \d+ kB/);
    expect(await fs.readdir(path.join(folder, '3'))).toEqual(['a.png']);
  });
});
