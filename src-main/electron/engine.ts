/**
 * The engine in an Electron utility process: an `Endpoint` over `utilityProcess.fork` for the
 * shared process host, which restarts a crashed engine, fails its running jobs and emits
 * `engine.restarted` (see transports/process-host.ts). Ports (the event stream's end, see
 * event-stream.ts) are transferred with `child.postMessage(msg, [port])`.
 */
import { utilityProcess, type MessagePortMain } from 'electron';
import { fileURLToPath } from 'node:url';
import { startEngineProcess, type Endpoint, type EngineProcess } from '../transports/process-host.js';

/** The compiled utility-process entry beside this file. */
export function engineEntryPath(): string {
  return fileURLToPath(new URL('./engine-entry.js', import.meta.url));
}

export function utilityEndpoint(entry = engineEntryPath()): Endpoint {
  const child = utilityProcess.fork(entry, [], { serviceName: 'Rank-1 Engine', stdio: 'inherit' });
  let exited = false;
  const exitFns: Array<(code: number | null) => void> = [];
  child.on('exit', (code) => {
    if (exited) return;
    exited = true;
    for (const f of exitFns) f(code);
  });
  return {
    postMessage(msg, transfer?: unknown[]) {
      if (exited) throw new Error('the engine process has exited');
      if (transfer?.length) child.postMessage(msg, transfer as MessagePortMain[]);
      else child.postMessage(msg);
    },
    on(event: 'message' | 'exit', fn: (...a: any[]) => void) {
      if (event === 'message') child.on('message', fn);
      else exitFns.push(fn);
    },
    kill() {
      if (!exited) child.kill();
    },
  } as Endpoint;
}

export function startEngine(onRestart: (reason: string) => void, entry?: string): EngineProcess {
  return startEngineProcess({ spawn: () => utilityEndpoint(entry), onRestart });
}
