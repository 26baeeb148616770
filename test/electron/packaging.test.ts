/**
 * Packs the app with electron-builder (`--dir`, Linux) into a temp folder, offline: `electronDist`
 * points at a stand-in Electron (a folder with a fake `electron` executable — for a dir target
 * electron-builder only copies it and renames the executable). Then opens app.asar and checks what
 * shipped: main, preload, engine entry, renderer, production modules only, native modules unpacked.
 * Needs `npm run build` first (it builds main/preload itself when they are missing).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMainBuilt, FUSE_SENTINEL, REQUIRED_FUSES, root } from './helpers.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const asar = require('@electron/asar') as typeof import('@electron/asar');

const linux = process.platform === 'linux';
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
if (!linux)
  console.log(
    `[packaging] skipped: the offline pack test builds the Linux dir target and needs Linux's native modules (this is ${process.platform}).`,
  );

let work: string;
let resources: string;

async function ensureBuilt(): Promise<void> {
  const built = (p: string) => existsSync(join(root, p));
  await ensureMainBuilt();
  if (!built('dist/renderer/index.html') && built('src-renderer/main.ts')) {
    await run('npm', ['run', 'build:renderer'], { cwd: root }).catch(() => {});
  }
  const missing = [
    'dist/main/electron/main.js',
    'dist/main/electron/preload.cjs',
    'dist/main/electron/engine-entry.js',
    'dist/renderer/index.html',
  ].filter((p) => !built(p));
  if (missing.length)
    throw new Error(
      `packaging test: ${missing.join(', ')} missing and could not be built. Run \`npm run build\` first.`,
    );
}

beforeAll(async () => {
  if (!linux) return;
  await ensureBuilt();
  work = await mkdtemp(join(tmpdir(), 'rank1-pack-'));
  const electronDist = join(work, 'electron-dist');
  await run('mkdir', ['-p', electronDist]);
  // A fuse wire as in a real Electron binary (sentinel, version 1, 8 fuses all enabled), so that
  // electron-builder's @electron/fuses step has something to flip and the result can be read back.
  await writeFile(
    join(electronDist, 'electron'),
    Buffer.concat([
      Buffer.from('#!/bin/sh\necho "stand-in electron"\nexit 0\n'),
      Buffer.from(FUSE_SENTINEL),
      Buffer.from([1, 8]),
      Buffer.from('11111111'),
      Buffer.from('\n'),
    ]),
  );
  await chmod(join(electronDist, 'electron'), 0o755);
  const out = join(work, 'out');
  await run(
    join(root, 'node_modules', '.bin', 'electron-builder'),
    [
      '--dir',
      '--linux',
      `--${arch}`,
      `-c.electronDist=${electronDist}`,
      `-c.directories.output=${out}`,
      '--publish',
      'never',
    ],
    {
      cwd: root,
      env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', CI: '1' },
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  resources = join(out, arch === 'x64' ? 'linux-unpacked' : `linux-${arch}-unpacked`, 'resources');
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!linux)('packaged app (electron-builder --dir, offline)', () => {
  const inAsar = () =>
    new Set(
      asar.listPackage(join(resources, 'app.asar'), { isPack: false }).map((p) => p.replace(/\\/g, '/')),
    );

  it('holds main, preload, the engine entry and the renderer in app.asar', () => {
    const files = inAsar();
    for (const f of [
      '/package.json',
      '/dist/main/electron/main.js',
      '/dist/main/electron/preload.cjs',
      '/dist/main/electron/engine-entry.js',
      '/dist/renderer/index.html',
    ]) {
      expect(files.has(f), f).toBe(true);
    }
    const pkg = JSON.parse(asar.extractFile(join(resources, 'app.asar'), 'package.json').toString('utf8'));
    expect(pkg.main).toBe('dist/main/electron/main.js');
    expect(files.has(`/${pkg.main}`)).toBe(true);
  });

  it('ships production modules only, without source maps or test fixtures', () => {
    const files = [...inAsar()];
    for (const dev of [
      'vitest',
      'electron',
      'electron-builder',
      'typescript',
      'svelte',
      'vite',
      'playwright-core',
    ]) {
      expect(
        files.some((f) => f.startsWith(`/node_modules/${dev}/`)),
        dev,
      ).toBe(false);
    }
    expect(files.some((f) => f.startsWith('/node_modules/zod/'))).toBe(true);
    expect(files.filter((f) => f.startsWith('/node_modules/') && f.endsWith('.map'))).toEqual([]);
    expect(files.some((f) => f.includes('/fixtures/'))).toBe(false);
    expect(files.some((f) => f.startsWith('/src-main/') || f.startsWith('/test/'))).toBe(false);
  });

  it('unpacks the native modules (sharp, @img, webgpu, tfjs wasm) beside the archive', () => {
    const unpacked = join(resources, 'app.asar.unpacked', 'node_modules');
    expect(existsSync(join(unpacked, 'sharp', 'package.json'))).toBe(true);
    const img = readdirSync(join(unpacked, '@img'));
    expect(img).toContain(`sharp-linux-${arch}`);
    expect(img.filter((d) => /darwin|win32/.test(d))).toEqual([]);
    const addon = readdirSync(join(unpacked, '@img', `sharp-linux-${arch}`, 'lib')).filter((f) =>
      f.endsWith('.node'),
    );
    expect(addon.length).toBeGreaterThan(0);
    if (existsSync(join(root, 'node_modules', 'webgpu'))) {
      expect(readdirSync(join(unpacked, 'webgpu', 'dist'))).toEqual([`linux-${arch}`]);
    }
    if (existsSync(join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm'))) {
      const wasm = readdirSync(join(unpacked, '@tensorflow', 'tfjs-backend-wasm', 'dist')).filter((f) =>
        f.endsWith('.wasm'),
      );
      expect(wasm.length).toBeGreaterThan(0);
    }
  });

  it('has the renamed executable from the stand-in Electron', () => {
    expect(existsSync(join(resources, '..', 'rank1-studio'))).toBe(true);
  });

  it('flipped the Electron fuses in the executable as electron-builder.yml asks', () => {
    const exe = readFileSync(join(resources, '..', 'rank1-studio'));
    const at = exe.indexOf(FUSE_SENTINEL) + FUSE_SENTINEL.length;
    expect(exe[at], 'fuse wire version').toBe(1);
    REQUIRED_FUSES.forEach(([name, , on], i) =>
      expect(String.fromCharCode(exe[at + 2 + i]!), name).toBe(on ? '1' : '0'),
    );
  });

  it(`ships only the target platform's onnxruntime-node binaries (linux/${arch}), unpacked`, () => {
    const inside = [...inAsar()].filter((f) => f.startsWith('/node_modules/onnxruntime-node/bin/'));
    const packed = inside.filter((f) => /\.(node|so(\.\d+)*|dylib|dll)$/.test(f));
    expect(packed.filter((f) => !f.includes(`/napi-v6/linux/${arch}/`))).toEqual([]);
    const napi = join(resources, 'app.asar.unpacked', 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
    expect(readdirSync(napi)).toEqual(['linux']);
    expect(readdirSync(join(napi, 'linux'))).toEqual([arch]);
    expect(readdirSync(join(napi, 'linux', arch))).toContain('onnxruntime_binding.node');
  });
});
