/**
 * THE place contract refusals are worded (contract.ts `parseArgs` calls it): one line
 * "FIELD: must be ≥ 1 (got 0)" naming the field (dotted path) and the value it got, instead of
 * zod's own "Too small: expected number to be >=1".
 */
import type { z } from 'zod';

/** A refused value as a person reads it: short, on one line. */
function shown(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'number' || typeof v === 'boolean' ? String(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 39)}…${s.startsWith('"') ? '"' : ''}` : s;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** One line for zod's first issue; arguments that are not an object are named by the operation. */
export function describeIssue(
  op: string,
  issue: z.core.$ZodIssue,
  args: unknown,
): { field: string | undefined; line: string } {
  let path = issue.path;
  let rule: string;
  switch (issue.code) {
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      const unit =
        issue.origin === 'string'
          ? ' characters'
          : issue.origin === 'array' || issue.origin === 'set'
            ? ' items'
            : '';
      if (unit)
        rule =
          small && bound === 1 && issue.origin === 'string'
            ? 'must not be empty'
            : small && bound === 1
              ? 'must have at least 1 item'
              : `must ${issue.origin === 'string' ? 'be' : 'have'} ${small ? 'at least' : 'at most'} ${bound}${unit}`;
      else rule = `must be ${small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<'} ${bound}`;
      break;
    }
    case 'invalid_type': {
      const expected = String(issue.expected);
      rule =
        valueAt(args, path) === undefined && path.length
          ? 'is required'
          : expected === 'int'
            ? 'must be a whole number'
            : path.length === 0 && expected === 'object'
              ? 'the arguments must be an object'
              : `must be ${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}`;
      break;
    }
    case 'invalid_value':
      rule =
        issue.values.length === 1
          ? `must be ${shown(issue.values[0])}`
          : `must be one of ${issue.values.map(String).join(', ')}`;
      break;
    case 'unrecognized_keys': {
      path = [...path, issue.keys[0]!];
      const where = issue.path.length ? issue.path.map(String).join('.') : op;
      return {
        field: path.map(String).join('.'),
        line: `${path.map(String).join('.')}: is not a field of ${where}`,
      };
    }
    case 'invalid_format':
      rule =
        issue.format === 'regex' ? `must match ${String(issue.pattern)}` : `must be a valid ${issue.format}`;
      break;
    case 'not_multiple_of':
      rule = `must be a multiple of ${String(issue.divisor)}`;
      break;
    case 'invalid_union': {
      // A union of literals (channels: 1 | 3 | 'auto') or of types: say every choice.
      const firsts = issue.errors.map((branch) => branch[0]);
      const values = firsts.flatMap((i) => (i?.code === 'invalid_value' ? i.values : []));
      const types = firsts.flatMap((i) => (i?.code === 'invalid_type' ? [String(i.expected)] : []));
      rule =
        values.length + types.length === 0
          ? 'has the wrong type'
          : `must be one of ${[...values.map(String), ...types.map((t) => `a ${t}`)].join(', ')}`;
      break;
    }
    default:
      // Our own refinements, worded in the schema ("must name each method once").
      rule = issue.message;
  }
  const field = path.map(String).join('.') || undefined;
  const v = valueAt(args, path);
  const got = v === undefined ? '' : ` (got ${shown(v)})`;
  return { field, line: `${field ?? op}: ${rule}${got}`.replace(/\s*\n\s*/g, ' ') };
}
