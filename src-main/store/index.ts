/**
 * The store: everything the app keeps in its data home (models, settings) and the path grants
 * that guard every user path. The only module other rooms import from `store/`.
 */
// The weights format belongs to the engine (issue 14); the store keeps model folders of that format.
export * from '../engine/model-format.js';
export {
  OutputFolderError,
  checkOutputFolder,
  isOurModelFolder,
  recoverLeftovers,
} from '../engine/output-guard.js';
export * from './models.js';
export * from './settings.js';
export { writeFileAtomic } from './atomic.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { PathGrants, resolveReal } from './grants.js';
