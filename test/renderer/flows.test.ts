/**
 * Issue 15 in the renderer's pure logic: an incomplete checkpoint is said as such and never picked
 * for Predict; one accuracy names its images; the import's skipped files are said in words.
 */
import { describe, expect, it } from 'vitest';
import { onePerFolder, pickModel } from '../../src-renderer/lib/app.svelte.js';
import { incompleteText } from '../../src-renderer/lib/models.svelte.js';
import { relativeTo, scanRefusal, skipReasonText, skippedSummary } from '../../src-renderer/lib/skipped.js';
import { demoModel } from '../../src-renderer/lib/fake-service.js';
import { droppedFiles } from '../../src-renderer/lib/files.js';

const model = (id: string, createdAt: string, extra: object = {}) =>
  ({ ...demoModel(), id, name: id, demo: false, createdAt, ...extra }) as ReturnType<typeof demoModel>;

describe('incomplete models', () => {
  const done = model('done', '2026-01-01T00:00:00Z', { status: 'complete', epoch: 5, epochs: 5 });
  const half = model('half', '2026-02-01T00:00:00Z', { status: 'incomplete', epoch: 1, epochs: 5 });

  it('are never picked for Predict unless chosen', () => {
    expect(pickModel([done, half], null)?.id).toBe('done');
    expect(pickModel([half], null)).toBeUndefined();
    expect(pickModel([done, half], 'half')?.id).toBe('half');
  });

  it('say "incomplete (epoch 1 of 5)"', () => {
    expect(incompleteText(half)).toBe('incomplete (epoch 1 of 5)');
    expect(incompleteText(done)).toBeUndefined();
  });
});

describe('Evaluate lists each folder once', () => {
  it('keeps the newest import of a folder imported at two sizes', () => {
    const ds = (id: string, root: string, importedAt: string) =>
      ({ id, root, importedAt, images: 1, classes: [], preprocessing: {} }) as never;
    const list = [
      ds('a32', '/d/a', '2026-01-01T00:00:00Z'),
      ds('b', '/d/b', '2026-01-02T00:00:00Z'),
      ds('a64', '/d/a', '2026-01-03T00:00:00Z'),
    ];
    expect(onePerFolder(list).map((d: { id: string }) => d.id)).toEqual(['b', 'a64']);
  });
});

describe('skipped files in words', () => {
  const root = '/data/photos';
  const list = [
    { file: `${root}/cat/a.jpg`, reason: 'truncated' as const },
    { file: `${root}/cat/b copy.jpg`, reason: 'duplicate' as const, duplicateOf: `${root}/cat/b.jpg` },
    { file: `${root}/notes.txt`, reason: 'outside-class-folder' as const },
    { file: `${root}/dog/c.txt`, reason: 'not-image' as const },
    { file: `${root}/dog/link.jpg`, reason: 'outside-link' as const },
  ];

  it('name the reason, and the original of a duplicate', () => {
    expect(list.map((s) => skipReasonText(s, root))).toEqual([
      'truncated (the file ends early)',
      'duplicate of cat/b.jpg',
      'outside the class folders',
      'not an image',
      'link leading out of the folder (not read)',
    ]);
    expect(relativeTo(root, `${root}/cat/a.jpg`)).toBe('cat/a.jpg');
    expect(relativeTo(root, '/elsewhere/a.jpg')).toBe('/elsewhere/a.jpg');
    expect(skippedSummary([...list, list[0]!])).toMatch(/^2 truncated \(the file ends early\), 1 duplicate/);
  });

  it('refuse a folder with no images or one class before import', () => {
    expect(scanRefusal({ images: 0, classes: {} })).toMatch(/^No images found/);
    expect(scanRefusal({ images: 5, classes: { cat: 5 } })).toMatch(/^Only one class found/);
    expect(scanRefusal({ images: 5, classes: { cat: 3, dog: 2 } })).toBeNull();
  });
});

describe('a dropped folder keeps its paths for the upload', () => {
  it('walks folders and names each file by its path inside the drop', async () => {
    const file = (name: string, fullPath: string) => ({
      isFile: true,
      isDirectory: false,
      name,
      fullPath,
      file: (ok: (f: File) => void) => ok(new File(['x'], name)),
    });
    const dir = (name: string, fullPath: string, children: object[]) => {
      let read = false;
      return {
        isFile: false,
        isDirectory: true,
        name,
        fullPath,
        createReader: () => ({
          readEntries: (ok: (es: object[]) => void) => {
            ok(read ? [] : children);
            read = true;
          },
        }),
      };
    };
    const root = dir('photos', '/photos', [
      dir('cats', '/photos/cats', [file('1.jpg', '/photos/cats/1.jpg')]),
      file('notes.txt', '/photos/notes.txt'),
    ]);
    const dt = { items: [{ webkitGetAsEntry: () => root }], files: [] } as unknown as DataTransfer;
    const got = await droppedFiles(dt);
    expect(got.map((g) => g.rel)).toEqual(['photos/cats/1.jpg', 'photos/notes.txt']);
    expect(got[0]!.file.name).toBe('1.jpg');
  });
});
