/**
 * Wire types and schemas shared by the rooms (contract, store, engine, data): plain data, no
 * logic beyond the one listener set (listeners.ts), importing nothing but zod. The only module of
 * `common/` others import. The contract's own logic (error class, refusal wording, path fields,
 * the flag's rule in words) lives in `src-main/contract/`.
 */
export { settingsSchema, defaultSettings, type Settings } from './settings.js';
export * from './engine.js';
export * from './defaults.js';
export type * from './data.js';
export type * from './flows.js';
export { listeners, type Listeners } from './listeners.js';
