/**
 * models.export to a user's folder checks that folder's disk once the export's size is known (the
 * ONNX file once serialised, the zip backup once built) and before its temporary file is written:
 * with less room than the export and the reserve, the call fails in one line naming the file and
 * both sizes, and the folder stays as it was. The free space is declared where the service is
 * made (ServiceOptions.freeSpace): tight in the export folders, ample in the data home (where the
 * demo model is installed). The model is the app's real demo model.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteSize, DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { errorOf } from './error-of.js';

const RESOURCES = path.resolve(__dirname, '../../resources');
let tmp: string;
let service: Service;
/** Free bytes the export folders' disk reports (the data home's disk has plenty). */
let exportFree = 0;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-export-space-')));
  const home = path.join(tmp, 'home');
  service = createService({
    home,
    resourcesDir: RESOURCES,
    freeSpace: async (dir) => (dir.startsWith(home) ? 2 ** 40 : exportFree),
  });
});

afterAll(async () => {
  service.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

type ExportResult = { path?: string; fileName: string; base64?: string };

/** A fresh granted folder to export into. */
async function outFolder(name: string): Promise<string> {
  const out = path.join(tmp, name);
  await fs.mkdir(out);
  service.grant(out);
  return out;
}

/** The inline export's size in bytes (the same bytes a destination gets) and its file name. */
async function inlineExport(format: 'onnx' | 'zip'): Promise<{ bytes: number; fileName: string }> {
  const r = (await service.call('models.export', { id: 'demo-digits', format })) as ExportResult;
  return { bytes: Buffer.from(r.base64!, 'base64').byteLength, fileName: r.fileName };
}

describe('models.export and the free space of the destination disk', () => {
  for (const format of ['onnx', 'zip'] as const) {
    it(`${format}: refused in one line naming the file when the export and the reserve do not fit; nothing written`, async () => {
      const { bytes, fileName } = await inlineExport(format);
      const out = await outFolder(`small-${format}`);
      exportFree = DISK_RESERVE + bytes - 1;
      const e = await errorOf(service.call('models.export', { id: 'demo-digits', format, dest: out }));
      expect(e.code).toBe('failed');
      const what = format === 'onnx' ? 'the ONNX export' : 'the model backup';
      expect(e.message).toBe(
        `${path.join(out, fileName)}: ${what} needs ${byteSize(bytes)} and the disk of its folder has ` +
          `${byteSize(exportFree)} free; 256.0 MB must stay free (nothing was written)`,
      );
      expect(await fs.readdir(out)).toEqual([]);
      exportFree = DISK_RESERVE + bytes;
      const r = (await service.call('models.export', {
        id: 'demo-digits',
        format,
        dest: out,
      })) as ExportResult;
      expect(await fs.readdir(out)).toEqual([r.fileName]);
    });
  }
});
