/**
 * The host side of the event stream, with a fake endpoint: the event port is transferred to the
 * current child (queued until it is ready), `streamed` lifecycle events are tracked but not
 * re-emitted, and a crash still fails the jobs it learnt about that way.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';
import type { ChildMessage, HostMessage } from '../../src-main/transports/engine-port.js';
import { startEngineProcess, type Endpoint } from '../../src-main/transports/process-host.js';

class FakeEndpoint extends EventEmitter {
  posted: Array<{ msg: HostMessage; transfer?: unknown[] }> = [];
  postMessage(msg: HostMessage, transfer?: unknown[]) {
    this.posted.push(transfer ? { msg, transfer } : { msg });
  }
  kill() {
    this.emit('exit', null, 'SIGKILL');
  }
  reply(m: ChildMessage) {
    this.emit('message', m);
  }
}

function start() {
  const eps: FakeEndpoint[] = [];
  const events: ServiceEvent[] = [];
  const engine = startEngineProcess({
    spawn: () => {
      const ep = new FakeEndpoint();
      eps.push(ep);
      return ep as unknown as Endpoint;
    },
  });
  engine.subscribe((e) => events.push(e));
  return { engine, eps, events };
}

describe('startEngineProcess event port', () => {
  it('transfers the port to the current child once it is ready', () => {
    const { engine, eps } = start();
    const port = { postMessage() {} };
    expect(engine.connectEvents(port)).toBe(true);
    expect(eps[0]!.posted).toEqual([]); // queued until ready
    eps[0]!.reply({ t: 'ready' });
    expect(eps[0]!.posted).toEqual([{ msg: { t: 'event-port' }, transfer: [port] }]);
    const later = { postMessage() {} };
    engine.connectEvents(later);
    expect(eps[0]!.posted.at(-1)).toEqual({ msg: { t: 'event-port' }, transfer: [later] });
  });

  it('tracks streamed lifecycle events without emitting them, and fails those jobs on a crash', () => {
    const { eps, events } = start();
    eps[0]!.reply({ t: 'ready' });
    const job = { type: 'job.started', job: { jobId: 'j1', kind: 'train' } } as ServiceEvent;
    eps[0]!.reply({ t: 'streamed', event: job });
    eps[0]!.reply({
      t: 'streamed',
      event: { type: 'job.started', job: { jobId: 'j2', kind: 'import' } } as ServiceEvent,
    });
    eps[0]!.reply({
      t: 'streamed',
      event: { type: 'job.done', jobId: 'j2', kind: 'import', result: {} } as ServiceEvent,
    });
    expect(events).toEqual([]);
    eps[0]!.emit('exit', 1);
    expect(events.map((e) => [e.type, (e as { jobId?: string }).jobId])).toEqual([
      ['job.failed', 'j1'],
      ['engine.restarted', undefined],
    ]);
    // The port is not carried over: the new child gets none until a new one is connected.
    eps[1]!.reply({ t: 'ready' });
    expect(eps[1]!.posted.some((p) => p.msg.t === 'event-port')).toBe(false);
  });

  it('refuses a port once stopped', async () => {
    const { engine, eps } = start();
    eps[0]!.reply({ t: 'ready' });
    const stopped = engine.stop();
    eps[0]!.emit('exit', 0);
    await stopped;
    expect(engine.connectEvents({ postMessage() {} })).toBe(false);
  });
});
