/** Wire types of "Import a backbone…" and the browser upload (issue 15; service/backbones.ts, service/uploads.ts). */

/** A backbone `train.start` accepts by name: a built-in, or an imported folder's registered copy. */
export interface BackboneSummary {
  name: string;
  /** Built-ins: a description; imported: the folder name it came from. */
  description?: string;
  embeddingSize?: number;
  imported: boolean;
}

export interface UploadStarted {
  uploadId: string;
  /** The new folder under the data home the files go to. */
  folder: string;
}
export interface UploadChunkDone {
  path: string;
  /** Bytes of that file so far. */
  bytes: number;
}
export interface UploadFinished {
  folder: string;
  files: number;
  bytes: number;
}
