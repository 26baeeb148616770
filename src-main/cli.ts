/**
 * The `rank1` command: train, eval, predict, import, flag, bench, serve. Every command but
 * `bench` and `serve` runs its operation through the service (the same one the app uses), so the
 * CLI only parses arguments and prints. Exit codes: 0 ok, 1 failure (one-line reason), 2 usage
 * error (one line; the full help only with --help).
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { registerBench } from './cli/bench.js';
import { refuseEmptyValues, setActionCommand } from './cli/common.js';
import { registerCompare } from './cli/compare.js';
import { VERBOSE_ENV } from './common/index.js';
import { registerEval } from './cli/eval.js';
import { registerExport } from './cli/export.js';
import { registerFlag } from './cli/flag.js';
import { registerImport } from './cli/import.js';
import { registerPredict } from './cli/predict.js';
import { registerServe } from './cli/serve.js';
import { registerTrain } from './cli/train.js';

// dist/main/cli.js and src-main/cli.ts sit at different depths below package.json.
const require = createRequire(import.meta.url);
const pkg = (() => {
  try {
    return require('../../package.json') as { version: string };
  } catch {
    return require('../package.json') as { version: string };
  }
})();

export function buildProgram(): Command {
  const program = new Command('rank1')
    .description('Rank-1 Studio: uncertainty-aware image classifiers (rank-1 Bayesian neural networks)')
    .version(pkg.version)
    .option('--verbose', "show native libraries' diagnostics (Dawn, GPU drivers) on stderr")
    // The engine reads it where the messages are captured (engine/backends/webgpu/discovery.ts).
    .hook('preAction', (cmd, action) => {
      if (cmd.opts().verbose) process.env[VERBOSE_ENV] = '1';
      setActionCommand(action);
      refuseEmptyValues(action);
    })
    .exitOverride();
  registerTrain(program);
  registerEval(program);
  registerCompare(program);
  registerPredict(program);
  registerImport(program);
  registerFlag(program);
  registerExport(program);
  registerBench(program);
  registerServe(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  // A reader that stops early (`rank1 predict MODEL DIR | head`) closes the pipe: stop quietly, as
  // any Unix tool does, rather than die on EPIPE with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    throw e;
  }
}

await main();
