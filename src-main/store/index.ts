/**
 * The store: everything the app keeps in its data home (models, settings) and the path grants
 * that guard every user path. The only module other rooms import from `store/`.
 */
export * from './model-folder.js';
export * from './models.js';
export * from './settings.js';
export { writeFileAtomic } from './atomic.js';
export { PathGrants, resolveReal } from './grants.js';
export { StoreError } from './errors.js';
