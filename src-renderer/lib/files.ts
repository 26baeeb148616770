/** Turning what the user drops or picks into what `predict` accepts. */

const IMAGE_EXT = /\.(png|jpe?g|gif|bmp|webp|tiff?|tga|pnm|pgm|ppm|heic|heif|avif)$/i;

export function isImageName(name: string): boolean {
  return IMAGE_EXT.test(name);
}

export async function fileToBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) s += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(s);
}

/** Groups files so each `predict` message stays well under the service's limits (256 files, 48 MiB). */
export function batches<T extends { size: number }>(
  files: readonly T[],
  maxCount = 128,
  maxBytes = 24 * 1024 * 1024,
): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const f of files) {
    if (cur.length && (cur.length >= maxCount || bytes + f.size * 1.34 > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(f);
    bytes += f.size * 1.34;
  }
  if (cur.length) out.push(cur);
  return out;
}

interface EntryLike {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?(ok: (f: File) => void, err: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (es: EntryLike[]) => void, err: (e: unknown) => void): void };
}

/** Every file inside dropped items, walking dropped folders (browser drops carry no paths). */
export async function filesFromDrop(dt: DataTransfer): Promise<File[]> {
  const entries: EntryLike[] = [];
  for (const item of Array.from(dt.items ?? [])) {
    const entry = (item as DataTransferItem & { webkitGetAsEntry?(): EntryLike | null }).webkitGetAsEntry?.();
    if (entry) entries.push(entry);
  }
  if (!entries.length) return Array.from(dt.files ?? []);
  const out: File[] = [];
  const walk = async (e: EntryLike): Promise<void> => {
    if (e.isFile && e.file) {
      out.push(await new Promise<File>((ok, err) => e.file!(ok, err)));
    } else if (e.isDirectory && e.createReader) {
      const reader = e.createReader();
      for (;;) {
        const batch = await new Promise<EntryLike[]>((ok, err) => reader.readEntries(ok, err));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

/** Save text or bytes as a download (browser and Electron alike). */
export function download(name: string, data: BlobPart, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
