/**
 * Wire types and schemas shared by the rooms (contract, store, engine, data): plain data, no
 * logic beyond the one listener set (listeners.ts) and the words of the OOD flag's rule (engine.ts), importing nothing but zod. The only module of
 * `common/` others import.
 */
export { settingsSchema, defaultSettings, type Settings } from './settings.js';
export * from './engine.js';
export type * from './data.js';
export type * from './flows.js';
export { listeners, type Listeners } from './listeners.js';
