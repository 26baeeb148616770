/**
 * electron-builder.yml, read as electron-builder reads it: the Electron fuses (issue 13), and only
 * the target platform's onnxruntime-node binaries, unpacked beside the archive. Runs everywhere
 * (no packing); packaging.test.ts checks the packed result on Linux.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUIRED_FUSES, root } from './helpers.js';

const require = createRequire(import.meta.url);
// electron-builder's own YAML reader (a dependency of electron-builder).
const yaml = require('js-yaml') as { load(text: string): unknown };
const config = yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as {
  electronFuses?: Record<string, unknown>;
  files: string[];
  asarUnpack: string[];
};

describe('electron-builder.yml', () => {
  it('sets the Electron fuses: RunAsNode, NODE_OPTIONS and --inspect off; cookie encryption, asar integrity and asar-only on', () => {
    expect(config.electronFuses).toEqual(Object.fromEntries(REQUIRED_FUSES.map(([, key, on]) => [key, on])));
  });

  it("packs only the target platform's onnxruntime-node binaries and unpacks them", () => {
    expect(config.files).toContain('!**/node_modules/onnxruntime-node/bin/napi-v6/!(${platform})/**');
    expect(config.files).toContain('!**/node_modules/onnxruntime-node/bin/napi-v6/${platform}/!(${arch})/**');
    expect(config.asarUnpack).toContain('**/node_modules/onnxruntime-node/bin/**');
  });
});
