/** `rank1 flag MODEL_DIR [SCORE] [--json]`: show the OOD flag's score and thresholds, or switch the score. */
import type { Command } from 'commander';
import { readModelMeta, setFlagScoreAt } from '../store/index.js';
import { choiceArg, printJson, runCommand } from './common.js';

const SCORES = ['entropy', 'mutual_information', 'max_prob', 'energy', 'mahalanobis', 'knn'] as const;

export function registerFlag(program: Command): void {
  program
    .command('flag')
    .description('show or choose the score behind a model’s OOD flag (thresholds were fitted at training)')
    .argument('<model_dir>')
    .argument('[score]', SCORES.join(' | '), choiceArg(SCORES))
    .option('--json', 'one JSON object')
    .action((dir: string, score: string | undefined, o: { json?: boolean }) =>
      runCommand('flag', async () => {
        const meta = score ? await setFlagScoreAt(dir, score) : await readModelMeta(dir);
        if (!meta.ood) throw new Error(`${dir}: the model has no fitted OOD flag`);
        if (o.json) printJson(meta.ood);
        else {
          console.log(
            `flag: ${meta.ood.score} > ${meta.ood.threshold.toPrecision(4)} (keeps ${(meta.ood.tpr * 100).toFixed(0)}% of validation images)`,
          );
          for (const [k, v] of Object.entries(meta.ood.thresholds ?? {}))
            console.log(`  ${k}: threshold ${v.toPrecision(4)}`);
        }
      }),
    );
}
