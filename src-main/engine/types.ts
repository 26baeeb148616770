/** The engine's configuration and result types live in src-main/common/ (shared with the contract). */
export * from '../common/engine.js';
