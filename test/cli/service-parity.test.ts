/**
 * The CLI is a thin client of the service: `rank1 eval --json` reports exactly what the service's
 * `evaluate` reports for the same model and folder (issue 14), and its messages are one line,
 * checked before any work (issue 13 item 6).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { createService } from '../../src-main/service/index.js';
import { connectDirect } from '../../src-main/transports/direct.js';
import { copyClasses } from '../shared-data.js';
import { REPO, runCli } from './run-cli.js';

const mnist = nodePath.resolve(REPO, '../shared/data/mnist');
const work = mkdtempSync(nodePath.join(tmpdir(), 'rank1-parity-'));
const home = nodePath.join(work, 'home');
const ds = nodePath.join(work, 'digits');
const model = nodePath.join(work, 'model');
const rank1 = (...args: string[]) => runCli(args, { home, timeout: 300_000 });
/** stderr without the GPU driver's own chatter (Dawn/Vulkan probing, not ours). */
const ours = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('rank1 ') || l.startsWith('error: '));

beforeAll(() => {
  copyClasses(mnist, ds, ['3', '7'], 30);
  const train = rank1('train', ds, '--out', model, '--epochs', '1', '--val-fraction', '0.2', '--json');
  expect(train.status, train.stderr).toBe(0);
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('rank1 eval and the service agree', () => {
  for (const split of ['auto', 'all'] as const) {
    it(`gives the service's metrics for --split ${split}`, async () => {
      const cli = rank1('eval', model, ds, '--split', split, '--json');
      expect(cli.status, cli.stderr).toBe(0);
      const fromCli = JSON.parse(cli.stdout);
      const service = createService({ home });
      try {
        service.grant(work);
        const client = new ServiceClient(connectDirect(service));
        const r = await client.run<'evaluate'>('evaluate', { model, dataset: ds, split });
        expect(fromCli.split).toBe(r.split);
        if (split === 'auto') expect(r.split).toBe('held-out validation');
        for (const k of ['n', 'accuracy', 'nll', 'ece', 'brier', 'confusion', 'reliability'] as const)
          expect(fromCli[k], k).toEqual(r.metrics[k]);
      } finally {
        service.dispose();
      }
    }, 120_000);
  }
});

describe('rank1 messages', () => {
  it('a usage error is one line and exit 2 (help only with --help)', () => {
    const r = rank1('train', ds);
    expect(r.status).toBe(2);
    expect(ours(r.stderr)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/Usage:/);
    const big = rank1('train', ds, '--out', nodePath.join(work, 'x'), '--epochs', '5000');
    expect(big.status).toBe(2);
    expect(ours(big.stderr)).toEqual([expect.stringMatching(/epochs/)]);
  });

  it('refuses an --out that holds other files, or the dataset, before any work, and deletes nothing', () => {
    const docs = nodePath.join(work, 'Documents');
    mkdirSync(docs);
    writeFileSync(nodePath.join(docs, 'thesis.txt'), 'years of work');
    for (const out of [docs, ds, work]) {
      const r = rank1('train', ds, '--out', out, '--epochs', '1');
      expect(r.status, out).toBe(1);
      expect(ours(r.stderr)).toEqual([expect.stringContaining(out)]);
    }
    expect(existsSync(nodePath.join(docs, 'thesis.txt'))).toBe(true);
    expect(readdirSync(nodePath.join(ds, '3'))).toHaveLength(30);
  });

  it('one class, or no readable image, is one plain line and exit 1', () => {
    const one = nodePath.join(work, 'one-class');
    mkdirSync(nodePath.join(one, 'a'), { recursive: true });
    for (const f of readdirSync(nodePath.join(ds, '3')).slice(0, 4))
      copyFileSync(nodePath.join(ds, '3', f), nodePath.join(one, 'a', f));
    const r = rank1('train', one, '--out', nodePath.join(work, 'one-model'), '--epochs', '1');
    expect(r.status).toBe(1);
    expect(ours(r.stderr)).toEqual([expect.stringMatching(/only one class.*at least two/)]);
    const empty = nodePath.join(work, 'empty');
    mkdirSync(nodePath.join(empty, 'a'), { recursive: true });
    const imp = rank1('import', empty);
    expect(imp.status).toBe(1);
    expect(ours(imp.stderr)).toEqual([expect.stringMatching(/no images in .*empty/)]);
  });
});
