import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  operationNames,
  schemaStringFields,
  ServiceError,
  type OperationName,
} from '../../src-main/contract.js';
import { assertGranted, pathArgs, PathGrants } from '../../src-main/electron/path-grants.js';

const root = resolve('/data/photos');

describe('PathGrants', () => {
  it('grants a path and everything below it, nothing beside or above', () => {
    const g = new PathGrants(false);
    g.grant(root);
    expect(g.isGranted(root)).toBe(true);
    expect(g.isGranted(join(root, 'cats', 'a.png'))).toBe(true);
    expect(g.isGranted(join(root, '..', 'photos', 'x.png'))).toBe(true);
    expect(g.isGranted(resolve('/data'))).toBe(false);
    expect(g.isGranted(resolve('/data/photos-private/a.png'))).toBe(false);
    expect(g.isGranted(join(root, '..', 'secret'))).toBe(false);
    expect(g.isGranted('photos/a.png')).toBe(false);
    expect(g.isGranted('')).toBe(false);
    expect(g.isGranted(`${root}\0x`)).toBe(false);
  });

  it('refuses to grant relative or odd paths', () => {
    const g = new PathGrants(false);
    expect(() => g.grant('relative/dir')).toThrow(ServiceError);
    expect(() => g.grant('')).toThrow(ServiceError);
    expect(g.size).toBe(0);
  });

  it('compares case-insensitively where the filesystem does', () => {
    const g = new PathGrants(true);
    g.grant(root);
    expect(g.isGranted(root.toUpperCase())).toBe(true);
  });
});

describe('pathArgs / assertGranted', () => {
  it('finds the paths in each operation, treating bare dataset ids as ids', () => {
    expect(pathArgs('datasets.import', { path: '/a' })).toEqual([{ field: 'path', path: '/a' }]);
    expect(pathArgs('train.start', { dataset: 'cats-2024' })).toEqual([]);
    expect(pathArgs('train.start', { dataset: '/data/cats' })).toEqual([
      { field: 'dataset', path: '/data/cats' },
    ]);
    expect(pathArgs('predict', { model: 'm', paths: ['/a.png', '/b.png'] }).map((p) => p.field)).toEqual([
      'paths.0',
      'paths.1',
    ]);
    expect(pathArgs('evaluate', { model: 'm', dataset: 'd1', ood: '/ood' })).toEqual([
      { field: 'ood', path: '/ood' },
    ]);
    expect(
      pathArgs('compare.start', { dataset: '/data/cats', methods: ['rank1'], backbone: '/bb', ood: '/ood' }),
    ).toEqual(
      expect.arrayContaining([
        { field: 'dataset', path: '/data/cats' },
        { field: 'backbone', path: '/bb' },
        { field: 'ood', path: '/ood' },
      ]),
    );
    expect(
      pathArgs('compare.start', { dataset: 'd1', methods: ['rank1'], backbone: 'mobilenet-v1-0.25' }),
    ).toEqual([]);
    expect(pathArgs('models.export', { id: 'm' })).toEqual([]);
    expect(pathArgs('predictions.copy', { rows: [], dest: '/out' })).toEqual([
      { field: 'dest', path: '/out' },
    ]);
    expect(pathArgs('system.info', {})).toEqual([]);
  });

  it('refuses ungranted paths with a forbidden error naming the field', () => {
    const g = new PathGrants(false);
    g.grant(root);
    expect(() => assertGranted('datasets.scan', { path: join(root, 'cats') }, g)).not.toThrow();
    try {
      assertGranted('predict', { model: 'm', paths: [join(root, 'a.png'), '/etc/passwd'] }, g);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ServiceError);
      expect((err as ServiceError).code).toBe('forbidden');
      expect((err as ServiceError).field).toBe('paths.1');
    }
    expect(() => assertGranted('train.start', { dataset: '../../etc' }, g)).toThrow(
      /not a file or folder you chose/,
    );
  });

  it('covers every path field: outputs, model folders, resumeFrom and the backbone import', () => {
    const fields = (op: string, args: unknown) =>
      pathArgs(op, args)
        .map((p) => p.field)
        .sort();
    expect(fields('train.start', { dataset: 'd1', out: '/models/new', resumeFrom: '/models/old' })).toEqual([
      'out',
      'resumeFrom',
    ]);
    expect(fields('evaluate', { model: '/models/m', dataset: '/data/cats' })).toEqual(['dataset', 'model']);
    expect(fields('predict', { model: '/models/m', paths: ['/a.png'] })).toEqual(['model', 'paths.0']);
    expect(fields('models.get', { id: '/models/m' })).toEqual(['id']);
    expect(fields('models.setFlag', { id: '/models/m', score: 'knn' })).toEqual(['id']);
    expect(fields('models.export', { id: '/models/m', dest: '/out/m.onnx' })).toEqual(['dest', 'id']);
    expect(fields('backbones.import', { path: '/nets/mobilenet' })).toEqual(['path']);
    expect(fields('models.import', { path: '/backups/m.zip' })).toEqual(['path']);
    // Model ids from models.list are ids, not paths.
    expect(fields('evaluate', { model: 'demo-digits', dataset: 'd1' })).toEqual([]);
    expect(fields('train.start', { dataset: 'd1', resumeFrom: 'cats-rank1' })).toEqual([]);
  });

  it('refuses an ungranted output, model folder, checkpoint or backbone before the engine sees it', () => {
    const g = new PathGrants(false);
    g.grant(root);
    const field = (op: string, args: unknown) => {
      try {
        assertGranted(op, args, g);
      } catch (err) {
        expect((err as ServiceError).code).toBe('forbidden');
        return (err as ServiceError).field;
      }
      return undefined;
    };
    expect(field('train.start', { dataset: root, out: '/home/me/.ssh' })).toBe('out');
    expect(field('train.start', { dataset: root, resumeFrom: '/elsewhere/model' })).toBe('resumeFrom');
    expect(field('evaluate', { model: '/elsewhere/model', dataset: root })).toBe('model');
    expect(field('models.export', { id: '/elsewhere/model', dest: join(root, 'm.onnx') })).toBe('id');
    expect(field('backbones.import', { path: '/elsewhere/net' })).toBe('path');
    expect(field('train.start', { dataset: root, out: join(root, 'model') })).toBeUndefined();
  });

  it('finds path fields from the contract’s schemas: no string as long as a path goes unclassified', () => {
    // A string as long as a path, or named like one, must say what it names. Reviewed exceptions:
    // a prediction row's display name, and a backbone's output node.
    const notPaths = new Set([
      'predictions.csv rows.*.name',
      'predictions.copy rows.*.name',
      'backbones.import output',
    ]);
    const looksLikeAPath = (f: { field: string; maxLength: number | null }) =>
      f.maxLength === 4096 ||
      /path|file|dir|folder|out|dest|dataset|model|backbone|resume|ood/i.test(f.field.split('.').at(-1)!);
    const unclassified = operationNames.flatMap((op: OperationName) =>
      schemaStringFields(op)
        .filter((f) => !f.kind && looksLikeAPath(f))
        .map((f) => `${op} ${f.field}`),
    );
    expect(unclassified.filter((f) => !notPaths.has(f))).toEqual([]);
    // And the pre-check sees every field classified as a path of the user's.
    const kinds = operationNames.flatMap((op) =>
      schemaStringFields(op)
        .filter((f) => f.kind === 'path' || f.kind === 'path-or-id')
        .map((f) => `${op} ${f.field}`),
    );
    for (const f of ['train.start out', 'train.start resumeFrom', 'backbones.import path', 'evaluate model'])
      expect(kinds).toContain(f);
  });
});
