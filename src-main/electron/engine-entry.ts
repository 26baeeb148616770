/**
 * Entry of the engine utility process (forked by main via `utilityProcess.fork`). Serves the
 * service over `process.parentPort`, whose messages arrive wrapped in a MessageEvent
 * (`{ data, ports }`); `ports` carries the event stream's end (MessagePortMain) with `event-port`.
 */
import { runEngineChild, type EnginePort } from '../transports/engine-child.js';

interface ParentPortLike {
  postMessage(msg: unknown): void;
  on(event: 'message', fn: (e: { data: unknown; ports?: readonly unknown[] }) => void): void;
}

export function parentPortAdapter(parent: ParentPortLike): EnginePort {
  return {
    postMessage: (msg) => parent.postMessage(msg),
    on: (_event, fn) => parent.on('message', (e) => fn(e.data, e.ports ?? [])),
  };
}

const parent = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (parent) {
  runEngineChild(parentPortAdapter(parent), () => process.exit(0)).catch((err: unknown) => {
    console.error('engine: could not start the service:', err);
    process.exit(1);
  });
}
