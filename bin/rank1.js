#!/usr/bin/env node
/* global URL, console, process */
// The `rank1` command. Runs the compiled CLI (npm run build first).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = new URL('../dist/main/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('rank1: not built yet; run `npm run build` in ' + fileURLToPath(new URL('..', import.meta.url)));
  process.exit(1);
}
await import(cli.href);
