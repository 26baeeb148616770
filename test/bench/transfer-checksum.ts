/**
 * Prints what the backbone catalogue can pin for TF.js model folders
 * (run: `npx tsx test/bench/transfer-checksum.ts <folder>[#embedding]...`, e.g. after downloading an
 * official copy by hand, to record or confirm a constant in src-main/engine/backbones/catalog.ts):
 * the folder's SHA-256 (pin kind 'folder') and, for layers models, the fingerprint of the embedding
 * network's weight values (pin kind 'weights'; `#layers[0]` = nested backbone or the whole no_top net).
 */
import { initBackend } from '../../src-main/engine/backends/index.js';
import { buildEmbedder } from '../../src-main/engine/backbones/embedder.js';
import { readModelFolder } from '../../src-main/engine/backbones/model-files.js';

const args = process.argv.slice(2);
if (!args.length) {
  console.error('usage: npx tsx test/bench/transfer-checksum.ts <model folder>[#embedding]...');
  process.exit(2);
}
await initBackend('wasm');
for (const arg of args) {
  const hash = arg.lastIndexOf('#');
  const dir = hash < 0 ? arg : arg.slice(0, hash);
  const folder = await readModelFolder(dir);
  const embedder = await buildEmbedder(folder, hash < 0 ? undefined : arg.slice(hash + 1));
  console.log(`folder  ${folder.sha256}  ${dir}`);
  if (embedder.weightsFingerprint) console.log(`weights ${embedder.weightsFingerprint}  ${arg}`);
  embedder.dispose();
}
