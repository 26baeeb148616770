import { Command } from 'commander';
import { registerImport } from '../../src-main/cli/import.js';
const p = new Command('rank1');
registerImport(p);
await p.parseAsync(process.argv);
