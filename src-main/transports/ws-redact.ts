/**
 * What a browser client may read of an error: the message, without the app's own paths (temp
 * folders, the data home, the installed app and its node_modules) or stack traces. Applied at the
 * WebSocket edge (ws-server.ts) to every error and reason text sent — responses, job.failed,
 * engine.restarted, per-item errors and skipped-file reasons — so nothing the engine or a library
 * writes into a message can leak past it. Paths inside the folders the user granted are theirs and
 * stay as they are; other values (results, file names, folders) are never touched.
 */
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataHome } from '../data/index.js';

export interface InternalRoot {
  path: string;
  /** Shown instead of the folder, e.g. 'temp' → `<temp>/…/model.json`. */
  label: string;
}

export interface RedactOptions {
  /** Folders the user granted: paths inside them are shown unchanged. */
  userRoots?: readonly string[];
  /** The app's own folders. The temp folder, the data home and the installed app are always among them. */
  internalRoots?: readonly InternalRoot[];
}

/** Keys whose string values are error or diagnostic text (never data the UI relies on). */
const TEXT_KEYS = new Set(['message', 'reason', 'error', 'warning', 'warnings', 'detail']);

/** A stack frame line: `    at fn (/x/y.js:1:2)` or `    at /x/y.js:1:2`. */
const STACK_LINE = /^\s*at\s+\S.*$/;

/** An absolute path or file: URL (POSIX or Windows), up to whitespace, a quote or a bracket. */
const PATH_TOKEN = /(?:file:\/\/)?(?:[A-Za-z]:[\\/]|\/)[^\s'"`<>|,;()[\]{}]*/g;

/** The installed app: the folder holding src-main/ (from source) or dist/ (built). */
const appRoot = (() => {
  const here = fileURLToPath(import.meta.url);
  // The last such folder: an install path may itself contain a 'dist' further up.
  const at = [...here.matchAll(/[\\/](?:src-main|dist)[\\/]/g)].at(-1)?.index ?? -1;
  return at > 0 ? here.slice(0, at) : dirname(here);
})();

function variants(p: string): string[] {
  const abs = resolve(p);
  try {
    const real = realpathSync(abs);
    return real === abs ? [abs] : [abs, real];
  } catch {
    return [abs];
  }
}

function inside(file: string, root: string): string | undefined {
  const rel = relative(root, file);
  if (rel === '') return '';
  if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel;
}

export interface Redactor {
  text(s: string): string;
  /** A copy of `v` with every error/reason text redacted (see TEXT_KEYS); other values as they are. */
  deep<T>(v: T): T;
}

export function createRedactor(opts: RedactOptions = {}): Redactor {
  const users = (opts.userRoots ?? []).flatMap(variants);
  const internals = [
    ...(opts.internalRoots ?? []),
    { path: tmpdir(), label: 'temp' },
    { path: dataHome(), label: 'app data' },
    { path: appRoot, label: 'app' },
  ]
    .flatMap((r) => variants(r.path).map((path) => ({ path, label: r.label })))
    // The most specific folder names a path (the data home may sit inside the temp folder).
    .sort((a, b) => b.path.length - a.path.length);

  const path = (token: string): string => {
    const trail = /[.:]+$/.exec(token)?.[0] ?? '';
    const raw = token.slice(0, token.length - trail.length);
    let file: string;
    try {
      file = raw.startsWith('file://') ? fileURLToPath(raw) : raw;
    } catch {
      return token;
    }
    if (!isAbsolute(file)) return token;
    file = normalize(file);
    if (users.some((u) => inside(file, u) !== undefined)) return token;
    if (/[\\/]node_modules[\\/]/.test(file)) return `<app>${trail}`;
    for (const r of internals) {
      const rel = inside(file, r.path);
      if (rel === undefined) continue;
      const parts = rel.split(/[\\/]/).filter(Boolean);
      const shown =
        parts.length === 0 ? '' : parts.length === 1 ? `/${parts[0]}` : `/…/${parts[parts.length - 1]}`;
      return `<${r.label}>${shown}${trail}`;
    }
    return token;
  };

  const text = (s: string): string =>
    s
      .split('\n')
      .filter((line) => !STACK_LINE.test(line))
      .join('\n')
      .replace(PATH_TOKEN, path)
      .trimEnd();

  const deep = <T>(v: T, key?: string): T => {
    if (typeof v === 'string') return (key !== undefined && TEXT_KEYS.has(key) ? text(v) : v) as T;
    if (Array.isArray(v)) return v.map((x) => deep(x, key)) as T;
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = deep(x, k);
      return out as T;
    }
    return v;
  };
  return { text, deep: (v) => deep(v) };
}
