/**
 * A path that does not exist (a typo on the command line, a moved folder) is said as such, naming
 * the path: not "cannot be loaded … Remove it and train it again" for a model that is not there,
 * nor "import a folder first" for a dataset folder that is not there.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { connectDirect } from '../../src-main/transports/direct.js';
import { errorOf } from './error-of.js';

const demo = path.resolve(__dirname, '../../resources/demo/digits');
let tmp: string;
let service: Service;
let client: ServiceClient;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-missing-')));
  process.env.RANK1_HOME = path.join(tmp, 'home');
  service = createService({ home: path.join(tmp, 'home') });
  service.grant(tmp);
  service.grant(demo);
  client = new ServiceClient(connectDirect(service));
});
afterAll(async () => {
  service?.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('paths that do not exist', () => {
  it('a model folder: "no model folder at PATH"', async () => {
    const model = path.join(tmp, 'my modle');
    const err = await errorOf(client.call('predict', { model, paths: [demo] }));
    expect(err.message).toMatch(/no model folder at .*my modle/i);
    expect(err.message).not.toMatch(/Remove it/);
  });

  it('a dataset folder: "no folder at PATH"', async () => {
    const dataset = path.join(tmp, 'my photos');
    const err = await errorOf(client.run<'evaluate'>('evaluate', { model: demo, dataset }));
    expect(err.message).toMatch(/no folder at .*my photos/i);
    expect(err.message).not.toMatch(/import a folder first/);
  });

  it('a folder to scan: "no folder at PATH", not "cannot read folder …: ENOENT"', async () => {
    const folder = path.join(tmp, 'my scans');
    const err = await errorOf(client.call('datasets.scan', { path: folder }));
    expect(err.message).toMatch(/no folder at .*my scans/i);
    expect(err.message).not.toMatch(/ENOENT/);
  });
});
