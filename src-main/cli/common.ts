/**
 * Shared CLI plumbing: exit codes (0 ok, 1 failure with a one-line reason, 2 usage), output in
 * human or JSON form, argument parsers, and Ctrl-C as cancel.
 */
import { InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';

export class UsageError extends Error {}

export function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return n;
  };
}

export function numArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be a number in [${min}, ${max}]`);
    return n;
  };
}

export function choiceArg<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!choices.includes(v as T)) throw new InvalidArgumentError(`must be one of ${choices.join(', ')}`);
    return v as T;
  };
}

export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`,
  );
}

/** Run a command body: failures become one line on stderr and exit code 1. */
export async function runCommand(name: string, body: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    await body(ac.signal);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`rank1 ${name}: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function progressBar(enabled: boolean, format: string): cliProgress.SingleBar | null {
  if (!enabled) return null;
  return new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
}
