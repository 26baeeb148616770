/** `rank1 flag MODEL_DIR [SCORE] [--json]`: show the OOD flag's score and thresholds, or switch the score (`models.setFlag`). */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { SCORE_NAMES as SCORES, flagRule, scoreLabel, type ScoreName } from '../contract.js';
import { choiceArg, printJson, runWithService } from './common.js';

export function registerFlag(program: Command): void {
  program
    .command('flag')
    .description('show or choose the score behind a model’s OOD flag (thresholds were fitted at training)')
    .argument('<model_dir>')
    .argument('[score]', SCORES.join(' | '), choiceArg(SCORES))
    .option('--json', 'one JSON object')
    .action((given: string, score: ScoreName | undefined, o: { json?: boolean }) => {
      const dir = nodePath.resolve(given);
      return runWithService('flag', { grant: [dir] }, async (client) => {
        const model = score
          ? await client.call('models.setFlag', { id: dir, score })
          : await client.call('models.get', { id: dir });
        if (!model.ood) throw new Error(`${given}: the model has no fitted OOD flag`);
        if (o.json) printJson(model.ood);
        else {
          const { score: chosen, threshold, tpr } = model.ood;
          console.log(
            `flag: ${scoreLabel(chosen)} (${chosen}): flagged when ${flagRule(chosen, threshold)} (keeps ${(tpr * 100).toFixed(0)}% of validation images)`,
          );
          for (const [k, v] of Object.entries(model.ood.thresholds ?? {}))
            console.log(`  ${k}: flagged when ${flagRule(k, v)}`);
        }
      });
    });
}
