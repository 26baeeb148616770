/**
 * CLI fuzz smoke (issue 13 done-when): damaged model folders (bad JSON, truncated weights, NaN
 * weights, a 100000 px input, a backbone named by a path) each make `rank1 predict` exit 1 with
 * exactly one stderr line that names the problem, never a JavaScript error.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_BACKBONES } from '../../src-main/engine/backbones/catalog.js';
import { bundledFolder } from '../../src-main/engine/backbones/bundled.js';
import { REPO, runCli } from './run-cli.js';

const demo = join(REPO, 'resources/demo/digits');
const image = join(
  resolve(REPO, '../shared/data/mnist'),
  '3',
  readdirSync(resolve(REPO, '../shared/data/mnist/3'))[0]!,
);
const tmp = mkdtempSync(join(tmpdir(), 'rank1-damaged-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Meta = Record<string, any>;
/** A copy of the demo model, damaged by `harm` (which may rewrite model.json and weights.bin). */
function damaged(name: string, harm: (dir: string, meta: Meta, weights: Buffer) => void): string {
  const dir = join(tmp, name);
  cpSync(demo, dir, { recursive: true });
  harm(
    dir,
    JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')),
    readFileSync(join(dir, 'weights.bin')),
  );
  return dir;
}
const writeMeta = (dir: string, meta: Meta) => writeFileSync(join(dir, 'model.json'), JSON.stringify(meta));

const cases: [string, (dir: string, meta: Meta, weights: Buffer) => void][] = [
  ['bad json', (dir) => writeFileSync(join(dir, 'model.json'), '{"format": "rank1-studio", ')],
  [
    'truncated weights',
    (dir, _m, w) => writeFileSync(join(dir, 'weights.bin'), w.subarray(0, w.length >> 1)),
  ],
  [
    'NaN weights',
    (dir, meta, w) => {
      const f = new Float32Array(w.buffer.slice(w.byteOffset, w.byteOffset + w.length));
      f.fill(NaN, 0, 16);
      const bytes = Buffer.from(f.buffer);
      writeFileSync(join(dir, 'weights.bin'), bytes);
      // A consistent checksum, so the NaN check itself is what refuses the model.
      meta.weights.sha256 = createHash('sha256').update(bytes).digest('hex');
      writeMeta(dir, meta);
    },
  ],
  [
    '100000 px',
    (dir, meta) => {
      meta.preprocessing.size = 100000;
      writeMeta(dir, meta);
    },
  ],
  [
    '"/etc" backbone',
    (dir, meta) => {
      meta.backbone = { name: '/etc', sha256: '0'.repeat(64), embeddingSize: 8 };
      writeMeta(dir, meta);
    },
  ],
];

describe('rank1 predict on damaged model folders', () => {
  it.each(cases)(
    '%s: exit 1, one stderr line, no JavaScript error',
    (name, harm) => {
      expect(existsSync(join(REPO, 'dist/main/cli.js')), 'npm run build:main first').toBe(true);
      const dir = damaged(name.replace(/\W+/g, '-'), harm);
      const r = runCli(['predict', dir, image, '--json'], { home: join(tmp, 'home'), timeout: 120_000 });
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      expect(r.status, r.stderr).toBe(1);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^rank1 predict: /);
      expect(lines[0]).not.toMatch(/TypeError|RangeError|SyntaxError|ReferenceError|undefined|\bat \S+\.js/);
      expect(r.stdout).toBe('');
    },
    150_000,
  );

  it('a known backbone that is not on this computer is never downloaded when the model is opened', () => {
    const dir = damaged('absent-backbone', (d, meta) => {
      const spec = BUILTIN_BACKBONES.find((b) => !bundledFolder(b))!;
      meta.backbone = { name: spec.name, sha256: spec.pin.sha256, embeddingSize: spec.embeddingSize };
      writeMeta(d, meta);
    });
    const r = runCli(['predict', dir, image, '--json'], {
      home: join(tmp, 'home'),
      // Were a download tried, it would go here (a closed port) and say "cannot download".
      env: { RANK1_BACKBONE_BASE_URL: 'http://127.0.0.1:9' },
      timeout: 120_000,
    });
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    expect(r.status, r.stderr).toBe(1);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/not on this computer/);
    expect(lines[0]).not.toMatch(/cannot download|127\.0\.0\.1/);
  }, 150_000);
});
