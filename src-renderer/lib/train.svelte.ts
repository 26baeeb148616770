/** Train: presets, the advanced form, the running job and its live curves. */
import type { Method, OperationArgs } from '../../src-main/contract.js';
import type { AppState } from './app.svelte.js';
import { errorText } from './client.js';
import { curvesOf } from './curves.js';

export type Preset = 'pretrained' | 'quick' | 'balanced' | 'best';
/** The default backbone of "Pretrained (fast)" (engine/backbones catalog). */
export const PRETRAINED_BACKBONE = 'mobilenet-v1-0.25';
export const presets: { id: Preset; label: string; hint: string }[] = [
  {
    id: 'pretrained',
    label: 'Pretrained (fast)',
    hint: 'An ImageNet MobileNet backbone with a rank-1 head: seconds per epoch, strong on photos and small folders.',
  },
  {
    id: 'quick',
    label: 'Quick',
    hint: 'A few epochs of a small network from scratch: minutes, for a first look.',
  },
  { id: 'balanced', label: 'Balanced', hint: 'A CNN with 4 members: good calibration at moderate cost.' },
  { id: 'best', label: 'Best', hint: 'The full rank-1 recipe: slowest, best accuracy and uncertainty.' },
];

export interface AdvancedForm {
  arch: 'auto' | 'mlp' | 'cnn' | 'resnet20' | 'wrn-28-10';
  /** 'auto': a pretrained backbone for photos larger than 32 px, none otherwise. */
  backbone: 'auto' | 'none' | 'mobilenet-v1-0.25' | 'mobilenet-v2-0.35';
  method: Method;
  members: number;
  posterior: 'gaussian' | 'cauchy';
  /** null: the preset's own number (it depends on the dataset and device, so the service decides). */
  epochs: number | null;
  batchSize: number;
  learningRate: number;
  crop: boolean;
  flip: boolean;
}

export const defaultAdvanced: AdvancedForm = {
  arch: 'auto',
  backbone: 'auto',
  method: 'rank1',
  members: 4,
  posterior: 'gaussian',
  epochs: null,
  batchSize: 64,
  learningRate: 0.05,
  crop: true,
  flip: false,
};

/** The `train.start` arguments: the preset alone, or the preset overridden by the advanced form. */
export function trainArgsOf(
  dataset: string,
  name: string,
  preset: Preset,
  advanced: AdvancedForm | null,
): OperationArgs<'train.start'> {
  const args: OperationArgs<'train.start'> = {
    dataset,
    ...(preset === 'pretrained' ? { preset: 'quick', backbone: PRETRAINED_BACKBONE } : { preset }),
    ...(name.trim() ? { name: name.trim() } : {}),
  };
  if (!advanced) return args;
  return {
    ...args,
    arch: advanced.arch,
    // "Pretrained" stays pretrained: the form's "auto" would pick no backbone for 32-px images.
    backbone:
      preset === 'pretrained' && advanced.backbone === 'auto' ? PRETRAINED_BACKBONE : advanced.backbone,
    method: advanced.method,
    // The engine sets K = 1 for single-network methods (one home: engine/defaults.ts membersOf).
    members: advanced.members,
    posterior: advanced.posterior,
    ...(advanced.epochs ? { epochs: advanced.epochs } : {}),
    batchSize: advanced.batchSize,
    learningRate: advanced.learningRate,
    augment: { crop: advanced.crop, flip: advanced.flip },
  };
}

export class TrainState {
  dataset = $state('');
  name = $state('');
  preset = $state<Preset>('quick');
  showAdvanced = $state(false);
  form = $state<AdvancedForm>({ ...defaultAdvanced });
  jobId = $state<string | null>(null);
  error = $state<string | null>(null);
  starting = $state(false);

  job = $derived.by(() => this.app.jobs.get(this.jobId ?? undefined));
  curves = $derived(curvesOf(this.job?.history ?? []));
  running = $derived(this.job?.state === 'running');

  constructor(private app: AppState) {}

  /** After a reload, show the training that is still running. */
  adoptRunning(): void {
    const [latest] = this.app.jobs.running('train');
    if (latest && (!this.jobId || this.app.jobs.get(this.jobId)?.state !== 'running'))
      this.jobId = latest.jobId;
  }

  async start(): Promise<void> {
    this.error = null;
    const dataset = this.dataset.trim() || this.app.newestDataset?.id || '';
    if (!dataset) {
      this.error = 'Choose a dataset: import one under Datasets, or type a folder path.';
      return;
    }
    this.starting = true;
    try {
      const args = trainArgsOf(dataset, this.name, this.preset, this.showAdvanced ? this.form : null);
      this.jobId = await this.app.jobs.start(this.app.client, 'train.start', args);
      this.app.jobs.waitFor(this.jobId).then(
        () => void this.app.refreshInfo().catch(() => {}),
        (err) => {
          if ((err as { code?: string }).code !== 'cancelled') this.error = errorText(err);
        },
      );
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.starting = false;
    }
  }

  /** Resume a checkpoint: the service keeps its settings and preprocessing. */
  async resume(id: string, dataset: string): Promise<void> {
    this.error = null;
    this.jobId = await this.app.jobs.start(this.app.client, 'train.start', { dataset, resumeFrom: id });
    this.app.jobs.waitFor(this.jobId).then(
      () => void this.app.refreshModels().catch(() => {}),
      (err) => {
        if ((err as { code?: string }).code !== 'cancelled') this.error = errorText(err);
        void this.app.refreshModels().catch(() => {});
      },
    );
  }

  async cancel(): Promise<void> {
    if (!this.jobId) return;
    try {
      await this.app.client.call('jobs.cancel', { jobId: this.jobId });
    } catch (err) {
      this.error = errorText(err);
    }
  }
}
