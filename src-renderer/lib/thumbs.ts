import type { ServiceClient } from '../../src-main/contract.js';

const cache = new Map<string, Promise<string | null>>();

/** A data: URL for an image the service can read, or null if it cannot. Cached per file and size. */
export function thumbCache(client: ServiceClient, file: string, size: number): Promise<string | null> {
  const key = `${size}:${file}`;
  let p = cache.get(key);
  if (!p) {
    p = client.call('datasets.thumbnail', { file, size }).then(
      (t) => `data:${t.mime};base64,${t.base64}`,
      () => null,
    );
    cache.set(key, p);
    if (cache.size > 5000) cache.delete(cache.keys().next().value!);
  }
  return p;
}
