/**
 * Prints the SHA-256 of TF.js model folders as the backbone catalogue records it
 * (run: `npx tsx test/bench/transfer-checksum.ts <folder>...`, e.g. after downloading an official
 * copy by hand, to record or confirm the constant in src-main/engine/backbones/catalog.ts).
 */
import { modelFolderChecksum } from '../../src-main/engine/backbones/index.js';

const dirs = process.argv.slice(2);
if (!dirs.length) {
  console.error('usage: npx tsx test/bench/transfer-checksum.ts <model folder>...');
  process.exit(2);
}
for (const dir of dirs) console.log(`${await modelFolderChecksum(dir)}  ${dir}`);
