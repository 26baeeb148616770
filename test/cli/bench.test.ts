/** `rank1 bench` runs rank1-resnet20 on the wasm backend and reports both phases (tiny batch: a smoke test, not a timing). */
import { spawnSync } from 'node:child_process';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';

const root = nodePath.resolve(__dirname, '../..');

describe('rank1 bench', () => {
  it('prints one JSON line per phase with backend, device and images/s', () => {
    const r = spawnSync(
      process.execPath,
      [nodePath.join(root, 'bin/rank1.js'), 'bench', '--batch', '4', '--steps', '1', '--json'],
      {
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.phase)).toEqual(['train', 'predict']);
    for (const l of lines) {
      expect(l).toMatchObject({ backend: 'wasm', batch: 4, members: 4, model: 'rank1-resnet20' });
      expect(l.images_per_s).toBeGreaterThan(0);
      expect(l.device).toMatch(/wasm/);
    }
  }, 300_000);

  it('refuses a bad option with exit code 2', () => {
    const r = spawnSync(process.execPath, [nodePath.join(root, 'bin/rank1.js'), 'bench', '--batch', 'zero'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--batch/);
  });
});
