/**
 * `backbones.import` / `backbones.list` (issue 15): the "Import a backbone…" action the offline
 * message promises. The folder must be granted; the engine checks it and registers a copy under
 * the data home, so models name it without a path.
 */
import { promises as fs } from 'node:fs';
import { ServiceError, type ParsedArgs, type Results } from '../contract.js';
import type { ServiceContext } from './context.js';

export async function importBackboneFrom(
  ctx: ServiceContext,
  { path, output }: ParsedArgs<'backbones.import'>,
): Promise<Results['backbones.import']> {
  const real = ctx.grants.check(path, 'path');
  const stat = await fs.stat(real).catch(() => undefined);
  if (!stat?.isDirectory())
    throw new ServiceError(
      'bad-request',
      `${path.slice(0, 300)} is not a folder: choose the folder that holds a TF.js model.json and its weight files.`,
      'path',
    );
  const engine = await ctx.readyEngine();
  if (!engine.importBackbone) throw new ServiceError('unsupported', 'This engine cannot import backbones.');
  try {
    const b = await engine.importBackbone(real, output, { freeSpace: ctx.freeSpace });
    return { name: b.name, embeddingSize: b.embeddingSize, imported: b.name.startsWith('imported-') };
  } catch (e) {
    if (e instanceof Error && e.name === 'ModelFolderError')
      throw new ServiceError('bad-request', `Not a usable backbone: ${e.message}.`, 'path');
    throw e;
  }
}

/** The built-ins and the imported backbones, for Train's backbone choice. */
export async function listBackbones(ctx: ServiceContext): Promise<Results['backbones.list']> {
  const engine = await ctx.readyEngine();
  const builtin = engine.BUILTIN_BACKBONES ?? [];
  // The engine keeps backbones under the data room's home (RANK1_HOME), as training loads them.
  const imported = (await engine.listImported?.()) ?? [];
  return [
    ...builtin.map((b) => ({
      name: b.name,
      description: b.description,
      embeddingSize: b.embeddingSize,
      imported: false,
    })),
    ...imported.map((b) => ({
      name: b.name,
      ...(b.source ? { description: b.source } : {}),
      imported: true,
    })),
  ];
}
