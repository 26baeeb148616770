/**
 * The import arrows between rooms are lint rules (eslint.config.js `zone`s): each forbidden arrow
 * fails `npm run lint`, checked here on small sources linted as if they sat in that room.
 */
import * as nodePath from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: nodePath.resolve(__dirname, '../..') });

/** The no-restricted-imports messages for `source` linted as the file at `file`. */
async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: file });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const importing = (spec: string) => `import * as m from '${spec}';\nexport const used = m;\n`;

describe('lint zones between rooms', () => {
  it.each([
    ['src-main/cli/eval.ts', '../engine/index.js', 'cli ↛ engine'],
    ['src-main/cli/eval.ts', '../data/index.js', 'cli ↛ data'],
    ['src-main/cli/flag.ts', '../store/index.js', 'cli ↛ store'],
    ['src-main/cli.ts', './engine/index.js', 'cli ↛ engine'],
    ['src-main/engine/metrics.ts', '../store/index.js', 'engine ↛ store'],
    ['src-main/engine/layers/rank1.ts', '../../store/model-folder.js', 'engine ↛ store'],
    ['src-main/engine/train.ts', '../store/index.js', 'engine ↛ store'],
    [
      'src-main/engine/train.ts',
      '../store/model-folder.js',
      'engine ↛ store (the weights format is the engine’s own)',
    ],
    ['src-main/engine/ood.ts', '../service/index.js', 'engine ↛ service'],
    ['src-main/engine/ood.ts', '../electron/main.js', 'engine ↛ electron'],
    ['src-main/data/scan.ts', '../engine/index.js', 'data ↛ engine'],
    ['src-main/store/models.ts', '../contract.js', 'store ↛ contract'],
    ['src-main/contract.ts', './engine/types.js', 'contract ↛ engine'],
    ['src-main/contract.ts', './data/index.js', 'contract ↛ data'],
    ['src-main/common/engine.ts', '../engine/index.js', 'common ↛ engine'],
    ['src-renderer/lib/jobs.ts', '../../src-main/engine/index.js', 'renderer ↛ engine'],
    ['src-renderer/lib/jobs.ts', '../../src-main/service/index.js', 'renderer ↛ service'],
    ['src-main/service/index.ts', 'electron', 'electron only in electron/'],
  ])('%s importing %s fails (%s)', async (file, spec) => {
    expect(await restricted(file, importing(spec))).toHaveLength(1);
  });

  it.each([
    ['src-main/cli/eval.ts', '../service/index.js'],
    ['src-main/cli/eval.ts', '../contract.js'],
    ['src-main/cli/bench.ts', '../engine/index.js'],
    ['src-main/service/index.ts', '../engine/index.js'],
    ['src-main/store/settings.ts', '../common/index.js'],
    ['src-main/contract.ts', './common/index.js'],
    ['src-main/engine/types.ts', '../common/engine.js'],
    ['src-main/engine/train.ts', './model-format.js'],
    ['src-renderer/lib/jobs.ts', '../../src-main/contract.js'],
    ['src-main/electron/main.ts', 'electron'],
  ])('%s importing %s is allowed', async (file, spec) => {
    expect(await restricted(file, importing(spec))).toEqual([]);
  });
});
