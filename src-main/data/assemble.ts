/**
 * Turns a scan and its cache entries into a dataset: which files become examples and why the
 * others do not (decode failures, duplicates within a class), classes, splits, duplicate groups,
 * warnings, and the ExampleSets over the pack. Every file the scan saw ends up in exactly one
 * of `kept` and `report.skipped`.
 */
import { type CacheEntry, PackedExampleSet } from './cache.js';
import type { ImportReport, SkippedFile, SkipReason } from './report.js';
import { compareNames, type ScanResult, type ScannedFile, type SplitName } from './scan.js';
import { assignSplits } from './split.js';
import type { ExampleSet, Preprocessing } from './types.js';

export interface AssembleInput {
  scan: ScanResult;
  /** One cache entry per `scan.files` item (same order). */
  entries: readonly CacheEntry[];
  pack: string;
  /** Preprocessing without channels, and how pixels are stored. */
  base: Omit<Preprocessing, 'channels'>;
  storageChannels: 1 | 3;
  wantChannels: 1 | 3 | 'auto';
  valFraction: number;
  testFraction: number;
  seed: number;
  /** Warnings gathered before (e.g. a damaged cache). */
  warnings: string[];
}

export interface Assembled {
  classes: string[];
  preprocessing: Preprocessing;
  splits: { train: ExampleSet; val: ExampleSet; test: ExampleSet };
  /** The report without timing and decode counts (the caller fills those). */
  report: Omit<ImportReport, 'seconds' | 'imagesPerSecond' | 'decoded' | 'cached'>;
}

/** Which copy of identical files in one class is kept: the one in the earliest given split, then by path. */
const SPLIT_RANK: Record<SplitName, number> = { train: 0, val: 1, test: 2 };

const SPLIT_WORD: Record<SplitName, string> = { train: 'training', val: 'validation', test: 'test' };

export function assemble(input: AssembleInput): Assembled {
  const { scan, entries, base, storageChannels, wantChannels, warnings } = input;
  const skipped: SkippedFile[] = [...scan.skipped];
  const readable: number[] = [];
  scan.files.forEach((file, i) => {
    const entry = entries[i]!;
    if (entry.slot < 0)
      skipped.push({
        file: file.path,
        reason: (entry.reason ?? 'corrupt') as SkipReason,
        ...(entry.message ? { message: entry.message } : {}),
      });
    else readable.push(i);
  });

  // Identical bytes: within a class the first copy is kept and the others listed; copies in
  // different classes are all kept (a label conflict the user must settle) and flagged.
  const byHash = new Map<string, number[]>();
  for (const i of readable) {
    const list = byHash.get(entries[i]!.hash);
    if (list) list.push(i);
    else byHash.set(entries[i]!.hash, [i]);
  }
  const dropped = new Set<number>();
  const duplicates: ImportReport['duplicates'] = [];
  for (const [hash, list] of byHash) {
    if (list.length < 2) continue;
    const byLabel = new Map<string, number[]>();
    for (const i of list) {
      const label = scan.files[i]!.label;
      const same = byLabel.get(label);
      if (same) same.push(i);
      else byLabel.set(label, [i]);
    }
    for (const same of byLabel.values()) {
      if (same.length < 2) continue;
      const rank = (i: number) => SPLIT_RANK[scan.files[i]!.split ?? 'train'];
      const keep = same.reduce((a, b) => (rank(b) < rank(a) ? b : a));
      const original = scan.files[keep]!.path;
      for (const i of same) {
        if (i === keep) continue;
        dropped.add(i);
        skipped.push({
          file: scan.files[i]!.path,
          reason: 'duplicate',
          message: `same bytes as ${original}`,
          duplicateOf: original,
        });
      }
    }
    duplicates.push({ hash, files: list.map((i) => scan.files[i]!.path), crossClass: byLabel.size > 1 });
  }

  const kept: { file: ScannedFile; entry: CacheEntry }[] = readable
    .filter((i) => !dropped.has(i))
    .map((i) => ({ file: scan.files[i]!, entry: entries[i]! }));
  const channels: 1 | 3 =
    wantChannels === 'auto' ? (kept.length > 0 && kept.every((k) => k.entry.grey) ? 1 : 3) : wantChannels;
  const preprocessing: Preprocessing = { ...base, channels };
  const classes = [...new Set(kept.map((k) => k.file.label))].sort(compareNames);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const splitOf = assignSplits(
    kept.map((k) => ({ label: k.file.label, ...(k.file.split ? { split: k.file.split } : {}) })),
    { valFraction: input.valFraction, testFraction: input.testFraction, seed: input.seed },
  );

  // Counts keyed by class name as own properties (fromEntries), so a folder named __proto__ is a
  // key like any other instead of the object's prototype.
  const zeros = () => Object.fromEntries(classes.map((c) => [c, 0]));
  const report: Assembled['report'] = {
    classes: zeros(),
    splits: { train: zeros(), val: zeros(), test: zeros() },
    skipped,
    duplicates,
    warnings,
    seen: scan.files.length + scan.skipped.length,
    images: kept.length,
    givenSplits: scan.givenSplits,
  };
  kept.forEach((k, i) => {
    report.classes[k.file.label]!++;
    report.splits[splitOf[i]!][k.file.label]!++;
  });

  const conflicts = duplicates.filter((d) => d.crossClass).length;
  if (conflicts)
    warnings.push(
      `${conflicts} image${conflicts === 1 ? ' appears' : 's appear'} in more than one class (label conflict); see duplicates`,
    );
  const copies = skipped.filter((s) => s.reason === 'duplicate').length;
  if (copies)
    warnings.push(`${copies} exact duplicate${copies === 1 ? '' : 's'} within a class left out; see skipped`);
  const outside = skipped.filter((s) => s.reason === 'outside-link').length;
  if (outside)
    warnings.push(
      `${outside} link${outside === 1 ? '' : 's'} leading outside the folder not followed; see skipped`,
    );
  for (const c of scan.emptyClasses) warnings.push(`class "${c}" has no images and is ignored`);
  for (const c of classes) {
    const n = report.classes[c]!;
    if (n < 2) warnings.push(`class "${c}" has ${n} image: too few to train on (need at least 2)`);
    else if (n < 10) warnings.push(`class "${c}" has only ${n} images (fewer than 10)`);
  }
  if (classes.length === 1) warnings.push('only one class found: a classifier needs at least two');
  // A training split that misses a class (a train/val/test layout) cannot learn it; a held-out
  // split that misses one measures (and calibrates, and sets the OOD threshold) without it. Said
  // once per class, only when that split exists at all.
  const missing: [SplitName, string][] = [
    ['train', 'the model cannot learn it'],
    ['val', 'validation accuracy, calibration and the OOD threshold do not see it'],
    ['test', 'test metrics do not see it'],
  ];
  for (const [s, what] of missing) {
    if (!Object.values(report.splits[s]).some((n) => n > 0)) continue;
    for (const c of classes)
      if (report.splits[s][c] === 0 && report.classes[c]! > 0)
        warnings.push(`class "${c}" has no ${SPLIT_WORD[s]} images: ${what}`);
  }

  const makeSet = (s: SplitName): ExampleSet => {
    const idx = kept.map((_, i) => i).filter((i) => splitOf[i] === s);
    return new PackedExampleSet(
      input.pack,
      Int32Array.from(idx, (i) => kept[i]!.entry.slot),
      Uint32Array.from(idx, (i) => kept[i]!.entry.crc),
      Int32Array.from(idx, (i) => classIndex.get(kept[i]!.file.label)!),
      idx.map((i) => kept[i]!.file.path),
      base.size,
      storageChannels,
      channels,
    );
  };
  const splits = { train: makeSet('train'), val: makeSet('val'), test: makeSet('test') };
  return { classes, preprocessing, splits, report };
}
