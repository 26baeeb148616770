/**
 * A static HTTP server on 127.0.0.1 (random port) serving a folder, counting requests, so tests
 * run the real download code path against ../shared/models (or a tampered copy of it).
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SHARED } from '../../shared-data.js';

export interface StaticServer {
  url: string;
  /** Paths requested so far (e.g. '/mobilenet_v1_0.25_224/model.json'). */
  requests: string[];
  close(): Promise<void>;
}

export async function serveFolder(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(url);
    const file = path.resolve(root, `.${url}`);
    if (!file.startsWith(path.resolve(root) + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file).then(
      (b) =>
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length }).end(b),
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const MODELS = `${SHARED}/models`;
export const V1 = path.join(MODELS, 'mobilenet_v1_0.25_224');
export const V2 = path.join(MODELS, 'mobilenet_v2_0.35_224_tm');

/** A uint8 HWC batch of varied, deterministic images. */
export function testImages(n: number, size: number, channels: 1 | 3, seed = 1): Uint8Array {
  const px = new Uint8Array(n * size * size * channels);
  let s = seed >>> 0;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    px[i] = s >>> 24;
  }
  return px;
}
