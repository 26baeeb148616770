/**
 * Defaults the user can read about: each is stated in the CLI's help and the app's forms and
 * applied by the room that owns it (engine, data, service), so it has one home here, in `common/`,
 * where every room may import it. Plain numbers, no logic; engine-only defaults stay in
 * engine/defaults.ts. test/cli/help-defaults.test.ts fails when a help text states another value.
 */

/** Members K of the multi-member methods (rank-1, BatchEnsemble, ensemble; spec §4: K = 4). */
export const DEFAULT_MEMBERS = 4;
/** Seed of training (initialisation, shuffles, factor draws) when none is given. */
export const DEFAULT_TRAIN_SEED = 42;
/** Seed of an imported folder's train/val/test split when none is given. */
export const DEFAULT_SPLIT_SEED = 0;
/** Share of each class an import holds out for validation (classes without a val folder). */
export const DEFAULT_VAL_FRACTION = 0.1;
/** Share of each class an import holds out for a later `evaluate` (none unless asked). */
export const DEFAULT_TEST_FRACTION = 0;
/** Backbone blocks trained with rank-1 factors (`--fine-tune`): none, the backbone frozen. */
export const DEFAULT_FINE_TUNE_BLOCKS = 0;
/** Images `predict` decodes and runs at a time. */
export const DEFAULT_PREDICT_BATCH = 32;
