/**
 * What an evaluation or comparison left out, in words: the lines `rank1 eval` and `rank1 compare`
 * print on stderr and the Evaluate and Compare views list (one home for the wording).
 */
import type { SkippedFile } from '../common/index.js';

/** A folder a measurement read, named in words: "the dataset", "the OOD folder". */
export interface SourceFolder {
  name: string;
  root: string;
}

/** The folders an evaluation or comparison read: its dataset and, when given, its OOD folder. */
export function measuredFolders(dataset?: string, ood?: string): SourceFolder[] {
  return [
    ...(dataset ? [{ name: 'the dataset', root: dataset }] : []),
    ...(ood ? [{ name: 'the OOD folder', root: ood }] : []),
  ];
}

/** The folder holding `file` (the deepest, should one hold the other); undefined when none does. */
export function folderOf(file: string, folders: readonly SourceFolder[]): SourceFolder | undefined {
  const under = (root: string) => {
    const r = root.replace(/[\\/]+$/, '');
    return r !== '' && (file.startsWith(`${r}/`) || file.startsWith(`${r}\\`));
  };
  return folders.filter((f) => under(f.root)).sort((a, b) => b.root.length - a.root.length)[0];
}

/**
 * One line per file left out, "truncated: FILE (what was wrong)", with "(in the OOD folder)" when
 * `folders` tells which folder it came from; exact copies of an image in
 * the same class are counted in one line (they are measured once), followed by `copiesHint`,
 * where the copies are listed.
 */
export function skippedLines(
  files: readonly SkippedFile[] = [],
  copiesHint?: string,
  folders: readonly SourceFolder[] = [],
): string[] {
  const lines = files
    .filter((f) => f.reason !== 'duplicate')
    .map((f) => {
      const from = folderOf(f.file, folders);
      return `${f.reason}: ${f.file}${f.message ? ` (${f.message})` : ''}${from ? ` (in ${from.name})` : ''}`;
    });
  const copies = files.length - lines.length;
  if (copies)
    lines.push(
      `${copies} exact cop${copies === 1 ? 'y' : 'ies'} of images in the same class, measured once${copiesHint ? ` (${copiesHint})` : ''}`,
    );
  return lines;
}

/**
 * The files left out in one line, for an error that would otherwise leave the user guessing:
 * "5 files left out: not-image: FILE (why); …; … and 2 more" (the first `shown` named).
 */
export function leftOutSummary(files: readonly SkippedFile[], shown = 3): string {
  const lines = skippedLines(files);
  const more = lines.length - shown;
  return `${files.length} file${files.length === 1 ? '' : 's'} left out: ${lines.slice(0, shown).join('; ')}${more > 0 ? `; … and ${more} more` : ''}`;
}

/**
 * A class of the folder the model does not know: "class "x" (3 images) is not one of the model's
 * classes (a, b, …): its images are not measured" (the model's first ten classes named).
 */
export function unknownClassLine(
  c: { name: string; images: number },
  modelClasses: readonly string[],
): string {
  const known = `${modelClasses.slice(0, 10).join(', ')}${modelClasses.length > 10 ? ', …' : ''}`;
  return `class ${JSON.stringify(c.name)} (${c.images} image${c.images === 1 ? '' : 's'}) is not one of the model's classes (${known}): its images are not measured`;
}
