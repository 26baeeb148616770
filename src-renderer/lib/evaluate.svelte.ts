/** Evaluate: run an evaluation job, then derive the diagrams from its per-image items. */
import {
  measuredFolders,
  type DatasetSummary,
  type EvaluateResult,
  type ModelSummary,
  type SourceFolder,
} from '../../src-main/contract.js';
import { newestDataset, type AppState } from './app.svelte.js';
import { errorText } from './client.js';
import { bestScore as best, flagRates as ratesOf, scoreRows as rowsOf } from './ood.js';
import { formatNumber } from './format.js';
import { auroc, fprAtTpr, histogram, operatingPoint, riskCoverage } from './stats.js';

export const metricHints: Record<
  'accuracy' | 'nll' | 'ece' | 'brier',
  { label: string; hint: string; higherBetter: boolean }
> = {
  accuracy: {
    label: 'Accuracy',
    hint: 'Share of these images labelled correctly. Higher is better.',
    higherBetter: true,
  },
  nll: {
    label: 'NLL',
    hint: 'How surprised the model is by the true labels; punishes confident mistakes. Lower is better.',
    higherBetter: false,
  },
  ece: {
    label: 'ECE',
    hint: 'Gap between stated confidence and actual accuracy (calibration). Lower is better; 0 is perfect.',
    higherBetter: false,
  },
  brier: {
    label: 'Brier',
    hint: 'Squared error of the predicted probabilities. Lower is better.',
    higherBetter: false,
  },
};

/** True when the evaluation ran with a fitted temperature other than 1 (issue 16.1). */
const calibrated = (m: { temperature?: number }) => m.temperature !== undefined && m.temperature !== 1;

/**
 * The words under the two reliability diagrams: the calibrated one says so, the uncalibrated one
 * names it ("the reliability diagram"), never "above", which is false when they sit side by side.
 */
export function calibrationWords(m: {
  temperature?: number;
  nll: number;
  ece: number;
  nll_uncalibrated?: number;
  ece_uncalibrated?: number;
}): { after: string; before: string } {
  if (!calibrated(m)) return { after: '', before: '' };
  const t = formatNumber(m.temperature, 3);
  return {
    after: `Calibrated, after temperature scaling (T = ${t}): NLL ${formatNumber(m.nll, 3)}, ECE ${formatNumber(m.ece, 3)}.`,
    before:
      `The same images without temperature scaling (T = 1): NLL ${formatNumber(m.nll_uncalibrated, 3)}, ` +
      `ECE ${formatNumber(m.ece_uncalibrated, 3)}; the reliability diagram uses T = ${t}.`,
  };
}

export function uncertaintyHistograms(
  result: EvaluateResult,
  key: 'entropy' | 'mutualInformation',
  bins = 24,
) {
  const inVals = result.items.map((i) => i[key]);
  const oodVals = (result.oodItems ?? []).map((i) => i[key]);
  const max = Math.max(1e-6, ...inVals.filter(Number.isFinite), ...oodVals.filter(Number.isFinite));
  return {
    in: histogram(inVals, { bins, min: 0, max }),
    ood: oodVals.length ? histogram(oodVals, { bins, min: 0, max }) : [],
    auroc: result.ood?.[key === 'entropy' ? 'auroc_entropy' : 'auroc_mi'] ?? auroc(inVals, oodVals),
    fpr95: result.ood?.[key === 'entropy' ? 'fpr95_entropy' : 'fpr95_mi'] ?? fprAtTpr(inVals, oodVals),
  };
}

/** A folder path without trailing separators, so "/data/cifar/" and "/data/cifar" compare equal. */
const folder = (p: string) => p.replace(/[\\/]+$/, '');

/**
 * The dataset Evaluate uses when none is picked: the newest import of the folder the model was
 * trained on (its held-out split is then measured), else the newest dataset.
 */
export function evaluationDataset(
  model: Pick<ModelSummary, 'datasetRoot'> | undefined,
  datasets: readonly DatasetSummary[],
): DatasetSummary | undefined {
  return trainingDataset(model, datasets) ?? newestDataset(datasets);
}

/** The newest import of the folder the model was trained on; undefined when it is not imported. */
export function trainingDataset(
  model: Pick<ModelSummary, 'datasetRoot'> | undefined,
  datasets: readonly DatasetSummary[],
): DatasetSummary | undefined {
  const root = model?.datasetRoot && folder(model.datasetRoot);
  return root ? newestDataset(datasets.filter((d) => folder(d.root) === root)) : undefined;
}

export class EvaluateState {
  model = $state('');
  dataset = $state('');
  ood = $state('');
  jobId = $state<string | null>(null);
  result = $state.raw<EvaluateResult | null>(null);
  /** The dataset and OOD folders the result was measured on (its left-out files name theirs). */
  resultFolders = $state.raw<SourceFolder[]>([]);
  error = $state<string | null>(null);
  /** Operating point: accept predictions with confidence at least this. */
  threshold = $state(0.9);
  cell = $state<{ actual: number; predicted: number } | null>(null);
  /** The flag's score when the result was measured (the engine's flag rates are for that score). */
  evaluatedScore = $state<string | undefined>(undefined);

  /** The chosen model's training folder as imported here, if it is. */
  ownDataset = $derived.by(() =>
    trainingDataset(
      this.app.models.find((m) => m.id === (this.model || this.app.activeModel?.id)),
      this.app.datasets,
    ),
  );
  /** The dataset used when none is picked: the chosen model's own, else the newest. */
  defaultDataset = $derived.by(() => this.ownDataset ?? this.app.newestDataset);
  job = $derived.by(() => this.app.jobs.get(this.jobId ?? undefined));
  running = $derived(this.job?.state === 'running');
  classes = $derived.by(
    () => this.app.models.find((m) => m.id === (this.result?.model ?? this.model))?.classes ?? [],
  );
  risk = $derived(
    this.result
      ? riskCoverage(
          this.result.items.map((i) => ({ confidence: i.confidence, correct: i.label === i.predicted })),
        )
      : [],
  );
  point = $derived(operatingPoint(this.risk, this.threshold));
  entropyHist = $derived(this.result ? uncertaintyHistograms(this.result, 'entropy') : null);
  miHist = $derived(this.result ? uncertaintyHistograms(this.result, 'mutualInformation') : null);
  /** The model the result belongs to, as the list knows it now (its flag may have changed since). */
  resultModel = $derived.by(() => this.app.models.find((m) => m.id === this.result?.model));
  scoreRows = $derived(this.result ? rowsOf(this.result) : []);
  bestScore = $derived(best(this.scoreRows));
  flagRates = $derived(this.result ? ratesOf(this.result, this.resultModel, this.evaluatedScore) : undefined);
  review = $derived(
    this.result ? [...this.result.items].sort((a, b) => b.entropy - a.entropy).slice(0, 60) : [],
  );
  cellItems = $derived(
    this.result && this.cell
      ? this.result.items.filter((i) => i.label === this.cell!.actual && i.predicted === this.cell!.predicted)
      : [],
  );

  constructor(private app: AppState) {}

  /** Put another score behind the model's OOD flag (its threshold was fitted at training). */
  async useForFlag(score: string): Promise<void> {
    const id = this.result?.model;
    if (!id) return;
    this.error = null;
    try {
      await this.app.client.call('models.setFlag', { id, score: score as never });
      await this.app.refreshModels();
      // The summary must describe the new score: measured from the items when they carry it,
      // else by evaluating again (the engine measures every score per image).
      if (this.result?.oodItems?.length && this.resultModel?.ood && !this.flagRates && !this.running)
        await this.run(id);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async run(modelId?: string): Promise<void> {
    this.error = null;
    const model = modelId ?? (this.model || this.app.activeModel?.id);
    const dataset = this.dataset.trim() || this.defaultDataset?.id;
    if (!model) return void (this.error = 'No model to evaluate. Train one under Train first.');
    if (!dataset) return void (this.error = 'Choose a dataset to evaluate on (import one under Datasets).');
    try {
      this.cell = null;
      this.jobId = await this.app.jobs.start(this.app.client, 'evaluate', {
        model,
        dataset,
        ...(this.ood.trim() ? { ood: this.ood.trim() } : {}),
      });
      const score = this.app.models.find((m) => m.id === model)?.ood?.score;
      const folders = measuredFolders(
        this.app.datasets.find((d) => d.id === dataset)?.root,
        this.ood.trim() || undefined,
      );
      this.result = await this.app.jobs.waitFor<EvaluateResult>(this.jobId);
      this.resultFolders = folders;
      this.evaluatedScore = score;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async cancel(): Promise<void> {
    this.error = (await this.app.cancelJob(this.jobId)) ?? this.error;
  }
}
