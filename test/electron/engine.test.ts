import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';

/** A fake utility process: records posts, lets the test answer as the engine child would. */
class FakeChild extends EventEmitter {
  posted: any[] = [];
  transfers: unknown[][] = [];
  killed = false;
  postMessage(m: unknown, transfer?: unknown[]) {
    this.posted.push(m);
    if (transfer) this.transfers.push(transfer);
  }
  kill() {
    this.killed = true;
    this.emit('exit', null);
    return true;
  }
}
const children: FakeChild[] = [];
const fork = vi.fn((_path: string, _args: string[], _opts: object) => {
  const c = new FakeChild();
  children.push(c);
  return c;
});
vi.mock('electron', () => ({ utilityProcess: { fork: (...a: [string, string[], object]) => fork(...a) } }));

const { startEngine, utilityEndpoint, engineEntryPath } = await import('../../src-main/electron/engine.js');

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('utility process engine', () => {
  it('forks the compiled engine entry as a named utility process', () => {
    const ep = utilityEndpoint('/app/dist/main/electron/engine-entry.js');
    expect(fork).toHaveBeenLastCalledWith(
      '/app/dist/main/electron/engine-entry.js',
      [],
      expect.objectContaining({ serviceName: 'Rank-1 Engine' }),
    );
    expect(engineEntryPath()).toMatch(/engine-entry\.js$/);
    const exits: unknown[] = [];
    ep.on('exit', (code) => exits.push(code));
    ep.kill();
    ep.kill();
    expect(exits).toEqual([null]);
    expect(() => ep.postMessage({ t: 'stop' })).toThrow(/exited/);
  });

  it('restarts after a crash, fails the running training and tells listeners', async () => {
    const restarts: string[] = [];
    const engine = startEngine((r) => restarts.push(r), '/entry.js');
    const events: ServiceEvent[] = [];
    engine.subscribe((e) => events.push(e));
    engine.grant('/data/cats');
    const first = children.at(-1)!;
    first.emit('message', { t: 'ready' });

    const started = engine.call('train.start', { dataset: 'cats' });
    await tick();
    const call = first.posted.find((m) => m.t === 'call');
    first.emit('message', { t: 'result', id: call.id, ok: true, result: { jobId: 'job-1' } });
    expect(await started).toEqual({ jobId: 'job-1' });
    const pending = engine.call('models.list', {});

    first.emit('exit', 1); // the engine dies mid-training

    await expect(pending).rejects.toMatchObject({ code: 'engine-crashed' });
    expect(events.map((e) => e.type)).toEqual(['job.failed', 'engine.restarted']);
    expect(events[0]).toMatchObject({ jobId: 'job-1', kind: 'train', error: { code: 'engine-crashed' } });
    expect(restarts).toHaveLength(1);
    const second = children.at(-1)!;
    expect(second).not.toBe(first);
    second.emit('message', { t: 'ready' });
    expect(second.posted).toContainEqual({ t: 'grant', path: '/data/cats' }); // grants survive the restart

    // The event stream's end is transferred to the utility process with child.postMessage(msg, [port]).
    const port = { postMessage() {} };
    expect(engine.connectEvents(port)).toBe(true);
    expect(second.posted.at(-1)).toEqual({ t: 'event-port' });
    expect(second.transfers).toEqual([[port]]);

    const stopped = engine.stop();
    second.emit('exit', 0);
    await stopped;
  });
});

describe('engine entry', () => {
  it('adapts process.parentPort (MessageEvent-wrapped) to the engine port', async () => {
    vi.doMock('../../src-main/transports/engine-child.js', () => ({ runEngineChild: vi.fn() }));
    const { parentPortAdapter } = await import('../../src-main/electron/engine-entry.js');
    const parent = new EventEmitter() as EventEmitter & { postMessage: ReturnType<typeof vi.fn> };
    parent.postMessage = vi.fn();
    const port = parentPortAdapter(parent as any);
    const got: unknown[] = [];
    port.on('message', (m) => got.push(m));
    parent.emit('message', { data: { t: 'call', id: 1, op: 'system.info', args: {} }, ports: [] });
    expect(got).toEqual([{ t: 'call', id: 1, op: 'system.info', args: {} }]);
    // Transferred ports (the event stream's end) come through with their message.
    const withPorts: unknown[][] = [];
    port.on('message', (m, ports) => withPorts.push([m, ports]));
    const eventPort = { postMessage: vi.fn() };
    parent.emit('message', { data: { t: 'event-port' }, ports: [eventPort] });
    expect(withPorts).toEqual([[{ t: 'event-port' }, [eventPort]]]);
    port.postMessage({ t: 'ready' });
    expect(parent.postMessage).toHaveBeenCalledWith({ t: 'ready' });
  });
});
