/**
 * Entry of the engine utility process (forked by main via `utilityProcess.fork`). Serves the
 * service over `process.parentPort`, whose messages arrive wrapped in a MessageEvent.
 */
import { runEngineChild, type EnginePort } from '../transports/engine-child.js';

interface ParentPortLike {
  postMessage(msg: unknown): void;
  on(event: 'message', fn: (e: { data: unknown }) => void): void;
}

export function parentPortAdapter(parent: ParentPortLike): EnginePort {
  return {
    postMessage: (msg) => parent.postMessage(msg),
    on: (_event, fn) => parent.on('message', (e) => fn(e.data)),
  };
}

const parent = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (parent) {
  runEngineChild(parentPortAdapter(parent), () => process.exit(0)).catch((err: unknown) => {
    console.error('engine: could not start the service:', err);
    process.exit(1);
  });
}
