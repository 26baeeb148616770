/**
 * What a string field of the contract names on disk, attached to its schema (a zod registry), and
 * the walk that finds such fields in a schema or in a call's arguments. Checks derive from the
 * schemas instead of a hand-kept list, so a new path field cannot be forgotten
 * (test/electron/path-grants.test.ts).
 */
import { z } from 'zod';

/**
 * What a string field names on disk:
 * - path: a file or folder of the user's (must be granted);
 * - path-or-id: an id of the data home, or a folder of the user's when it looks like a path;
 * - dataset-file: a file listed by an imported dataset (the engine checks it is one);
 * - upload-entry: a relative name inside a browser upload, not a path on this machine;
 * - row-file: a prediction row's file as predicted (a dropped image's is only its name); the
 *   service checks the file of each row it copies.
 */
export type PathKind = 'path' | 'path-or-id' | 'dataset-file' | 'upload-entry' | 'row-file';
export const pathKinds = z.registry<{ pathKind: PathKind }>();

/** A string field of a schema: `paths.*` for each element of an array. */
export interface StringField {
  field: string;
  kind?: PathKind;
  maxLength: number | null;
}

/**
 * Walk a schema (and, when given, the value it parsed) down to its string leaves: objects by key,
 * arrays by element (`*` without a value, the index with one), through optional/default wrappers.
 */
function walkStrings(
  schema: z.core.$ZodType,
  value: unknown,
  withValue: boolean,
  field: string,
  visit: (field: string, leaf: z.ZodString, kind: PathKind | undefined, value: unknown) => void,
): void {
  const kind = pathKinds.get(schema as z.ZodType)?.pathKind;
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  const at = (k: string | number) => (field ? `${field}.${k}` : String(k));
  switch (def.type) {
    case 'string':
      visit(field, schema as z.ZodString, kind, value);
      return;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'nonoptional':
    case 'catch':
      walkStrings(def.innerType as z.core.$ZodType, value, withValue, field, visit);
      return;
    case 'pipe':
      walkStrings(def.in as z.core.$ZodType, value, withValue, field, visit);
      return;
    case 'object':
      for (const [k, s] of Object.entries(def.shape as Record<string, z.core.$ZodType>)) {
        const v =
          value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[k] : undefined;
        if (!withValue || v !== undefined) walkStrings(s, v, withValue, at(k), visit);
      }
      return;
    case 'array':
      if (!withValue) walkStrings(def.element as z.core.$ZodType, undefined, false, at('*'), visit);
      else if (Array.isArray(value))
        value.forEach((v, i) => walkStrings(def.element as z.core.$ZodType, v, true, at(i), visit));
      return;
  }
}

/** Every string field of a schema with what it names on disk, if anything. */
export function stringFieldsOf(schema: z.core.$ZodType): StringField[] {
  const out: StringField[] = [];
  walkStrings(schema, undefined, false, '', (field, leaf, kind) =>
    out.push({ field, maxLength: leaf.maxLength, ...(kind ? { kind } : {}) }),
  );
  return out;
}

/** The strings of a value parsed (or to be parsed) by `schema` that name something on disk. */
export function pathsIn(
  schema: z.core.$ZodType,
  value: unknown,
): { field: string; value: string; kind: PathKind }[] {
  const out: { field: string; value: string; kind: PathKind }[] = [];
  walkStrings(schema, value, true, '', (field, _leaf, kind, v) => {
    if (kind && typeof v === 'string') out.push({ field, value: v, kind });
  });
  return out;
}
