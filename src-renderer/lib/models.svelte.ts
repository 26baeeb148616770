/** Models: rename, delete, export, import, and which one Predict uses. */
import type { ExportFormat, ModelSummary } from '../../src-main/contract.js';
import type { AppState } from './app.svelte.js';
import { errorText } from './client.js';
import { base64ToBytes, download, fileToBase64 } from './files.js';

/** "incomplete (epoch 1 of 5)" for a resumable checkpoint, else undefined. */
export function incompleteText(m: Pick<ModelSummary, 'status' | 'epoch' | 'epochs'>): string | undefined {
  if (m.status !== 'incomplete') return undefined;
  return m.epoch !== undefined && m.epochs !== undefined
    ? `incomplete (epoch ${m.epoch} of ${m.epochs})`
    : 'incomplete';
}

export class ModelsState {
  editing = $state<string | null>(null);
  draftName = $state('');
  confirmDelete = $state<string | null>(null);
  importPath = $state('');
  error = $state<string | null>(null);
  notice = $state<string | null>(null);

  constructor(private app: AppState) {}

  startRename(id: string, name: string): void {
    this.editing = id;
    this.draftName = name;
  }

  async rename(id: string): Promise<void> {
    const name = this.draftName.trim();
    if (!name) return void (this.error = 'A model needs a name.');
    try {
      await this.app.client.call('models.rename', { id, name });
      this.editing = null;
      await this.app.refreshModels();
    } catch (err) {
      this.error = errorText(err);
    }
  }

  /** Continue a checkpoint on its own dataset folder and settings (the service resolves both). */
  async resume(id: string): Promise<void> {
    this.error = null;
    await this.app.train.resume(id);
  }

  async remove(id: string): Promise<void> {
    try {
      await this.app.client.call('models.remove', { id });
      this.confirmDelete = null;
      if (this.app.selectedModelId === id) this.app.selectedModelId = null;
      await this.app.refreshModels();
    } catch (err) {
      this.error = errorText(err);
    }
  }

  /** 'zip': the backup this app imports again; 'onnx': one file for deployment (docs/export.md). */
  async exportModel(id: string, format: ExportFormat = 'zip'): Promise<void> {
    this.error = null;
    try {
      const dest = this.app.platform.pickFolder ? await this.app.platform.pickFolder() : null;
      const r = await this.app.client.call('models.export', { id, format, ...(dest ? { dest } : {}) });
      const mime = format === 'onnx' ? 'application/octet-stream' : 'application/zip';
      if (r.base64) download(r.fileName, base64ToBytes(r.base64), mime);
      this.notice = r.path ? `Exported to ${r.path}.` : `Downloaded ${r.fileName}.`;
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async importFile(file: File): Promise<void> {
    this.error = null;
    try {
      const toPath = this.app.platform.pathForFile;
      const path = toPath ? toPath(file) : '';
      const m = path
        ? await this.app.client.call('models.import', { path })
        : await this.app.client.call('models.import', {
            file: { name: file.name, base64: await fileToBase64(file) },
          });
      this.notice = `Imported "${m.name}".`;
      await this.app.refreshModels();
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async importPathNow(): Promise<void> {
    const path = this.importPath.trim();
    if (!path) return void (this.error = 'Type the path of an exported model on the server.');
    try {
      const m = await this.app.client.call('models.import', { path });
      this.notice = `Imported "${m.name}".`;
      this.importPath = '';
      await this.app.refreshModels();
    } catch (err) {
      this.error = errorText(err);
    }
  }
}
