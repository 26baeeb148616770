/**
 * The real `rank1` command line as the CLI tests run it: the built entry (bin/rank1.js, which needs
 * `npm run build:main`) in a fresh Node, with the test's own data home, so no test reads or writes
 * the user's.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root (resources/, bin/, and ../shared beside it). */
export const REPO = nodePath.resolve(nodePath.dirname(fileURLToPath(import.meta.url)), '../..');
/** The command's entry; `spawn(process.execPath, [CLI, ...])` for the tests that need a live process. */
export const CLI = nodePath.join(REPO, 'bin/rank1.js');

export interface CliOptions {
  /** RANK1_HOME, the app's data home; left out, the command inherits the caller's. */
  home?: string;
  /** More variables on top of the caller's environment (and of `home`). */
  env?: NodeJS.ProcessEnv;
  /** Working folder; the caller's when left out. */
  cwd?: string;
  /** Milliseconds before the command is killed; none when left out. */
  timeout?: number;
}

/** Run `rank1 ...args` to the end; stdout and stderr as text. */
export function runCli(
  args: string[],
  { home, env, cwd, timeout }: CliOptions = {},
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, ...(home === undefined ? {} : { RANK1_HOME: home }), ...env },
  });
}
