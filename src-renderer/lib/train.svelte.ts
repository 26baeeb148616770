/** Train: presets, the advanced form, the running job and its live curves. */
import {
  DEFAULT_FINE_TUNE_BLOCKS,
  DEFAULT_MEMBERS,
  type BackboneSummary,
  type Method,
  type OperationArgs,
} from '../../src-main/contract.js';
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
  {
    id: 'balanced',
    label: 'Balanced',
    hint: `A CNN with ${DEFAULT_MEMBERS} members: good calibration at moderate cost.`,
  },
  { id: 'best', label: 'Best', hint: 'The full rank-1 recipe: slowest, best accuracy and uncertainty.' },
];

export interface AdvancedForm {
  arch: 'auto' | 'mlp' | 'cnn' | 'resnet20' | 'wrn-28-10';
  /**
   * 'auto': as the preset says ("Pretrained" its backbone, the others none); else a built-in or
   * an imported backbone's registered name (`backbones.list`).
   */
  backbone: string;
  /** Backbone blocks trained with rank-1 factors (issue 16 item 6); 0 = frozen. */
  fineTune: number;
  method: Method;
  members: number;
  posterior: 'gaussian' | 'cauchy';
  /** null: the preset's own number (it depends on the dataset and device, so the service decides). */
  epochs: number | null;
  /** null: the engine's choice from the data and device (as `rank1 train` without the option). */
  batchSize: number | null;
  learningRate: number | null;
  /** 'auto': the engine's choice (crop from 16 px, flip for colour images). */
  crop: Augment;
  flip: Augment;
}

export type Augment = 'auto' | 'on' | 'off';

export const defaultAdvanced: AdvancedForm = {
  arch: 'auto',
  backbone: 'auto',
  fineTune: DEFAULT_FINE_TUNE_BLOCKS,
  method: 'rank1',
  members: DEFAULT_MEMBERS,
  posterior: 'gaussian',
  epochs: null,
  batchSize: null,
  learningRate: null,
  crop: 'auto',
  flip: 'auto',
};

/**
 * The backbone a preset trains on: "Pretrained (fast)" the bundled ImageNet one, the others none
 * ("a small network from scratch"), so a preset never silently becomes another model (issue 15)
 * and "Quick" never needs a backbone at all.
 */
export function presetBackbone(preset: Preset): string {
  return preset === 'pretrained' ? PRETRAINED_BACKBONE : 'none';
}

/** The backbone the advanced form trains on: "As the preset" is the preset's. */
export function advancedBackbone(preset: Preset, advanced: AdvancedForm): string {
  return advanced.backbone === 'auto' ? presetBackbone(preset) : advanced.backbone;
}

/** The `train.start` arguments: the preset alone, or the preset overridden by the advanced form. */
export function trainArgsOf(
  dataset: string,
  name: string,
  preset: Preset,
  advanced: AdvancedForm | null,
): OperationArgs<'train.start'> {
  const args: OperationArgs<'train.start'> = {
    dataset,
    preset: preset === 'pretrained' ? 'quick' : preset,
    backbone: presetBackbone(preset),
    ...(name.trim() ? { name: name.trim() } : {}),
  };
  if (!advanced) return args;
  const backbone = advancedBackbone(preset, advanced);
  return {
    ...args,
    arch: advanced.arch,
    // The form's "auto" keeps the preset's backbone; anything else is the user's explicit choice.
    backbone,
    // Fine-tuning needs a backbone; without one the control is off and nothing is sent.
    ...(advanced.fineTune > 0 && backbone !== 'none' ? { fineTune: advanced.fineTune } : {}),
    method: advanced.method,
    // The engine sets K = 1 for single-network methods (one home: engine/defaults.ts membersOf).
    members: advanced.members,
    posterior: advanced.posterior,
    ...(advanced.epochs ? { epochs: advanced.epochs } : {}),
    ...(advanced.batchSize ? { batchSize: advanced.batchSize } : {}),
    ...(advanced.learningRate ? { learningRate: advanced.learningRate } : {}),
    ...augmentOf(advanced),
  };
}

/** Only the augmentations the user set; the engine keeps its own choice for the rest. */
function augmentOf({ crop, flip }: AdvancedForm): Pick<OperationArgs<'train.start'>, 'augment'> {
  const augment = {
    ...(crop === 'auto' ? {} : { crop: crop === 'on' }),
    ...(flip === 'auto' ? {} : { flip: flip === 'on' }),
  };
  return Object.keys(augment).length ? { augment } : {};
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
  /** The built-in and imported backbones (`backbones.list`). */
  backbones = $state.raw<BackboneSummary[]>([]);
  /** "Import a backbone…" in the browser: a folder path on the server. */
  backbonePath = $state('');
  backboneNotice = $state<string | null>(null);
  importingBackbone = $state(false);

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
      this.error = 'Choose a dataset: import one under Datasets.';
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

  async loadBackbones(): Promise<void> {
    this.backbones = await this.app.client.call('backbones.list', {});
  }

  /**
   * "Import a backbone…" (the action the offline message names): a folder picked in the desktop
   * app, or typed as a path on the server; checked and registered by the service, then chosen.
   */
  async importBackbone(): Promise<void> {
    this.error = null;
    this.backboneNotice = null;
    let path = this.backbonePath.trim();
    const pick = this.app.platform.pickFolder;
    if (pick) path = (await pick()) ?? '';
    if (!path) {
      if (!pick)
        this.error = 'Type the path of a TF.js model folder (model.json + weight files) on the server.';
      return;
    }
    this.importingBackbone = true;
    try {
      const b = await this.app.client.call('backbones.import', { path });
      await this.loadBackbones().catch(() => {});
      this.form.backbone = b.name;
      this.showAdvanced = true;
      this.backbonePath = '';
      this.backboneNotice = `Imported the backbone as "${b.name}"; it is now the chosen pretrained backbone.`;
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.importingBackbone = false;
    }
  }

  /** Continue a cancelled or crashed run from its checkpoint (its own dataset and settings). */
  async resume(id: string): Promise<void> {
    this.error = null;
    this.app.go('train');
    this.starting = true;
    try {
      this.jobId = await this.app.jobs.start(this.app.client, 'train.start', { resumeFrom: id });
      this.app.jobs.waitFor(this.jobId).then(
        () => void this.app.refreshInfo().catch(() => {}),
        (err) => {
          if ((err as { code?: string }).code !== 'cancelled') this.error = errorText(err);
          void this.app.refreshModels().catch(() => {});
        },
      );
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.starting = false;
    }
  }

  async cancel(): Promise<void> {
    this.error = (await this.app.cancelJob(this.jobId)) ?? this.error;
  }
}
