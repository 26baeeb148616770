/**
 * Shared CLI plumbing: the service every command goes through (in this process, over the direct
 * transport), exit codes (0 ok, 1 failure with a one-line reason, 2 usage), output in human or
 * JSON form, argument parsers, and Ctrl-C as cancel.
 */
import * as nodePath from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import {
  ServiceClient,
  ServiceError,
  settingsSchema,
  type ImportProgress,
  type Settings,
  skippedLines,
  type SkippedFile,
} from '../contract.js';
import { createService } from '../service/index.js';
import { connectDirect } from '../transports/direct.js';

export class UsageError extends Error {}

/** The number typed; an empty or blank value is not 0 (as `Number('')` would have it) but NaN. */
function toNumber(v: string): number {
  return v.trim() === '' ? NaN : Number(v);
}

export function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = toNumber(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return n;
  };
}

export function numArg(min: number, max: number) {
  return (v: string): number => {
    const n = toNumber(v);
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

/** `--backend`, shared by every command that runs the engine: the settings' choices, default auto. */
export function backendOption(): Option {
  const choices = settingsSchema.shape.backend.options;
  return new Option('--backend <b>', choices.join(' | ')).argParser(choiceArg(choices)).default('auto');
}

export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`,
  );
}

/**
 * Files an operation left out (unreadable images, files outside a class): one stderr line each.
 * Exact copies within a class are not bad input: one line counts them (`rank1 import` lists them).
 */
export function printSkipped(files: readonly SkippedFile[] = []): void {
  for (const line of skippedLines(files, '`rank1 import DIR` lists them')) console.error(`skipped ${line}`);
}

/** An integer, range left to the contract (one home for limits: a bad value is a usage error there). */
export function integer(v: string): number {
  const n = toNumber(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

/** A number, range left to the contract. */
export function number(v: string): number {
  const n = toNumber(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
}

export interface ServiceOptions {
  /** Paths the user named on the command line: the only ones the service may touch. */
  grant: string[];
  backend?: Settings['backend'];
  predictBatch?: number;
  /**
   * Contract fields whose option has another name (`learningRate` ← `--lr`); a field named like
   * an option of the command (`epochs` ← `--epochs`) needs no entry.
   */
  fieldOptions?: Record<string, string>;
}

/** The command being run (set by the program's preAction hook): its options name refused fields. */
let actionCommand: Command | undefined;
export function setActionCommand(cmd: Command): void {
  actionCommand = cmd;
}

/**
 * Refuse an empty value of any option or argument before the command runs (called from the
 * program's preAction hook): an empty path resolves to the current folder (`--out ''` would
 * train into it), an empty host listens everywhere; no option of `rank1` means anything empty.
 * One line naming the option, exit code 2.
 */
export function refuseEmptyValues(cmd: Command): void {
  const empty = (v: unknown) =>
    (typeof v === 'string' && v.trim() === '') ||
    (Array.isArray(v) && v.some((x) => typeof x === 'string' && x.trim() === ''));
  const named = [
    ...cmd.options.map((o) => ({ name: o.long ?? o.name(), value: cmd.getOptionValue(o.attributeName()) })),
    ...cmd.registeredArguments.map((a, i) => ({
      name: `<${a.name()}${a.variadic ? '...' : ''}>`,
      value: cmd.processedArgs[i],
    })),
  ];
  const bad = named.find((n) => empty(n.value));
  if (bad)
    cmd.error(
      `rank1 ${cmd.name()}: ${bad.name}: must not be empty${/dir|path|out|ood|allow|backbone|model|file/i.test(bad.name) ? ' (an empty path would mean the current folder)' : ''}`,
      { exitCode: 2, code: 'rank1.emptyValue' },
    );
}

/**
 * A refusal of the contract names its field ("learningRate: must be > 0 (got -1)", worded in
 * contract.ts); on the command line the person typed an option, so the line names that instead
 * ("--lr: must be > 0 (got -1)").
 */
function inOptionWords(e: ServiceError, fieldOptions: Record<string, string> = {}): string {
  const field = e.field;
  if (!field || !e.message.startsWith(`${field}: `)) return e.message;
  const [top, ...rest] = field.split('.');
  const long = fieldOptions[top!] ?? actionCommand?.options.find((o) => o.attributeName() === top)?.long;
  return long ? `${[long, ...rest].join('.')}${e.message.slice(field.length)}` : e.message;
}

/**
 * Run a command body against a fresh service: the paths the user named are granted, Ctrl-C
 * cancels the running job, failures become one line on stderr with exit code 1 (2 for arguments
 * the contract refuses).
 */
export async function runWithService(
  name: string,
  opts: ServiceOptions,
  body: (client: ServiceClient) => Promise<void>,
): Promise<void> {
  let service: ReturnType<typeof createService> | undefined;
  const onSigint = () => service?.dispose();
  process.once('SIGINT', onSigint);
  try {
    service = createService({
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(opts.predictBatch ? { predictBatch: opts.predictBatch } : {}),
    });
    for (const p of opts.grant) service.grant(nodePath.resolve(p));
    await body(new ServiceClient(connectDirect(service)));
  } catch (e) {
    const msg =
      e instanceof ServiceError
        ? inOptionWords(e, opts.fieldOptions)
        : e instanceof Error
          ? e.message
          : String(e);
    process.stderr.write(`rank1 ${name}: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode =
      e instanceof UsageError || (e instanceof ServiceError && e.code === 'bad-request') ? 2 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    service?.dispose();
  }
}

/** Run a command body outside the service (`bench` only): failures become one line and exit code 1. */
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

/** The part of a progress bar the import reporter drives (a cli-progress SingleBar, or a test's). */
export interface ImportBar {
  start(total: number, value: number, payload?: object): void;
  update(value: number, payload?: object): void;
  stop(): void;
}

/**
 * Shows an import in progress (a first import reads every file: minutes for a large folder): a bar
 * over the files read, and the lock's waiting line once. Returns the handler for import events.
 */
export function importReporter(
  bar: ImportBar | null,
  log: (line: string) => void,
): (p: ImportProgress) => void {
  let started = false;
  let waited = '';
  return (p) => {
    if (p.phase === 'wait') {
      if (p.message && p.message !== waited) log(p.message);
      waited = p.message ?? waited;
    } else if (p.phase === 'decode' && bar) {
      const done = p.decoded + p.cached + p.skipped;
      const payload = { rate: Math.round(p.imagesPerSecond) };
      if (!started) bar.start(p.total, done, payload);
      else bar.update(done, payload);
      started = true;
    } else if (p.phase === 'done' && started) bar?.stop();
  };
}

/**
 * What `rank1 train` and `rank1 compare` show of the dataset's import: a bar over the files read
 * (when `show`), then at the end the caller's own line (`onDone`) and the import's warnings on stderr.
 */
export function importDisplay(
  show: boolean,
  onDone?: (p: ImportProgress) => void,
): { onImport: (p: ImportProgress) => void; stop: () => void } {
  const bar = progressBar(
    show,
    'reading images [{bar}] {value}/{total} | {rate} img/s | ETA {eta_formatted}',
  );
  const report = importReporter(bar, (line) => console.error(line));
  return {
    onImport: (p) => {
      report(p);
      if (p.phase !== 'done') return;
      onDone?.(p);
      for (const w of p.warnings ?? []) console.error(`warning: ${w}`);
    },
    stop: () => bar?.stop(),
  };
}
