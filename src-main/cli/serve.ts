/**
 * `rank1 serve`: the app in a browser. Forks the engine process, serves the built renderer and
 * the WebSocket on loopback, and prints the URL (with its one-time token) as the FIRST line on
 * stdout, so scripts and tests can read it; everything else goes to stderr.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { forkEngine, startEngineProcess } from '../transports/process-host.js';
import { startServer } from '../transports/ws-server.js';

export interface ServeOptions {
  port: number;
  host: string;
  open: boolean;
  /** Folders the browser may read and write through the engine (default: the current directory). */
  allow: string[];
}

export interface Serving {
  url: string;
  close(): Promise<void>;
  /** Ends the engine process at once (shutdown's last resort). */
  kill(): void;
}

/** How long a signal's clean shutdown may take before the engine is ended (issue 13: < 3 s). */
const SHUTDOWN_LIMIT_MS = 2000;
/** How long the engine gets to answer `stop` (finish the current step, flush) before it is killed. */
const ENGINE_STOP_MS = 1500;

export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('Run Rank-1 Studio in your browser: prints a private URL (first line on stdout).')
    .option('--port <n>', 'port to listen on (0 picks a free one)', parsePort, 0)
    .option('--host <host>', 'address to listen on; keep it on loopback unless you know why', '127.0.0.1')
    .option('--open', 'open the URL in the system browser', false)
    .option(
      '--allow <dir...>',
      'folder the app may read and write; repeatable (default: the current directory)',
    )
    .action(async (o: { port: number; host: string; open: boolean; allow?: string[] }) => {
      const serving = await serve({
        port: o.port,
        host: o.host,
        open: o.open,
        allow: o.allow?.length ? o.allow : [process.cwd()],
      });
      let closing = false;
      const shutdown = (signal: string) => {
        if (closing) process.exit(1); // a second Ctrl+C: do not wait
        closing = true;
        console.error(`rank1: ${signal}, shutting down…`);
        // A job mid-step may not answer the engine's stop in time; checkpoints are written
        // atomically, so ending it is safe. Whatever happens, the server is gone within the limit.
        setTimeout(() => {
          console.error('rank1: the engine did not stop in time; it was ended.');
          serving.kill();
          process.exit(0);
        }, SHUTDOWN_LIMIT_MS).unref();
        serving.close().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error('rank1: shutdown failed:', err);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    });
}

export async function serve(opts: ServeOptions): Promise<Serving> {
  const engine = startEngineProcess({
    spawn: () => forkEngine(),
    onRestart: (reason) => console.error(`rank1: the engine ${reason}; it has been restarted.`),
    stopTimeoutMs: ENGINE_STOP_MS,
  });
  for (const dir of opts.allow) {
    const abs = resolve(dir);
    if (!existsSync(abs)) console.error(`rank1: --allow ${abs} does not exist (granted anyway).`);
    engine.grant(abs);
  }
  const renderer = join(packageRoot(), 'dist', 'renderer');
  const staticDir = existsSync(join(renderer, 'index.html')) ? renderer : undefined;
  let server;
  try {
    server = await startServer({
      handler: engine,
      host: opts.host,
      port: opts.port,
      staticDir,
      // Error texts may name the granted folders, never the data home (nor temp or the app).
      redact: { userRoots: opts.allow.map((d) => resolve(d)) },
    });
  } catch (err) {
    await engine.stop();
    throw err;
  }
  process.stdout.write(`${server.url}\n`);
  if (!staticDir)
    console.error(
      `rank1: the interface is not built (${renderer}); run \`npm run build\`. The WebSocket works meanwhile.`,
    );
  console.error(
    `rank1: serving at ${server.url} — allowed: ${opts.allow.map((d) => resolve(d)).join(', ')}. Ctrl+C to stop.`,
  );
  if (opts.open) openBrowser(server.url);
  const s = server;
  return {
    url: s.url,
    async close() {
      await s.close();
      await engine.stop();
    },
    kill: () => engine.kill(),
  };
}

function parsePort(v: string): number {
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is a whole number from 0 to 65535.');
  return n;
}

/** The folder holding our package.json (src-main/cli from source, dist/main/cli when built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'rank1-studio') return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    dir = up;
  }
}

/** Best effort: a missing opener is not an error, the URL is printed anyway. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '""', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore', windowsHide: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    /* ignore */
  }
}
