// Regenerate the PNG icons from icon.svg: `node resources/make-icons.mjs` (needs sharp).
import sharp from 'sharp';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const svg = here('./icon.svg');
for (const [size, out] of [
  [512, './icon.png'],
  [512, './icons/512x512.png'],
  [256, './icons/256x256.png'],
]) {
  await sharp(svg, { density: 144 }).resize(size, size).png({ compressionLevel: 9, palette: true }).toFile(here(out));
}
