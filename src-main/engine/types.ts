/** The engine's configuration and result types live in src-main/common/ (shared with the contract). */
export type * from '../common/engine.js';
