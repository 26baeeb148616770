/**
 * Arguments the contract refuses come back as one line naming the field and saying, in plain
 * words, what it must be and what it got ("epochs: must be ≥ 1 (got 0)"): zod's own wording
 * ("Too small: expected number to be >=1") never reaches a person. Formatted in one place
 * (contract.ts `parseArgs`), which every transport and the CLI go through.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs, ServiceError } from '../../src-main/contract.js';

function refusal(op: string, args: unknown): ServiceError {
  try {
    parseArgs(op, args);
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error(`${op} ${JSON.stringify(args)} was accepted`);
}

const ZOD_WORDING = /Too small|Too big|Invalid input|Invalid option|expected|received|>=|<=|Unrecognized/;

describe('contract errors', () => {
  it.each([
    ['train.start', { dataset: '/d', epochs: 0 }, 'epochs', 'epochs: must be ≥ 1 (got 0)'],
    ['train.start', { dataset: '/d', epochs: 5000 }, 'epochs', 'epochs: must be ≤ 1000 (got 5000)'],
    ['train.start', { dataset: '/d', batchSize: -1 }, 'batchSize', 'batchSize: must be ≥ 1 (got -1)'],
    ['train.start', { dataset: '/d', learningRate: 0 }, 'learningRate', 'learningRate: must be > 0 (got 0)'],
    ['train.start', { dataset: '/d', epochs: 1.5 }, 'epochs', 'epochs: must be a whole number (got 1.5)'],
    ['train.start', { dataset: '/d', epochs: 'ten' }, 'epochs', 'epochs: must be a number (got "ten")'],
    [
      'train.start',
      { dataset: '/d', method: 'bayes' },
      'method',
      /^method: must be one of rank1, deterministic, .* \(got "bayes"\)$/,
    ],
    ['models.get', {}, 'id', 'id: is required'],
    ['train.start', { dataset: '/d', colour: 1 }, 'colour', 'colour: is not a field of train.start'],
    ['models.get', { id: '' }, 'id', /^id: /],
    [
      'models.setFlag',
      { id: 'm', score: 'max_probability' },
      'score',
      /^score: must be one of entropy, .*knn \(got "max_probability"\)$/,
    ],
    [
      'train.start',
      { dataset: '/d', channels: 2 },
      'channels',
      'channels: must be one of 1, 3, auto (got 2)',
    ],
    ['train.start', 42, undefined, 'train.start: the arguments must be an object (got 42)'],
  ] as const)('%s %j → one line naming the field', (op, args, field, line) => {
    const e = refusal(op, args);
    expect(e).toBeInstanceOf(ServiceError);
    expect(e.code).toBe('bad-request');
    expect(e.field).toBe(field);
    if (typeof line === 'string') expect(e.message).toBe(line);
    else expect(e.message).toMatch(line);
    expect(e.message).not.toMatch(ZOD_WORDING);
    expect(e.message).not.toContain('\n');
  });

  it('shows a long refused value cut short, on one line', () => {
    const e = refusal('models.rename', { id: 'm', name: 'x'.repeat(5000) });
    expect(e.field).toBe('name');
    expect(e.message).toMatch(/^name: must be at most \d+ characters \(got "x+…"\)$/);
    expect(e.message.length).toBeLessThan(200);
    const nl = refusal('train.start', { dataset: '/d', method: 'a\nb' });
    expect(nl.message).not.toContain('\n');
  });
});
