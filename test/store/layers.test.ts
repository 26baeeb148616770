import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src-main');

/** Every module specifier imported by the .ts files under `dir` (relative to src-main). */
async function imports(dir: string): Promise<[string, string][]> {
  const files = (await fs.readdir(path.join(SRC, dir), { recursive: true })).filter((f) => f.endsWith('.ts'));
  const out: [string, string][] = [];
  for (const f of files) {
    const text = await fs.readFile(path.join(SRC, dir, f), 'utf8');
    for (const m of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g))
      out.push([f, m[1] ?? m[2]!]);
  }
  return out;
}

describe('the store room (issue 14)', () => {
  it('imports nothing from the contract, service, transports, CLI or electron; from the engine only the model format', async () => {
    const found = await imports('store');
    expect(found.length).toBeGreaterThan(5);
    for (const [f, s] of found) {
      expect(s, `store/${f} imports ${s}`).not.toMatch(
        /^(\.\.\/)+(contract|service|transports|electron|cli)\b|^electron$/,
      );
      if (/^\.\.\/engine\//.test(s))
        expect(s, `store/${f} imports ${s}`).toMatch(/^\.\.\/engine\/(model-format|output-guard)\.js$/);
    }
  });

  it('the engine (which now holds the model format) imports no store', async () => {
    for (const [f, s] of await imports('engine'))
      expect(s, `engine/${f} imports ${s}`).not.toMatch(/^(\.\.\/)+store\b/);
  });
});
