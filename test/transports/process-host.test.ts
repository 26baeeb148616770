import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';
import {
  forkEngine,
  startEngineProcess,
  type EngineProcess,
  type ForkedEndpoint,
} from '../../src-main/transports/process-host.js';

const fakeChild = fileURLToPath(new URL('./fixtures/fake-engine-child.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(f: () => T | undefined, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function startFake(
  extra: Partial<Parameters<typeof startEngineProcess>[0]> = {},
  env: Record<string, string> = {},
) {
  const endpoints: ForkedEndpoint[] = [];
  const restarts: string[] = [];
  const events: ServiceEvent[] = [];
  const engine = startEngineProcess({
    spawn: () => {
      const ep = forkEngine({ module: fakeChild, env: { ...process.env, ...env } });
      endpoints.push(ep);
      return ep;
    },
    onRestart: (r) => restarts.push(r),
    ...extra,
  });
  engine.subscribe((e) => events.push(e));
  return { engine, endpoints, restarts, events };
}

const engines: EngineProcess[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});

describe('startEngineProcess over a forked child (fake service)', () => {
  it('forwards calls, typed errors and grants', async () => {
    const { engine, endpoints } = startFake();
    engines.push(engine);
    await expect(engine.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
    expect(endpoints[0]!.child.pid).not.toBe(process.pid);
    await expect(engine.call('models.rename', { id: 'x', name: 5 })).rejects.toMatchObject({
      name: 'ServiceError',
      code: 'bad-request',
      field: 'name',
    });
    await expect(engine.call('no.such', {})).rejects.toMatchObject({ code: 'unknown-operation' });
    await expect(engine.call('datasets.scan', { path: tmpdir() })).rejects.toMatchObject({
      code: 'forbidden',
    });
    engine.grant(tmpdir());
    await expect(engine.call('datasets.scan', { path: tmpdir() })).rejects.toMatchObject({
      code: 'not-found',
    });
    await expect(engine.call('system.info', { f: () => 1 })).rejects.toMatchObject({ code: 'bad-request' });
    await expect(engine.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
  });

  it('throttles progress to ≤ ~10/s per job but keeps every epoch and the terminal event', async () => {
    const { engine, events } = startFake();
    engines.push(engine);
    const started = Date.now();
    const { jobId } = (await engine.call('train.start', { dataset: 'd', epochs: 400 })) as { jobId: string };
    await until(() => events.find((e) => e.type === 'job.done' && e.jobId === jobId), 'job.done');
    const seconds = (Date.now() - started) / 1000;
    const mine = events.filter((e) => 'jobId' in e && e.jobId === jobId);
    const kinds = (t: string) =>
      mine.filter((e) => e.type === 'job.progress' && (e.progress as { type: string }).type === t);
    expect(kinds('epoch')).toHaveLength(40);
    // Each epoch may flush one held step: ≤ 10/s from the timer plus one per epoch.
    expect(kinds('step').length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 40 + 2);
    expect(kinds('step').length).toBeLessThan(400);
    expect(mine.at(-1)!.type).toBe('job.done');
    expect(mine.at(-2)).toMatchObject({
      type: 'job.progress',
      progress: { type: 'epoch', metrics: { epoch: 40 } },
    });
  });

  it('SIGKILL mid-job: pending calls reject, the job fails, the child restarts with its grants, next call works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rank1-host-'));
    const { engine, endpoints, restarts, events } = startFake({}, { FAKE_STEP_MS: '5' });
    engines.push(engine);
    engine.grant(dir);
    const { jobId } = (await engine.call('train.start', { dataset: 'd', epochs: 1000 })) as { jobId: string };
    await until(() => events.find((e) => e.type === 'job.progress'), 'progress');
    const hanging = engine.call('models.get', { id: 'hang' });
    await sleep(50);
    const first = endpoints[0]!.child;
    process.kill(first.pid!, 'SIGKILL');

    await expect(hanging).rejects.toMatchObject({ name: 'ServiceError', code: 'engine-crashed' });
    const failed = await until(() => events.find((e) => e.type === 'job.failed'), 'job.failed');
    expect(failed).toMatchObject({
      type: 'job.failed',
      jobId,
      kind: 'train',
      error: { code: 'engine-crashed' },
    });
    expect((failed as { error: { message: string } }).error.message).toMatch(/SIGKILL.*restarted/s);
    expect(events.find((e) => e.type === 'engine.restarted')).toMatchObject({
      reason: expect.stringContaining('SIGKILL'),
    });
    expect(restarts).toHaveLength(1);
    expect(events.findIndex((e) => e.type === 'job.failed')).toBeLessThan(
      events.findIndex((e) => e.type === 'engine.restarted'),
    );

    await expect(engine.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
    expect(endpoints).toHaveLength(2);
    expect(endpoints[1]!.child.pid).not.toBe(first.pid);
    // The grant made before the crash holds in the new child.
    await expect(engine.call('datasets.scan', { path: dir })).rejects.toMatchObject({ code: 'not-found' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives up after repeated crashes instead of looping, and says so', async () => {
    const { engine, endpoints, events } = startFake({ maxCrashes: 1 });
    engines.push(engine);
    await engine.call('system.info', {});
    endpoints[0]!.child.kill('SIGKILL');
    await until(() => endpoints.length === 2 || undefined, 'restart');
    await engine.call('system.info', {});
    endpoints[1]!.child.kill('SIGKILL');
    await until(
      () => endpoints[1]!.child.exitCode !== null || endpoints[1]!.child.signalCode !== null || undefined,
      'second exit',
    );
    await sleep(50);
    await expect(engine.call('system.info', {})).rejects.toMatchObject({
      code: 'engine-crashed',
      message: expect.stringMatching(/not restarted/),
    });
    expect(endpoints).toHaveLength(2);
    expect(events.filter((e) => e.type === 'engine.restarted')).toHaveLength(1);
  });

  it('stop() ends the child cleanly; later calls reject', async () => {
    const { engine, endpoints, events } = startFake();
    await engine.call('system.info', {});
    await engine.stop();
    expect(endpoints[0]!.child.exitCode).toBe(0);
    await expect(engine.call('system.info', {})).rejects.toMatchObject({ code: 'failed' });
    expect(events.some((e) => e.type === 'engine.restarted')).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// The real engine child (src-main/service/, engine and data rooms).

describe('startEngineProcess with the real engine child', () => {
  const home = mkdtempSync(join(tmpdir(), 'rank1-home-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const start = () => {
    const endpoints: ForkedEndpoint[] = [];
    const events: ServiceEvent[] = [];
    const engine = startEngineProcess({
      spawn: () => {
        const ep = forkEngine({ env: { ...process.env, RANK1_HOME: home } });
        endpoints.push(ep);
        return ep;
      },
    });
    engine.subscribe((e) => events.push(e));
    engines.push(engine);
    return { engine, endpoints, events };
  };

  it('answers system.info from another process and validates input', async () => {
    const { engine, endpoints } = start();
    const info = (await engine.call('system.info', {})) as { platform: string };
    expect(info.platform).toContain(process.platform);
    expect(endpoints[0]!.child.pid).toBeGreaterThan(0);
    await expect(engine.call('models.get', { id: '../x' })).rejects.toMatchObject({ code: 'bad-request' });
  });

  it('saved models stay intact after the engine is killed mid-training', async () => {
    const sharp = (await import('sharp')).default;
    const data = join(home, 'shapes');
    for (const [cls, colour] of [
      ['red', { r: 220, g: 20, b: 20 }],
      ['blue', { r: 20, g: 20, b: 220 }],
    ] as const) {
      mkdirSync(join(data, cls), { recursive: true });
      for (let i = 0; i < 12; i++) {
        await sharp({
          create: {
            width: 16,
            height: 16,
            channels: 3,
            background: { r: colour.r, g: colour.g + i * 5, b: colour.b },
          },
        })
          .png()
          .toFile(join(data, cls, `${i}.png`));
      }
    }
    const { engine, endpoints, events } = start();
    engine.grant(home);
    const waitJob = (jobId: string) =>
      until(
        () =>
          events.find(
            (e) =>
              'jobId' in e &&
              e.jobId === jobId &&
              (e.type === 'job.done' || e.type === 'job.failed' || e.type === 'job.cancelled'),
          ),
        `job ${jobId}`,
        240_000,
      );

    const first = (await engine.call('train.start', {
      dataset: data,
      name: 'keeper',
      epochs: 1,
      preset: 'quick',
      imageSize: 16,
    })) as { jobId: string };
    const done = await waitJob(first.jobId);
    expect(done.type, JSON.stringify(done)).toBe('job.done');
    const before = (await engine.call('models.list', {})) as { id: string; name: string }[];
    const keeper = before.find((m) => m.name === 'keeper');
    expect(keeper).toBeDefined();

    const second = (await engine.call('train.start', {
      dataset: data,
      name: 'victim',
      epochs: 200,
      preset: 'quick',
      imageSize: 16,
    })) as { jobId: string };
    await until(
      () => events.find((e) => e.type === 'job.progress' && e.jobId === second.jobId),
      'training progress',
      240_000,
    );
    endpoints.at(-1)!.child.kill('SIGKILL');
    const failed = await waitJob(second.jobId);
    expect(failed).toMatchObject({ type: 'job.failed', error: { code: 'engine-crashed' } });

    const after = (await engine.call('models.list', {})) as { id: string; name: string }[];
    expect(after.find((m) => m.id === keeper!.id)).toEqual(keeper);
    await expect(engine.call('models.get', { id: keeper!.id })).resolves.toMatchObject({
      id: keeper!.id,
      name: 'keeper',
    });
    // Whatever the interrupted training left behind is either a readable model or not listed at all.
    for (const m of after)
      await expect(engine.call('models.get', { id: m.id })).resolves.toMatchObject({ id: m.id });
  });
});
