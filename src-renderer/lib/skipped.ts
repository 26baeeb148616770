/**
 * The import report's skipped files in words (issue 15: every file seen is imported or listed
 * with a reason). Pure; tested in test/renderer.
 */
import type { ImportReport } from '../../src-main/contract.js';

type Skipped = ImportReport['skipped'][number] | { file: string; reason: string; message?: string };

const REASONS: Record<string, string> = {
  corrupt: 'damaged image',
  truncated: 'truncated (the file ends early)',
  unsupported: 'unsupported format',
  unreadable: 'unreadable',
  'too-large': 'too large',
  empty: 'empty file',
  'not-image': 'not an image',
  'outside-link': 'link leading out of the folder (not read)',
  'outside-class-folder': 'outside the class folders',
  'symlink-loop': 'link loop',
  duplicate: 'duplicate',
};

/** The file's name relative to the dataset root when it is inside it. */
export function relativeTo(root: string | undefined, file: string): string {
  if (!root) return file;
  const r = root.replace(/[\\/]+$/, '');
  return file.startsWith(`${r}/`) || file.startsWith(`${r}\\`) ? file.slice(r.length + 1) : file;
}

/** "duplicate of cat/001.jpg", "truncated (the file ends early)", "not an image"… */
export function skipReasonText(s: Skipped, root?: string): string {
  if (s.reason === 'duplicate' && 'duplicateOf' in s && s.duplicateOf)
    return `duplicate of ${relativeTo(root, s.duplicateOf)}`;
  return REASONS[s.reason] ?? s.reason;
}

/** Counts per reason, largest first: "2 truncated (the file ends early), 1 duplicate". */
export function skippedSummary(list: readonly Skipped[]): string {
  const counts = new Map<string, number>();
  for (const s of list) {
    const k = REASONS[s.reason] ?? s.reason;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

/**
 * Why a scanned folder cannot be imported, in the data room's words (it refuses the same before
 * importing): no images, or one class.
 */
export function scanRefusal(scan: { images: number; classes: Record<string, number> }): string | null {
  const classes = Object.values(scan.classes).filter((n) => n > 0).length;
  if (scan.images === 0)
    return 'No images found: the folder needs one sub-folder per class, each holding images.';
  if (classes < 2) return 'Only one class found: a classifier needs at least two class folders with images.';
  return null;
}

/** Where the app lists exact copies an evaluation or comparison measured once. */
export const COPIES_LISTED_IN = 'importing the folder under Datasets lists them';

/** "3 files were not measured" (or "not read"): the line above the list of what was left out. */
export function leftOutText(n: number, what: 'measured' | 'read' = 'measured'): string {
  return `${n} file${n === 1 ? ' was' : 's were'} not ${what}`;
}
