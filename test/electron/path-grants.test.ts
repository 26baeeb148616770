import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../src-main/contract.js';
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
    ).toEqual([
      { field: 'dataset', path: '/data/cats' },
      { field: 'backbone', path: '/bb' },
      { field: 'ood', path: '/ood' },
    ]);
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
});
