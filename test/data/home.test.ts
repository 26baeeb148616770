import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataHome } from '../../src-main/data/index.js';

const saved = process.env.RANK1_HOME;
afterEach(() => {
  process.env.RANK1_HOME = saved;
});

describe('dataHome', () => {
  it('uses RANK1_HOME and creates it', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rank1-h-')), 'nested', 'home');
    process.env.RANK1_HOME = dir;
    expect(dataHome()).toBe(dir);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    fs.rmSync(path.dirname(path.dirname(dir)), { recursive: true });
  });
});
