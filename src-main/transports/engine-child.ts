/**
 * The engine process entry: creates the real service and serves it over the parent's channel.
 * Run directly by `forkEngine()` (Node fork, `process` IPC); Electron's utility entry imports
 * `runEngineChild(port)` and passes an adapter over `process.parentPort`.
 */
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createService } from '../service/index.js';
import { processPort, serveEngine, type EnginePort } from './engine-port.js';

export {
  serveEngine,
  processPort,
  type EnginePort,
  type EventPort,
  type ChildMessage,
  type HostMessage,
} from './engine-port.js';

/** Create the service and serve it over `port` until the host sends `stop`. */
export async function runEngineChild(
  port: EnginePort = processPort(),
  onStop: () => void = () => process.exit(0),
): Promise<void> {
  // The package's resources/: dist/main/transports → ../../../resources when built,
  // src-main/transports → ../../resources when run from source (tests).
  const resourcesDir = ['../../../resources', '../../resources']
    .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((dir) => existsSync(join(dir, 'demo')));
  const service = await createService({ resourcesDir });
  serveEngine(port, service, { onStop });
}

const entry = process.argv[1] ? resolve(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url) && process.send) {
  runEngineChild().catch((err) => {
    console.error('engine: could not start the service:', err);
    process.exit(1);
  });
}
