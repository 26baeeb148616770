import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src-main/data');

describe('the data room', () => {
  it('imports nothing from the engine, store, service, contract, transports, CLI or electron (common wire types are allowed)', async () => {
    const files = (await fs.readdir(DATA, { recursive: true })).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = await fs.readFile(path.join(DATA, f), 'utf8');
      const specifiers = [...text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map(
        (m) => m[1] ?? m[2]!,
      );
      for (const s of specifiers) {
        expect(s, `${f} imports ${s}`).not.toMatch(
          /^(\.\.\/)+(engine|store|service|contract|transports|electron|cli)\b|^electron$/,
        );
      }
    }
  });
});
