/** `rank1 export MODEL_DIR --out FILE [--format onnx|zip] [--json]`: `models.export` through the service. */
import { statSync } from 'node:fs';
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { EXPORT_FORMATS, type ExportFormat } from '../contract.js';
import { choiceArg, printJson, runWithService } from './common.js';

const isDirectory = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a model as one ONNX file for deployment (docs/export.md), or a backup zip')
    .argument('<model>', 'a model folder, or a model id in the data folder')
    .requiredOption('--out <file>', 'the file to write (replaces only an earlier export of this app)')
    .option('--format <f>', EXPORT_FORMATS.join(' | '), choiceArg(EXPORT_FORMATS), 'onnx')
    .option('--json', 'one JSON object')
    .action((ref: string, o: { out: string; format: ExportFormat; json?: boolean }) => {
      // A folder (MODEL_DIR, e.g. what `rank1 train --out NAME` wrote here) or a model id in the
      // data folder, as `models.get` takes it; an existing folder of that name wins, as in predict.
      const isFolder = /[\\/]/.test(ref) || ref === '.' || ref === '..' || isDirectory(ref);
      const model = isFolder ? nodePath.resolve(ref) : ref;
      const out = nodePath.resolve(o.out);
      return runWithService('export', { grant: isFolder ? [model, out] : [out] }, async (client) => {
        const t0 = performance.now();
        const r = await client.call('models.export', { id: model, dest: out, format: o.format });
        const seconds = (performance.now() - t0) / 1000;
        if (o.json) printJson({ path: r.path, format: o.format, seconds, metadata: r.metadata });
        else {
          console.log(`wrote ${r.path} (${o.format}, ${seconds.toFixed(1)} s)`);
          const m = r.metadata;
          if (m) {
            console.log(`input "image": uint8 [N, H, W, C], preprocessing ${m.preprocessing}`);
            // No threshold (trained without validation images): the file's `ood` output never fires.
            const flag = Number.isFinite(Number(m.flag_threshold))
              ? `OOD flag ${m.flag_score} > ${m.flag_threshold}`
              : 'OOD flag: none (the model has no OOD threshold; the "ood" output is always 0)';
            console.log(`classes ${m.classes}; ${flag}`);
          }
        }
      });
    });
}
