/**
 * Wire types and schemas shared by the rooms (contract, store, engine, data): plain data, no
 * logic beyond the one listener set (listeners.ts), the service's error class (errors.ts), the words of the OOD flag's rule
 * (engine.ts), the wording of contract refusals (issues.ts) and the walk to the path fields of
 * a schema (schema-paths.ts), importing nothing but zod. The only module of
 * `common/` others import.
 */
export { settingsSchema, defaultSettings, type Settings } from './settings.js';
export * from './engine.js';
export type * from './data.js';
export type * from './flows.js';
export { listeners, type Listeners } from './listeners.js';
export { describeIssue } from './issues.js';
export { errorCodes, ServiceError, type ErrorCode, type ServiceErrorShape } from './errors.js';
export { pathKinds, pathsIn, stringFieldsOf, type PathKind, type StringField } from './schema-paths.js';
