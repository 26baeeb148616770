/**
 * Transports: how callers reach the service. `direct` (same process, cloned like a wire),
 * `process-host` + `engine-child`/`engine-port` (the engine in its own process, restarted on a
 * crash), `ws-server` + `ws-client` (`rank1 serve` and the browser). Node side only: the
 * renderer imports `ws-client.js` itself, which is browser-safe, not this file.
 */
export { connectDirect } from './direct.js';
export {
  forkEngine,
  startEngineProcess,
  type Endpoint,
  type EngineProcess,
  type EngineProcessOptions,
  type ForkedEndpoint,
  type ForkEngineOptions,
} from './process-host.js';
export {
  processPort,
  serveEngine,
  type ChildMessage,
  type EngineHandler,
  type EnginePort,
  type HostMessage,
  type ServeEngineOptions,
} from './engine-port.js';
export { startServer, type RunningServer, type ServerOptions } from './ws-server.js';
export {
  connectWebSocket,
  webSocketUrl,
  type ConnectionState,
  type WebSocketClientOptions,
  type WebSocketConnection,
  type WebSocketConstructor,
  type WebSocketLike,
} from './ws-client.js';
export {
  isErrorShape,
  jobOperations,
  throttleEvents,
  toErrorShape,
  toServiceError,
  type EventThrottle,
} from './shared.js';
