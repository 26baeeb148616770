/**
 * Writing an export: never over a file that is not ours (an existing file is replaced only when it
 * is an ONNX file this app wrote), and never half-written (a temporary file in the same folder,
 * renamed into place; removed on failure).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseModel } from '../onnx/graph.js';
import { writeFileSynced } from '../output-guard.js';
import { ONNX_PRODUCER } from './onnx-model.js';

export class ExportTargetError extends Error {
  override name = 'ExportTargetError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/** True when `file` is an ONNX model written by this app. */
async function isOurs(file: string): Promise<boolean> {
  try {
    return parseModel(new Uint8Array(await fs.readFile(file))).producerName === ONNX_PRODUCER;
  } catch {
    return false;
  }
}

export async function writeExportFile(file: string, bytes: Uint8Array): Promise<void> {
  const stat = await fs.lstat(file).catch(() => undefined);
  if (stat && (!stat.isFile() || !(await isOurs(file))))
    throw new ExportTargetError(
      file,
      `${file} already exists and is not an ONNX export of this app; choose another file name`,
    );
  // Said of the folder the user named, not of the temporary file that would fail in it.
  const folder = path.dirname(file);
  if (!(await fs.stat(folder).catch(() => undefined))?.isDirectory())
    throw new ExportTargetError(
      file,
      `the folder ${folder} does not exist; create it or choose another file`,
    );
  const tmp = path.join(folder, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    // Synced for durability, not correctness: no unit test can show it (it needs a crash of the
    // machine, not of the process).
    await writeFileSynced(tmp, bytes, 'wx');
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
