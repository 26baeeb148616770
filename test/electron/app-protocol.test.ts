import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mimeType, resolveAppPath, serveApp } from '../../src-main/electron/app-protocol.js';
import { contentSecurityPolicy } from '../../src-main/electron/policy.js';

let root: string;
let outside: string;
beforeAll(async () => {
  const base = await mkdtemp(join(tmpdir(), 'rank1-proto-'));
  root = join(base, 'renderer');
  outside = join(base, 'secret.txt');
  await mkdir(join(root, 'assets'), { recursive: true });
  await writeFile(join(root, 'index.html'), '<!doctype html><title>Rank-1</title>');
  await writeFile(join(root, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(outside, 'secret');
});
afterAll(() => rm(join(root, '..'), { recursive: true, force: true }));

describe('resolveAppPath', () => {
  it('maps app:// paths into the renderer folder, / to index.html', () => {
    expect(resolveAppPath('app://rank1/', root)).toBe(join(root, 'index.html'));
    expect(resolveAppPath('app://rank1/assets/app.js?v=1#x', root)).toBe(join(root, 'assets', 'app.js'));
  });

  it('refuses traversal, encoded separators, other hosts and schemes', () => {
    // The URL parser already folds `..` and `%2e%2e` segments: they can only land inside root.
    expect(resolveAppPath('app://rank1/../secret.txt', root)).toBe(join(root, 'secret.txt'));
    expect(resolveAppPath('app://rank1/%2e%2e/%2e%2e/secret.txt', root)).toBe(join(root, 'secret.txt'));
    for (const url of [
      'app://rank1/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      'app://rank1/..%5csecret.txt',
      'app://rank1/%00index.html',
      'app://rank1/C:/Windows/win.ini',
      'app://rank1/%E0%A4%A',
      'app://other/index.html',
      'file:///etc/passwd',
      'https://rank1/index.html',
    ]) {
      expect(resolveAppPath(url, root), url).toBeNull();
    }
  });
});

describe('serveApp', () => {
  it('serves files with their type and the CSP', async () => {
    const r = await serveApp({ url: 'app://rank1/index.html', method: 'GET' }, root);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('content-security-policy')).toBe(contentSecurityPolicy());
    expect(await r.text()).toContain('Rank-1');
    expect(mimeType('x.js')).toMatch(/javascript/);
    expect(mimeType('x.wasm')).toBe('application/wasm');
  });

  it('answers traversal with 403, missing files with 404, writes with 405 — all with the CSP', async () => {
    const cases: [string, string, number][] = [
      ['app://rank1/assets/%2e%2e%2f%2e%2e%2fsecret.txt', 'GET', 403],
      ['app://rank1/%2e%2e/secret.txt', 'GET', 404],
      ['app://rank1/nope.js', 'GET', 404],
      ['app://rank1/assets', 'GET', 404],
      ['app://rank1/index.html', 'POST', 405],
    ];
    for (const [url, method, status] of cases) {
      const r = await serveApp({ url, method }, root);
      expect(r.status, url).toBe(status);
      expect(r.headers.get('content-security-policy')).toBe(contentSecurityPolicy());
      expect(await r.text()).not.toContain('secret');
    }
  });
});
